"""``member_joined_channel``: queue a welcome (the worker decides whether one is configured and
whether this person was welcomed to this channel before)."""

import time
from typing import Any

from slack_bolt import Ack, App

from contract.tasks import MemberJoined, TaskName
from lambda_handler.enqueue import enqueue
from lambda_handler.errors import RequestRejected


def _bot_user_ids(body: dict[str, Any]) -> set[str]:
    authorizations = body.get("authorizations") or []
    return {str(a.get("user_id")) for a in authorizations if isinstance(a, dict) and a.get("is_bot")}


def on_member_joined(body: dict[str, Any], event: dict[str, Any], ack: Ack) -> None:
    """Welcome a person (not the bot itself joining) to the channel."""
    user, channel = event.get("user"), event.get("channel")
    if not isinstance(user, str) or not isinstance(channel, str) or not user or not channel:
        raise RequestRejected("member_joined_channel without user or channel")
    if user not in _bot_user_ids(body):
        event_id = str(body.get("event_id") or f"{channel}:{user}:{event.get('event_ts')}")
        joined = MemberJoined(
            correlation_id=event_id,
            team_id=str(body.get("team_id") or event.get("team") or ""),
            channel=channel,
            user=user,
            requested_at=time.time(),
        )
        enqueue(TaskName.WELCOME, joined, idempotency_key=event_id)
    ack()


def register(app: App) -> None:
    """Attach the membership listeners to ``app``."""
    app.event("member_joined_channel")(on_member_joined)
