"""The fault-injection suite: real processes, moto server, the Slack stand-in.

Each scenario states its figures (printed by ``make faults``) and asserts zero loss and zero
duplicates. Scenarios that need a worker-side fault (kill, stop, failing task, 429s) start their
own stack; the rest share one.
"""

import json
import os
import random
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from contract.environment import DEFAULT_WORKER_CONCURRENCY
from contract.queues import QUEUE_SPECS, QueueName
from lambda_handler.guard import MAX_BODY_BYTES
from scripts.slack_requests import SignedRequest, app_mention, next_ts, sign, signed_event
from scripts.stack import DevStack, HttpResult
from tests.faults.conftest import ScenarioReport

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[DevStack]:
    with DevStack() as stack:
        yield stack


def post_all(
    stack: DevStack, requests: list[tuple[SignedRequest, dict[str, str]]], *, threads: int
) -> list[HttpResult]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda item: stack.post(item[0], extra_headers=item[1]), requests))


def test_1_every_event_delivered_four_times_gets_one_reply(shared_stack: DevStack, report: ScenarioReport) -> None:
    stack = shared_stack
    events = 25
    deliveries: list[tuple[SignedRequest, str]] = []
    for index in range(events):
        thread = next_ts()
        request = signed_event(
            app_mention("ping", channel="C0RETRIES", ts=thread), stack.signing_secret, event_id=f"EvRETRY{index:04d}"
        )
        deliveries.append((request, thread))

    statuses: Counter[int] = Counter()
    for request, _ in deliveries:
        statuses[stack.post(request).status] += 1  # the original
        retries = [(request, {"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"}) for n in (1, 2)]
        statuses.update(r.status for r in post_all(stack, retries, threads=2))  # two retries at once
    statuses.update(
        stack.post(request, extra_headers={"X-Slack-Retry-Num": "3", "X-Slack-Retry-Reason": "http_timeout"}).status
        for request, _ in deliveries
    )  # and a late one

    stack.wait_for_replies(events, timeout=60)
    stack.wait_until_drained(timeout=60)
    replies = Counter(r["thread_ts"] for r in stack.recorded() if r.get("channel") == "C0RETRIES")
    expected = {thread for _, thread in deliveries}
    report["events"] = events
    report["deliveries"] = sum(statuses.values())
    report["statuses"] = dict(statuses)
    report["replies"] = sum(replies.values())
    report["duplicates"] = sum(n - 1 for n in replies.values() if n > 1)
    report["lost"] = len(expected - set(replies))
    assert statuses == {200: events * 4}
    assert set(replies) == expected
    assert all(n == 1 for n in replies.values()), replies


def _bad_requests(secret: str, count: int, rng: random.Random) -> list[tuple[str, SignedRequest]]:
    """``count`` requests that must all be refused without enqueueing: forged, replayed, oversized, malformed."""
    now = int(time.time())
    valid_body = json.dumps({"type": "event_callback", "event_id": "EvBAD", "event": app_mention("ping")}).encode()
    oversized = sign(
        b"{" + b" " * (MAX_BODY_BYTES + rng.randint(1, 4096)) + b"}", secret, content_type="application/json"
    )
    makers = {
        "forged": lambda: sign(valid_body, secrets.token_hex(8), content_type="application/json"),
        "replayed": lambda: sign(
            valid_body, secret, content_type="application/json", timestamp=now - rng.randint(301, 90_000)
        ),
        "future": lambda: sign(
            valid_body, secret, content_type="application/json", timestamp=now + rng.randint(301, 90_000)
        ),
        "unsigned": lambda: SignedRequest(valid_body, {"Content-Type": "application/json"}),
        "bad-signature-format": lambda: SignedRequest(
            valid_body,
            {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": str(now),
                "X-Slack-Signature": rng.choice(["", "v0=", "v1=" + "0" * 64, "v0=" + "g" * 64, "x" * 500]),
            },
        ),
        # One shared body: the limit is a few MB (Slack's largest edit), too much to hold 1,250 copies.
        "oversized": lambda: oversized,
        "wrong-content-type": lambda: sign(
            valid_body, secret, content_type=rng.choice(["text/plain", "application/xml", "multipart/form-data", ""])
        ),
        "signed-garbage": lambda: sign(rng.randbytes(rng.randint(0, 512)), secret, content_type="application/json"),
        "signed-bad-json": lambda: sign(
            rng.choice(
                [
                    b"[]",
                    b"null",
                    b"1",
                    b'"s"',
                    b'{"type": null}',
                    b'{"type": "event_callback"}',
                    b'{"type": "event_callback", "event": "x"}',
                    b'{"type": "event_callback", "event": {}}',
                    b'{"type": "event_callback", "event": {"type": ["app_mention"]}}',
                    b'{"type": "url_verification"}',
                    b'{"type": "event_callback", "event": {"type": "app_mention"}, "event_id": {}}',
                    b'{"type": "event_callback", "event": {"type": "app_mention"}}',
                    b'{"type": "event_callback", "event": {"type": "app_mention", "user": "U1", "text": 5}}',
                    b'{"type": "event_callback", "event": {"type": "message", "channel_type": "im", "user": "U1"}}',
                    b'{"type": "event_callback", "event": {"type": "message", "subtype": "message_changed"}}',
                    b'{"type": "event_callback", "event": {"type": "message", "channel": "C1", "ts": {}}}',
                ]
            ),
            secret,
            content_type="application/json",
        ),
        "signed-bad-form": lambda: sign(
            rng.choice(
                [
                    b"",
                    b"=",
                    b"command=ping",
                    b"payload=%7B",
                    b"payload=%5B%5D",
                    b"%ff%fe=1",
                    b"a=1&" * 200,
                ]
            ),
            secret,
            content_type="application/x-www-form-urlencoded",
        ),
    }
    names = list(makers)
    return [(name, makers[name]()) for name in (names[i % len(names)] for i in range(count))]


def test_7_ten_thousand_bad_requests_enqueue_nothing_and_never_5xx(
    shared_stack: DevStack, report: ScenarioReport
) -> None:
    stack = shared_stack
    stack.wait_until_drained()
    count = int(os.environ.get("CHARLA_FAULTS_BAD_REQUESTS", "10000"))
    requests = _bad_requests(stack.signing_secret, count, random.Random(7))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda item: (item[0], stack.post(item[1]).status), requests))

    by_status = Counter(status for _, status in results)
    server_errors = [(kind, status) for kind, status in results if status >= 500]
    # Only Slack (holding the signing secret) can send a signed event Bolt finds nothing in: 200.
    accepted = [(kind, status) for kind, status in results if status < 400 and kind != "signed-bad-json"]
    report["requests"] = count
    report["statuses"] = dict(sorted(by_status.items()))
    report["5xx"] = len(server_errors)
    report["enqueued"] = sum(stack.queue_depth(q) for q in QueueName)
    assert not server_errors, Counter(server_errors).most_common(5)
    assert not accepted, Counter(accepted).most_common(5)
    assert report.figures["enqueued"] == 0
    assert stack.processes["ingress"].alive()
    assert stack.post_event(app_mention("ping", channel="C0AFTERFUZZ")).status == 200  # still serving
    stack.wait_until_drained()
    assert [r for r in stack.recorded() if r.get("channel") == "C0AFTERFUZZ"]


# -- worker-side faults: each starts its own stack with short visibility timeouts ---------------

VISIBILITY_S = 4  # a killed worker's messages come back this fast (production: see contract.queues)
MAX_RECEIVES = 3
# A run killed after its post and before DONE leaves its copies deferring until its version has
# stood unchanged for a lease (workers/services/replies.py): the replies are all there long before
# the queue can drain. Then a copy's last deferral, its redelivery and its run.
AFTER_A_LOST_HOLDER_S = QUEUE_SPECS[QueueName.REPLIES].lease_s + 2 * VISIBILITY_S + 60


def inject_pings(stack: DevStack, count: int, *, prefix: str) -> list[str]:
    """``count`` ping tasks straight onto the replies queue, one channel each; returns the channels."""
    import dataclasses

    from contract.tasks import CommandRequest, TaskName
    from contract.wire import encode_task_message

    channels = [f"C{prefix}{index:05d}" for index in range(count)]
    entries: list[dict[str, str]] = []
    for channel in channels:
        request = CommandRequest(
            correlation_id=f"{prefix}-{channel}",
            team_id="TLOCAL",
            channel=channel,
            user="U0LOAD",
            command="ping",
            requested_at=time.time(),
        )
        body = encode_task_message(task=TaskName.PING, kwargs=dataclasses.asdict(request), queue=QueueName.REPLIES)
        entries.append({"Id": str(len(entries)), "MessageBody": body})
    client = stack.sqs()
    for start in range(0, len(entries), 10):
        batch = [dict(entry, Id=str(i)) for i, entry in enumerate(entries[start : start + 10])]
        client.send_message_batch(QueueUrl=stack.queue_url(QueueName.REPLIES), Entries=batch)
    return channels


def replies_per_channel(stack: DevStack, prefix: str) -> Counter[str]:
    return Counter(
        str(r["channel"])
        for r in stack.recorded()
        if r.get("kind") == "chat.postMessage" and str(r.get("channel", "")).startswith(f"C{prefix}")
    )


def assert_exactly_once(report: ScenarioReport, channels: list[str], seen: Counter[str]) -> None:
    report["effects"] = sum(seen.values())
    report["duplicates"] = sum(n - 1 for n in seen.values() if n > 1)
    report["lost"] = len(set(channels) - set(seen))
    assert report.figures["lost"] == 0
    assert report.figures["duplicates"] == 0, [c for c, n in seen.items() if n > 1][:10]


@pytest.fixture
def fault_stack() -> Iterator[DevStack]:
    with DevStack(
        worker_queues=[],
        sqs_wait_time_seconds=1,
        queue_overrides={"visibility_timeout_s": VISIBILITY_S, "max_receive_count": MAX_RECEIVES},
        moto_module="scripts.moto_serial",  # 16 threads' concurrent transactions (scripts/moto_serial.py)
    ) as stack:
        yield stack


@dataclass
class Interruption:
    """What happened when a worker was stopped a quarter of the way through a batch."""

    channels: list[str]
    replied_before: int
    exit_code: int | None
    stopped_in_s: float
    recovered_in_s: float


def interrupt_worker_mid_batch(
    stack: DevStack, *, prefix: str, tasks: int, signum: int, stop_timeout_s: float, pool: str = "prefork"
) -> Interruption:
    """Queue ``tasks`` pings, stop the worker with ``signum`` after a quarter, let a new one finish
    (both on ``pool``: prefork with 2 processes, or threads with the deployed default's 16)."""
    from scripts.processes import wait_until

    concurrency = 2 if pool == "prefork" else DEFAULT_WORKER_CONCURRENCY
    channels = inject_pings(stack, tasks, prefix=prefix)
    worker = stack.start_worker(
        f"{prefix.lower()}-first", queues=[QueueName.REPLIES], concurrency=concurrency, pool=pool
    )
    wait_until(
        lambda: sum(replies_per_channel(stack, prefix).values()) >= tasks // 4,
        timeout=120,
        message="a quarter of the replies before the signal",
    )

    worker.send_signal(signum)  # the whole process group: main process and pool
    signalled_at = time.monotonic()
    exit_code = worker.popen.wait(timeout=stop_timeout_s)
    stopped_at = time.monotonic()
    replied_before = sum(replies_per_channel(stack, prefix).values())
    stack.start_worker(f"{prefix.lower()}-second", queues=[QueueName.REPLIES], concurrency=concurrency, pool=pool)
    wait_until(
        lambda: len(replies_per_channel(stack, prefix)) >= tasks,
        timeout=180,
        message=lambda: f"all {tasks} replies (have {len(replies_per_channel(stack, prefix))})",
    )
    # SIGTERM reaches the pool's children too: prefork's die at once, mid-run (Celery resets their
    # SIGTERM handler), so a stop can leave holders as SIGKILL does.
    stack.wait_until_drained(QueueName.REPLIES, timeout=AFTER_A_LOST_HOLDER_S)
    return Interruption(
        channels=channels,
        replied_before=replied_before,
        exit_code=exit_code,
        stopped_in_s=round(stopped_at - signalled_at, 1),
        recovered_in_s=round(time.monotonic() - stopped_at, 1),
    )


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_2_worker_killed_mid_batch_loses_and_doubles_nothing(
    fault_stack: DevStack, report: ScenarioReport, pool: str
) -> None:
    """Some runs die between their post and DONE: the copies find those posts (crash after post)."""
    import signal

    outcome = interrupt_worker_mid_batch(
        fault_stack, prefix="KILL", tasks=500, signum=signal.SIGKILL, stop_timeout_s=10, pool=pool
    )

    report["tasks"] = len(outcome.channels)
    report["replied_before_kill"] = outcome.replied_before
    report["recovered_in_s"] = outcome.recovered_in_s
    assert_exactly_once(report, outcome.channels, replies_per_channel(fault_stack, "KILL"))


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_3_sigterm_during_a_burst_drains_or_returns_work(
    fault_stack: DevStack, report: ScenarioReport, pool: str
) -> None:
    import signal

    from contract.queues import MAX_SOFT_TIME_LIMIT_S

    # ECS sends SIGKILL after the task's stopTimeout, derived from the longest soft time limit.
    outcome = interrupt_worker_mid_batch(
        fault_stack,
        prefix="TERM",
        tasks=200,
        signum=signal.SIGTERM,
        stop_timeout_s=MAX_SOFT_TIME_LIMIT_S + 10,
        pool=pool,
    )

    report["tasks"] = len(outcome.channels)
    report["replied_before_stop"] = outcome.replied_before
    report["stopped_in_s"] = outcome.stopped_in_s
    report["exit_code"] = outcome.exit_code
    assert outcome.exit_code == 0  # a warm shutdown, not a kill
    assert_exactly_once(report, outcome.channels, replies_per_channel(fault_stack, "TERM"))


def test_4_a_failing_task_lands_in_the_dlq_and_redrive_after_the_fix_answers_it(
    fault_stack: DevStack, report: ScenarioReport
) -> None:
    from charla_cli.queues import dead_letter_url, matcher, redrive
    from scripts.processes import wait_until
    from scripts.stack import http

    stack = fault_stack
    http(
        "POST",
        stack.slack_url + "/_faults",
        body=json.dumps({"failing_channels": ["CDLQ00000"]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    channels = inject_pings(stack, 1, prefix="DLQ")
    stack.start_worker("worker", queues=[QueueName.REPLIES], concurrency=1)
    client = stack.sqs()
    dlq = dead_letter_url(client, stack.queue_url(QueueName.REPLIES))
    assert dlq is not None

    def dlq_depth() -> int:
        attributes = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    started = time.monotonic()
    wait_until(lambda: dlq_depth() == 1, timeout=60, message=lambda: f"the message in the DLQ; logs:\n{stack.logs()}")
    report["to_dlq_s"] = round(time.monotonic() - started, 1)
    # Slack refusing the answer for good (channel_not_found) is permanent: dead-lettered at once,
    # with the reason, rather than retried into the same refusal (workers/outcomes.py).
    dead_lettered = [line for line in stack.processes["worker"].log_text().splitlines() if "dead-lettered" in line]
    assert not replies_per_channel(stack, "DLQ")

    http(
        "POST",
        stack.slack_url + "/_faults",
        body=json.dumps({"failing_channels": []}).encode(),
        headers={"Content-Type": "application/json"},
    )  # the fix
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
    wait_until(lambda: replies_per_channel(stack, "DLQ"), timeout=60, message="the reply after redrive")
    stack.wait_until_drained(QueueName.REPLIES, timeout=60)

    report["runs_before_dlq"] = len(dead_lettered)
    report["redriven"] = moved
    assert len(dead_lettered) == 1 and "channel_not_found" in dead_lettered[0]
    assert moved == 1
    assert dlq_depth() == 0
    assert_exactly_once(report, channels, replies_per_channel(stack, "DLQ"))


def test_5_slack_rate_limits_for_a_while_and_every_reply_arrives_at_pace(report: ScenarioReport) -> None:
    from scripts.processes import wait_until
    from scripts.stack import http

    with DevStack(sqs_wait_time_seconds=1) as stack:
        http(
            "POST",
            stack.slack_url + "/_faults",
            body=json.dumps({"rate_limited_for_s": 4, "retry_after_s": 1}).encode(),
            headers={"Content-Type": "application/json"},
        )
        threads = []
        for index in range(16):
            ts = next_ts()
            threads.append(ts)
            assert stack.post_event(app_mention("ping", channel=f"C0PACE{index % 4}", ts=ts)).status == 200
        wait_until(
            lambda: len({r.get("thread_ts") for r in stack.recorded()} & set(threads)) == len(threads),
            timeout=120,
            message=lambda: f"all replies; logs:\n{stack.logs()}",
        )
        stack.wait_until_drained(timeout=60)
        state = http("GET", stack.slack_url + "/_recorded").json()

    replies = Counter(r.get("thread_ts") for r in state["records"] if r.get("thread_ts") in set(threads))
    report["events"] = len(threads)
    report["answered_429"] = state["rejected_429"]
    report["pace_violations"] = state["pace_violations"]
    report["replies"] = sum(replies.values())
    assert state["rejected_429"] > 0  # the fault really happened
    assert state["pace_violations"] == 0
    assert all(n == 1 for n in replies.values()) and len(replies) == len(threads)


def test_6_sqs_goes_away_for_ten_seconds_and_nothing_is_lost(report: ScenarioReport) -> None:
    from scripts.processes import wait_until

    with DevStack(
        sqs_wait_time_seconds=1,
        sqs_through_fault_proxy=True,
        # Deletes that failed during the outage come back this soon (and are found already answered).
        queue_overrides={"visibility_timeout_s": VISIBILITY_S, "max_receive_count": MAX_RECEIVES},
    ) as stack:
        assert stack.sqs_proxy is not None
        threads: list[str] = []
        statuses: Counter[int] = Counter()
        pending: list[tuple[SignedRequest, str]] = []

        def send(index: int) -> None:
            ts = next_ts()
            threads.append(ts)
            request = signed_event(app_mention("ping", channel=f"C0OUT{index % 5}", ts=ts), stack.signing_secret)
            status = stack.post(request).status
            statuses[status] += 1
            if status != 200:
                pending.append((request, ts))  # Slack would retry this one

        for index in range(10):
            send(index)
        stack.sqs_proxy.go_down()
        down_at = time.monotonic()
        index = 10
        while time.monotonic() - down_at < 10:
            send(index)
            index += 1
            time.sleep(0.25)  # paced traffic during the outage, like Slack's stream of events
        stack.sqs_proxy.come_back()
        back_at = time.monotonic()
        retried = 0
        for request, _ in pending:  # Slack's retries arrive after the outage
            retried += 1
            assert stack.post(request, extra_headers={"X-Slack-Retry-Num": "1"}).status == 200
        for later in range(index, index + 10):
            send(later)
        wait_until(
            lambda: len({r.get("thread_ts") for r in stack.recorded()} & set(threads)) == len(threads),
            timeout=120,
            message=lambda: f"all replies; logs:\n{stack.logs()}",
        )
        recovered_in = time.monotonic() - back_at
        stack.wait_until_drained(timeout=60)
        replies = Counter(r.get("thread_ts") for r in stack.recorded() if r.get("thread_ts") in set(threads))

    report["events"] = len(threads)
    report["non_2xx_during_outage"] = sum(n for status, n in statuses.items() if status != 200)
    report["slack_retries"] = retried
    report["recovered_in_s"] = round(recovered_in, 1)
    report["duplicates"] = sum(n - 1 for n in replies.values() if n > 1)
    report["lost"] = len(set(threads) - set(replies))
    assert statuses[503] > 0  # the ingress told Slack to retry
    assert report.figures["lost"] == 0
    assert report.figures["duplicates"] == 0
