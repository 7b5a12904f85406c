"""Events API: mentions and direct messages become command tasks.

Listeners ack and enqueue, nothing more. With ``process_before_response`` the HTTP answer is
sent after the listener returns, so enqueueing before ``ack()`` costs nothing and means a failed
enqueue surfaces as a non-2xx (Slack retries) instead of an acked-but-lost event.
"""

import time
from typing import Any

from slack_bolt import Ack, App

from contract.commands import parse_command
from contract.tasks import CommandRequest, TaskName
from lambda_handler.enqueue import enqueue


def _is_from_a_person(event: dict[str, Any]) -> bool:
    """Edits, deletions, joins and anything a bot wrote (our own replies included) are not commands."""
    return "subtype" not in event and "bot_id" not in event and bool(event.get("user"))


def command_from_event(body: dict[str, Any], *, in_thread: bool) -> tuple[TaskName, CommandRequest, str]:
    """The task, command request and idempotency key (the event id) for a mention or DM event."""
    event = body["event"]
    parsed = parse_command(str(event.get("text", "")))
    event_id = str(body.get("event_id") or f"{event['channel']}:{event['ts']}")
    request = CommandRequest(
        correlation_id=event_id,
        team_id=str(body.get("team_id") or event.get("team", "")),
        channel=str(event["channel"]),
        user=str(event["user"]),
        command=parsed.command,
        args=parsed.args,
        thread_ts=str(event.get("thread_ts") or event["ts"]) if in_thread else event.get("thread_ts"),
        requested_at=time.time(),
    )
    return parsed.task, request, event_id


def _enqueue_command(body: dict[str, Any], *, in_thread: bool) -> None:
    task, request, event_id = command_from_event(body, in_thread=in_thread)
    enqueue(task, request, idempotency_key=event_id)


def on_app_mention(body: dict[str, Any], event: dict[str, Any], ack: Ack) -> None:
    """A mention in a channel: answer in its thread."""
    if _is_from_a_person(event) and not str(event.get("channel", "")).startswith("D"):
        # In a DM the same words also arrive as a message.im event, which answers them.
        _enqueue_command(body, in_thread=True)
    ack()


def on_message(body: dict[str, Any], event: dict[str, Any], ack: Ack) -> None:
    """A direct message to the bot is a command; other messages are only acked (for now)."""
    if event.get("channel_type") == "im" and _is_from_a_person(event):
        _enqueue_command(body, in_thread=False)
    ack()


def register(app: App) -> None:
    """Attach the event listeners to ``app``."""
    app.event("app_mention")(on_app_mention)
    app.event("message")(on_message)
