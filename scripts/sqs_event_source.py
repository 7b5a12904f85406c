"""The local stand-in for an SQS event source mapping: long-polls one queue and invokes the
Lambda executor's ``handler`` (``workers/lambda_executor/main.py``) with the event AWS would send.

As in AWS: a batch of up to ``--batch-size`` records (``messageId``, ``receiptHandle``, ``body``,
``attributes.ApproximateReceiveCount``, ``eventSourceARN``, ...); the records the handler does not
name in ``batchItemFailures`` are deleted; the named ones, and the whole batch if the handler
raises, are left to reappear after the visibility timeout (and reach the dead-letter queue after
``maxReceiveCount`` receives). The handler runs in this process, which stays warm between
batches like a Lambda execution environment. Concurrency is one (a reserved concurrency of 1).

Run with the stack's environment (queue URLs, AWS endpoint, Slack):
``python -m scripts.sqs_event_source --queue replies``.
"""

import argparse
import contextlib
import hashlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from contract import environment as env

FUNCTION_NAME = "charla-local-executor"
Handler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]


@dataclass
class LambdaContext:
    """The parts of Lambda's context object the executor reads."""

    function_name: str = FUNCTION_NAME
    timeout_s: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


def sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One ReceiveMessage result as a Lambda SQS event record."""
    body = str(message["Body"])
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", "000000000000"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
            ),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class Heartbeat:
    """What the event source mapping is in AWS, seen by ``charla workers``: a heartbeat record of pool ``lambda``.

    In AWS ``charla`` finds the mapping through the Lambda API (``charla_cli/executors.py``); this
    local stand-in is a process, so it reports itself as a worker does (``contract/heartbeats.py``),
    with what it invoked since start. Written every interval; deleted at a clean stop.
    """

    def __init__(self, *, queue: str, function_name: str) -> None:
        # Not workers.celery_worker.heartbeat: it is a Celery bootstep, and the Lambda executor loads no Celery.
        from contract.heartbeats import COUNT_NAMES, DEFAULT_INTERVAL_S, HEARTBEAT_INTERVAL_VARIABLE, default_ttl_s
        from workers.runtime.settings import get_settings
        from workers.state.heartbeats import HeartbeatStore, heartbeat_client

        settings = get_settings()
        client = heartbeat_client(settings.aws_endpoint_url, settings.aws_region)
        self.store = HeartbeatStore(client, settings.table_state)
        self.interval_s = float(os.environ.get(HEARTBEAT_INTERVAL_VARIABLE) or DEFAULT_INTERVAL_S)
        self.ttl_s = default_ttl_s(self.interval_s)
        self.hostname = f"lambda:{function_name}@{socket.gethostname()}"
        self.queue = queue
        self.started_at = time.time()
        self.counts = dict.fromkeys(COUNT_NAMES, 0)

    def record(self, records: int, failures: int) -> None:
        self.counts["received"] += records
        self.counts["succeeded"] += records - failures  # settled: run, deferred or dead-lettered by the executor
        self.counts["failed"] += failures

    def beat(self) -> None:
        now = time.time()
        self.store.put(
            {
                "hostname": self.hostname,
                "pid": os.getpid(),
                "queues": [self.queue],
                "pool": "lambda",
                "concurrency": 1,
                "ecs": None,
                "started_at": self.started_at,
                "written_at": now,
                "expires_at": now + self.ttl_s,
                "active": [],
                "counts": dict(self.counts),
                "last_failure": None,
                "failures_last_hour": 0,
            }
        )

    def run(self, stop: threading.Event) -> None:
        while True:
            try:
                self.beat()
            except Exception as error:  # monitoring must never stop the work it watches
                print(f"heartbeat failed: {type(error).__name__}: {error}", flush=True)
            if stop.wait(self.interval_s):
                break
        with contextlib.suppress(Exception):
            self.store.delete(self.hostname, os.getpid())


class EventSource:
    """One queue polled for one handler, as an event source mapping does."""

    def __init__(
        self, *, queue_url: str, handler: Handler, batch_size: int = 1, wait_s: int = 5, timeout_s: float = 30.0
    ) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = batch_size
        self.wait_s = wait_s
        self.timeout_s = timeout_s
        self.heartbeat: Heartbeat | None = None
        self.sqs = boto3.client("sqs")
        self.region = self.sqs.meta.region_name
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def poll_once(self) -> tuple[int, int]:
        """Receive one batch and invoke the handler; returns (records, failures reported)."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_s,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0, 0
        records = [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]
        started = time.monotonic()
        try:
            response = self.handler({"Records": records}, LambdaContext(timeout_s=self.timeout_s))
        except Exception as error:  # a failed invocation: AWS leaves the whole batch to reappear
            print(f"invocation failed: {type(error).__name__}: {error}; {len(records)} record(s) left", flush=True)
            return len(records), len(records)
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if self.heartbeat is not None:
            self.heartbeat.record(len(records), len(failed))
        elapsed_ms = (time.monotonic() - started) * 1000
        print(f"invoked records={len(records)} failures={len(failed)} ms={elapsed_ms:.0f}", flush=True)
        return len(records), len(failed)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as error:  # an SQS hiccup: keep polling, as the mapping does
                print(f"poll failed: {type(error).__name__}: {error}", flush=True)
                stop.wait(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--queue", default="replies", help="charla queue name to consume")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--wait", type=int, default=5, help="long-poll seconds per receive")
    args = parser.parse_args()
    # Lambda sends a function's log lines to CloudWatch; here they go to stderr, INFO and up.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from contract.queues import QUEUE_SPECS, QueueName

    queue = QueueName(args.queue)
    started = time.monotonic()
    from workers.lambda_executor.main import handler  # the environment is read at first use

    import_ms = (time.monotonic() - started) * 1000
    source = EventSource(
        queue_url=os.environ[env.queue_url_variable(queue)],
        handler=handler,
        batch_size=args.batch_size,
        wait_s=args.wait,
        timeout_s=QUEUE_SPECS[queue].time_limit_s,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    source.heartbeat = Heartbeat(queue=queue.value, function_name=FUNCTION_NAME)
    beating = threading.Thread(target=source.heartbeat.run, args=(stop,), name="heartbeat", daemon=True)
    beating.start()
    print(f"event source ready queue={queue} import_ms={import_ms:.0f}", flush=True)
    source.run(stop)
    beating.join(timeout=5)


if __name__ == "__main__":
    main()
