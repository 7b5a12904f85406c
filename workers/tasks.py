"""The tasks: parse the payload, call a service, done. Plain functions in the registry
(``workers/registry.py``); the Celery worker and the Lambda executor both run them. Each command
module (``commands/``) is one task here, run by ``_command_task``: its answer function returns,
this module posts.

How a run ends is settled by the executor with the rules of ``workers/outcomes.py``: a
deferral or a failure sends the message again with an SQS delay (a bounded number of failures),
a permanent failure dead-letters it. Every effect is keyed, so any copy of a task is harmless:
answers by the reply state machine (``workers/services/replies.py``), archive writes by their
message key. A bad agenda source is not a failure: logged, kept (the next scheduled refresh
tries again).
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from slack_sdk.errors import SlackApiError

from commands import COMMANDS
from contract.command_spec import Answer, Command
from contract.commands import is_known_command, typed_language
from contract.tasks import AgendaRefresh, ArchivedMessage, CommandRequest, MemberJoined, SearchPage, TaskName
from workers.outcomes import Defer
from workers.payloads import parse_payload
from workers.registry import TaskContext, task
from workers.runtime import aws
from workers.runtime.clock import wall_clock
from workers.runtime.settings import get_settings
from workers.runtime.slack import reader_client, web_client, webhook_client
from workers.services import agenda, answers, languages, progress, replies
from workers.services.command_context import CommandContext
from workers.state.archive import is_counted
from workers.store import get_store

logger = logging.getLogger(__name__)
_archived_message = TypeAdapter(ArchivedMessage)
_agenda_refresh = TypeAdapter(AgendaRefresh)
_search_page = TypeAdapter(SearchPage)
_member_joined = TypeAdapter(MemberJoined)


def _run(running: TaskContext, effect_id: str | None = None) -> replies.Run:
    """This execution, as the reply state machine sees it (the effect is the task's, unless named)."""
    return replies.Run(
        task_id=effect_id or running.task_id,
        lease_s=running.spec.lease_s,
        continuation=running.continuation,
        observed=running.observed,
        deadline=running.deadline,
    )


def _counted_as(command: Command, request: CommandRequest) -> str | None:
    """The command this request counts as a use of (words we did not understand count as none)."""
    if not command.counts_as_use:
        return None
    if command.task == TaskName.HELP and request.command and not is_known_command(request.command):
        return None
    return command.name


def _person_lang(team_id: str, user: str) -> str:
    """``user``'s language when their words show none (``workers/services/languages.py``)."""
    return languages.person_language(
        team_id=team_id, user=user, store=get_store(), reader=reader_client(), default=get_settings().default_language
    )


def _lang(request: CommandRequest) -> str:
    """The answer's language: the one the request was typed in, else the asker's own."""
    return typed_language(request.command, request.args) or _person_lang(request.team_id, request.user)


def _answer(
    running: TaskContext,
    command: Command | None,
    request: CommandRequest,
    answer: Answer,
    *,
    effect_id: str | None = None,
) -> None:
    """Post the answer once per task id (or ``effect_id``), in the channel's turn, counting the command with it.

    An answer that must wait a while shows 👀 on the asking message meanwhile (``progress``); the
    first run of a plain reply never gets there.
    """
    run = _run(running, effect_id)
    try:
        outcome = replies.deliver(
            request,
            answer,
            run=run,
            count_as=_counted_as(command, request) if command else None,
            web=web_client(),
            reader=reader_client(),
            webhook_for=webhook_client,
            store=get_store(),
            clock=wall_clock(),
        )
    except Defer as later:
        if later.about_result:  # this run's own answer is late (not a copy meeting another's hold)
            progress.show_waiting(
                request,
                delay_s=later.delay_s,
                task_id=run.task_id,
                store=get_store(),
                slack=reader_client(),
                lease_s=run.lease_s,
            )
        raise
    logger.info("answer %s task_id=%s correlation_id=%s", outcome, running.task_id, request.correlation_id)
    if running.continuation:
        progress.answered(request, task_id=run.task_id, store=get_store(), slack=reader_client(), lease_s=run.lease_s)


@cache
def _s3_client() -> Any:
    settings = get_settings()
    return aws.client("s3", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)


@task(TaskName.SEARCH_MORE)
def search_more(ctx: TaskContext, **payload: Any) -> None:
    """A page of a search, after someone pressed Next, Previous or Share under one.

    Next and Previous answer through the action's response_url, only to the presser: in place
    of the pressed page when it was ephemeral. Share posts the page in the channel or thread,
    in its turn, like any answer.
    """
    page = parse_payload(_search_page, payload)
    request = CommandRequest(
        correlation_id=page.correlation_id,
        team_id=page.team_id,
        channel=page.channel,
        user=page.user,
        command="search",
        args=page.query,
        thread_ts=page.thread_ts,
        response_url=None if page.share else page.response_url,
        requested_at=page.requested_at,
    )
    items = agenda.load_items(get_store())
    now = datetime.now(UTC)
    matches = agenda.search(items, page.query, now) if items else None
    answer = answers.search_results(
        page.query,
        matches,
        lang=page.lang,
        offset=page.offset,
        now=now,
        ephemeral=not page.share,
        replace_original=page.in_place and not page.share,
        thread_ts=page.thread_ts,
    )
    _answer(ctx, None, request, answer)


def _command_task(command: Command) -> Callable[..., dict[str, Any] | None]:
    """The task that runs ``command``: parse, build its context, take its answer, post it once."""
    payload_adapter: TypeAdapter[Any] = TypeAdapter(command.payload)

    def run_command(ctx: TaskContext, **payload: Any) -> dict[str, Any] | None:
        request = parse_payload(payload_adapter, payload)
        context = CommandContext(
            command_name=command.name,
            lang=_lang(request),
            worker=ctx.worker,
            now=datetime.now(UTC),
            store=get_store(),
        )
        answer = command.answer(request, context)
        _answer(ctx, command, request, answer)
        return answer.result

    run_command.__name__ = run_command.__qualname__ = command.name
    run_command.__doc__ = command.help_in("en").summary
    return run_command


# Every command module (``commands/``) is a task of its own name, run the same way.
for _command in COMMANDS:
    task(_command.task)(_command_task(_command))


@task(TaskName.WELCOME)
def welcome(ctx: TaskContext, **payload: Any) -> None:
    """Welcome someone who joined a channel, once per person and channel, if a text is configured."""
    joined = parse_payload(_member_joined, payload)
    greeting = get_settings().welcome_text_for(joined.channel)
    if not greeting:
        logger.info("no welcome configured channel=%s correlation_id=%s", joined.channel, joined.correlation_id)
        return
    store = get_store()
    if store.was_welcomed(team_id=joined.team_id, channel=joined.channel, user=joined.user):
        logger.info("already welcomed correlation_id=%s", joined.correlation_id)
        return
    # Slack practice: a welcome is for the newcomer, not the channel. It goes to the DM between
    # the bot and them (conversations.open returns the same DM every time: safe to repeat), where
    # the effect record can still find an earlier run's post in the history.
    request = CommandRequest(
        correlation_id=joined.correlation_id,
        team_id=joined.team_id,
        channel=_direct_channel(joined.user),
        user=joined.user,
        command="",
        requested_at=joined.requested_at,
    )
    # One effect per person and channel, not per event (Slack sends a new event for every join):
    # the effect record posts it once even if two joins race; the marker makes it once for good
    # (effect records expire; someone leaving and rejoining later gets no second welcome).
    effect_id = f"welcome:{joined.team_id}:{joined.channel}:{joined.user}"
    answer = answers.welcome(greeting, user=joined.user, channel=joined.channel)
    _answer(ctx, None, request, answer, effect_id=effect_id)
    store.mark_welcomed(team_id=joined.team_id, channel=joined.channel, user=joined.user)


def _direct_channel(user: str) -> str:
    """The id of the bot's DM with ``user`` (``conversations.open``: idempotent, so the reading client).

    Raises:
        replies.SlackUnavailable: Slack could not open it now (the task is retried).
    """
    try:
        response = reader_client().conversations_open(users=user)
    except (SlackApiError, OSError) as error:
        raise replies.SlackUnavailable(f"conversations.open: {type(error).__name__}") from error
    return str((response.get("channel") or {}).get("id") or "")


@task(TaskName.ARCHIVE_MESSAGE)
def archive_message(ctx: TaskContext, **payload: Any) -> None:
    """Keep one message event; count it once if a person wrote it."""
    message = parse_payload(_archived_message, payload)
    store = get_store()
    # The language a person last wrote in, learnt here on the bulk queue from every message they
    # write (commands to the bot arrive here too), in the write that counts it: never on an
    # answer's path, never a write of its own.
    lang = languages.written_language(message.text) if is_counted(message) else None
    stored = store.archive_message(message, written_language=lang)
    logger.info(
        "archive %s kind=%s correlation_id=%s",
        "stored" if stored else "duplicate ignored",
        message.kind,
        message.correlation_id,
    )


@task(TaskName.REFRESH_AGENDA)
def refresh_agenda(ctx: TaskContext, **payload: Any) -> None:
    """Reload the agenda and swap it in; a bad source keeps the old one."""
    request = parse_payload(_agenda_refresh, payload)
    source = request.source or get_settings().agenda_source
    store = get_store()
    store.settle_agenda()  # a refresh that died after its swap left the live items a TTL: clear it
    try:
        result = agenda.refresh(store, source, s3_client=_s3_client, now=time.time())
    except agenda.AgendaSourceError as error:
        logger.warning(
            "agenda refresh rejected source=%s reason=%s; keeping version=%s correlation_id=%s",
            agenda.describe_source(source),
            error,
            store.agenda_version(),
            request.correlation_id,
        )
        return
    logger.info(
        "agenda refreshed source=%s items=%d rejected=%d%s version=%s correlation_id=%s",
        result.source,
        result.items,
        result.rejected,
        f" problems={result.problems!r}" if result.rejected else "",
        result.version,
        request.correlation_id,
    )
