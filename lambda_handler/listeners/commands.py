"""Slash command ``/charla <command>``: acked silently, answered through ``response_url``."""

import time
from typing import Any

from slack_bolt import Ack, App

from contract.slack_text import read_command
from contract.tasks import CommandRequest
from lambda_handler.enqueue import enqueue
from lambda_handler.listeners.malformed import malformed_is_rejected

SLASH_COMMAND = "/charla"


@malformed_is_rejected
def on_slash_command(command: dict[str, Any], ack: Ack) -> None:
    """Queue the command; the worker answers via ``response_url`` (ephemeral).

    Form values are strings (the guard parsed the form); ``channel_id`` and ``user_id`` are
    required: a form without them is a 400, not a 500.
    """
    parsed = read_command(command.get("text", ""))
    trigger_id = command.get("trigger_id") or f"{command['channel_id']}:{time.time_ns()}"
    request = CommandRequest(
        correlation_id=trigger_id,
        team_id=command.get("team_id", ""),
        channel=command["channel_id"],
        user=command["user_id"],
        command=parsed.command,
        args=parsed.args,
        response_url=command.get("response_url") or None,
        requested_at=time.time(),
    )
    enqueue(parsed.task, request, idempotency_key=trigger_id)
    ack()


def register(app: App) -> None:
    """Attach the slash command listener to ``app``."""
    app.command(SLASH_COMMAND)(on_slash_command)
