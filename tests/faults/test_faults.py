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

import pytest

from contract.queues import QueueName
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
        "oversized": lambda: sign(
            b"{" + b" " * (MAX_BODY_BYTES + rng.randint(1, 4096)) + b"}", secret, content_type="application/json"
        ),
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
