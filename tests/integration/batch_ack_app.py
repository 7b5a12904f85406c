"""A minimal Celery app on charla's SQS transport, for tests/integration/test_batch_acks.py.

Only the transport is charla's (``workers.celery_worker.sqs_batch_ack:Transport``); the tasks are two lines
each, so the test watches the acks and nothing else. Configured from the environment the test
sets: the broker URL, the queues' URLs, the flush interval, and a folder where each task run
leaves a file (how the test sees runs, redeliveries included).
"""

import os
import uuid
from pathlib import Path

from celery import Celery

ACKED_QUEUE = "acked"
FAILING_QUEUE = "failing"

app = Celery("batch_ack_test")
app.conf.update(
    broker_url=os.environ["BATCH_ACK_BROKER_URL"],
    broker_transport=os.environ.get("BATCH_ACK_TRANSPORT", "workers.celery_worker.sqs_batch_ack:Transport"),
    broker_transport_options={
        "region": "us-east-1",
        "is_secure": False,
        "wait_time_seconds": 1,
        "polling_interval": 0.1,
        "predefined_queues": {
            ACKED_QUEUE: {"url": os.environ["BATCH_ACK_ACKED_URL"]},
            FAILING_QUEUE: {"url": os.environ["BATCH_ACK_FAILING_URL"]},
        },
        "ack_flush_interval": float(os.environ["BATCH_ACK_FLUSH_INTERVAL"]),
    },
    broker_connection_retry_on_startup=True,
    task_acks_late=True,
    task_acks_on_failure_or_timeout=False,  # as charla: a failure is rejected, never acked
    task_ignore_result=True,
    worker_prefetch_multiplier=10,
    worker_hijack_root_logger=False,
    task_routes={"fail": {"queue": FAILING_QUEUE}},
    task_default_queue=ACKED_QUEUE,
)
RUNS = Path(os.environ["BATCH_ACK_RUNS"])


def _record(name: str, task_id: str) -> None:
    (RUNS / f"{name}.{task_id}.{uuid.uuid4().hex}").touch()


@app.task(name="succeed", bind=True)
def succeed(self: object) -> None:
    _record("succeed", str(self.request.id))  # type: ignore[attr-defined]


@app.task(name="fail", bind=True)
def fail(self: object) -> None:
    _record("fail", str(self.request.id))  # type: ignore[attr-defined]
    raise RuntimeError("this task always fails")
