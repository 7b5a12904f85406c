"""The Lambda executor: runs the task registry (``workers/registry.py``) for an SQS event source.

AWS invokes ``handler`` with a batch of SQS records from one charla queue (``replies`` in
``profile=small``). Each record is a Celery protocol message exactly as the ingress, ``charla
send`` or the Node client sent it (``contract/wire.py``); producers change nothing. Per record,
the same rules as the Celery worker (``workers/celery_worker/consumer.py``):

- refused without running: a body that is not a JSON Celery message (pickle and YAML are never
  deserialized), a task name nobody registers, or arguments that do not match the task's payload
  in ``contract.registry.TASK_PAYLOADS``. The body is sent as it came to the queue's
  dead-letter queue at once, with one ``refused message`` log line (never the payload);
- success: a waitable task's result is stored when the message asks (``contract/results.py``);
- anything the task raises is settled by ``workers/outcomes.py``: ``Later`` sends a copy with an
  SQS delay (``workers/redelivery.py``, the Celery executor's own code), ``DeadLetter`` sends it
  to the dead-letter queue. Either way the record is then reported done, so SQS deletes it.

Why a copy and not ``ChangeMessageVisibility`` + a batch item failure: SQS counts every receive
toward the redrive policy's ``maxReceiveCount`` (5), so a reply deferred five times for a busy
channel (Slack pacing, a 429's Retry-After) would land in the dead-letter queue without ever
failing; and a visibility change cannot carry the failure count, so deferrals and failures would
be indistinguishable. The copy keeps the task id (every effect record still matches it), counts
failures in its ``charla_failures`` header, and leaves ``maxReceiveCount`` to count only what it
should: runs of this executor that died (timeout, out of memory) before settling.

Only when settling itself fails (SQS refused the copy) is the record reported in
``batchItemFailures`` (the event source mapping has ``ReportBatchItemFailures``): SQS delivers
it again after its visibility timeout, and a copy that was sent after all is harmless (same task
id). This module never imports Celery (``tests/unit/test_lambda_executor_imports.py``).
"""

import json
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from contract import environment as env
from contract.queues import QueueName
from contract.registry import RESULT_TASKS
from contract.results import FAILURE, RESULT_TTL_S, RESULT_VALUE_ATTRIBUTE, SUCCESS, result_key
from contract.wire import DecodedTask, decode_task_message
from workers import redelivery
from workers.outcomes import Defer, Later, describe, outcome_of
from workers.payloads import PayloadRefused, handed_on, validated_payload
from workers.registry import TaskContext, TaskEntry, load, started
from workers.runtime import aws, metrics
from workers.runtime.settings import get_settings

logger = logging.getLogger("charla.lambda_executor")
refused_logger = logging.getLogger("charla.refused")
# Lambda's runtime logs WARNING and up by default; these lines are the executor's trail.
for _name in ("charla", "workers"):
    logging.getLogger(_name).setLevel(logging.INFO)

_WAITABLE = frozenset(str(task) for task in RESULT_TASKS)
_SENT_TO_DLQ = "not run; sent to the dead-letter queue"

# What happened to one record (also the poller's and the tests' view of it).
DONE, LATER, DEAD_LETTERED, REFUSED = "done", "later", "dead-lettered", "refused"


class RecordNotSettled(RuntimeError):
    """The record could not be settled; it must be reported as a batch item failure."""


@cache
def _prepare() -> None:
    """Once per cold start: the bot token from Secrets Manager when it is not in the environment.

    In AWS the function gets the secret's ARN, never its value (a value in an environment
    variable would sit in the template and the console); locally the token is in the environment.
    """
    if os.environ.get(env.SLACK_BOT_TOKEN) or not os.environ.get(env.SLACK_BOT_TOKEN_SECRET_ARN):
        return
    client = aws.client("secretsmanager")
    value = client.get_secret_value(SecretId=os.environ[env.SLACK_BOT_TOKEN_SECRET_ARN])["SecretString"]
    token = json.loads(value).get(env.SECRET_KEY_BOT_TOKEN)
    if not token:
        raise RuntimeError(f"the Slack secret has no {env.SECRET_KEY_BOT_TOKEN!r} key")
    os.environ[env.SLACK_BOT_TOKEN] = token


def queue_of(event_source_arn: str) -> QueueName:
    """The charla queue an ``eventSourceARN`` names (matched on the queue name in its URL).

    Raises:
        RecordNotSettled: The ARN is not one of the queues in this function's settings.
    """
    name = event_source_arn.rsplit(":", 1)[-1]
    for queue, url in get_settings().queue_urls.items():
        if url.rstrip("/").rsplit("/", 1)[-1] == name:
            return queue
    raise RecordNotSettled(f"event source {event_source_arn} is not a charla queue of this function")


def worker_name(context: Any) -> str:
    """Who ran a task, as ``ping`` and ``health`` report it."""
    return f"lambda:{getattr(context, 'function_name', None) or 'local'}"


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Run each SQS record's task; report the records SQS must deliver again."""
    _prepare()
    tasks = load()
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        try:
            run_record(record, tasks=tasks, worker=worker_name(context))
        except Exception as error:  # settling failed: SQS keeps the message and delivers it again
            logger.error("record %s not settled, SQS delivers it again: %s", record.get("messageId"), describe(error))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


# The task metrics' outcome (contract/metrics.py) of each way a record ends, as the worker counts them.
_METRIC_OUTCOME = {DONE: "succeeded", LATER: "retried", DEAD_LETTERED: "failed", REFUSED: "refused"}


def run_record(record: Mapping[str, Any], *, tasks: Mapping[str, TaskEntry], worker: str) -> str:
    """Run or refuse one record and settle it; returns what happened (``DONE``, ``LATER``, ...).

    Emits the same task metrics (EMF lines on stdout) as the Celery worker, so the dashboard and
    alarms read both executors alike.

    Raises:
        RecordNotSettled: The outcome could not be made durable (a copy was not sent).
    """
    started = time.time()
    outcome = _run_record(record, tasks=tasks, worker=worker)
    task = _task_name(record["body"])
    run_time = None if outcome == REFUSED else time.time() - started
    metrics.task_outcome(
        task, _METRIC_OUTCOME[outcome], run_time_s=run_time, queue_wait_s=_queue_wait_s(record, started)
    )
    return outcome


def _task_name(body: str) -> str:
    try:
        return decode_task_message(body).task
    except ValueError:
        return "?"


def _queue_wait_s(record: Mapping[str, Any], started: float) -> float | None:
    try:
        return max(0.0, started - int(record["attributes"]["SentTimestamp"]) / 1000)
    except (KeyError, TypeError, ValueError):
        return None


def _run_record(record: Mapping[str, Any], *, tasks: Mapping[str, TaskEntry], worker: str) -> str:
    queue = queue_of(record["eventSourceARN"])
    body = str(record["body"])
    try:
        message = decode_task_message(body)
    except ValueError as error:
        return _refuse(queue, body, f"task=? id=? queue={queue}", f"cannot decode body ({error})")
    where = f"task={message.task} id={message.task_id} queue={queue}"
    # The same words as the Celery worker's line, so `charla trace` finds either executor's.
    logger.info("Task %s[%s] received (Lambda executor, queue=%s)", message.task, message.task_id, queue)
    entry = tasks.get(message.task)
    if entry is None:
        return _refuse(queue, body, where, "no worker runs this task name")
    model, problem = validated_payload(message.task, [message.args, message.kwargs, {}])
    if problem is not None:
        _store_result(message, FAILURE, _exception_meta(PayloadRefused(problem)))
        return _refuse(queue, body, where, problem)

    _, observed = redelivery.carried(message.headers.get)
    # A batch's runs share one function timeout, so none of them is killed at its own time limit:
    # each gets its deadline, checked before every post (workers/services/replies.py).
    context = TaskContext(
        task_id=message.task_id,
        queue=queue,
        retries=message.retries,
        worker=worker,
        observed=observed,
        deadline=started(queue),
    )
    try:
        with handed_on(model):  # validated once, above: the task parses nothing again
            result = entry.function(context, **message.kwargs)
    except Exception as error:  # every way a run can fail is settled in one place
        return _settle(message, queue, error)
    _store_result(message, SUCCESS, result)
    return DONE


def _refuse(queue: QueueName, body: str, where: str, reason: str) -> str:
    refused_logger.error("refused message %s: %s; %s", where, reason, _SENT_TO_DLQ)
    try:
        redelivery.refuse(get_settings().queue_urls[queue], body, reason)
    except Exception as error:
        raise RecordNotSettled(f"refused message not sent to the dead-letter queue: {describe(error)}") from error
    return REFUSED


def _settle(message: DecodedTask, queue: QueueName, error: Exception) -> str:
    """Apply ``outcome_of(error)`` the way ``ContractTask._settle`` does for Celery."""
    failures = int(message.headers.get(redelivery.FAILURES_HEADER) or 0)
    deferred_s, _ = redelivery.carried(message.headers.get)
    outcome = outcome_of(error, failures=failures, deferred_s=deferred_s, queue=queue)
    copy: dict[str, Any] = {
        "task": message.task,
        "task_id": message.task_id,
        "queue": queue,
        "kwargs": message.kwargs,
        "ignore_result": message.ignore_result,
    }
    try:
        if isinstance(outcome, Later):
            redelivery.send_later(
                **copy,
                delay_s=outcome.delay_s,
                retries=message.retries + 1,
                failures=outcome.failures,
                deferred_s=outcome.deferred_s,
                observed=outcome.observed,
            )
        else:
            redelivery.dead_letter(**copy, reason=outcome.reason, never_runnable=isinstance(error, PayloadRefused))
    except redelivery.RedeliveryError as send_error:
        raise RecordNotSettled(str(send_error)) from error
    if isinstance(outcome, Later):
        log = logger.info if isinstance(error, Defer) else logger.warning
        log("task=%s id=%s again in %d s: %s", message.task, message.task_id, outcome.delay_s, outcome.reason)
        if outcome.about_result:
            _store_result(message, "RETRY", _exception_meta(error))
        return LATER
    if isinstance(error, PayloadRefused):
        refused_logger.error(
            "refused message task=%s id=%s: %s; sent to the dead-letter queue", message.task, message.task_id, error
        )
    else:
        logger.error("task=%s id=%s dead-lettered: %s", message.task, message.task_id, outcome.reason)
    _store_result(message, FAILURE, _exception_meta(error))
    return DEAD_LETTERED


def _exception_meta(error: BaseException) -> dict[str, Any]:
    """An exception as Celery's JSON result backend stores it (what callers already read)."""
    kind = type(error)
    return {"exc_type": kind.__qualname__, "exc_message": [str(error)], "exc_module": kind.__module__}


@cache
def _dynamodb() -> Any:
    settings = get_settings()
    return aws.client("dynamodb", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)


def _store_result(message: DecodedTask, status: str, result: Any) -> None:
    """Write a waitable task's state where a caller waits, in the record shape Celery writes.

    A courtesy to the caller, like the Celery executor's: a result store outage is logged and
    never changes how the message is settled.
    """
    if message.task not in _WAITABLE or message.ignore_result:
        return
    table = get_settings().table_results
    if not table:
        return
    now = time.time()
    done = status in (SUCCESS, FAILURE)
    meta = {
        "status": status,
        "result": result,
        "traceback": None,
        "children": [],
        "date_done": datetime.now(UTC).isoformat() if done else None,
        "task_id": message.task_id,
    }
    try:
        _dynamodb().put_item(
            TableName=table,
            Item={
                "id": {"S": result_key(message.task_id)},
                RESULT_VALUE_ATTRIBUTE: {"B": json.dumps(meta).encode()},
                "timestamp": {"N": str(now)},
                "ttl": {"N": str(int(now + RESULT_TTL_S))},
            },
        )
    except Exception:
        logger.exception("could not record the state of task id=%s", message.task_id)
