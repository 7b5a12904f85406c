"""The contract check a task's arguments pass before any task code runs, for every executor.

Celery-free on purpose: the Celery worker (``workers/celery_worker/consumer.py``) and the Lambda executor
(``workers/lambda_executor/main.py``) refuse the same messages for the same reasons, and the Lambda
executor never imports Celery.

A payload is validated once per run. The executor checks it at the door (``validated_payload``)
and hands the model it got to the task (``handed_on``); the task's own ``parse_payload`` then
takes that model as it is (pydantic accepts an instance of the dataclass without validating it
again) instead of validating the same dict a second time. Run outside an executor (a test
calling the function), ``parse_payload`` validates the dict itself.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from contract.registry import TASK_PAYLOADS
from workers.outcomes import PermanentError

T = TypeVar("T")

PAYLOADS: dict[str, TypeAdapter[Any]] = {str(task): TypeAdapter(kind) for task, kind in TASK_PAYLOADS.items()}
PAYLOAD_NAMES: dict[str, str] = {str(task): kind.__name__ for task, kind in TASK_PAYLOADS.items()}


# The Celery request field that carries the consumer's validated model to the task
# (workers/celery_worker/consumer.py, workers/celery_worker/celery_tasks.py). Never on the wire: set in the worker only.
VALIDATED_PAYLOAD_HEADER = "charla_validated_payload"
# The model the executor validated for the run in progress (this thread or task only).
_HANDED_ON: ContextVar[Any] = ContextVar("charla_validated_payload", default=None)


class PayloadRefused(PermanentError, ValueError):
    """The message's arguments do not match the task's payload in the contract."""


@contextmanager
def handed_on(model: Any) -> Iterator[None]:
    """Within the block, the run's ``parse_payload`` takes ``model`` (already validated) as its payload."""
    token = _HANDED_ON.set(model)
    try:
        yield
    finally:
        _HANDED_ON.reset(token)


def parse_payload(adapter: TypeAdapter[T], payload: dict[str, Any]) -> T:
    """``payload`` as the contract's type; only this check's failure refuses the message.

    If the executor handed on the model it validated (``handed_on``) and it is of the type
    ``adapter`` validates, that model is returned as it is; otherwise ``payload`` is validated.

    Raises:
        PayloadRefused: The payload does not match (a ``ValidationError`` raised later, inside
            the task's own work, is an ordinary failure and is retried).
    """
    model = _HANDED_ON.get()
    # TypeAdapter keeps its type privately; without it, validating again is merely slower.
    if model is not None and type(model) is getattr(adapter, "_type", None):
        handed: T = model
        return handed
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


def validated_payload(task: str, body: Any) -> tuple[Any, str | None]:
    """``(model, None)`` if ``body`` (the decoded ``[args, kwargs, embed]``) can run as ``task``, else ``(None, why)``.

    Tasks without a registered payload are not checked here (``(None, None)``: the task itself validates).
    """
    adapter = PAYLOADS.get(task)
    if adapter is None:
        return None, None
    if not (isinstance(body, list | tuple) and len(body) == 3 and isinstance(body[1], dict)):
        return None, "body is not [args, kwargs, embed]"
    args, kwargs, _embed = body
    if args:
        return None, f"{len(args)} positional argument(s); charla tasks take keyword arguments only"
    try:
        return adapter.validate_python(kwargs), None
    except ValidationError as error:
        return None, f"payload does not match {PAYLOAD_NAMES[task]}: {validation_summary(error)}"


def payload_problem(task: str, body: Any) -> str | None:
    """Why ``body`` (the decoded ``[args, kwargs, embed]``) cannot run as ``task``; ``None`` if it can."""
    return validated_payload(task, body)[1]
