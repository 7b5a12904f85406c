"""Operator commands for charla's queues, locally (moto) or in AWS.

    python -m scripts.queues status
    python -m scripts.queues redrive [--queue replies] [--task charla.ping] [--limit 100] [--dry-run]

Queue URLs come from the same variables the workers read (``CHARLA_QUEUE_URL_<QUEUE>``; the
``make deploy-local`` state file and the CDK stack outputs both give them); each queue's
dead-letter queue is found through its RedrivePolicy. The endpoint is boto3's usual one
(``AWS_ENDPOINT_URL`` locally, the real SQS in AWS).
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from contract import environment as env
from contract.queues import QueueName
from contract.wire import decode_task_message

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class QueueStatus:
    name: str
    url: str
    waiting: int
    in_flight: int
    oldest_age_s: float | None  # None: not measurable without disturbing the queue

    def line(self) -> str:
        age = "-" if self.oldest_age_s is None else f"{self.oldest_age_s:.0f} s"
        return f"{self.name:<16} waiting {self.waiting:>6}  in flight {self.in_flight:>6}  oldest {age:>8}"


def queue_urls(environ: Mapping[str, str]) -> dict[QueueName, str]:
    """The contract's queues that have a URL in ``environ``."""
    return {q: environ[env.queue_url_variable(q)] for q in QueueName if environ.get(env.queue_url_variable(q))}


def dead_letter_url(client: "SQSClient", url: str) -> str | None:
    """The DLQ URL named by ``url``'s RedrivePolicy, if it has one."""
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    if "RedrivePolicy" not in attributes:
        return None
    arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    account, name = arn.split(":")[4], arn.split(":")[5]
    dlq_url: str = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return dlq_url


def _oldest_age_in_dlq(client: "SQSClient", url: str) -> float | None:
    # Peeking (visibility 0) is harmless on a DLQ, which has no redrive of its own to trip.
    messages = client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["SentTimestamp"]
    ).get("Messages", [])
    if not messages:
        return None
    oldest_ms = min(int(m["Attributes"]["SentTimestamp"]) for m in messages)
    return max(0.0, time.time() - oldest_ms / 1000)


def _oldest_age_from_cloudwatch(name: str) -> float | None:
    if os.environ.get(env.AWS_ENDPOINT_URL):
        return None  # moto publishes no SQS metrics
    now = time.time()
    datapoints = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": name}],
        StartTime=now - 600,
        EndTime=now,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    latest = max(datapoints, key=lambda d: d["Timestamp"], default=None)
    return float(latest["Maximum"]) if latest else None


def status(client: "SQSClient", urls: Mapping[QueueName, str]) -> list[QueueStatus]:
    """Depth, in-flight count and oldest age for each queue and its DLQ."""
    rows: list[QueueStatus] = []
    for queue, url in urls.items():
        for label, target, is_dlq in (
            (queue.value, url, False),
            (f"{queue.value} DLQ", dead_letter_url(client, url), True),
        ):
            if target is None:
                continue
            attributes = client.get_queue_attributes(
                QueueUrl=target,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            age = (
                _oldest_age_in_dlq(client, target) if is_dlq else _oldest_age_from_cloudwatch(target.rsplit("/", 1)[1])
            )
            rows.append(
                QueueStatus(
                    name=label,
                    url=target,
                    waiting=int(attributes["ApproximateNumberOfMessages"]),
                    in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
                    oldest_age_s=age,
                )
            )
    return rows


def task_filter(task_name: str | None) -> Callable[[dict[str, Any]], bool]:
    """Which DLQ messages to move: all, or those of one task (undecodable ones only when moving all)."""

    def matches(message: dict[str, Any]) -> bool:
        if task_name is None:
            return True
        try:
            return decode_task_message(message["Body"]).task == task_name
        except ValueError:
            return False

    return matches


def redrive(
    client: "SQSClient",
    *,
    source_url: str,
    dlq_url: str,
    matches: Callable[[dict[str, Any]], bool],
    limit: int,
    dry_run: bool = False,
) -> int:
    """Move up to ``limit`` matching messages from the DLQ back to ``source_url``; returns how many.

    Each message is sent before it is deleted, so a crash in between duplicates rather than
    loses it (task ids are kept, and tasks are idempotent in effect). Non-matching messages are
    left in the DLQ (they reappear after their visibility timeout).
    """
    moved = 0
    seen: set[str] = set()
    while moved < limit:
        messages = client.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - moved),
            VisibilityTimeout=30,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            if not matches(dict(message)):
                client.change_message_visibility(
                    QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
                continue
            if not dry_run:
                extra: dict[str, Any] = {}
                if message.get("MessageAttributes"):
                    extra["MessageAttributes"] = message["MessageAttributes"]
                client.send_message(QueueUrl=source_url, MessageBody=message["Body"], **extra)
                client.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                client.change_message_visibility(
                    QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            moved += 1
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.queues", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="depth, in flight and oldest age per queue and DLQ")
    move = commands.add_parser("redrive", help="move DLQ messages back to their queue")
    move.add_argument("--queue", choices=[q.value for q in QueueName], help="only this queue's DLQ")
    move.add_argument("--task", help="only messages of this task name, e.g. charla.ping")
    move.add_argument("--limit", type=int, default=1000)
    move.add_argument("--dry-run", action="store_true", help="count what would move, move nothing")
    args = parser.parse_args(argv)

    urls = queue_urls(os.environ)
    if not urls:
        print("no queue URLs: set CHARLA_QUEUE_URL_REPLIES / CHARLA_QUEUE_URL_BULK", file=sys.stderr)
        return 2
    client: SQSClient = boto3.client("sqs")
    if args.command == "status":
        for row in status(client, urls):
            print(row.line())
        return 0
    total = 0
    for queue, url in urls.items():
        if args.queue and queue.value != args.queue:
            continue
        dlq = dead_letter_url(client, url)
        if dlq is None:
            continue
        moved = redrive(
            client,
            source_url=url,
            dlq_url=dlq,
            matches=task_filter(args.task),
            limit=args.limit - total,
            dry_run=args.dry_run,
        )
        print(f"{queue.value}: {'would move' if args.dry_run else 'moved'} {moved} message(s) from the DLQ")
        total += moved
    return 0


if __name__ == "__main__":
    sys.exit(main())
