"""One door, two transports: a Slack delivery over Socket Mode is checked, filtered, routed and
queued exactly as the same delivery over HTTP, and is acked only when its task is on its queue.

SQS is a recording fake here (the e2e test, tests/e2e/test_socket_mode.py, runs the real one);
everything else is the ingress's own code: the guard, the Bolt app, the listeners, ``enqueue``.
"""

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import EndpointConnectionError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from contract import environment as env
from contract.queues import QueueName
from contract.wire import decode_task_message
from lambda_handler import enqueue, main
from lambda_handler.guard import check_envelope, check_request
from lambda_handler.settings import get_settings
from lambda_handler.socket_mode import MissingAppToken, answer, app_token, build_handler, serve_envelope
from scripts.chat_slack import MissingToken, slack_tokens
from scripts.slack_requests import sign
from tests.conftest import EVENTS, clear_ingress_caches

SECRET = "unit-test-signing-secret"
FORM = "application/x-www-form-urlencoded"
# HTTP-only deliveries: Slack sends these to a request URL, never down a socket.
HTTP_ONLY = {"url_verification.json", "command_ssl_check.json", "app_rate_limited.json"}
FIXTURES = sorted(path for path in (EVENTS / "slack").glob("*.json") if path.name not in HTTP_ONLY)


def load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text().replace("$RESPONSE_URL", "https://hooks.slack.test/r/1"))
    return fixture


def over_http(fixture: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """The signed request Slack would POST (lower-case headers, as the door reads them)."""
    body = fixture["body"]
    if fixture["content_type"] == FORM:
        raw = urlencode({k: json.dumps(v) if isinstance(v, dict) else v for k, v in body.items()}).encode()
    else:
        raw = json.dumps(body).encode()
    request = sign(raw, SECRET, content_type=fixture["content_type"])
    return {name.lower(): value for name, value in request.headers.items()}, request.body


def over_socket(fixture: dict[str, Any], envelope_id: str = "env-1") -> SocketModeRequest:
    """The envelope Slack would send down the socket for the same delivery."""
    body = fixture["body"]
    if fixture["content_type"] != FORM:
        return SocketModeRequest(type="events_api", envelope_id=envelope_id, payload=body)
    if "payload" in body:
        return SocketModeRequest(type="interactive", envelope_id=envelope_id, payload=body["payload"])
    return SocketModeRequest(type="slash_commands", envelope_id=envelope_id, payload=body)


class RecordingSqs:
    """What ``enqueue`` sent (the task, its id, its arguments), or a refusal, as SQS would answer."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.down = False

    def send_message(self, *, QueueUrl: str, MessageBody: str) -> dict[str, str]:  # noqa: N803 - boto3's names
        if self.down:
            raise EndpointConnectionError(endpoint_url=QueueUrl)
        task = decode_task_message(MessageBody)
        kwargs = {k: v for k, v in task.kwargs.items() if k != "requested_at"}  # a clock reading
        self.sent.append({"task": task.task, "task_id": task.task_id, "queue": task.queue, "kwargs": kwargs})
        return {"MessageId": str(len(self.sent))}


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingSqs]:
    for name in list(os.environ):
        if name.startswith(("CHARLA_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv(env.SLACK_SIGNING_SECRET, SECRET)
    for queue in QueueName:
        monkeypatch.setenv(env.queue_url_variable(queue), f"http://sqs.test/000000000000/{queue}")
    clear_ingress_caches()
    recording = RecordingSqs()
    monkeypatch.setattr(enqueue, "sqs_client", lambda: recording)
    yield recording
    monkeypatch.undo()
    clear_ingress_caches()


class RecordingSocket:
    """The Socket Mode client's side of an ack: what was sent back, by envelope id."""

    def __init__(self) -> None:
        self.acks: list[str] = []
        self.logger = logging.getLogger("test.socket")

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.acks.append(response.envelope_id)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_socket_mode_checks_each_delivery_as_the_http_door_does(path: Path) -> None:
    fixture = load(path)
    headers, body = over_http(fixture)
    envelope = over_socket(fixture)

    http = check_request(headers=headers, body=body, verifier=SignatureVerifier(SECRET))
    socket = check_envelope(envelope.type, envelope.payload)

    assert (socket.kind, socket.payload, socket.team_id, socket.enterprise_id, socket.app_id) == (
        http.kind,
        http.payload,
        http.team_id,
        http.enterprise_id,
        http.app_id,
    )


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_a_delivery_queues_the_same_tasks_under_the_same_ids_over_either_transport(
    path: Path, sqs: RecordingSqs
) -> None:
    fixture = load(path)
    headers, body = over_http(fixture)

    http_status = main._serve(headers, body).status
    over_http_sent, sqs.sent = sqs.sent, []
    socket_status = serve_envelope(over_socket(fixture)).status

    assert socket_status == http_status
    assert sqs.sent == over_http_sent  # same task ids: the workers answer once whichever door it came by


def test_an_envelope_is_acked_once_its_task_is_queued(sqs: RecordingSqs) -> None:
    socket = RecordingSocket()
    envelope = over_socket(load(EVENTS / "slack" / "event_app_mention.json"), envelope_id="env-ok")

    answer(socket, envelope)  # type: ignore[arg-type]

    assert socket.acks == ["env-ok"]
    assert [sent["task"] for sent in sqs.sent] == ["charla.ping"]


def test_an_envelope_whose_task_cannot_be_queued_is_not_acked(sqs: RecordingSqs) -> None:
    socket = RecordingSocket()
    sqs.down = True
    envelope = over_socket(load(EVENTS / "slack" / "event_app_mention.json"), envelope_id="env-down")

    assert serve_envelope(envelope).status == 503
    answer(socket, envelope)  # type: ignore[arg-type]

    assert socket.acks == []  # so Slack retries the event


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("events_api", {"type": "event_callback", "event": "not an object"}),
        ("slash_commands", {"command": "/charla", "channel_id": ["C1"]}),
        ("interactive", {"type": "block_actions", "actions": "none"}),
        ("hello_world", {"type": "event_callback"}),
    ],
)
def test_a_malformed_envelope_is_refused_as_the_http_door_refuses_it(
    kind: str, payload: dict[str, Any], sqs: RecordingSqs
) -> None:
    assert serve_envelope(SocketModeRequest(type=kind, envelope_id="env-bad", payload=payload)).status == 400
    assert sqs.sent == []


def test_a_workspace_not_served_is_acked_and_dropped_over_socket_mode_too(
    sqs: RecordingSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.SLACK_TEAM_IDS, "T0SOMEONEELSE")
    get_settings.cache_clear()

    response = serve_envelope(over_socket(load(EVENTS / "slack" / "event_app_mention.json")))

    assert response.status == 200
    assert sqs.sent == []


def test_the_door_wants_an_app_level_token() -> None:
    assert app_token({env.SLACK_APP_TOKEN: " xapp-1-A1-abc "}) == "xapp-1-A1-abc"
    for environ in ({}, {env.SLACK_APP_TOKEN: "xoxb-a-bot-token"}):
        with pytest.raises(MissingAppToken, match="connections:write") as refused:
            app_token(environ)
        assert "xoxb-a-bot-token" not in str(refused.value)


def test_make_chat_slack_names_each_missing_token_and_never_its_value() -> None:
    with pytest.raises(MissingToken) as refused:
        slack_tokens({env.SLACK_APP_TOKEN: "xoxb-swapped", env.SLACK_BOT_TOKEN: "xapp-swapped"})

    message = str(refused.value)
    assert env.SLACK_APP_TOKEN in message and env.SLACK_BOT_TOKEN in message
    assert "swapped" not in message
    assert slack_tokens({env.SLACK_APP_TOKEN: "xapp-1", env.SLACK_BOT_TOKEN: "xoxb-2"}) == ("xapp-1", "xoxb-2")


def test_the_socket_mode_door_runs_the_lambdas_own_bolt_app(sqs: RecordingSqs) -> None:
    handler = build_handler("xapp-1-A1-abc", api_url="http://127.0.0.1:9/api/", ping_interval_s=5)
    try:
        assert handler.app is main.bolt_app()  # the same listeners, registered once by register_all
        assert handler.client.web_client.base_url == "http://127.0.0.1:9/api/"
    finally:
        handler.client.close()
