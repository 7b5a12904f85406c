"""Exactly-once, second pass (issue 19), end to end with real ``celery worker`` processes.

16: a slash command whose response_url has expired falls back to the channel; Slack takes that
    post and the connection is reset. The retried copy must find the post, not post again.
17: a worker frozen (SIGSTOP, as a paused VM or container) while waiting for its channel turn,
    longer than the lease; another worker takes the answer over and posts it; the frozen one
    wakes (SIGCONT) and must not post.

Each prints its figures: answers, duplicates, lost, unbounded (copies left waiting or in the DLQ).
"""

import signal
import time
from collections.abc import Iterator

import pytest

from contract.queues import QUEUE_SPECS, QueueName
from scripts.processes import wait_until
from scripts.provision import dynamodb
from scripts.slack_requests import next_ts, signed_slash_command
from scripts.stack import DevStack
from tests.faults.conftest import ScenarioReport
from tests.faults.effects import (
    answers,
    dead_letter_url,
    depth_with_delayed,
    ping_task,
    reply_id,
    send_bodies,
    settle,
    slack_faults,
    slack_state,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]
LEASE_S = QUEUE_SPECS[QueueName.REPLIES].lease_s


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    """No worker at first: each scenario starts the ones it needs."""
    with DevStack(worker_queues=[], sqs_wait_time_seconds=1) as running:
        yield running


def _figures(report: ScenarioReport, stack: DevStack, found: list[dict[str, object]], expected: int) -> None:
    ids = [reply_id(r) for r in found]
    report["answers"] = len(found)
    report["duplicates"] = len(ids) - len(set(ids))
    report["lost"] = max(0, expected - len(set(ids)))
    report["unbounded"] = depth_with_delayed(stack, stack.queue_url(QueueName.REPLIES)) + depth_with_delayed(
        stack, dead_letter_url(stack, QueueName.REPLIES)
    )


def _assert_answered_once(stack: DevStack, report: ScenarioReport, channel: str) -> None:
    """One answer in ``channel``, none twice, and no copy left waiting or dead-lettered.

    A copy that could not be sent (SQS slow under load) reappears after the visibility timeout:
    still bounded, so the wait covers it.
    """
    settled = settle(
        stack,
        lambda: bool(answers(slack_state(stack), {channel})),
        timeout=60,
        settle_timeout=QUEUE_SPECS[QueueName.REPLIES].visibility_timeout_s + 60,
    )
    found = answers(slack_state(stack), {channel})
    _figures(report, stack, found, expected=1)
    assert report.figures["duplicates"] == 0, found
    assert report.figures["lost"] == 0
    assert settled and report.figures["unbounded"] == 0, f"{_queue_counts(stack)}\n{stack.logs()}"


def _queue_counts(stack: DevStack) -> dict[str, dict[str, str]]:
    """Each queue's counts, for a failure message: where a leftover copy sits."""
    names = [f"ApproximateNumberOfMessages{kind}" for kind in ("", "NotVisible", "Delayed")]
    urls = {"replies": stack.queue_url(QueueName.REPLIES), "dlq": dead_letter_url(stack, QueueName.REPLIES)}
    return {
        name: stack.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        for name, url in urls.items()
    }


def test_16_an_expired_response_url_answer_reset_after_slack_posted_is_answered_once(
    stack: DevStack, report: ScenarioReport
) -> None:
    if "worker" not in stack.processes:
        stack.start_worker("worker", queues=[QueueName.REPLIES], concurrency=1)
    channel = "C0EXPIREDRESET"
    expired = stack.response_url(f"expired-{next_ts()}")
    with slack_faults(stack, reset_after_posts=1):
        request = signed_slash_command("ping", stack.signing_secret, response_url=expired, channel=channel)
        assert stack.post(request).status == 200
        # The first post is reset (Slack took it); the retry must find it, not post again.
        wait_until(lambda: slack_state(stack)["posts_reset"] >= 1, timeout=60, message="the reset post")
    _assert_answered_once(stack, report, channel)


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_17_a_worker_frozen_past_its_lease_while_waiting_for_its_turn_does_not_post_after_a_takeover(
    own_stack: DevStack, report: ScenarioReport, pool: str
) -> None:
    """On threads nothing kills the frozen run when it wakes (no time limit): its fence alone stops it.

    A stack of its own: a worker stopped at the end of another scenario can take this task in its
    last long poll and hold it for a visibility timeout (seen in CI: no claim within 30 s).
    """
    stack = own_stack
    assert stack.moto_url
    table, client = stack.env["CHARLA_TABLE_STATE"], dynamodb(stack.moto_url)
    for name in ("worker", "first", "second"):
        if name in stack.processes and stack.processes[name].alive():
            stack.processes[name].stop()
    first = stack.start_worker("first", queues=[QueueName.REPLIES], concurrency=1, pool=pool)
    channel = f"C0FROZEN{pool.upper()}"
    task = ping_task(channel, event_id=f"EvFROZEN-{pool}", thread_ts=None)
    # The channel's line is busy for the next 2.9 s: the run waits for its turn in the worker.
    client.put_item(
        TableName=table,
        Item={"pk": {"S": "CHANNELS#TLOCAL"}, "sk": {"S": channel}, "next_at": {"N": f"{time.time() + 2.9:.3f}"}},
    )
    send_bodies(stack, stack.queue_url(QueueName.REPLIES), [task.body])

    def held() -> bool:
        found = client.get_item(
            TableName=table, Key={"pk": {"S": f"EFFECT#{task.task_id}"}, "sk": {"S": "EFFECT"}}, ConsistentRead=True
        ).get("Item")
        return bool(found) and found["state"]["S"] == "held"

    wait_until(held, timeout=30, interval=0.02, message=lambda: f"the first worker's claim\n{stack.logs()}")
    first.send_signal(signal.SIGSTOP)  # the whole worker (its pool child too) is paused mid-wait
    frozen_at = time.monotonic()
    try:
        assert answers(slack_state(stack), {channel}) == [], "froze too late: the scenario did not happen"
        # Slack re-sends the event (or SQS delivers it again): another worker gets the copy.
        stack.start_worker("second", queues=[QueueName.REPLIES], concurrency=1, pool=pool)
        send_bodies(stack, stack.queue_url(QueueName.REPLIES), [task.body])
        wait_until(
            lambda: bool(answers(slack_state(stack), {channel})),
            timeout=LEASE_S + 240,  # room for a copy that sat out a visibility timeout (180 s)
            interval=0.5,
            message="the takeover's post",
        )
        took_over_after_s = time.monotonic() - frozen_at

        def line_free() -> bool:
            found = client.get_item(
                TableName=table, Key={"pk": {"S": "CHANNELS#TLOCAL"}, "sk": {"S": channel}}, ConsistentRead=True
            ).get("Item", {})
            return float(found.get("next_at", {}).get("N", 0)) <= time.time()

        # Wake it when its channel's line is free: nothing but the fence stands between it and a
        # post (Celery's time limits, paused with it, fire within a second of waking).
        wait_until(line_free, timeout=30, interval=0.1, message="the channel's line to clear")
    finally:
        first.send_signal(signal.SIGCONT)
    # The frozen worker wakes up, finds it lost the answer, and its copy then meets DONE.
    settled = settle(stack, lambda: True, timeout=5, settle_timeout=120)
    found = answers(slack_state(stack), {channel})

    report["pool"] = pool
    report["took_over_after_s"] = round(took_over_after_s)
    report["lease_s"] = LEASE_S
    _figures(report, stack, found, expected=1)
    assert took_over_after_s >= LEASE_S  # never before the holder's version went unchanged a lease
    assert report.figures["duplicates"] == 0, found
    assert report.figures["lost"] == 0
    assert report.figures["unbounded"] == 0
    assert settled, stack.logs()


@pytest.fixture
def own_stack() -> Iterator[DevStack]:
    """A stack of its own: no copy left over from another scenario (a stopped worker's last long
    poll can hold one for a visibility timeout) can count against this one."""
    with DevStack(worker_queues=[], sqs_wait_time_seconds=1) as running:
        yield running


def test_18_a_worker_ten_minutes_fast_does_not_hold_up_a_channel_for_the_correct_workers(
    own_stack: DevStack, report: ScenarioReport
) -> None:
    from workers.runtime.clock import TEST_CLOCK_OFFSET

    stack = own_stack
    channel, skew_s = "C0SKEWED", 600
    fast = stack.start_worker(
        "fast", queues=[QueueName.REPLIES], concurrency=1, env_overrides={TEST_CLOCK_OFFSET: str(skew_s)}
    )
    first = ping_task(channel, event_id="EvSKEW1", thread_ts=None)
    send_bodies(stack, stack.queue_url(QueueName.REPLIES), [first.body])
    wait_until(lambda: bool(answers(slack_state(stack), {channel})), timeout=60, message="the fast worker's answer")
    stack.wait_until_drained(QueueName.REPLIES, timeout=60)  # its answer is DONE and acked
    fast.stop()
    stack.start_worker("on-time", queues=[QueueName.REPLIES], concurrency=1)
    second = ping_task(channel, event_id="EvSKEW2", thread_ts=None)
    sent_at = time.time()
    send_bodies(stack, stack.queue_url(QueueName.REPLIES), [second.body])
    answered = settle(stack, lambda: len(answers(slack_state(stack), {channel})) >= 2, timeout=90)
    found = answers(slack_state(stack), {channel})
    latest = [r for r in found if reply_id(r) == second.task_id]

    report["skew_s"] = skew_s
    report["second_answer_after_s"] = round(float(latest[0]["received_at"]) - sent_at, 1) if latest else None
    _figures(report, stack, found, expected=2)
    assert latest, "the correct worker's answer waited for the skewed clock"
    assert float(latest[0]["received_at"]) - sent_at < 30
    assert report.figures["duplicates"] == 0
    assert report.figures["unbounded"] == 0
    assert answered, stack.logs()


@pytest.mark.parametrize(("skew_s", "door"), [(120, "slash"), (-120, "slash"), (120, "mention")])
def test_25_a_worker_two_minutes_off_whose_post_slack_took_and_reset_is_answered_once(
    own_stack: DevStack, report: ScenarioReport, skew_s: int, door: str
) -> None:
    """The search for an attempted post looks in a window around ``posting_at``, which Slack's
    clock must agree with. A worker whose clock is off stamps it off unless it takes AWS's time
    (the Date of every AWS answer) first: then its copy finds the post. The slash command's
    answer goes to the channel after its response_url expired; the mention's to the channel."""
    from workers.runtime.clock import TEST_CLOCK_OFFSET

    stack = own_stack
    stack.start_worker("off", queues=[QueueName.REPLIES], concurrency=1, env_overrides={TEST_CLOCK_OFFSET: str(skew_s)})
    channel = f"C0OFF{door.upper()}{'FAST' if skew_s > 0 else 'SLOW'}"
    with slack_faults(stack, reset_after_posts=1):
        if door == "slash":
            expired = stack.response_url(f"expired-{next_ts()}")
            request = signed_slash_command("ping", stack.signing_secret, response_url=expired, channel=channel)
            assert stack.post(request).status == 200
        else:
            task = ping_task(channel, event_id=f"EvOFF{skew_s}", thread_ts=None)
            send_bodies(stack, stack.queue_url(QueueName.REPLIES), [task.body])
        wait_until(lambda: slack_state(stack)["posts_reset"] >= 1, timeout=60, message="the reset post")
    report["skew_s"] = skew_s
    report["door"] = door
    _assert_answered_once(stack, report, channel)
