"""Task names, their payloads and the queue each one is routed to."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from contract.queues import QueueName

SCHEMA_VERSION = 1

# Read by pydantic when the workers validate a payload: unknown fields are refused.
_STRICT: dict[str, Any] = {"extra": "forbid"}


class TaskName(StrEnum):
    """Celery task names. Producers send tasks by these names; workers register them."""

    PING = "charla.ping"
    HELP = "charla.help"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRequest:
    """A user asked the bot something (mention, DM or slash command).

    Attributes:
        correlation_id: Follows the request from ingress to reply in every log line.
        team_id: Workspace the request came from.
        channel: Channel (or DM) to answer in.
        user: Slack user id of the asker.
        command: The command word as the user typed it (e.g. ``busca``).
        args: Everything after the command word, mention markup removed.
        thread_ts: Thread to reply in; ``None`` answers in the channel itself.
        response_url: Slash commands only: where to post the answer.
        requested_at: Epoch seconds when the ingress accepted the request.
        schema_version: Bumped on incompatible changes to this shape.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    correlation_id: str
    team_id: str
    channel: str
    user: str
    command: str
    args: str = ""
    thread_ts: str | None = None
    response_url: str | None = None
    requested_at: float
    schema_version: int = SCHEMA_VERSION


# Routing by task name, in one place: a new task lands on its queue without touching callers.
TASK_QUEUES: dict[TaskName, QueueName] = {
    TaskName.PING: QueueName.REPLIES,
    TaskName.HELP: QueueName.REPLIES,
}


def queue_for(task: TaskName) -> QueueName:
    """The queue a task is routed to.

    Raises:
        KeyError: The task has no route (a contract bug, caught by the contract tests).
    """
    return TASK_QUEUES[task]
