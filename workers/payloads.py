"""The contract check a task's arguments pass before any task code runs, for every executor.

Celery-free on purpose: the Celery worker (``workers/consumer.py``) and the Lambda executor
(``workers/lambda_executor.py``) refuse the same messages for the same reasons, and the Lambda
executor never imports Celery.
"""

from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from contract.registry import TASK_PAYLOADS
from workers.outcomes import PermanentError

T = TypeVar("T")

PAYLOADS: dict[str, TypeAdapter[Any]] = {task.value: TypeAdapter(kind) for task, kind in TASK_PAYLOADS.items()}
PAYLOAD_NAMES: dict[str, str] = {task.value: kind.__name__ for task, kind in TASK_PAYLOADS.items()}


class PayloadRefused(PermanentError, ValueError):
    """The message's arguments do not match the task's payload in the contract."""


def parse_payload(adapter: TypeAdapter[T], payload: dict[str, Any]) -> T:
    """``payload`` as the contract's type; only this check's failure refuses the message.

    Raises:
        PayloadRefused: The payload does not match (a ``ValidationError`` raised later, inside
            the task's own work, is an ordinary failure and is retried).
    """
    try:
        return adapter.validate_python(payload)
    except ValidationError as error:
        raise PayloadRefused(f"payload does not match the contract: {validation_summary(error)}") from None


def validation_summary(error: ValidationError) -> str:
    """``field: problem`` for each error, without the offending values (they may be user text)."""
    problems = [
        f"{'.'.join(str(part) for part in item['loc']) or '(payload)'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    ]
    return "; ".join(problems)


def payload_problem(task: str, body: Any) -> str | None:
    """Why ``body`` (the decoded ``[args, kwargs, embed]``) cannot run as ``task``; ``None`` if it can.

    Tasks without a registered payload are not checked here (the task itself validates).
    """
    adapter = PAYLOADS.get(task)
    if adapter is None:
        return None
    if not (isinstance(body, list | tuple) and len(body) == 3 and isinstance(body[1], dict)):
        return "body is not [args, kwargs, embed]"
    args, kwargs, _embed = body
    if args:
        return f"{len(args)} positional argument(s); charla tasks take keyword arguments only"
    try:
        adapter.validate_python(kwargs)
    except ValidationError as error:
        return f"payload does not match {PAYLOAD_NAMES[task]}: {validation_summary(error)}"
    return None
