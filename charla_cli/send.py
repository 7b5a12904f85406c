"""``charla send``: queue a charla task from a shell or a script, and optionally wait for its answer.

    charla send charla.health --wait 10
    charla send ping --json '{"team_id": "T1", "channel": "C1", "user": "U1", "command": "ping"}'
    charla send usage_report --json '{"team_id": "T1", "channel": "C1"}'   # a job from jobs/

The payload is checked against the task's dataclass in the contract before anything is sent;
``correlation_id`` and ``requested_at`` are filled in when the payload type has them and they
are missing. The message is the same Celery protocol-v2 SQS body the ingress sends
(``contract/wire.py``, documented in ``docs/CONTRACT.md``). With ``--wait`` (waitable tasks
only) it reads the result record from the results table and prints the result as JSON; if none
comes in time it says whether any worker is alive (from the heartbeats).
"""

import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from charla_cli.endpoints import Endpoints
from charla_cli.errors import (
    EXIT_NO_WORKER,
    EXIT_TASK_FAILED,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    aws_errors,
)
from contract.registry import TASK_NAMES, payload_type
from contract.results import READY_STATES, RESULT_VALUE_ATTRIBUTE, SUCCESS, result_key
from contract.tables import TableName
from contract.tasks import queue_for
from contract.wire import encode_task_message
from jobs import TASK_PREFIX

POLL_INTERVAL_S = 0.2


def resolve_task(name: str) -> str:
    """``charla.health`` or just ``health``; a job by its name (``usage_report``) or task name.

    Raises:
        CliError: No such task or job (the message lists the known ones).
    """
    for candidate in (name, f"charla.{name}", f"{TASK_PREFIX}{name}"):
        if candidate in TASK_NAMES:
            return candidate
    known = ", ".join(sorted(TASK_NAMES))
    raise CliError(f"unknown task {name!r} (known: {known})", EXIT_USAGE)


def build_payload(task: str, raw_json: str, *, now: Callable[[], float] = time.time) -> dict[str, Any]:
    """The task's kwargs: ``raw_json`` checked against the contract, defaults filled in.

    Raises:
        CliError: Not a JSON object, or it does not match the task's payload dataclass.
    """
    try:
        given = json.loads(raw_json)
    except json.JSONDecodeError as error:
        raise CliError(f"--json is not JSON: {error}", EXIT_USAGE) from None
    if not isinstance(given, dict):
        raise CliError("--json must be a JSON object (the task's keyword arguments)", EXIT_USAGE)
    kind = payload_type(task)
    fields = {field.name for field in dataclasses.fields(kind)}
    if "correlation_id" in fields:
        given.setdefault("correlation_id", f"cli-{uuid.uuid4()}")
    if "requested_at" in fields:
        given.setdefault("requested_at", now())
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    try:
        payload = adapter.validate_python(given)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(payload)'}: {item['msg']}"
            for item in error.errors(include_input=False, include_url=False)
        )
        raise CliError(f"payload does not match {kind.__name__} for {task}: {problems}", EXIT_USAGE) from None
    dumped: dict[str, Any] = adapter.dump_python(payload, mode="json")
    return dumped


def send(task: str, payload: Mapping[str, Any], *, wait: bool, endpoints: Endpoints, sqs: Any = None) -> str:
    """Send one task message; returns its task id.

    Raises:
        CliError: The queue URL is not configured or SQS refused the message.
    """
    queue = queue_for(task)
    url = endpoints.queue_url(queue)
    task_id = str(uuid.uuid4())
    body = encode_task_message(
        task=task, kwargs=payload, queue=queue.value, task_id=task_id, origin="charla-cli", ignore_result=not wait
    )
    with aws_errors(f"could not send to {url}"):
        (sqs or endpoints.client("sqs")).send_message(QueueUrl=url, MessageBody=body)
    return task_id


def read_result(task_id: str, *, table: str, dynamodb: Any) -> dict[str, Any] | None:
    """The result record Celery stored for ``task_id`` (``status``, ``result``, ...), or ``None`` yet."""
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": result_key(task_id)}}, ConsistentRead=True).get("Item")
    if not item:
        return None
    record: dict[str, Any] = json.loads(bytes(item[RESULT_VALUE_ATTRIBUTE]["B"]))
    return record


def wait_for_result(
    task_id: str,
    *,
    timeout_s: float,
    endpoints: Endpoints,
    dynamodb: Any = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    workers_alive: Callable[[], int | None] | None = None,
) -> Any:
    """Poll the results table until the task is done; returns its result.

    Raises:
        CliError: The task failed (its error type and message), or no answer came in time (and
            then whether any worker is alive to answer).
    """
    table = endpoints.table(TableName.RESULTS)
    client = dynamodb or endpoints.client("dynamodb")
    deadline = clock() + timeout_s
    while True:
        with aws_errors(f"could not read {table}"):
            record = read_result(task_id, table=table, dynamodb=client)
        if record and record.get("status") in READY_STATES:
            if record["status"] == SUCCESS:
                return record.get("result")
            raise CliError(f"task {task_id} failed: {describe_error(record)}", EXIT_TASK_FAILED)
        if clock() >= deadline:
            alive = workers_alive() if workers_alive else None
            if alive == 0:
                raise CliError(
                    f"no result for task {task_id} after {timeout_s:g} s: no worker is alive (no heartbeat); "
                    "start one (`make chat` locally; in AWS see `charla workers` and the ECS service)",
                    EXIT_NO_WORKER,
                )
            raise CliError(f"no result for task {task_id} after {timeout_s:g} s", EXIT_TIMEOUT)
        sleep(POLL_INTERVAL_S)


def describe_error(record: Mapping[str, Any]) -> str:
    """``ExcType: message`` from a FAILURE record (Celery stores the exception as a dict)."""
    error = record.get("result")
    if isinstance(error, dict) and "exc_type" in error:
        message = error.get("exc_message")
        text = " ".join(str(part) for part in message) if isinstance(message, list) else str(message)
        return f"{error['exc_type']}: {text}"
    return f"{record.get('status')}: {error}"


__all__ = ["EXIT_UNREACHABLE", "build_payload", "describe_error", "resolve_task", "send", "wait_for_result"]
