"""Exactly-once when the clocks disagree: SQS answering slower than Slack's 3 s retry, and a
retry delay longer than the queue's visibility timeout.

Two ingress processes stand for two Lambda instances: Slack's retry of an event whose first
delivery is still running always lands on another instance (an instance serves one request at a
time). Instance "a" (``stack.post``) reaches SQS through the fault proxy; instance "b" and the
worker reach it directly. The queues' visibility timeout is short (5 s), so a message held past
it comes back within the scenario.
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import pytest

from contract.queues import QueueName
from scripts.fault_proxy import SlowOutcome
from scripts.processes import ManagedProcess, free_port, port_open, python_module, wait_until
from scripts.slack_requests import SignedRequest, app_mention, next_ts, signed_event
from scripts.stack import ROOT, DevStack, HttpResult, http
from tests.faults.conftest import ScenarioReport
from tests.faults.effects import (
    answers,
    dead_letter_url,
    depth_with_delayed,
    longest_hold_s,
    per_thread,
    settle,
    slack_faults,
    slack_state,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

VISIBILITY_S = 5
SLACK_RETRY_AFTER_S = 3.0  # Slack retries an event it got no 2xx for within 3 s
SQS_ANSWERS_IN_S = 3.5
SLACK_RETRY_HEADERS = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
SQS_THROUGH_PROXY = "AWS_ENDPOINT_URL_SQS"  # set by DevStack(sqs_through_fault_proxy=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    with DevStack(
        worker_queues=[],
        sqs_wait_time_seconds=1,
        sqs_through_fault_proxy=True,
        queue_overrides={"visibility_timeout_s": VISIBILITY_S},
    ) as running:
        through_proxy = running.env.pop(SQS_THROUGH_PROXY)
        try:  # everything started from here on reaches SQS directly
            running.start_worker(queues=list(QueueName))
            _start_second_ingress(running)
        finally:
            running.env[SQS_THROUGH_PROXY] = through_proxy
        yield running


def _start_second_ingress(stack: DevStack) -> None:
    port = free_port()
    argv = python_module(
        "uvicorn", "lambda_handler.main:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"
    )
    process = ManagedProcess("ingress-b", argv, env=stack.env, log_dir=stack.log_dir, cwd=ROOT)
    stack.processes["ingress-b"] = process  # stopped with the stack
    wait_until(lambda: port_open(port), timeout=60, message=lambda: f"ingress b; log:\n{process.log_tail()}")
    stack.env["CHARLA_TEST_INGRESS_B_URL"] = f"http://127.0.0.1:{port}"


def post_to_instance_b(stack: DevStack, request: SignedRequest, headers: dict[str, str]) -> HttpResult:
    return http(
        "POST",
        stack.env["CHARLA_TEST_INGRESS_B_URL"] + "/slack/events",
        body=request.body,
        headers={**request.headers, **headers},
    )


@pytest.mark.parametrize(
    ("then", "retry_lands_on"),
    [
        ("fail", "another instance"),
        ("lost_answer", "another instance"),
        ("pass", "another instance"),
        ("fail", "the same instance"),
    ],
)
def test_12_sqs_answering_in_3_5_s_while_slack_retries_at_3_s_is_answered_once(
    stack: DevStack,
    report: ScenarioReport,
    then: SlowOutcome,
    retry_lands_on: Literal["another instance", "the same instance"],
) -> None:
    """The first delivery's SQS calls each take 3.5 s, then ``fail`` (nothing queued),
    ``lost_answer`` (queued, answer lost) or ``pass`` (queued, answered late). Slack's retry comes
    at 3 s: to another instance whose SQS is fine, or to the same one once SQS recovered there.
    Whatever the first delivery answered, the retry gets 200 and the user one answer."""
    assert stack.sqs_proxy is not None
    channel, thread = f"C0SLOW{then.upper().replace('_', '')}{retry_lands_on[0].upper()}", next_ts()
    request = signed_event(app_mention("ping", channel=channel, ts=thread), stack.signing_secret)

    stack.sqs_proxy.slow_down(SQS_ANSWERS_IN_S, then=then)
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = pool.submit(stack.post, request)
            time.sleep(max(0.0, started + SLACK_RETRY_AFTER_S - time.monotonic()))
            if retry_lands_on == "the same instance":
                stack.sqs_proxy.normal()  # SQS recovered by the time Slack retries
                retry = stack.post(request, extra_headers=SLACK_RETRY_HEADERS)
            else:  # the first instance's SQS stays sick until it has answered
                retry = post_to_instance_b(stack, request, SLACK_RETRY_HEADERS)
            first_status = first.result(timeout=60).status
            first_took_s = time.monotonic() - started
    finally:
        stack.sqs_proxy.normal()
    settled = settle(stack, lambda: bool(answers(slack_state(stack), {channel})), timeout=60)
    seen = per_thread(answers(slack_state(stack), {channel}))

    report["first_status"] = first_status
    report["first_answered_in_s"] = round(first_took_s, 1)
    report["retry_status"] = retry.status
    report["answers"] = sum(seen.values())
    report["duplicates"] = sum(n - 1 for n in seen.values() if n > 1)
    report["lost"] = int(not seen)
    assert retry.status == 200
    assert first_status in (200, 503)
    assert report.figures["lost"] == 0
    assert report.figures["duplicates"] == 0
    assert settled, stack.logs()


def test_13_a_retry_delay_longer_than_the_visibility_timeout_is_answered_once(
    stack: DevStack, report: ScenarioReport
) -> None:
    channel, mentions, retry_after_s = "C0LONGWAIT", 3, 8
    assert retry_after_s > VISIBILITY_S
    log_start = len(stack.processes["worker"].log_text())
    threads: list[str] = []
    with slack_faults(stack, rate_limited_for_s=2, retry_after_s=retry_after_s, rate_limited_channels=[channel]):
        for _ in range(mentions):
            threads.append(next_ts())
            assert stack.post_event(app_mention("ping", channel=channel, ts=threads[-1])).status == 200

        def answered() -> set[str]:
            return {thread for _, thread in per_thread(answers(slack_state(stack), {channel}))}

        settled = settle(stack, lambda: set(threads) <= answered(), timeout=120)
        state = slack_state(stack)

    seen = per_thread(answers(state, {channel}))
    first_429 = min((e["at"] for e in state["rate_limited_at"] if e["channel"] == channel), default=float("inf"))
    too_soon = [r for r in answers(state, {channel}) if first_429 <= r["received_at"] < first_429 + retry_after_s - 0.5]
    held_s = longest_hold_s(stack.processes["worker"].log_text()[log_start:], "charla.ping")
    dlq = depth_with_delayed(stack, dead_letter_url(stack, QueueName.REPLIES))
    report["mentions"] = mentions
    report["answered_429"] = state["rejected_429_by_channel"].get(channel, 0)
    report["retry_after_s"] = retry_after_s
    report["visibility_timeout_s"] = VISIBILITY_S
    report["longest_hold_s"] = round(held_s, 1)
    report["posts_inside_retry_after"] = len(too_soon)
    report["dlq"] = dlq
    report["answers"] = sum(seen.values())
    report["duplicates"] = sum(n - 1 for n in seen.values() if n > 1)
    report["lost"] = len(set(threads) - {thread for _, thread in seen})
    assert report.figures["answered_429"] > 0  # the fault really happened
    assert report.figures["lost"] == 0
    assert report.figures["duplicates"] == 0
    assert dlq == 0
    assert not too_soon, "a worker posted while Slack's Retry-After was running"
    assert held_s < VISIBILITY_S, "a worker held a task past the visibility timeout (SQS delivered it again)"
    assert settled, stack.logs()
