"""A worker's Slack client reads a rotated token once when Slack refuses the old one (real HTTP to
the Slack stand-in), and a revoked token costs at most one secret read per interval."""

import threading
from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError

from scripts.slack_standin import SlackStandIn
from workers.runtime.slack_token import REREAD_INTERVAL_S, TokenRefreshingWebClient


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    server = SlackStandIn(0, token="xoxb-new")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class Secret:
    def __init__(self, token: str) -> None:
        self.token, self.reads = token, 0

    def read(self) -> str:
        self.reads += 1
        return self.token


def _client(slack: SlackStandIn, secret: Secret, clock: list[float]) -> TokenRefreshingWebClient:
    return TokenRefreshingWebClient(
        read_token=secret.read, clock=lambda: clock[0], token="xoxb-old", base_url=slack.url + "/api/", timeout=5
    )


def test_a_rotated_token_is_read_and_the_call_made_once_more(slack: SlackStandIn) -> None:
    secret, clock = Secret("xoxb-new"), [100.0]
    client = _client(slack, secret, clock)

    response = client.chat_postMessage(channel="C1", text="hola")

    assert response["ok"] is True
    assert secret.reads == 1
    assert [r["text"] for r in slack.recorder.records] == ["hola"]  # posted once
    assert client.token == "xoxb-new"


def test_a_revoked_token_fails_and_reads_the_secret_once_per_interval(slack: SlackStandIn) -> None:
    secret, clock = Secret("xoxb-old"), [100.0]  # nobody stored a new token
    client = _client(slack, secret, clock)

    for _ in range(20):
        with pytest.raises(SlackApiError, match="invalid_auth"):
            client.chat_postMessage(channel="C1", text="hola")
        clock[0] += REREAD_INTERVAL_S / 4

    assert secret.reads == 5  # 20 calls over 5 intervals
    assert slack.recorder.records == []


def test_other_errors_are_not_a_reason_to_read_the_secret(slack: SlackStandIn) -> None:
    secret, clock = Secret("xoxb-new"), [100.0]
    client = _client(slack, secret, clock)
    client.token = "xoxb-new"
    slack.recorder.failing_channels = {"C0GONE"}

    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_postMessage(channel="C0GONE", text="hola")

    assert secret.reads == 0
