"""Helpers for the exactly-once scenarios: Slack stand-in faults, tasks built as the ingress builds
them, answers counted per task, queues watched including delayed messages, worker logs read."""

import dataclasses
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from contract.queues import QueueName
from contract.tasks import CommandRequest, TaskName
from contract.wire import encode_task_message, task_id_for
from scripts.processes import Timeout, wait_until
from scripts.stack import DevStack, http

REPLY_EVENT_TYPE = "charla_reply"  # the metadata event type every answer carries


@contextmanager
def slack_faults(stack: DevStack, **settings: Any) -> Iterator[None]:
    """Turn stand-in faults on (see scripts/slack_standin.py) and every fault off afterwards."""
    set_slack_faults(stack, **settings)
    try:
        yield
    finally:
        clear_slack_faults(stack)


def set_slack_faults(stack: DevStack, **settings: Any) -> None:
    stack.set_slack_faults(**settings)


def clear_slack_faults(stack: DevStack) -> None:
    assert http("POST", stack.slack_url + "/_faults/clear").status == 200


def slack_state(stack: DevStack) -> dict[str, Any]:
    """Everything the stand-in recorded, with its fault counters."""
    state: dict[str, Any] = http("GET", stack.slack_url + "/_recorded").json()
    return state


def answers(state: dict[str, Any], channels: str | set[str]) -> list[dict[str, Any]]:
    """The bot's answers (posts carrying reply metadata) in ``channels`` (a set, or a name prefix)."""

    def wanted(channel: str) -> bool:
        return channel in channels if isinstance(channels, set) else channel.startswith(channels)

    return [
        r
        for r in state["records"]
        if r.get("kind") == "chat.postMessage"
        and wanted(str(r.get("channel")))
        and (r.get("metadata") or {}).get("event_type") == REPLY_EVENT_TYPE
    ]


def reply_id(answer: dict[str, Any]) -> str:
    return str(((answer.get("metadata") or {}).get("event_payload") or {}).get("reply_id"))


def per_thread(found: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """Answers per (channel, thread): each threaded request is its own thread."""
    return Counter((str(r["channel"]), str(r.get("thread_ts"))) for r in found)


@dataclasses.dataclass(frozen=True)
class QueuedTask:
    task_id: str
    body: str
    channel: str
    thread_ts: str | None


def ping_task(channel: str, *, event_id: str, thread_ts: str | None, requested_at: float | None = None) -> QueuedTask:
    """A ``ping`` command as the ingress enqueues it for one Slack delivery (lambda_handler/enqueue.py):
    the task id derives from the event id, so every copy of the delivery carries the same id."""
    request = CommandRequest(
        correlation_id=event_id,
        team_id="TLOCAL",
        channel=channel,
        user="U0ALICE",
        command="ping",
        thread_ts=thread_ts,
        requested_at=time.time() if requested_at is None else requested_at,
    )
    task_id = task_id_for(f"{TaskName.PING}:{event_id}")
    body = encode_task_message(
        task=TaskName.PING, kwargs=dataclasses.asdict(request), queue=QueueName.REPLIES, task_id=task_id
    )
    return QueuedTask(task_id=task_id, body=body, channel=channel, thread_ts=thread_ts)


def send_bodies(stack: DevStack, url: str, bodies: list[str]) -> None:
    client = stack.sqs()
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        result = client.send_message_batch(QueueUrl=url, Entries=entries)
        assert not result.get("Failed"), result.get("Failed")


def depth_with_delayed(stack: DevStack, url: str) -> int:
    """Waiting + in flight + delayed messages in any queue (a DLQ too)."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = stack.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def dead_letter_url(stack: DevStack, queue: QueueName) -> str:
    from charla_cli.queues import dead_letter_url as find

    url = find(stack.sqs(), stack.queue_url(queue))
    assert url is not None
    return url


# How long a settled queue stays empty before it counts as settled: longer than a first retry's
# delay (2 s), so that one empty reading between a message's delete and its copy's send (or any
# reading that misses a copy) cannot end the wait.
QUIET_S = 5.0


def settle(
    stack: DevStack,
    done: Callable[[], bool],
    *,
    timeout: float,
    settle_timeout: float = 120.0,
    queue: QueueName = QueueName.REPLIES,
) -> bool:
    """Wait until ``done()``, then until ``queue`` settles: nothing waiting, in flight or delayed
    for ``QUIET_S`` on end. ``False`` on a timeout instead of raising, so that a failing scenario
    still reports its figures before it asserts."""
    quiet_since: list[float] = []

    def quiet() -> bool:
        if stack.queue_depth(queue):
            quiet_since.clear()
            return False
        quiet_since[:] = quiet_since or [time.monotonic()]
        return time.monotonic() - quiet_since[0] >= QUIET_S

    try:
        wait_until(done, timeout=timeout, interval=0.25, message="the scenario's answers")
        wait_until(quiet, timeout=settle_timeout, interval=0.25, message=f"queue {queue} to settle")
    except Timeout:
        return False
    return True


# Celery's worker log: "[2026-11-26 01:20:03,123: INFO/MainProcess] Task charla.ping[<id>] received"
_LOG_LINE = re.compile(
    r"^\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): \w+/[^\]]+\] Task (?P<task>[\w.]+)\[(?P<id>[\w-]+)\] "
    r"(?P<what>received|succeeded|retry|raised|failed|rejected|ignored)"
)


def longest_hold_s(log: str, task: str) -> float:
    """The longest time any message of ``task`` was held from receipt to its outcome (success,
    retry, failure), read from a worker's log; receipts and outcomes of one id pair first in,
    first out. A message held past the queue's visibility timeout is delivered again meanwhile."""
    received: dict[str, deque[datetime]] = defaultdict(deque)
    longest = 0.0
    for line in log.splitlines():
        match = _LOG_LINE.match(line)
        if not match or match["task"] != task:
            continue
        at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f")
        if match["what"] == "received":
            received[match["id"]].append(at)
        elif received[match["id"]]:
            longest = max(longest, (at - received[match["id"]].popleft()).total_seconds())
    return longest
