"""The thinnest complete path, through real processes: signed mention -> uvicorn ingress -> SQS
(moto server) -> real celery worker -> Slack stand-in."""

import pytest

from scripts.slack_requests import app_mention, direct_message, next_ts, signed_slash_command
from scripts.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def replies_in(stack: DevStack, *, channel: str) -> list[dict[str, object]]:
    return [r for r in stack.recorded() if r.get("channel") == channel]


def test_a_signed_mention_gets_exactly_one_pong_in_its_thread(stack: DevStack) -> None:
    ts = next_ts()

    response = stack.post_event(app_mention("ping", channel="C0SKELETON", ts=ts))

    assert response.status == 200
    stack.wait_until_drained()  # the task ran and its message was deleted: no more replies can come
    replies = replies_in(stack, channel="C0SKELETON")
    assert len(replies) == 1, replies
    assert str(replies[0]["text"]).startswith("pong")
    assert replies[0]["thread_ts"] == ts


def test_a_mention_inside_a_thread_is_answered_in_that_thread(stack: DevStack) -> None:
    parent = next_ts()

    stack.post_event(app_mention("ve", channel="C0THREAD", thread_ts=parent))

    stack.wait_until_drained()
    (reply,) = replies_in(stack, channel="C0THREAD")
    assert reply["thread_ts"] == parent
    assert str(reply["text"]).startswith("Por lo pronto vas bien")  # `ve` is Spanish: answered in Spanish


def test_a_direct_message_is_answered_in_the_dm(stack: DevStack) -> None:
    stack.post_event(direct_message("PING", channel="D0SKELETON"))

    stack.wait_until_drained()
    (reply,) = replies_in(stack, channel="D0SKELETON")
    assert str(reply["text"]).startswith("pong")
    assert reply["thread_ts"] is None


def test_a_slash_command_is_answered_through_its_response_url(stack: DevStack) -> None:
    url = stack.response_url("skeleton-slash")

    response = stack.post(signed_slash_command("ping", stack.signing_secret, response_url=url))

    assert response.status == 200
    stack.wait_until_drained()
    answers = [r for r in stack.recorded() if r.get("path") == "/response/skeleton-slash"]
    assert len(answers) == 1
    assert str(answers[0]["text"]).startswith("pong")
    assert answers[0]["response_type"] == "ephemeral"


def test_the_bot_ignores_its_own_messages(stack: DevStack) -> None:
    own_reply = {**direct_message("pong", channel="D0OWN"), "bot_id": "BCHARLABOT"}

    assert stack.post_event(own_reply).status == 200

    # A person's message sent afterwards is answered; by then the bot's own would have been too.
    stack.post_event(direct_message("ping", channel="D0OWN"))
    stack.wait_until_drained()
    assert len(replies_in(stack, channel="D0OWN")) == 1
