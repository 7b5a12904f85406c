"""Each answer is posted once: the reply ledger (moto server) plus Slack's message metadata
(the stand-in), with a real slack_sdk WebClient. No worker runs; ``deliver`` is called directly."""

import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from contract.tasks import CommandRequest
from scripts.provision import dynamodb
from scripts.stack import DevStack
from workers.services import replies
from workers.services.answers import Answer
from workers.store import StateStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def parts(stack_without_worker: DevStack) -> Iterator[tuple[DevStack, StateStore, WebClient]]:
    stack = stack_without_worker
    assert stack.moto_url
    store = StateStore(dynamodb(stack.moto_url), stack.env["CHARLA_TABLE_STATE"])
    yield stack, store, WebClient(token=stack.bot_token, base_url=f"{stack.slack_url}/api/")


def request(channel: str, thread_ts: str | None = "1700000000.000100") -> CommandRequest:
    return CommandRequest(
        correlation_id=f"Ev-{channel}",
        team_id="T1",
        channel=channel,
        user="U1",
        command="ping",
        thread_ts=thread_ts,
        requested_at=time.time(),
    )


def posts_in(stack: DevStack, channel: str) -> int:
    return sum(1 for r in stack.recorded() if r.get("kind") == "chat.postMessage" and r.get("channel") == channel)


def deliver(parts: tuple[DevStack, StateStore, WebClient], asked: CommandRequest, reply_id: str) -> bool:
    _, store, web = parts
    return replies.deliver(asked, Answer("pong"), reply_id=reply_id, web=web, webhook_for=WebhookClient, store=store)


def test_a_second_run_of_the_same_task_posts_nothing(parts: tuple[DevStack, StateStore, WebClient]) -> None:
    asked = request("C0LEDGER1")

    first, second = deliver(parts, asked, "task-1"), deliver(parts, asked, "task-1")

    assert (first, second) == (True, False)
    assert posts_in(parts[0], "C0LEDGER1") == 1


@pytest.mark.parametrize("thread_ts", ["1700000000.000200", None])
def test_a_run_after_a_worker_died_between_posting_and_recording_finds_the_post(
    parts: tuple[DevStack, StateStore, WebClient], thread_ts: str | None
) -> None:
    stack, store, web = parts
    channel = f"C0DIED{'T' if thread_ts else 'C'}"
    asked = request(channel, thread_ts)
    reply_id = f"task-died-{channel}"
    # What a worker killed after chat.postMessage and before finish_reply leaves behind:
    assert store.begin_reply(reply_id) is not None
    web.chat_postMessage(
        channel=channel,
        text="pong",
        thread_ts=thread_ts,
        metadata={"event_type": replies.REPLY_EVENT_TYPE, "event_payload": {"reply_id": reply_id}},
    )

    assert deliver(parts, asked, reply_id) is False
    assert posts_in(stack, channel) == 1
    assert deliver(parts, asked, reply_id) is False  # now recorded as done


def test_a_run_after_a_worker_died_before_posting_posts(parts: tuple[DevStack, StateStore, WebClient]) -> None:
    stack, store, _ = parts
    store.begin_reply("task-died-early")

    assert deliver(parts, request("C0DIEDEARLY"), "task-died-early") is True
    assert posts_in(stack, "C0DIEDEARLY") == 1
