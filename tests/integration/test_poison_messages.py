"""A message that can never run is in its dead-letter queue within one receive, and operations say so.

The queues here keep their real settings (a 180 s visibility timeout on replies, five receives
before SQS dead-letters): before this rule a non-JSON body stayed hidden for 5 x 180 s while
``charla status`` exited 0 and ``dlq show`` was empty. Now the worker moves it at once, with its
reason, ``status`` counts it once, and ``dlq redrive`` refuses to send it back.
"""

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from charla_cli.errors import EXIT_DEAD_LETTERS, EXIT_OK
from charla_cli.main import main as charla
from contract.heartbeats import HEARTBEAT_INTERVAL_VARIABLE
from contract.queues import QUEUE_SPECS, QueueName
from contract.tasks import TaskName
from contract.wire import encode_task_message
from scripts.processes import wait_until
from scripts.stack import DevStack

pytestmark = [pytest.mark.slow]

# Far below one visibility timeout: only an immediate move meets it.
WITHIN_ONE_RECEIVE_S = 30.0
assert QUEUE_SPECS[QueueName.REPLIES].visibility_timeout_s > WITHIN_ONE_RECEIVE_S


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    with DevStack(
        worker_queues=[QueueName.REPLIES],
        worker_concurrency=1,
        sqs_wait_time_seconds=1,
        extra_env={HEARTBEAT_INTERVAL_VARIABLE: "1"},
    ) as running:
        yield running


def run(stack: DevStack, *argv: str) -> tuple[int, Any]:
    out = io.StringIO()
    status = charla([*argv], environ=stack.env, out=out)
    return status, json.loads(out.getvalue())


def test_poison_messages_reach_the_dlq_at_once_with_their_reason_and_are_not_redriven(stack: DevStack) -> None:
    unknown_id, invalid_id = str(uuid.uuid4()), str(uuid.uuid4())
    poison = {
        "hello, not a task": "not a Celery task message",
        encode_task_message(task="charla.dance", kwargs={}, queue="replies", task_id=unknown_id): (
            "no worker runs this task name"
        ),
        encode_task_message(
            task=TaskName.PING, kwargs={"correlation_id": "c"}, queue="replies", task_id=invalid_id
        ): "payload does not match CommandRequest",
    }
    for body in poison:
        stack.sqs().send_message(QueueUrl=stack.queue_url(QueueName.REPLIES), MessageBody=body)

    letters = wait_until(
        lambda: found if len(found := run(stack, "dlq", "show", "--json")[1]) == len(poison) else None,
        timeout=WITHIN_ONE_RECEIVE_S,
        message=lambda: f"{len(poison)} dead letters; logs:\n{stack.logs()}",
    )

    reasons = sorted(str(letter["reason"]) for letter in letters)
    for expected in poison.values():
        assert any(expected in reason and reason.startswith("refused: ") for reason in reasons), (expected, reasons)
    assert {letter["task_id"] for letter in letters} >= {unknown_id, invalid_id}
    assert all(letter["never_runnable"] for letter in letters)
    # Gone from its queue: the worker deletes acked messages in batches, within a second
    # (workers/celery_worker/sqs_batch_ack.py), far within one visibility timeout.
    stack.wait_until_drained(QueueName.REPLIES, timeout=WITHIN_ONE_RECEIVE_S)

    # status: exit 5, each refusal counted once (the heartbeat carries the count)
    report = wait_until(
        lambda: r if (r := run(stack, "status", "--json"))[1]["failures_last_hour"] >= len(poison) else None,
        timeout=WITHIN_ONE_RECEIVE_S,
        message="the refusals in the heartbeat",
    )
    status, fields = report
    assert status == EXIT_DEAD_LETTERS
    assert fields["dead_letters"] == len(poison)
    assert fields["failures_last_hour"] == len(poison)

    status, redriven = run(stack, "dlq", "redrive", "--json")
    assert status == EXIT_OK
    assert redriven["moved"] == []
    assert len(redriven["kept_never_runnable"]) == len(poison)
    assert len(run(stack, "dlq", "show", "--json")[1]) == len(poison), "a never-runnable message left the DLQ"


def test_charla_workers_shows_the_pool_kind_and_size(stack: DevStack) -> None:
    workers = wait_until(
        lambda: found if (found := run(stack, "workers", "--json")[1]) else None,
        timeout=WITHIN_ONE_RECEIVE_S,
        message=lambda: f"a heartbeat; logs:\n{stack.logs()}",
    )
    celery = [w for w in workers if w.get("pool") != "lambda"]
    assert [(w["pool"], w["concurrency"]) for w in celery] == [("prefork", stack.worker_concurrency)]
