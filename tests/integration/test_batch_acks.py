"""Acks in batches (workers/celery_worker/sqs_batch_ack.py) with a real ``celery worker`` on moto.

The worker's SQS traffic goes through a counting proxy, so the test sees each request by action.
The flush interval is set far above the test's length: every delete it sees was sent because a
batch was full or because the worker shut down, which makes the counts exact, not timed.
"""

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bench.common import CountingProxy, sqs_requests
from contract.wire import encode_task_message
from scripts.processes import ManagedProcess, python_module, wait_until
from scripts.provision import LOCAL_CREDENTIALS, REGION
from workers.celery_worker.sqs_batch_ack import MAX_BATCH

pytestmark = [pytest.mark.slow]

# The app module reads its settings from the environment at import: the worker imports it, not this test.
ACKED_QUEUE, FAILING_QUEUE = "acked", "failing"  # as in tests/integration/batch_ack_app.py

ROOT = Path(__file__).resolve().parents[2]
TASKS = 2 * MAX_BATCH + 5  # two full batches, and five that only a flush at shutdown deletes
NEVER_S = "600"  # the flush interval: no delete in this test is sent by age


def _runs(folder: Path, name: str) -> list[str]:
    return [path.name.split(".")[1] for path in folder.iterdir() if path.name.startswith(name + ".")]


def _depth(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def sqs(moto_url: str) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def queues(sqs: Any) -> dict[str, str]:
    """Fresh queues for one test: the acked one outlives the test's visibility; the failing one redelivers in 1 s."""
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"failing-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {
        ACKED_QUEUE: sqs.create_queue(QueueName=f"acked-{suffix}", Attributes={"VisibilityTimeout": "300"})["QueueUrl"],
        FAILING_QUEUE: sqs.create_queue(
            QueueName=f"failing-{suffix}",
            Attributes={
                "VisibilityTimeout": "1",
                "RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "50"}}',
            },
        )["QueueUrl"],
    }


@pytest.fixture
def proxy(moto_url: str) -> Iterator[CountingProxy]:
    with CountingProxy(moto_url) as counting:
        yield counting


def _start_worker(
    proxy: CountingProxy,
    queues: dict[str, str],
    runs: Path,
    logs: Path,
    *,
    transport: str | None = None,
    flush_interval: str = NEVER_S,
    pool: str = "prefork",
) -> ManagedProcess:
    host = proxy.url.removeprefix("http://")
    # The worker reaches the queues through the proxy: same path, the proxy's host and port.
    through_proxy = {name: proxy.url + "/" + url.split("/", 3)[3] for name, url in queues.items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_"))}
    env.update(
        {
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "BATCH_ACK_BROKER_URL": f"sqs://{LOCAL_CREDENTIALS['AWS_ACCESS_KEY_ID']}:"
            f"{LOCAL_CREDENTIALS['AWS_SECRET_ACCESS_KEY']}@{host}",
            "BATCH_ACK_ACKED_URL": through_proxy[ACKED_QUEUE],
            "BATCH_ACK_FAILING_URL": through_proxy[FAILING_QUEUE],
            "BATCH_ACK_FLUSH_INTERVAL": flush_interval,
            "BATCH_ACK_RUNS": str(runs),
        }
    )
    if transport:
        env["BATCH_ACK_TRANSPORT"] = transport
    argv = python_module(
        "celery",
        "-A",
        "tests.integration.batch_ack_app",
        "worker",
        "-Q",
        f"{ACKED_QUEUE},{FAILING_QUEUE}",
        "-P",
        pool,
        "-c",
        "2" if pool == "prefork" else "8",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "-l",
        "info",
    )
    return ManagedProcess("celery-batch-acks", argv, env=env, log_dir=logs, cwd=ROOT)


def _send(sqs: Any, queues: dict[str, str], task: str, queue: str) -> str:
    task_id = str(uuid.uuid4())
    sqs.send_message(
        QueueUrl=queues[queue], MessageBody=encode_task_message(task=task, kwargs={}, queue=queue, task_id=task_id)
    )
    return task_id


def _warm_shutdown(worker: ManagedProcess) -> int | None:
    os.kill(worker.pid, signal.SIGTERM)  # the main process only: Celery's warm shutdown
    wait_until(lambda: not worker.alive(), timeout=60, message=lambda: f"worker exit; log:\n{worker.log_tail()}")
    return worker.stop()


# Prefork acks from the main process; the thread pool (the I/O-bound choice) from its threads.
@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_finished_tasks_are_deleted_in_batches_and_the_rest_at_warm_shutdown_failed_ones_never(
    sqs: Any, queues: dict[str, str], proxy: CountingProxy, tmp_path: Path, pool: str
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    worker = _start_worker(proxy, queues, runs, tmp_path, pool=pool)
    try:
        sent = {_send(sqs, queues, "succeed", ACKED_QUEUE) for _ in range(TASKS)}
        wait_until(
            lambda: set(_runs(runs, "succeed")) == sent, timeout=60, message=lambda: f"runs; log:\n{worker.log_tail()}"
        )
        # Two full batches went; the last five wait for a batch or for the shutdown.
        wait_until(lambda: proxy.snapshot()["AmazonSQS.DeleteMessageBatch"] == 2, timeout=30)
        assert _depth(sqs, queues[ACKED_QUEUE]) == (0, TASKS - 2 * MAX_BATCH)

        # A task that fails is rejected, not deleted: SQS delivers it again after its visibility timeout.
        failing = _send(sqs, queues, "fail", FAILING_QUEUE)
        wait_until(lambda: _runs(runs, "fail").count(failing) >= 2, timeout=60, message=worker.log_tail)
        assert proxy.snapshot()["AmazonSQS.DeleteMessageBatch"] == 2, "the failed task was deleted"

        assert _warm_shutdown(worker) == 0, worker.log_tail()
    finally:
        worker.stop()

    counts = proxy.snapshot()
    assert counts["AmazonSQS.DeleteMessageBatch"] == 3, counts  # the shutdown flushed the last five
    assert counts["AmazonSQS.DeleteMessage"] == 0, counts
    assert _depth(sqs, queues[ACKED_QUEUE]) == (0, 0)
    assert sorted(_runs(runs, "succeed")) == sorted(sent), "a deleted task ran twice"
    visible, hidden = _depth(sqs, queues[FAILING_QUEUE])
    assert visible + hidden == 1, "the failed task left its queue"


def test_a_batch_that_does_not_fill_is_sent_after_the_flush_interval(
    sqs: Any, queues: dict[str, str], proxy: CountingProxy, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    worker = _start_worker(proxy, queues, runs, tmp_path, flush_interval="1")
    try:
        sent = {_send(sqs, queues, "succeed", ACKED_QUEUE) for _ in range(3)}
        wait_until(lambda: set(_runs(runs, "succeed")) == sent, timeout=60, message=worker.log_tail)
        # Deleted while the worker runs on: by age, not by a full batch or a shutdown.
        wait_until(lambda: _depth(sqs, queues[ACKED_QUEUE]) == (0, 0), timeout=30, message=worker.log_tail)
        assert worker.alive()
    finally:
        worker.stop()
    counts = proxy.snapshot()
    assert counts["AmazonSQS.DeleteMessageBatch"] >= 1 and counts["AmazonSQS.DeleteMessage"] == 0, counts


def _requests_per_task(sqs: Any, queues: dict[str, str], proxy: CountingProxy, tmp_path: Path, transport: str) -> float:
    runs = tmp_path / transport.replace(":", "-")
    runs.mkdir()
    worker = _start_worker(proxy, queues, runs, tmp_path, transport=transport)
    try:
        sent = {_send(sqs, queues, "succeed", ACKED_QUEUE) for _ in range(TASKS)}
        wait_until(lambda: set(_runs(runs, "succeed")) == sent, timeout=60, message=worker.log_tail)
        assert _warm_shutdown(worker) == 0, worker.log_tail()
    finally:
        worker.stop()
    assert _depth(sqs, queues[ACKED_QUEUE]) == (0, 0)
    counts = proxy.snapshot()
    proxy.reset()
    return sqs_requests(counts) / TASKS


def test_batched_acks_need_fewer_sqs_requests_per_task_than_one_delete_each(
    sqs: Any, queues: dict[str, str], proxy: CountingProxy, tmp_path: Path
) -> None:
    single = _requests_per_task(sqs, queues, proxy, tmp_path, "workers.celery_worker.sqs_transport:ResilientTransport")
    batched = _requests_per_task(sqs, queues, proxy, tmp_path, "workers.celery_worker.sqs_batch_ack:Transport")
    print(f"SQS requests per task: one DeleteMessage each {single:.2f}, batched {batched:.2f}")
    # 25 deletes become 3 batches: 22 requests fewer, whatever the receives did.
    assert batched < single
