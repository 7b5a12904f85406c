"""Celery tasks: parse the payload, call a service, done."""

import logging
import time
from typing import Any

from celery import Task
from pydantic import TypeAdapter

from contract.tasks import CommandRequest, TaskName
from workers.app import app
from workers.services import answers, replies
from workers.slack import web_client, webhook_client

logger = logging.getLogger(__name__)
_command_request = TypeAdapter(CommandRequest)


def _parse(payload: dict[str, Any]) -> CommandRequest:
    return _command_request.validate_python(payload)


def _answer(request: CommandRequest, text: str) -> None:
    replies.deliver(request, text, web=web_client(), webhook_for=webhook_client)
    logger.info("answered correlation_id=%s", request.correlation_id)


@app.task(name=TaskName.PING, bind=True)
def ping(self: Task, **payload: Any) -> None:
    """Liveness: answer who ran the task and how long it waited."""
    request = _parse(payload)
    delay_ms = max(0.0, (time.time() - request.requested_at) * 1000)
    _answer(request, answers.pong(worker=str(self.request.hostname), queue_delay_ms=delay_ms))


@app.task(name=TaskName.HELP)
def help_(**payload: Any) -> None:
    """The command list (also the answer to anything not understood)."""
    request = _parse(payload)
    _answer(request, answers.help_text(request.command))
