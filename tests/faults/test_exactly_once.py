"""Exactly-once under the faults that break it: the same task run twice at once, a long 429, a
connection reset after Slack posted, a redrive long after the answer. One stack serves all four
(each scenario uses its own channels); every scenario asserts 0 lost and 0 duplicated.

The timing scenarios (SQS slower than Slack's retry, a delay longer than the visibility timeout)
need SQS behind the fault proxy: see test_exactly_once_timing.py.
"""

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from contract.queues import QueueName
from contract.tables import TABLE_SPECS, TableName
from scripts.processes import wait_until
from scripts.slack_requests import app_mention, next_ts
from scripts.stack import DevStack
from tests.faults.conftest import ScenarioReport
from tests.faults.effects import (
    QueuedTask,
    answers,
    clear_slack_faults,
    dead_letter_url,
    depth_with_delayed,
    per_thread,
    ping_task,
    reply_id,
    send_bodies,
    set_slack_faults,
    settle,
    slack_faults,
    slack_state,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SLACK_PACE_S = 1.0  # Slack's per-channel pace: about one message a second


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    """One worker on every queue (a second joins for the duplicate-delivery scenario)."""
    with DevStack(sqs_wait_time_seconds=1) as running:
        yield running


def exactly_once_figures(
    report: ScenarioReport, expected: set[tuple[str, str]], seen: Counter[tuple[str, str]]
) -> None:
    report["answers"] = sum(seen.values())
    report["duplicates"] = sum(n - 1 for n in seen.values() if n > 1)
    report["lost"] = len(expected - set(seen))


def test_8_the_same_task_delivered_twice_at_once_to_two_workers_is_answered_once(
    stack: DevStack, report: ScenarioReport
) -> None:
    if "second" not in stack.processes:
        stack.start_worker("second", queues=[QueueName.REPLIES], concurrency=2)
    tasks = [ping_task(f"C0DUP{index % 8}", event_id=f"EvDUP{index:04d}", thread_ts=next_ts()) for index in range(40)]
    url = stack.queue_url(QueueName.REPLIES)

    # Both copies of every task at the same instant, as SQS's at-least-once delivery or an
    # ingress that sent twice would leave them; each worker process may take either copy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: send_bodies(stack, url, [t.body for t in tasks]), range(2)))

    expected = {(t.channel, str(t.thread_ts)) for t in tasks}
    settled = settle(stack, lambda: expected <= set(per_thread(answers(slack_state(stack), "C0DUP"))), timeout=180)
    seen = per_thread(answers(slack_state(stack), "C0DUP"))

    report["tasks"] = len(tasks)
    report["messages"] = 2 * len(tasks)
    report["worker_processes"] = 2
    exactly_once_figures(report, expected, seen)
    assert report.figures["lost"] == 0
    assert report.figures["duplicates"] == 0, [key for key, n in seen.items() if n > 1][:10]
    assert settled, stack.logs()


def test_9_a_429_with_retry_after_30_in_a_busy_channel_delays_its_replies_but_loses_none(
    stack: DevStack, report: ScenarioReport
) -> None:
    channel, mentions, interval_s, retry_after_s, limited_at_index = "C0LIMITED", 20, 2.0, 30, 3
    margin_s = 30.0  # generous: a loaded 2-core machine
    requested: dict[str, float] = {}
    try:
        started = time.monotonic()
        for index in range(mentions):
            if index == limited_at_index:  # the next reply meets a 2 s window of 429s
                set_slack_faults(
                    stack, rate_limited_for_s=2, retry_after_s=retry_after_s, rate_limited_channels=[channel]
                )
            ts = next_ts()
            requested[ts] = time.time()
            assert stack.post_event(app_mention("ping", channel=channel, ts=ts)).status == 200
            time.sleep(max(0.0, started + (index + 1) * interval_s - time.monotonic()))  # one every 2 s

        # Every reply within Retry-After plus the whole stream's backlog at Slack's pace.
        bound_s = retry_after_s + mentions * SLACK_PACE_S + margin_s
        last_request = max(requested.values())

        def answered() -> set[str]:
            return {thread for _, thread in per_thread(answers(slack_state(stack), {channel}))}

        settled = settle(stack, lambda: set(requested) <= answered(), timeout=last_request + bound_s - time.time())
    finally:
        clear_slack_faults(stack)
    state = slack_state(stack)

    found = sorted(answers(state, {channel}), key=lambda r: r["received_at"])
    seen = Counter(str(r.get("thread_ts")) for r in found)
    first_429 = min((e["at"] for e in state["rate_limited_at"] if e["channel"] == channel), default=float("inf"))
    # A post less than Retry-After after the first 429 ignored it (0.5 s: the answer's own trip).
    too_soon = [r for r in found if first_429 <= r["received_at"] < first_429 + retry_after_s - 0.5]
    latencies = [r["received_at"] - requested[str(r.get("thread_ts"))] for r in found] or [float("inf")]
    asked_at = [requested[str(r.get("thread_ts"))] for r in found]  # in the order they were posted
    # An answer is out of order if an earlier request's answer was posted after it.
    out_of_order = sum(any(later < asked for later in asked_at[i + 1 :]) for i, asked in enumerate(asked_at))
    start = min(requested.values())
    timeline = [(round(a - start, 1), round(r["received_at"] - start, 1)) for a, r in zip(asked_at, found, strict=True)]
    dlq = depth_with_delayed(stack, dead_letter_url(stack, QueueName.REPLIES))

    report["mentions"] = mentions
    report["answered_429"] = state["rejected_429_by_channel"].get(channel, 0)
    report["posts_inside_retry_after"] = len(too_soon)
    report["max_latency_s"] = round(max(latencies), 1)
    report["bound_s"] = bound_s
    report["over_pace"] = sum(bool(r.get("over_pace")) for r in found)
    report["out_of_order"] = out_of_order
    report["dlq"] = dlq
    report["answers"] = len(found)
    report["duplicates"] = sum(n - 1 for n in seen.values() if n > 1)
    report["lost"] = len(set(requested) - set(seen))
    assert report.figures["answered_429"] > 0  # the fault really happened
    assert report.figures["lost"] == 0
    assert report.figures["duplicates"] == 0
    assert dlq == 0
    assert not too_soon, "a worker posted while Slack's Retry-After was running"
    # (asked at, posted at) in seconds from the first request, in the order posted
    assert report.figures["over_pace"] == 0, f"more than 2 posts within 1 s: {timeline}"
    assert out_of_order == 0, f"answers out of request order: {timeline}"
    assert max(latencies) <= bound_s
    assert settled, stack.logs()


def test_10_a_connection_reset_after_slack_posted_is_answered_once(stack: DevStack, report: ScenarioReport) -> None:
    from slack_sdk import WebClient

    # Threads that already hold other replies, and one-page-at-a-time history: a run that checks
    # Slack for its own earlier post has to page to find it.
    slack = WebClient(token=stack.bot_token, base_url=stack.slack_url + "/api/")
    threaded = [ping_task("C0RESETT", event_id=f"EvRESETT{index}", thread_ts=next_ts()) for index in range(3)]
    for task in threaded:
        for noise in range(2):
            slack.chat_postMessage(channel=task.channel, thread_ts=task.thread_ts, text=f"someone else {noise}")
    top_level = [ping_task(f"C0RESETH{index % 2}", event_id=f"EvRESETH{index}", thread_ts=None) for index in range(6)]
    resets = 4
    with slack_faults(stack, reset_after_posts=resets, history_page_size=1):
        send_bodies(stack, stack.queue_url(QueueName.REPLIES), [t.body for t in threaded + top_level])
        settled = settle(stack, lambda: _reset_scenario_answered(slack_state(stack), threaded, top_level), timeout=240)
        state = slack_state(stack)

    in_threads = per_thread(answers(state, "C0RESETT"))
    at_top = answers(state, "C0RESETH")
    top_ids = Counter(reply_id(r) for r in at_top)
    report["tasks"] = len(threaded) + len(top_level)
    report["posts_reset"] = state["posts_reset"]
    report["answers"] = sum(in_threads.values()) + len(at_top)
    report["duplicates"] = sum(n - 1 for n in in_threads.values() if n > 1) + sum(
        n - 1 for n in top_ids.values() if n > 1
    )
    report["lost"] = len({(t.channel, str(t.thread_ts)) for t in threaded} - set(in_threads)) + (
        len(top_level) - len(top_ids)
    )
    assert state["posts_reset"] == resets  # the fault really happened
    assert report.figures["lost"] == 0
    assert report.figures["duplicates"] == 0
    assert settled, stack.logs()


def _reset_scenario_answered(state: dict[str, Any], threaded: list[QueuedTask], top_level: list[QueuedTask]) -> bool:
    in_threads = set(per_thread(answers(state, "C0RESETT")))
    top_ids = {reply_id(r) for r in answers(state, "C0RESETH")}
    return {(t.channel, str(t.thread_ts)) for t in threaded} <= in_threads and len(top_ids) >= len(top_level)


def test_11_a_redrive_long_after_the_answer_does_not_answer_again(stack: DevStack, report: ScenarioReport) -> None:
    from charla_cli.queues import matcher, redrive
    from scripts.provision import dynamodb

    task = ping_task("C0REDRIVE", event_id="EvREDRIVE1", thread_ts=next_ts())
    sent_at = time.time()
    send_bodies(stack, stack.queue_url(QueueName.REPLIES), [task.body])
    wait_until(lambda: answers(slack_state(stack), {task.channel}), timeout=60, message="the answer")
    stack.wait_until_drained(QueueName.REPLIES, timeout=60)

    # The same message parked in the DLQ (as if a redelivery had dead-lettered it), then redriven.
    client = stack.sqs()
    dlq = dead_letter_url(stack, QueueName.REPLIES)
    client.send_message(QueueUrl=dlq, MessageBody=task.body)
    moved = len(
        redrive(
            client,
            source_url=stack.queue_url(QueueName.REPLIES),
            dlq_url=dlq,
            label="replies-dlq",
            matches=matcher(task="charla.ping", ids=set()),
            limit=10,
        )
    )
    stack.wait_until_drained(QueueName.REPLIES, timeout=60)  # the redriven message was run and acked
    found = answers(slack_state(stack), {task.channel})

    # An effect record must outlive any message that could still be redriven: the DLQ's retention.
    needed_s = int(
        client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["MessageRetentionPeriod"])["Attributes"][
            "MessageRetentionPeriod"
        ]
    )
    table = stack.env[TABLE_SPECS[TableName.STATE].variable]
    record = (
        dynamodb(stack.moto_url or "")
        .get_item(
            TableName=table, Key={"pk": {"S": f"EFFECT#{task.task_id}"}, "sk": {"S": "EFFECT"}}, ConsistentRead=True
        )
        .get("Item")
    )
    expires_at = float(record["expires_at"]["N"]) if record and "expires_at" in record else None

    report["redriven"] = moved
    report["answers"] = len(found)
    report["duplicates"] = max(0, len(found) - 1)
    report["effect_record_lives_days"] = None if expires_at is None else round((expires_at - sent_at) / 86400, 1)
    report["dlq_retention_days"] = round(needed_s / 86400, 1)
    assert moved == 1
    assert len(found) == 1, found
    assert record is not None, f"no EFFECT#{task.task_id} / EFFECT item in the state table"
    assert expires_at is not None and expires_at >= sent_at + needed_s
