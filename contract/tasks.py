"""Task names, their payloads and the queue each one is routed to."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from contract.queues import QueueName

SCHEMA_VERSION = 1

# Read by pydantic when the workers validate a payload: unknown fields are refused.
_STRICT: dict[str, Any] = {"extra": "forbid"}


class TaskName(StrEnum):
    """Task names the code itself refers to. Producers send tasks by these names; workers register them.

    The first six are the built-in commands (``commands/``): the ingress routes unknown words to
    help and questions to next, ``charla send`` waits on ping. A new command names its task in
    its own module instead; ``contract.registry.TASK_NAMES`` lists every task.
    """

    PING = "charla.ping"
    HELP = "charla.help"
    NEXT_EVENT = "charla.next_event"
    SEARCH_AGENDA = "charla.search_agenda"
    COUNT_MESSAGES = "charla.count_messages"
    STATS = "charla.stats"
    ARCHIVE_MESSAGE = "charla.archive_message"
    REFRESH_AGENDA = "charla.refresh_agenda"
    SEARCH_MORE = "charla.search_more"  # the "More" button under a search answer
    WELCOME = "charla.welcome"  # someone joined a channel the bot is in
    HEALTH = "charla.health"  # callers (charla send, Node) wait on its result; no Slack post
    PUBLISH_HOME = "charla.publish_home"  # someone opened the app's Home tab
    NOTIFY_FAILURE = "charla.notify_failure"  # an answer was dead-lettered: tell the asker


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
        message_ts: Mentions and DMs: the ts of the message that asked (itself archived and
            counted by a separate task; ``count`` includes it even before that task ran).
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
    message_ts: str | None = None
    schema_version: int = SCHEMA_VERSION


class MessageKind(StrEnum):
    """What happened to an archived message: each is its own archive record."""

    NEW = "new"
    EDITED = "edited"  # Slack subtype message_changed
    DELETED = "deleted"  # Slack subtype message_deleted


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchivedMessage:
    """One message event to keep in the archive (and, if a person wrote it, to count).

    Attributes:
        correlation_id: The Slack event id (or a stable stand-in), in every log line.
        event_id: Slack's event id: a redelivered event carries the same one.
        team_id: Workspace the message was written in.
        channel: Channel or DM id.
        channel_type: Slack's ``channel_type`` (``channel``, ``group``, ``im``, ``mpim``), if given.
        user: Author's user id; ``""`` when Slack gives none (some bot and system messages).
        ts: The message's own timestamp (for edits and deletions, the original message's).
        event_ts: When this event happened: equal to ``ts`` for a new message, the time of the
            edit or deletion otherwise. Together with ``ts`` and ``kind`` it keys the record.
        kind: New message, edit or deletion.
        text: The message text (after the edit for edits; ``""`` for deletions).
        subtype: Slack's subtype of the message (``None`` for a plain message).
        is_bot: Written by a bot (``bot_id`` or subtype ``bot_message``): archived, never counted.
        thread_ts: The thread the message belongs to, if any.
        schema_version: Bumped on incompatible changes to this shape.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    correlation_id: str
    event_id: str
    team_id: str
    channel: str
    channel_type: str | None = None
    user: str = ""
    ts: str
    event_ts: str
    kind: MessageKind
    text: str = ""
    subtype: str | None = None
    is_bot: bool = False
    thread_ts: str | None = None
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPage:
    """Someone pressed a button under a search answer (Next, Previous, Share): post that page.

    Attributes:
        correlation_id: The action's trigger id (a re-delivered press carries the same one).
        team_id: Workspace of the press.
        channel: Channel the search answer is in (where to answer if ``response_url`` fails).
        user: Who pressed the button.
        query: The text searched for, as the first answer shows it.
        offset: Index of the first result of this page.
        lang: Language of the search (``en``, ``es``): the page answers in it.
        response_url: The action's response URL: the page is posted there (ephemeral).
        thread_ts: Thread of the search answer, if any.
        requested_at: Epoch seconds when the ingress accepted the press.
        in_place: The pressed message was ephemeral: the page replaces it (``replace_original``).
        share: Post the page in the channel (or thread) for everyone, not only the presser.
        schema_version: Bumped on incompatible changes to this shape.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    correlation_id: str
    team_id: str
    channel: str
    user: str
    query: str
    offset: int
    lang: str = "en"
    response_url: str | None = None
    thread_ts: str | None = None
    requested_at: float
    in_place: bool = False
    share: bool = False
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined:
    """A person joined a channel the bot is in (``member_joined_channel``): welcome them once.

    Attributes:
        correlation_id: The Slack event id.
        team_id: Workspace.
        channel: The channel joined.
        user: Who joined.
        requested_at: Epoch seconds when the ingress accepted the event.
        schema_version: Bumped on incompatible changes to this shape.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    correlation_id: str
    team_id: str
    channel: str
    user: str
    requested_at: float
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeOpened:
    """A person opened the app's Home tab (``app_home_opened``, tab ``home``): publish their view.

    Attributes:
        correlation_id: The Slack event id.
        team_id: Workspace.
        user: Whose Home it is.
        requested_at: Epoch seconds when the ingress accepted the event.
        schema_version: Bumped on incompatible changes to this shape.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    correlation_id: str
    team_id: str
    user: str
    requested_at: float
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureNotice:
    """An answer ended in the dead-letter queue: tell the person who asked, in one ephemeral line.

    Attributes:
        correlation_id: The failed request's correlation id.
        failed_task_id: The dead-lettered task (one notice per failed task).
        team_id: Workspace.
        channel: Where the person asked.
        user: Who asked.
        command: The command word as typed (the notice's language).
        args: What followed it (the notice's language, when the word shows none).
        thread_ts: The thread the answer was due in, if any.
        response_url: A slash command's or button's response URL, if any (ephemeral by nature).
        requested_at: Epoch seconds when the failure was settled.
        schema_version: Bumped on incompatible changes to this shape.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    correlation_id: str
    failed_task_id: str
    team_id: str
    channel: str
    user: str
    command: str = ""
    args: str = ""
    thread_ts: str | None = None
    response_url: str | None = None
    requested_at: float
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class AgendaRefresh:
    """Reload the agenda from its source and swap it in, or keep the old one if the source is bad.

    Attributes:
        correlation_id: The scheduled event's id (or a stable stand-in).
        source: Where to load from (``https://``, ``s3://bucket/key``); ``None`` uses the
            worker's configured source (``CHARLA_AGENDA_SOURCE``, else the embedded sample).
        requested_at: Epoch seconds when the refresh was requested.
        schema_version: Bumped on incompatible changes to this shape.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    correlation_id: str
    source: str | None = None
    requested_at: float
    schema_version: int = SCHEMA_VERSION


# Routing of the framework's own tasks. A command's route is in its module (``commands/``);
# ``contract.registry.TASK_QUEUES`` joins both. Answers wait on REPLIES; archive writes and
# refreshes go to BULK so a burst of channel traffic can never hold a user's answer behind it.
BUILT_IN_QUEUES: dict[str, QueueName] = {
    TaskName.ARCHIVE_MESSAGE: QueueName.BULK,
    TaskName.REFRESH_AGENDA: QueueName.BULK,
    TaskName.SEARCH_MORE: QueueName.REPLIES,
    TaskName.WELCOME: QueueName.REPLIES,
    TaskName.HEALTH: QueueName.REPLIES,
    TaskName.PUBLISH_HOME: QueueName.REPLIES,
    TaskName.NOTIFY_FAILURE: QueueName.REPLIES,
}


def queue_for(task: str) -> QueueName:
    """The queue a task (a ``TaskName`` or a command's task name) is routed to.

    Raises:
        KeyError: The task has no route (a contract bug, caught by the contract tests).
    """
    # Imported here: the registry reads the command modules, which import this module.
    from contract.registry import TASK_QUEUES

    return TASK_QUEUES[task]
