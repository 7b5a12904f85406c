"""A worker after a short SQS outage: how soon does it run a task sent after it?

Two kinds of blip, both shorter than a second, through the fault proxy in front of moto (only the
worker's SQS traffic goes through it; tasks are sent to moto directly):

* a request left hanging: the connection stays open and nothing comes back (a middlebox that lost
  the flow). Without a deadline on kombu's receives and short timeouts on its blocking client, the
  worker stopped consuming for good (idle) or froze for botocore's 60 s read timeout (busy):
  scenarios 19 and 20 (workers/celery_worker/sqs_transport.py).
* every connection cut: the worker notices at once and polls again, but the receive it had open
  still runs on the SQS side and takes the next message sent, which then waits out its visibility
  timeout, as in AWS: scenario 21 pins that bound (docs/RELIABILITY.md, "SQS outages").
"""

import secrets
import time
from collections.abc import Callable, Iterator

import pytest

from contract.queues import QueueName
from scripts.fault_proxy import FaultProxy
from scripts.processes import Timeout, wait_until
from scripts.stack import DevStack
from tests.faults.conftest import ScenarioReport
from tests.faults.effects import QueuedTask, answers, per_thread, ping_task, send_bodies, slack_state
from workers.celery_worker.sqs_transport import (
    RECEIVE_DEADLINE_MARGIN_S,
    RECEIVE_RETRY_DELAY_S,
    SYNC_CALL_READ_TIMEOUT_S,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

WAIT_S = 1  # the worker's long-poll wait in scenarios 19-20
HANG_S = 600  # a request caught by the blip hangs this long: "forever" for these scenarios
# Room for a loaded 2-core machine: process scheduling, moto, the stand-in.
SLACK_S = 15.0
# A hung receive is abandoned after its deadline and polled again after the retry pause; a hung
# delete after its read timeout: the worker is consuming again within this (27 s here).
RECOVERY_BOUND_S = WAIT_S + RECEIVE_DEADLINE_MARGIN_S + RECEIVE_RETRY_DELAY_S + SLACK_S
assert SYNC_CALL_READ_TIMEOUT_S < RECOVERY_BOUND_S - SLACK_S


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    """One worker on the replies queue only, so that the request the blip catches is one of its own."""
    with DevStack(worker_queues=[QueueName.REPLIES], sqs_wait_time_seconds=WAIT_S, sqs_through_fault_proxy=True) as s:
        yield s


def queue_pings(stack: DevStack, prefix: str, count: int) -> list[QueuedTask]:
    tasks = [ping_task(f"C{prefix}{i:04d}", event_id=f"Ev{prefix}{i:04d}", thread_ts=None) for i in range(count)]
    send_bodies(stack, stack.queue_url(QueueName.REPLIES), [t.body for t in tasks])
    return tasks


def answered(stack: DevStack, prefix: str) -> int:
    return len(per_thread(answers(slack_state(stack), f"C{prefix}")))


def hang_next_request(proxy: FaultProxy) -> float:
    """The blip: new requests hang until one of the worker's is caught, then SQS is normal again.

    Returns how long the blip lasted (the worker polls at least every ``WAIT_S``).
    """
    before = proxy.requests_slowed
    proxy.slow_down(HANG_S, then="fail")
    started = time.monotonic()
    try:
        wait_until(lambda: proxy.requests_slowed > before, timeout=10, message="a request of the worker's to hang")
    finally:
        proxy.normal()
    return round(time.monotonic() - started, 2)


def within(bound_s: float, condition: Callable[[], bool]) -> float | None:
    """Seconds until ``condition`` held, or ``None`` if it did not within ``bound_s`` (figures first)."""
    started = time.monotonic()
    try:
        wait_until(condition, timeout=bound_s, interval=0.1)
    except Timeout:
        return None
    return round(time.monotonic() - started, 1)


def exactly_once(report: ScenarioReport, stack: DevStack, prefix: str, expected: int) -> None:
    seen = per_thread(answers(slack_state(stack), f"C{prefix}"))
    report["answers"] = sum(seen.values())
    report["duplicates"] = sum(n - 1 for n in seen.values() if n > 1)
    report["lost"] = expected - len(seen)
    assert report.figures["lost"] == 0
    assert report.figures["duplicates"] == 0


def test_19_an_idle_worker_whose_long_poll_hangs_in_a_blip_consumes_again_within_the_bound(
    stack: DevStack, report: ScenarioReport
) -> None:
    assert stack.sqs_proxy is not None
    warm = f"WARM{secrets.token_hex(2).upper()}"
    queue_pings(stack, warm, 1)
    wait_until(lambda: answered(stack, warm) == 1, timeout=60, message=lambda: f"the warm-up; logs:\n{stack.logs()}")
    stack.wait_until_drained(QueueName.REPLIES)  # acked too: the worker's next request is a long poll

    report["blip_s"] = hang_next_request(stack.sqs_proxy)
    prefix = f"IDLE{secrets.token_hex(2).upper()}"
    queue_pings(stack, prefix, 1)
    report["bound_s"] = RECOVERY_BOUND_S
    report["answered_in_s"] = within(RECOVERY_BOUND_S, lambda: answered(stack, prefix) == 1)

    assert report.figures["answered_in_s"] is not None, f"not answered within the bound; logs:\n{stack.logs()}"
    exactly_once(report, stack, prefix, 1)


def test_20_a_busy_worker_whose_receive_or_ack_hangs_in_a_blip_finishes_its_batch_within_the_bound(
    stack: DevStack, report: ScenarioReport
) -> None:
    assert stack.sqs_proxy is not None
    prefix = f"BUSY{secrets.token_hex(2).upper()}"
    batch = 40
    queue_pings(stack, prefix, batch)
    wait_until(lambda: answered(stack, prefix) >= 10, timeout=120, message=lambda: f"a quarter; logs:\n{stack.logs()}")

    report["blip_s"] = hang_next_request(stack.sqs_proxy)  # busy: a receive or a delete (the ack)
    report["answered_at_blip"] = answered(stack, prefix)
    queue_pings(stack, f"{prefix}N", 1)  # a new task after the blip
    report["bound_s"] = RECOVERY_BOUND_S
    report["all_answered_in_s"] = within(
        RECOVERY_BOUND_S, lambda: answered(stack, prefix) == batch + 1
    )  # the prefix matches the new task's channel too
    # Every ack went through as well: nothing left in flight to come back after the visibility timeout.
    report["drained_in_s"] = within(RECOVERY_BOUND_S, lambda: stack.queue_depth(QueueName.REPLIES) == 0)

    assert report.figures["all_answered_in_s"] is not None, f"not all answered within the bound; logs:\n{stack.logs()}"
    assert report.figures["drained_in_s"] is not None
    exactly_once(report, stack, prefix, batch + 1)


DEAD_POLL_WAIT_S = 5  # DevStack's default long-poll wait: a cut poll stays open this long in SQS
DEAD_POLL_VISIBILITY_S = 10  # production: QUEUE_SPECS[...].visibility_timeout_s (180 s on replies)


def test_21_a_message_taken_by_a_long_poll_cut_in_a_blip_runs_after_its_visibility_timeout(
    report: ScenarioReport,
) -> None:
    with DevStack(
        worker_queues=[QueueName.REPLIES],
        sqs_wait_time_seconds=DEAD_POLL_WAIT_S,
        sqs_through_fault_proxy=True,
        queue_overrides={"visibility_timeout_s": DEAD_POLL_VISIBILITY_S},
    ) as stack:
        proxy = stack.sqs_proxy
        assert proxy is not None
        queue_pings(stack, "WARMCUT", 1)
        wait_until(lambda: answered(stack, "WARMCUT") == 1, timeout=60, message=lambda: f"warm-up:\n{stack.logs()}")

        # The worker has just started its next long poll. Cut every connection for a moment:
        # the worker's curl sees the reset at once, but moto (like SQS) goes on with the receive.
        proxy.go_down()
        proxy.come_back()
        cut_at = time.monotonic()
        queue_pings(stack, "CUTFIRST", 1)
        bound_s = DEAD_POLL_VISIBILITY_S + DEAD_POLL_WAIT_S + SLACK_S
        report["visibility_s"] = DEAD_POLL_VISIBILITY_S
        report["bound_s"] = bound_s
        report["first_answered_in_s"] = within(bound_s, lambda: answered(stack, "CUTFIRST") == 1)
        # Once the cut poll is over, a new message runs at once: the worker never stopped.
        wait_until(lambda: time.monotonic() > cut_at + DEAD_POLL_WAIT_S + 1, timeout=bound_s)
        queue_pings(stack, "CUTLATER", 1)
        report["later_answered_in_s"] = within(RECOVERY_BOUND_S, lambda: answered(stack, "CUTLATER") == 1)

        assert report.figures["first_answered_in_s"] is not None, f"past visibility + wait; logs:\n{stack.logs()}"
        assert report.figures["later_answered_in_s"] is not None, f"worker stopped; logs:\n{stack.logs()}"
        exactly_once(report, stack, "CUT", 2)  # CUTFIRST, CUTLATER
