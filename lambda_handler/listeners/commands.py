"""Slash command ``/charla <command>``: acked silently, answered through ``response_url``."""

import time
from typing import Any

from slack_bolt import Ack, App

from contract.commands import parse_command
from contract.tasks import CommandRequest
from lambda_handler.enqueue import enqueue

SLASH_COMMAND = "/charla"


def on_slash_command(command: dict[str, Any], ack: Ack) -> None:
    """Queue the command; the worker answers via ``response_url`` (ephemeral)."""
    parsed = parse_command(str(command.get("text", "")))
    trigger_id = str(command.get("trigger_id") or f"{command.get('channel_id')}:{time.time_ns()}")
    request = CommandRequest(
        correlation_id=trigger_id,
        team_id=str(command.get("team_id", "")),
        channel=str(command["channel_id"]),
        user=str(command["user_id"]),
        command=parsed.command,
        args=parsed.args,
        response_url=command.get("response_url"),
        requested_at=time.time(),
    )
    enqueue(parsed.task, request, idempotency_key=trigger_id)
    ack()


def register(app: App) -> None:
    """Attach the slash command listener to ``app``."""
    app.command(SLASH_COMMAND)(on_slash_command)
