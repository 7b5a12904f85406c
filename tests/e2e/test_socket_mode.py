"""The bot over Socket Mode, through real processes: the Socket Mode stand-in (apps.connections.open
and a WebSocket) -> the door (``python -m lambda_handler.socket_mode``, Bolt's Socket Mode client)
-> SQS (moto server) -> real celery worker -> the Slack Web API stand-in.

The door is started by ``scripts.chat_slack.start_socket_door``, as ``make chat-slack`` starts it.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from contract.commands import SEARCH_MORE_ACTION, more_button_value
from scripts.chat_slack import start_socket_door
from scripts.fault_proxy import FaultProxy
from scripts.processes import ManagedProcess, wait_until
from scripts.slack_requests import app_mention, block_action, event_callback, next_ts, slash_command_form
from scripts.socket_mode_standin import SocketModeStandIn
from scripts.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Short pings: a dropped connection is noticed within a few of them (slack_sdk's builtin client).
PING_INTERVAL_S = 1.0


@pytest.fixture(scope="module")
def socket_stack() -> Iterator[DevStack]:
    """The whole stack with one worker (the door is started beside it, below)."""
    with DevStack() as running:
        yield running


@pytest.fixture(scope="module")
def door_sqs(socket_stack: DevStack) -> Iterator[FaultProxy]:
    """The door's own way to SQS (the workers' is direct): taken down to make an enqueue fail."""
    assert socket_stack.moto_url
    with FaultProxy(target_port=int(socket_stack.moto_url.rsplit(":", 1)[1])) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def slack(socket_stack: DevStack, door_sqs: FaultProxy) -> Iterator[SocketModeStandIn]:
    """Slack's Socket Mode side, with the door connected to it."""
    with SocketModeStandIn() as standin:
        start_socket_door(
            socket_stack,
            app_token=standin.app_token,
            api_url=standin.api_url,
            ping_interval_s=PING_INTERVAL_S,
            extra_env={"AWS_ENDPOINT_URL_SQS": door_sqs.url},
        )
        standin.wait_for_connection()
        yield standin
        socket_stack.processes.pop("socket-mode").stop()


def door(stack: DevStack) -> ManagedProcess:
    return stack.processes["socket-mode"]


def replies_in(stack: DevStack, channel: str) -> list[dict[str, Any]]:
    return [r for r in stack.recorded() if r.get("channel") == channel]


def test_a_mention_over_socket_mode_is_acked_and_answered_once_in_its_thread(
    socket_stack: DevStack, slack: SocketModeStandIn
) -> None:
    ts = next_ts()

    envelope = slack.events_api(event_callback(app_mention("ping", channel="C0SOCKET", ts=ts)))

    slack.wait_for_ack(envelope)
    socket_stack.wait_until_drained()
    (reply,) = replies_in(socket_stack, "C0SOCKET")
    assert str(reply["text"]).startswith("pong")
    assert reply["thread_ts"] == ts
    assert len(slack.acks_of(envelope)) == 1
    assert slack.unexpected() == []


def test_an_envelope_delivered_twice_is_answered_once(socket_stack: DevStack, slack: SocketModeStandIn) -> None:
    body = event_callback(app_mention("ping", channel="C0SOCKETTWICE", ts=next_ts()))

    first = slack.events_api(body)
    again = slack.events_api(body, retry_attempt=1, retry_reason="timeout")

    slack.wait_for_ack(first)
    slack.wait_for_ack(again)  # both are acked: each copy is on the queue, under one task id
    socket_stack.wait_until_drained()
    assert len(replies_in(socket_stack, "C0SOCKETTWICE")) == 1


def test_a_slash_command_over_socket_mode_is_answered_through_its_response_url(
    socket_stack: DevStack, slack: SocketModeStandIn
) -> None:
    url = socket_stack.response_url("socket-slash")

    envelope = slack.slash_command(slash_command_form("ayuda", response_url=url, channel="C0SOCKETSLASH"))

    assert slack.wait_for_ack(envelope).payload is None  # acked empty: the answer comes from a worker
    socket_stack.wait_until_drained()
    (answer,) = [r for r in socket_stack.recorded() if r.get("path") == "/response/socket-slash"]
    assert answer["response_type"] == "ephemeral"
    assert "ping" in str(answer.get("text") or answer.get("blocks"))  # the Spanish help lists the commands


def test_a_button_press_over_socket_mode_posts_the_next_page(socket_stack: DevStack, slack: SocketModeStandIn) -> None:
    url = socket_stack.response_url("socket-more")
    button = {"type": "button", "action_id": SEARCH_MORE_ACTION, "value": more_button_value("python", 3, "en")}

    envelope = slack.interactive(block_action(button, response_url=url, channel="C0SOCKETMORE"))

    slack.wait_for_ack(envelope)
    socket_stack.wait_until_drained()
    assert len([r for r in socket_stack.recorded() if r.get("path") == "/response/socket-more"]) == 1


def test_after_slack_asks_for_a_refresh_the_next_envelope_is_answered(
    socket_stack: DevStack, slack: SocketModeStandIn
) -> None:
    opened = slack.connections_accepted

    slack.ask_to_refresh()

    slack.wait_for_connection(opened + 1)  # a new URL from apps.connections.open, a new socket
    envelope = slack.events_api(event_callback(app_mention("ping", channel="C0SOCKETREFRESH", ts=next_ts())))
    assert slack.wait_for_ack(envelope).connection == opened + 1
    socket_stack.wait_until_drained()
    assert len(replies_in(socket_stack, "C0SOCKETREFRESH")) == 1


def test_a_dropped_connection_is_resumed_and_the_next_envelope_answered(
    socket_stack: DevStack, slack: SocketModeStandIn
) -> None:
    opened = slack.connections_accepted

    slack.drop_connection()

    slack.wait_for_connection(opened + 1, timeout=60)  # noticed by the client's pings, then a new URL
    envelope = slack.events_api(event_callback(app_mention("ping", channel="C0SOCKETDROP", ts=next_ts())))
    assert slack.wait_for_ack(envelope).connection == opened + 1
    socket_stack.wait_until_drained()
    assert len(replies_in(socket_stack, "C0SOCKETDROP")) == 1


def test_an_envelope_whose_task_cannot_be_queued_is_not_acked_and_its_resend_is_answered_once(
    socket_stack: DevStack, slack: SocketModeStandIn, door_sqs: FaultProxy
) -> None:
    connection = slack.connections_accepted
    body = event_callback(app_mention("ping", channel="C0SOCKETDOWN", ts=next_ts()))
    door_sqs.go_down()
    try:
        refused = slack.events_api(body)
        wait_until(
            lambda: f"not acked envelope type=events_api envelope_id={refused}" in door(socket_stack).log_text(),
            timeout=30,
            message=lambda: f"the door to give up on {refused}; log:\n{door(socket_stack).log_tail()}",
        )
    finally:
        door_sqs.come_back()

    resent = slack.events_api(body, retry_attempt=1, retry_reason="timeout")  # Slack retries the event

    slack.wait_for_ack(resent)
    # Acks travel in order on one connection: an ack of the refused envelope would have come first.
    assert slack.connections_accepted == connection
    assert slack.acks_of(refused) == []
    socket_stack.wait_until_drained(timeout=60)
    assert len(replies_in(socket_stack, "C0SOCKETDOWN")) == 1


def test_a_refused_app_token_stops_the_door_with_slacks_reason_and_without_the_token(
    socket_stack: DevStack,
) -> None:
    wrong_token = "xapp-1-A0OTHER-wrong-token"
    with SocketModeStandIn() as standin, pytest.raises(RuntimeError, match="invalid_auth") as failure:
        start_socket_door(socket_stack, app_token=wrong_token, api_url=standin.api_url, name="socket-mode-refused")
    assert socket_stack.processes.pop("socket-mode-refused").stop() == 1  # it exited by itself
    assert wrong_token not in str(failure.value)  # the door's log never holds the token
