"""Queue and dead-letter-queue operations: status, peek, redrive, purge.

Each queue's dead-letter queue is found through its RedrivePolicy. Reading a DLQ (``dlq show``)
receives its messages with a short visibility timeout and hands them straight back (visibility
0): nothing is consumed, and a DLQ has no redrive policy of its own for the extra receive to trip.
Main queues are never peeked: a receive there counts toward ``maxReceiveCount``.
"""

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import jobs
from contract.queues import DEAD_LETTER_REASON_ATTRIBUTE, NEVER_RUNNABLE_ATTRIBUTE, QueueName
from contract.registry import TASK_PAYLOADS
from contract.tasks import TaskName
from contract.wire import decode_task_message

PEEK_VISIBILITY_S = 30  # long enough to page through a DLQ without seeing a message twice
# The header a worker puts on a copy it dead-letters itself (workers/redelivery.py writes it).
DEAD_LETTER_REASON_HEADER = "charla_dead_letter_reason"


@dataclass(frozen=True)
class QueueStatus:
    """One queue (or DLQ) right now."""

    queue: str  # "replies", "replies-dlq"
    url: str
    is_dlq: bool
    visible: int
    in_flight: int
    delayed: int
    oldest_age_s: float | None  # None: not measurable here (locally, moto publishes no SQS metrics)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DeadLetter:
    """A message parked in a DLQ, as ``dlq show`` lists it."""

    queue: str
    message_id: str
    task: str | None
    task_id: str | None
    first_seen: float | None  # when it was first sent (SentTimestamp survives the move to the DLQ)
    receive_count: int
    reason: str | None = None  # the dead-letter header, else the worker's failure note (contract/heartbeats.py)
    # Why sending it back can never make it run (not a task message, unknown task, payload off
    # the contract); None: it may succeed once the cause is fixed.
    never_runnable: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def dead_letter_url(client: Any, url: str) -> str | None:
    """The DLQ URL named by ``url``'s RedrivePolicy, if it has one."""
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    if "RedrivePolicy" not in attributes:
        return None
    arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    account, name = arn.split(":")[4], arn.split(":")[5]
    dlq_url: str = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return dlq_url


def all_queues(client: Any, urls: Mapping[QueueName, str]) -> list[tuple[str, str, bool, QueueName]]:
    """(label, url, is_dlq, source queue) for each queue and its DLQ."""
    found = []
    for queue, url in urls.items():
        found.append((queue.value, url, False, queue))
        dlq = dead_letter_url(client, url)
        if dlq:
            found.append((f"{queue.value}-dlq", dlq, True, queue))
    return found


def dead_letter_targets(client: Any, urls: Mapping[QueueName, str], only: str | None) -> list[tuple[str, str, str]]:
    """(label, dlq url, source url) per queue (all, or the one named ``only``) that has a DLQ."""
    chosen = {q: u for q, u in urls.items() if only is None or q.value == only}
    return [(label, url, chosen[source]) for label, url, is_dlq, source in all_queues(client, chosen) if is_dlq]


def _oldest_from_cloudwatch(cloudwatch: Any, url: str) -> float | None:
    now = time.time()
    datapoints = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": url.rsplit("/", 1)[1]}],
        StartTime=now - 600,
        EndTime=now,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    latest = max(datapoints, key=lambda d: d["Timestamp"], default=None)
    return float(latest["Maximum"]) if latest else None


def queue_status(client: Any, urls: Mapping[QueueName, str], *, cloudwatch: Any | None) -> list[QueueStatus]:
    """Depth, in flight, delayed and oldest age of every queue and DLQ.

    ``cloudwatch`` is None locally: the oldest age of a main queue is then unknown (peeking would
    count as a receive); a DLQ's is measured by peeking.
    """
    rows = []
    for label, url, is_dlq, _source in all_queues(client, urls):
        attributes = client.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        visible = int(attributes.get("ApproximateNumberOfMessages", 0))
        if is_dlq:
            letters = peek(client, url, label=label, limit=10) if visible else []
            firsts = [letter.first_seen for letter in letters if letter.first_seen]
            oldest = max(0.0, time.time() - min(firsts)) if firsts else None
        else:
            oldest = _oldest_from_cloudwatch(cloudwatch, url) if cloudwatch is not None else None
        rows.append(
            QueueStatus(
                queue=label,
                url=url,
                is_dlq=is_dlq,
                visible=visible,
                in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
                oldest_age_s=oldest,
            )
        )
    return rows


def dead_letter_reason(body: str) -> str | None:
    """The reason a worker wrote on a copy it dead-lettered itself (None: SQS moved it, or not ours)."""
    try:
        envelope = json.loads(base64.b64decode(body, validate=True))
        reason = envelope["headers"].get(DEAD_LETTER_REASON_HEADER)
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        return None
    return str(reason) if reason else None


def _attribute(message: Mapping[str, Any], name: str) -> str | None:
    value = (message.get("MessageAttributes") or {}).get(name, {}).get("StringValue")
    return str(value) if value else None


def _contract_problem(task: str, kwargs: Mapping[str, Any], args: Any) -> str | None:
    """Why this task message can never run under this contract (None: it can)."""
    from pydantic import TypeAdapter, ValidationError

    kind: type[Any] | None
    if task in set(TaskName):
        kind = TASK_PAYLOADS.get(TaskName(task))
    elif task.startswith(jobs.TASK_PREFIX):
        try:
            kind = jobs.find(task).payload
        except LookupError:
            return f"no worker runs the task name {task!r}"
    else:
        return f"no worker runs the task name {task!r}"
    if args:
        return "positional arguments (charla tasks take keyword arguments only)"
    if kind is None:
        return None
    try:
        TypeAdapter(kind).validate_python(dict(kwargs))
    except ValidationError as error:
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) or "(payload)" for e in error.errors()}))
        return f"payload does not match {kind.__name__} ({fields})"
    return None


def _describe(label: str, message: Mapping[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    task: str | None = None
    task_id: str | None = None
    never_runnable: str | None = None
    try:
        decoded = decode_task_message(message["Body"])
        task, task_id = decoded.task, decoded.task_id
        never_runnable = _contract_problem(decoded.task, decoded.kwargs, decoded.args)
    except (ValueError, KeyError, TypeError):
        # not a charla task message (e.g. a refused pickle body): listed by message id
        never_runnable = "not a charla task message"
    marked = _attribute(message, NEVER_RUNNABLE_ATTRIBUTE)
    reason = _attribute(message, DEAD_LETTER_REASON_ATTRIBUTE) or dead_letter_reason(str(message["Body"]))
    if marked and never_runnable is None:
        never_runnable = reason or "refused by a worker's contract check"
    sent = attributes.get("SentTimestamp")
    return DeadLetter(
        queue=label,
        message_id=str(message["MessageId"]),
        task=task,
        task_id=task_id,
        first_seen=int(sent) / 1000 if sent else None,
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        reason=f"{'refused' if marked else 'dead-lettered'}: {reason}" if reason else None,
        never_runnable=never_runnable,
    )


def _receive_all(client: Any, url: str, *, limit: int, visibility_s: int) -> list[dict[str, Any]]:
    """Up to ``limit`` distinct messages, each left invisible for ``visibility_s``."""
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < limit:
        batch = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, limit - len(seen)),
            VisibilityTimeout=visibility_s,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update({m["MessageId"]: m for m in fresh})
    return list(seen.values())


def _hand_back(client: Any, url: str, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + 10])
        ]
        if entries:
            client.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def peek(client: Any, url: str, *, label: str, limit: int) -> list[DeadLetter]:
    """Up to ``limit`` messages of a DLQ, read and handed back at once (nothing consumed)."""
    messages = _receive_all(client, url, limit=limit, visibility_s=PEEK_VISIBILITY_S)
    try:
        return [_describe(label, m) for m in messages]
    finally:
        _hand_back(client, url, messages)


def matcher(*, task: str | None, ids: set[str]) -> Callable[[DeadLetter], bool]:
    """Which dead letters to move: all, those of one task, and/or those with given task or message ids."""

    def matches(letter: DeadLetter) -> bool:
        if task is not None and letter.task != task:
            return False
        return not ids or letter.task_id in ids or letter.message_id in ids

    return matches


def redrive(
    client: Any,
    *,
    source_url: str,
    dlq_url: str,
    label: str,
    matches: Callable[[DeadLetter], bool],
    limit: int,
    dry_run: bool = False,
    kept: list[DeadLetter] | None = None,
) -> list[DeadLetter]:
    """Move up to ``limit`` matching messages from the DLQ back to ``source_url``; returns them.

    Each message is sent before it is deleted, so a crash in between duplicates rather than
    loses it (the task id is kept; tasks are idempotent in effect). Others go back at once, and
    so does every message that can never run (``DeadLetter.never_runnable``): moving it back
    would only bring it here again; matching ones are added to ``kept`` for the caller to report.
    """
    messages = _receive_all(client, dlq_url, limit=1000, visibility_s=PEEK_VISIBILITY_S)
    moved: list[DeadLetter] = []
    left: list[dict[str, Any]] = []
    for message in messages:
        letter = _describe(label, message)
        if letter.never_runnable is not None:
            left.append(message)
            if kept is not None and matches(letter):
                kept.append(letter)
            continue
        if len(moved) >= limit or not matches(letter) or dry_run:
            left.append(message)
            if matches(letter) and dry_run and len(moved) < limit:
                moved.append(letter)
            continue
        extra: dict[str, Any] = {}
        if message.get("MessageAttributes"):
            extra["MessageAttributes"] = message["MessageAttributes"]
        client.send_message(QueueUrl=source_url, MessageBody=message["Body"], **extra)
        client.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
        moved.append(letter)
    _hand_back(client, dlq_url, left)
    return moved


def purge(client: Any, url: str) -> None:
    """SQS PurgeQueue: every message goes (AWS allows one purge per queue per 60 s)."""
    client.purge_queue(QueueUrl=url)
