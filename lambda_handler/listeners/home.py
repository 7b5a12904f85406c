"""``app_home_opened``: queue a Home view for the person (the worker publishes it if it changed).

Slack sends the event for the Messages tab too (``tab: messages``): only ``home`` needs a view.
"""

import time
from typing import Any

from slack_bolt import Ack, App

from contract.tasks import HomeOpened, TaskName
from lambda_handler.enqueue import enqueue
from lambda_handler.errors import RequestRejected


def on_home_opened(body: dict[str, Any], event: dict[str, Any], ack: Ack) -> None:
    """Queue ``publish_home``, keyed by the event id (a redelivered event publishes once)."""
    user = event.get("user")
    if not isinstance(user, str) or not user:
        raise RequestRejected("app_home_opened without user")
    if event.get("tab", "home") == "home":
        event_id = str(body.get("event_id") or f"home:{user}:{event.get('event_ts')}")
        opened = HomeOpened(
            correlation_id=event_id,
            team_id=str(body.get("team_id") or event.get("team") or ""),
            user=user,
            requested_at=time.time(),
        )
        enqueue(TaskName.PUBLISH_HOME, opened, idempotency_key=event_id)
    ack()


def register(app: App) -> None:
    """Attach the Home tab listener to ``app``."""
    app.event("app_home_opened")(on_home_opened)
