"""``charla send``: queue a charla task from a shell or a script, and optionally wait for its answer.

    charla send charla.health --json '{}' --wait 10
    charla send ping --json '{"team_id": "T1", "channel": "C1", "user": "U1", "command": "ping"}'

The payload is checked against the task's dataclass in the contract before anything is sent;
``correlation_id`` and ``requested_at`` are filled in when the payload type has them and they
are missing. The message is the same Celery protocol-v2 SQS body the ingress sends
(``contract/wire.py``, documented in ``docs/CONTRACT.md``), sent to the task's queue URL from
``CHARLA_QUEUE_URL_<QUEUE>``. With ``--wait`` (waitable tasks only) it reads the result record
from the table named by ``CHARLA_TABLE_RESULTS`` and prints the result as JSON.

Exit status: 0 sent (or answered), 1 the task failed, 2 the payload or the command line is
wrong, 3 no answer before the deadline, 4 the queue or table could not be reached. Every
failure is one line on stderr starting with ``charla:``.
"""

import argparse
import dataclasses
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contract import environment
from contract.registry import RESULT_TASKS, is_waitable, payload_type
from contract.results import READY_STATES, RESULT_VALUE_ATTRIBUTE, SUCCESS, result_key
from contract.tables import TABLE_SPECS, TableName
from contract.tasks import TaskName, queue_for
from contract.wire import encode_task_message

EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_UNREACHABLE = 4
POLL_INTERVAL_S = 0.2


class CliError(Exception):
    """A failure reported as one line and an exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def resolve_task(name: str) -> TaskName:
    """``charla.health`` or just ``health``.

    Raises:
        CliError: No such task (the message lists the known ones).
    """
    for candidate in (name, f"charla.{name}"):
        try:
            return TaskName(candidate)
        except ValueError:
            continue
    known = ", ".join(sorted(task.value for task in TaskName))
    raise CliError(f"unknown task {name!r} (known: {known})", EXIT_USAGE)


def build_payload(task: TaskName, raw_json: str, *, now: Callable[[], float] = time.time) -> dict[str, Any]:
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
        raise CliError(f"payload does not match {kind.__name__} for {task.value}: {problems}", EXIT_USAGE) from None
    dumped: dict[str, Any] = adapter.dump_python(payload, mode="json")
    return dumped


def _required(environ: Mapping[str, str], variable: str, what: str) -> str:
    value = environ.get(variable)
    if not value:
        raise CliError(f"{variable} is not set (the {what})", EXIT_USAGE)
    return value


def _client(service: str, environ: Mapping[str, str]) -> Any:
    """A boto3 client configured from ``environ`` (the process environment unless a test passes one)."""
    import boto3  # only when sending: --help and payload checks stay fast

    session = boto3.session.Session(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environ.get("AWS_SESSION_TOKEN"),
        region_name=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    return session.client(service, endpoint_url=environ.get(environment.AWS_ENDPOINT_URL) or None)  # type: ignore[call-overload]


def send(task: TaskName, payload: Mapping[str, Any], *, wait: bool, environ: Mapping[str, str], sqs: Any = None) -> str:
    """Send one task message; returns its task id.

    Raises:
        CliError: The queue URL is not configured or SQS refused the message.
    """
    queue = queue_for(task)
    url = _required(environ, environment.queue_url_variable(queue), f"SQS URL of the {queue.value} queue")
    task_id = str(uuid.uuid4())
    body = encode_task_message(
        task=task.value, kwargs=payload, queue=queue.value, task_id=task_id, origin="charla-cli", ignore_result=not wait
    )
    try:
        (sqs or _client("sqs", environ)).send_message(QueueUrl=url, MessageBody=body)
    except Exception as error:  # botocore's errors share no useful base class with connection errors
        raise CliError(f"could not send to {url}: {error}", EXIT_UNREACHABLE) from None
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
    environ: Mapping[str, str],
    dynamodb: Any = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Poll the results table until the task is done; returns its result.

    Raises:
        CliError: The task failed (its error type and message), or no answer came in time.
    """
    variable = TABLE_SPECS[TableName.RESULTS].variable
    table = _required(environ, variable, "DynamoDB table holding task results")
    client = dynamodb or _client("dynamodb", environ)
    deadline = clock() + timeout_s
    while True:
        try:
            record = read_result(task_id, table=table, dynamodb=client)
        except Exception as error:  # same reason as in send()
            raise CliError(f"could not read {table}: {error}", EXIT_UNREACHABLE) from None
        if record and record.get("status") in READY_STATES:
            if record["status"] == SUCCESS:
                return record.get("result")
            raise CliError(f"task {task_id} failed: {describe_error(record)}", EXIT_TASK_FAILED)
        if clock() >= deadline:
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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="charla", description="Talk to a charla deployment from a shell.")
    commands = root.add_subparsers(dest="command", required=True)
    send_command = commands.add_parser(
        "send",
        help="queue a task (and wait for its result)",
        description=f"Queue a charla task by name. Waitable tasks: {', '.join(sorted(RESULT_TASKS))}.",
    )
    send_command.add_argument("task", help="task name, e.g. charla.health (the 'charla.' prefix is optional)")
    send_command.add_argument("--json", default="{}", help="the task's keyword arguments as a JSON object")
    send_command.add_argument("--wait", type=float, metavar="SECS", help="wait up to SECS for the result and print it")
    return root


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    options = parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        task = resolve_task(options.task)
        if options.wait is not None and not is_waitable(task):
            waitable = ", ".join(sorted(RESULT_TASKS))
            raise CliError(f"{task.value} stores no result, so --wait cannot work (waitable: {waitable})", EXIT_USAGE)
        payload = build_payload(task, options.json)
        task_id = send(task, payload, wait=options.wait is not None, environ=environ)
        if options.wait is None:
            print(task_id)
            return 0
        result = wait_for_result(task_id, timeout_s=options.wait, environ=environ)
    except CliError as error:
        print(f"charla: {error}", file=sys.stderr)
        return error.status
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
