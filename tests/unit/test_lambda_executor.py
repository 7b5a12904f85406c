"""How the Lambda executor settles each record, with SQS replaced by a recorder (the moto-backed
paths are in tests/integration/test_lambda_executor.py and tests/faults/test_lambda_executor_faults.py).

The rules are ``workers/outcomes.py``'s, the same as the Celery executor's: a deferral is a copy
with an SQS delay and no failure counted; a failure is a copy with backoff and the count in its
header, until ``MAX_TASK_FAILURES`` sends it to the dead-letter queue; the record is reported done
in each case, and handed back to SQS only when the copy could not be sent.
"""

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from contract.queues import MAX_TASK_FAILURES, QUEUE_SPECS, QueueName
from contract.tasks import TaskName
from contract.wire import encode_task_message
from workers import redelivery
from workers.lambda_executor import main as lambda_executor
from workers.outcomes import Defer
from workers.registry import TaskContext, TaskEntry

ARN = "arn:aws:sqs:us-east-1:000000000000:charla-replies"


class Sent:
    """What the executor asked SQS to do."""

    def __init__(self) -> None:
        self.later: list[dict[str, Any]] = []
        self.dead: list[dict[str, Any]] = []
        self.fail = False

    def send_later(self, **copy: Any) -> None:
        if self.fail:
            raise redelivery.RedeliveryError("send failed: EndpointConnectionError")
        self.later.append(copy)

    def dead_letter(self, **copy: Any) -> None:
        if self.fail:
            raise redelivery.RedeliveryError("send failed: EndpointConnectionError")
        self.dead.append(copy)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sent]:
    recorder = Sent()
    monkeypatch.setattr(redelivery, "send_later", recorder.send_later)
    monkeypatch.setattr(redelivery, "dead_letter", recorder.dead_letter)
    monkeypatch.setattr(lambda_executor, "queue_of", lambda arn: QueueName.REPLIES if arn == ARN else _unknown(arn))
    yield recorder


def _unknown(arn: str) -> QueueName:
    raise lambda_executor.RecordNotSettled(f"event source {arn} is not a charla queue of this function")


def payload() -> dict[str, Any]:
    return {
        "correlation_id": "c1",
        "team_id": "T1",
        "channel": "C1",
        "user": "U1",
        "command": "ping",
        "requested_at": 1.0,
    }


def record(*, retries: int = 0, failures: int = 0, arn: str = ARN) -> dict[str, Any]:
    body = encode_task_message(
        task=TaskName.PING,
        kwargs=payload(),
        queue="replies",
        task_id="task-1",
        retries=retries,
        extra_headers={redelivery.FAILURES_HEADER: failures} if failures else None,
    )
    return {"messageId": "m-1", "body": body, "eventSourceARN": arn, "attributes": {"ApproximateReceiveCount": "1"}}


def registry_raising(error: Exception | None, seen: list[TaskContext] | None = None) -> dict[str, TaskEntry]:
    def run(context: TaskContext, **_: Any) -> None:
        if seen is not None:
            seen.append(context)
        if error is not None:
            raise error

    return {TaskName.PING.value: TaskEntry(TaskName.PING, run, dict, QueueName.REPLIES)}


def test_a_deferral_is_a_delayed_copy_with_no_failure_counted(sent: Sent) -> None:
    outcome = lambda_executor.run_record(
        record(retries=2, failures=1), tasks=registry_raising(Defer(7.2, "channel busy")), worker="lambda:x"
    )
    assert outcome == lambda_executor.LATER
    (copy,) = sent.later
    assert copy["delay_s"] == 8 and copy["failures"] == 1 and copy["retries"] == 3
    assert copy["task_id"] == "task-1" and copy["queue"] == QueueName.REPLIES and copy["kwargs"] == payload()
    assert sent.dead == []


def test_a_failure_is_retried_with_its_count_until_the_last_one_dead_letters(sent: Sent) -> None:
    error = ConnectionResetError("slack went away")
    for failures in range(MAX_TASK_FAILURES - 1):
        assert (
            lambda_executor.run_record(record(failures=failures), tasks=registry_raising(error), worker="w") == "later"
        )
        assert sent.later[-1]["failures"] == failures + 1
        assert 1 <= sent.later[-1]["delay_s"] <= 900
    outcome = lambda_executor.run_record(
        record(failures=MAX_TASK_FAILURES - 1), tasks=registry_raising(error), worker="w"
    )
    assert outcome == lambda_executor.DEAD_LETTERED
    (dead,) = sent.dead
    assert dead["reason"].startswith(f"failed {MAX_TASK_FAILURES} times, last: ConnectionResetError")


def test_the_task_gets_the_message_as_its_context(sent: Sent) -> None:
    seen: list[TaskContext] = []
    before = time.monotonic()
    outcome = lambda_executor.run_record(record(retries=1), tasks=registry_raising(None, seen), worker="lambda:fn")
    after = time.monotonic()
    assert outcome == lambda_executor.DONE
    (context,) = seen
    assert dataclasses.replace(context, deadline=None) == TaskContext(
        task_id="task-1", queue=QueueName.REPLIES, retries=1, worker="lambda:fn"
    )
    assert context.continuation
    # Its deadline: the queue's run_deadline_s from the moment the task function was entered. A
    # batch shares one function timeout, so nothing else would stop a run from posting late.
    deadline_s = QUEUE_SPECS[QueueName.REPLIES].run_deadline_s
    assert context.deadline is not None and before + deadline_s <= context.deadline <= after + deadline_s


def test_a_copy_that_cannot_be_sent_is_a_batch_item_failure(sent: Sent, monkeypatch: pytest.MonkeyPatch) -> None:
    sent.fail = True
    monkeypatch.setattr(lambda_executor, "load", lambda: registry_raising(ConnectionResetError("x")))
    monkeypatch.setattr(lambda_executor, "_prepare", lambda: None)
    other = {**record(arn="arn:aws:sqs:us-east-1:000000000000:someone-elses"), "messageId": "m-2"}
    response = lambda_executor.handler({"Records": [record(), other]}, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}


def test_success_reports_no_failure(sent: Sent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lambda_executor, "load", lambda: registry_raising(None))
    monkeypatch.setattr(lambda_executor, "_prepare", lambda: None)
    assert lambda_executor.handler({"Records": [record()]}, None) == {"batchItemFailures": []}
    assert sent.later == [] and sent.dead == []


def test_each_record_is_one_task_metric_like_the_workers(sent: Sent, capfd: pytest.CaptureFixture[str]) -> None:
    """The dashboard and alarms read the same EMF lines from both executors."""
    lambda_executor.run_record(record(), tasks=registry_raising(None), worker="w")
    lambda_executor.run_record(record(), tasks=registry_raising(Defer(1, "busy")), worker="w")
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    assert [(line["Task"], line["outcome"]) for line in lines] == [
        (TaskName.PING.value, "succeeded"),
        (TaskName.PING.value, "retried"),
    ]
    assert all("TaskRunTime" in line for line in lines)
