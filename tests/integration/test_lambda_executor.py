"""The Lambda executor (``workers/lambda_executor/main.py``) against a moto server and the Slack stand-in.

The handler runs in this process, configured as the function is (the stack's environment), and is
invoked with SQS events built from messages really received from the queue (the shape AWS sends,
``scripts.sqs_event_source.sqs_record``). What a user or an operator would notice: refused messages
are never run and wait in the dead-letter queue byte for byte; a caller waiting on ``ping`` reads
the executor's answer; a record whose outcome cannot be made durable is handed back to SQS.
"""

import base64
import json
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from charla_cli.endpoints import resolve
from charla_cli.queues import dead_letter_url
from charla_cli.send import wait_for_result
from contract.queues import QueueName
from contract.tasks import TaskName
from contract.wire import encode_task_message
from scripts.processes import free_port
from scripts.sqs_event_source import EventSource, LambdaContext, sqs_record
from scripts.stack import DevStack

pytestmark = [pytest.mark.slow]


class OpensAFile:
    """Unpickling this creates a file: proof that a pickle body was (or was not) deserialized."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def _clear_worker_caches() -> None:
    from workers import redelivery, store
    from workers.lambda_executor import main as lambda_executor
    from workers.runtime import settings, slack

    for cached in (
        settings.get_settings,
        redelivery.sqs_client,
        redelivery.dead_letter_queue_url,
        lambda_executor._dynamodb,
        slack.web_client,
        slack.reader_client,
        store.get_store,
    ):
        cached.cache_clear()


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    """moto, the Slack stand-in and the ingress; no worker and no event source: this test invokes."""
    with DevStack(worker_queues=[]) as running:
        yield running


@pytest.fixture
def executor(stack: DevStack) -> Iterator[Any]:
    """``workers.lambda_executor.main``, with this process's environment set as the function's."""
    patch = pytest.MonkeyPatch()
    for name, value in stack.env.items():
        if name.startswith(("AWS_", "CHARLA_", "SLACK_")):
            patch.setenv(name, value)
    _clear_worker_caches()
    from workers.lambda_executor import main as lambda_executor

    try:
        yield lambda_executor
    finally:
        patch.undo()
        _clear_worker_caches()
        stack.empty_queues()


def invoke(stack: DevStack, executor: Any, *bodies: str) -> tuple[int, int]:
    """Send ``bodies`` to the replies queue; let the local event source mapping hand them to the
    handler (deleting what it settled). Returns (records invoked, failures reported)."""
    client = stack.sqs()
    url = stack.queue_url(QueueName.REPLIES)
    for body in bodies:
        client.send_message(QueueUrl=url, MessageBody=body)
    source = EventSource(queue_url=url, handler=executor.handler, batch_size=10, wait_s=1)
    records = failures = 0
    while records < len(bodies):
        invoked, failed = source.poll_once()
        records, failures = records + invoked, failures + failed
    return records, failures


def dead_letters(stack: DevStack) -> list[str]:
    client = stack.sqs()
    dlq = dead_letter_url(client, stack.queue_url(QueueName.REPLIES))
    assert dlq
    found = client.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    if found:
        client.delete_message_batch(
            QueueUrl=dlq, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(found)]
        )
    return [str(m["Body"]) for m in found]


def ping_payload(channel: str = "C0LAMBDA") -> dict[str, Any]:
    return {
        "correlation_id": uuid.uuid4().hex,
        "team_id": "T0LOCAL",
        "channel": channel,
        "user": "U0ALICE",
        "command": "ping",
        "thread_ts": "1700000000.000100",
        "requested_at": 1.0,
    }


def test_refused_messages_go_to_the_dead_letter_queue_unrun_byte_for_byte(
    stack: DevStack, executor: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "unpickled"
    envelope = json.loads(
        base64.b64decode(encode_task_message(task=TaskName.PING, kwargs={}, queue="replies", task_id="t-pickle"))
    )
    envelope.update(
        {
            "body": base64.b64encode(pickle.dumps(OpensAFile(marker))).decode(),
            "content-type": "application/x-python-serialize",
        }
    )
    pickled = base64.b64encode(json.dumps(envelope).encode()).decode()
    unknown = encode_task_message(task="charla.no_such_task", kwargs={}, queue="replies", task_id="t-unknown")
    bad_payload = encode_task_message(task=TaskName.PING, kwargs={"text": "hi"}, queue="replies", task_id="t-bad")
    not_celery = "hello, not base64 JSON"
    before = len(stack.recorded())

    with caplog.at_level("INFO", logger="charla"):
        invoked, failures = invoke(stack, executor, pickled, unknown, bad_payload, not_celery)

    assert (invoked, failures) == (4, 0)  # settled: deleted from the queue
    assert sorted(dead_letters(stack)) == sorted([pickled, unknown, bad_payload, not_celery])
    assert not marker.exists()  # the pickle was never loaded
    assert len(stack.recorded()) == before  # nothing ran
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused message")]
    assert len(refusals) == 4, refusals
    assert any("id=t-unknown" in line and "no worker runs this task name" in line for line in refusals)
    assert any("id=t-bad" in line and "text" in line for line in refusals)
    assert not any("hi" in line.split(":", 1)[1].split() for line in refusals)  # the payload is never logged
    assert stack.queue_depth(QueueName.REPLIES) == 0


def test_a_caller_waiting_on_ping_reads_the_lambda_executors_answer(stack: DevStack, executor: Any) -> None:
    task_id = str(uuid.uuid4())
    body = encode_task_message(
        task=TaskName.PING, kwargs=ping_payload(), queue="replies", task_id=task_id, ignore_result=False
    )
    assert invoke(stack, executor, body) == (1, 0)
    result = wait_for_result(task_id, timeout_s=10, endpoints=resolve(environ=stack.env))
    assert result["worker"] == "lambda:charla-local-executor"
    reply = next(r for r in stack.recorded() if r.get("channel") == "C0LAMBDA")
    assert reply["text"].startswith("pong (worker lambda:charla-local-executor")


def test_a_record_whose_outcome_cannot_be_sent_is_handed_back_to_sqs(
    stack: DevStack, executor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack down (a retryable failure) and SQS unreachable for the copy: the record is a batch item
    failure, so SQS delivers it again instead of the executor dropping it."""
    stack.set_slack_faults(failing_channels=["C0DOWN"])
    body = encode_task_message(task=TaskName.PING, kwargs=ping_payload("C0DOWN"), queue="replies", task_id="t-down")
    client = stack.sqs()
    url = stack.queue_url(QueueName.REPLIES)
    client.send_message(QueueUrl=url, MessageBody=body)
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    message = client.receive_message(QueueUrl=url, WaitTimeSeconds=2, AttributeNames=["All"])["Messages"][0]
    executor.redelivery.dead_letter_queue_url(url)  # looked up once per process, before SQS goes away
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    executor.get_settings.cache_clear()
    executor.redelivery.sqs_client.cache_clear()
    try:
        response = executor.handler(
            {"Records": [sqs_record(message, queue_arn=arn, region="us-east-1")]}, LambdaContext()
        )
    finally:
        stack.set_slack_faults(failing_channels=[])

    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
