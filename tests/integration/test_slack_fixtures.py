"""Every real Slack payload shape in tests/events/slack/, signed and sent through the whole local
stack (uvicorn ingress, a real ``celery worker``, moto, the Slack stand-in): each is answered 2xx
(or the 4xx its fixture names), never 5xx; every task it queues runs to completion, none ends in
a dead-letter queue, and every command among them is answered.

Fixtures hold Slack's documented shapes (``source`` names the page); ``$RESPONSE_URL`` is replaced
by a stand-in URL, as Slack would give a real one. ``expect_answer: response_url`` marks the ones
(slash commands, the "More" button) that must be answered there.
"""

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from contract.queues import QueueName
from lambda_handler.guard import check_request
from scripts.processes import wait_until
from scripts.slack_requests import SignedRequest, sign
from scripts.stack import DevStack
from tests.conftest import EVENTS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((EVENTS / "slack").glob("*.json"))
FORM = "application/x-www-form-urlencoded"


def load(path: Path, response_url: str) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text().replace("$RESPONSE_URL", response_url))
    return fixture


def signed(fixture: dict[str, Any], secret: str) -> SignedRequest:
    body = fixture["body"]
    if fixture["content_type"] == FORM:  # an interaction's payload travels as JSON inside the form
        raw = urlencode({k: json.dumps(v) if isinstance(v, dict) else v for k, v in body.items()}).encode()
    else:
        raw = json.dumps(body).encode()
    return sign(raw, secret, content_type=fixture["content_type"])


def test_fixtures_cover_every_subscribed_event_and_surface() -> None:
    import yaml

    manifest = yaml.safe_load((ROOT / "slack" / "manifest.yaml").read_text())
    subscribed = manifest["settings"]["event_subscriptions"]["bot_events"]
    names = {path.stem for path in FIXTURES}
    required = {f"event_{event.replace('.', '_')}" for event in subscribed} | {
        "event_message_changed",
        "event_message_deleted",
        "event_message_bot_message",
        "event_message_thread_broadcast",
        "event_message_file_share",
        "event_message_channel_join",
        "event_shared_channel_message",
        "event_org_install_message",
        "event_tokens_revoked",
        "event_app_uninstalled",
        "url_verification",
        "command_ping",
        "command_ssl_check",
        "interaction_block_actions",
    }
    assert required <= names, f"missing fixtures: {sorted(required - names)}"
    for path in FIXTURES:
        fixture = json.loads(path.read_text())
        assert fixture["source"].startswith("https://api.slack.com/"), path.name
        assert fixture["content_type"] in ("application/json", FORM), path.name


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_each_fixture_passes_the_guard(path: Path) -> None:
    from slack_sdk.signature import SignatureVerifier

    request = signed(load(path, "https://hooks.slack.com/commands/T0/1/x"), "fixture-secret")
    headers = {k.lower(): v for k, v in request.headers.items()}

    check_request(headers=headers, body=request.body, verifier=SignatureVerifier("fixture-secret"))


def _dead_letter_depth(stack: DevStack, queue: QueueName) -> int:
    client = stack.sqs()
    policy = client.get_queue_attributes(QueueUrl=stack.queue_url(queue), AttributeNames=["RedrivePolicy"])
    dlq_name = json.loads(policy["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"].rsplit(":", 1)[1]
    dlq_url = client.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    attributes = client.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_every_real_shape_is_answered_runs_to_completion_and_never_dead_letters(stack: DevStack) -> None:
    statuses: dict[str, tuple[int, int]] = {}
    by_url: dict[str, str] = {}
    for path in FIXTURES:
        response_url = stack.response_url(path.stem)
        fixture = load(path, response_url)
        if fixture.get("expect_answer") == "response_url":  # /charla commands, the "More" button
            by_url[path.stem] = response_url
        statuses[path.stem] = (stack.post(signed(fixture, stack.signing_secret)).status, fixture["expect_status"])

    unexpected = {name: got for name, (got, expected) in statuses.items() if got != expected}
    assert not unexpected, f"status other than the fixture's expect_status: {unexpected}"
    assert all(got < 500 for got, _ in statuses.values())
    stack.wait_until_drained(timeout=90)  # every queued task ran and was acked
    assert {queue: _dead_letter_depth(stack, queue) for queue in QueueName} == {queue: 0 for queue in QueueName}
    answered = wait_until(
        lambda: (
            found
            if len(found := {r["path"] for r in stack.recorded() if r["kind"] == "response_url"}) >= len(by_url)
            else None
        ),
        timeout=30,
        message=lambda: f"an answer to each of {sorted(by_url)}; logs:\n{stack.logs()}",
    )
    assert answered == {url.removeprefix(stack.slack_url) for url in by_url.values()}
    # The mentions (channel, thread, edited) and the DM commands are answered where they were asked.
    posted = {r["channel"] for r in stack.wait_for_replies(len(by_url) + 4) if r["kind"] == "chat.postMessage"}
    assert {"C0MENTION1", "C0THREAD01", "C0EDITED01", "D0ALICEDM1"} <= posted
    assert "raised unexpected" not in stack.processes["worker"].log_text()
