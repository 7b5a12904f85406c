"""Events API: every message event is archived; mentions and direct messages become commands.

Listeners ack and enqueue, nothing more. With ``process_before_response`` the HTTP answer is
sent after the listener returns, so enqueueing before ``ack()`` costs nothing and means a failed
enqueue surfaces as a non-2xx (Slack retries) instead of an acked-but-lost event.

What gets archived: ``message`` events only (``message.channels``, ``.groups``, ``.im``,
``.mpim`` subscriptions), including edits (subtype ``message_changed``) and deletions
(``message_deleted``). A channel mention also arrives as a ``message`` event when the app
subscribes to ``message.channels`` (the manifest does), so ``app_mention`` is never archived:
archiving both would store the mention twice under two event ids. A workspace that subscribes
only to ``app_mention`` gets answers but no archive of mentions (documented in docs/DATA.md).
"""

import logging
import time
from typing import Any

from slack_bolt import Ack, App

from contract.slack_text import read_command
from contract.tasks import ArchivedMessage, CommandRequest, MessageKind, TaskName
from lambda_handler.enqueue import enqueue
from lambda_handler.listeners.malformed import malformed_is_rejected

logger = logging.getLogger(__name__)

# An SQS message is at most 256 KiB, and the wire format JSON-escapes text (up to 12 bytes per
# character) and base64-encodes it twice: 8,000 characters always fit. Slack allows 40,000, but
# messages that long are rare; they are archived cut here, with a marker.
MAX_ARCHIVED_TEXT_CHARS = 8000
TRUNCATION_MARKER = " […]"


def _is_from_a_person(event: dict[str, Any]) -> bool:
    """Edits, deletions, joins and anything a bot wrote (our own replies included) are not commands."""
    return "subtype" not in event and "bot_id" not in event and bool(event.get("user"))


def _event_id(body: dict[str, Any], event: dict[str, Any]) -> str:
    return str(body.get("event_id") or f"{event.get('channel')}:{event.get('event_ts') or event.get('ts')}")


def command_from_event(body: dict[str, Any], *, in_thread: bool) -> tuple[str, CommandRequest, str]:
    """The task, command request and idempotency key (the event id) for a mention or DM event."""
    event = body["event"]
    parsed = read_command(str(event.get("text", "")))
    event_id = _event_id(body, event)
    request = CommandRequest(
        correlation_id=event_id,
        team_id=body.get("team_id") or event.get("team") or "",
        channel=event["channel"],
        user=event["user"],
        command=parsed.command,
        args=parsed.args,
        thread_ts=(event.get("thread_ts") or event["ts"]) if in_thread else event.get("thread_ts"),
        requested_at=time.time(),
        message_ts=str(event["ts"]) if event.get("ts") else None,
    )
    return parsed.task, request, event_id


def _is_bot(message: dict[str, Any]) -> bool:
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message"


def _archivable(text: str) -> str:
    if len(text) <= MAX_ARCHIVED_TEXT_CHARS:
        return text
    return text[: MAX_ARCHIVED_TEXT_CHARS - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def archived_message(body: dict[str, Any]) -> ArchivedMessage | None:
    """The archive record for a ``message`` event, or ``None`` if it names no message."""
    event = body["event"]
    subtype = event.get("subtype")
    event_ts = str(event.get("event_ts") or event.get("ts") or "")
    if subtype == "message_changed":
        message = event.get("message") or {}
        kind, ts, text = MessageKind.EDITED, message.get("ts"), str(message.get("text") or "")
    elif subtype == "message_deleted":
        message = event.get("previous_message") or {}
        kind, ts, text = MessageKind.DELETED, event.get("deleted_ts") or message.get("ts"), ""
    else:
        message = event
        kind, ts, text = MessageKind.NEW, event.get("ts"), str(event.get("text") or "")
        event_ts = str(ts or "")
    if not ts or not event_ts or not event.get("channel"):
        return None
    event_id = _event_id(body, event)
    return ArchivedMessage(
        correlation_id=event_id,
        event_id=event_id,
        team_id=body.get("team_id") or event.get("team") or "",
        channel=event["channel"],
        channel_type=event.get("channel_type"),
        user=message.get("user") or "",
        ts=ts,
        event_ts=event_ts,
        kind=kind,
        text=_archivable(text),
        subtype=message.get("subtype") if kind != MessageKind.NEW else subtype,
        is_bot=_is_bot(message),
        thread_ts=message.get("thread_ts"),
    )


@malformed_is_rejected
def on_app_mention(body: dict[str, Any], event: dict[str, Any], ack: Ack) -> None:
    """A mention in a channel: answer in its thread (the archive takes the ``message`` event)."""
    if _is_from_a_person(event) and not str(event.get("channel", "")).startswith("D"):
        # In a DM the same words also arrive as a message.im event, which answers them.
        task, request, event_id = command_from_event(body, in_thread=True)
        enqueue(task, request, idempotency_key=event_id)
    ack()


@malformed_is_rejected
def on_message(body: dict[str, Any], event: dict[str, Any], ack: Ack) -> None:
    """Archive every message; a direct message from a person is also a command.

    Two tasks, two sends: if the second fails after the first succeeded, the request answers
    non-2xx and Slack redelivers the same event id. The task ids derive from it
    (``task_id_for``) and the archive write is a conditional put keyed by the message, so the
    re-sent archive task stores and counts nothing the second time. The archive goes first
    because duplicating it is harmless, while a command is only sent once both can be.
    """
    message = archived_message(body)
    if message is not None:
        enqueue(TaskName.ARCHIVE_MESSAGE, message, idempotency_key=message.event_id)
    else:
        logger.info("message event without channel or ts not archived event_id=%s", body.get("event_id"))
    if event.get("channel_type") == "im" and _is_from_a_person(event):
        task, request, event_id = command_from_event(body, in_thread=False)
        enqueue(task, request, idempotency_key=event_id)
    ack()


def register(app: App) -> None:
    """Attach the event listeners to ``app``."""
    app.event("app_mention")(on_app_mention)
    app.event("message")(on_message)
