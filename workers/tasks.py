"""Celery tasks: parse the payload, call a service, done.

Retryable failures (``StoreUnavailableError``: DynamoDB throttled or unreachable) are retried with
backoff; everything keyed makes a retry harmless. A bad agenda source is permanent for this run:
logged, not retried (the next scheduled refresh tries again).
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

import boto3
from celery import Task, current_task
from pydantic import TypeAdapter

from contract.commands import COMMAND_NAMES, is_known_command, language_of, mentioned_user
from contract.queues import QUEUE_SPECS, QueueName
from contract.tasks import AgendaRefresh, ArchivedMessage, CommandRequest, MemberJoined, SearchPage, TaskName
from workers.app import app
from workers.services import agenda, answers, replies
from workers.settings import get_settings
from workers.slack import web_client, webhook_client
from workers.store import StoreError, StoreUnavailableError, get_store

logger = logging.getLogger(__name__)
# Celery's decorator is untyped; this names what it returns so mypy checks the task bodies.
task = cast(Callable[..., Callable[[Callable[..., Any]], Task]], app.task)
_command_request = TypeAdapter(CommandRequest)
_archived_message = TypeAdapter(ArchivedMessage)
_agenda_refresh = TypeAdapter(AgendaRefresh)
_search_page = TypeAdapter(SearchPage)
_member_joined = TypeAdapter(MemberJoined)

# Retried with exponential backoff (1, 2, 4... s, jittered); a few tries for answers a user
# waits for, more for bulk work nobody watches.
_REPLY_RETRY: dict[str, Any] = {
    "autoretry_for": (StoreUnavailableError, replies.SlackUnavailable),
    "retry_backoff": True,
    "max_retries": 3,
}
_BULK_RETRY: dict[str, Any] = {
    "autoretry_for": (StoreUnavailableError,),
    "retry_backoff": True,
    "max_retries": 8,
    # The app's default limits are the replies queue's; bulk tasks get their own queue's.
    "soft_time_limit": QUEUE_SPECS[QueueName.BULK].soft_time_limit_s,
    "time_limit": QUEUE_SPECS[QueueName.BULK].time_limit_s,
}


def _parse(payload: dict[str, Any]) -> CommandRequest:
    return _command_request.validate_python(payload)


def _lang(request: CommandRequest) -> str:
    """The answer's language: the one the command word was typed in."""
    return language_of(request.command, request.args)


def _answer(request: CommandRequest, answer: answers.Answer, *, reply_id: str | None = None) -> None:
    """Post the answer once per task id (a re-run task finds it posted), paced per channel."""
    running = current_task.request if current_task else None
    reply_id = reply_id or str(getattr(running, "id", None) or f"{request.correlation_id}:{request.command}")
    try:
        posted = replies.deliver(
            request, answer, reply_id=reply_id, web=web_client(), webhook_for=webhook_client, store=get_store()
        )
    except replies.PaceDeferred as deferred:
        # SQS holds the re-sent task for the wait (native delay): no worker sits idle on it.
        raise current_task.retry(countdown=deferred.wait_s, exc=deferred, max_retries=None) from deferred
    logger.info("answer %s correlation_id=%s", "posted" if posted else "already posted", request.correlation_id)


def _count_use(command_task: TaskName, request: CommandRequest) -> None:
    """Count the command once per request; a counter failure never costs the user the answer."""
    if command_task == TaskName.HELP and request.command and not is_known_command(request.command):
        return  # words we did not understand are not uses of ``help``
    try:
        get_store().count_command(
            team_id=request.team_id, command=COMMAND_NAMES[command_task], correlation_id=request.correlation_id
        )
    except (StoreUnavailableError, StoreError) as error:
        logger.warning("command not counted correlation_id=%s error=%s", request.correlation_id, error)


@cache
def _s3_client() -> Any:
    settings = get_settings()
    return boto3.client("s3", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)


@task(name=TaskName.PING, bind=True, **_REPLY_RETRY)
def ping(self: Task, **payload: Any) -> dict[str, Any]:
    """Liveness: answer who ran the task and how long it waited (also the result a caller waits on)."""
    request = _parse(payload)
    delay_ms = max(0.0, (time.time() - request.requested_at) * 1000)
    worker = str(self.request.hostname)
    _count_use(TaskName.PING, request)
    _answer(request, answers.pong(worker=worker, queue_delay_ms=delay_ms, lang=_lang(request)))
    return {"worker": worker, "queue_delay_ms": round(delay_ms, 1), "correlation_id": request.correlation_id}


@task(name=TaskName.HELP, **_REPLY_RETRY)
def help_(**payload: Any) -> None:
    """The command list, or one command explained (also the answer to anything not understood)."""
    request = _parse(payload)
    _count_use(TaskName.HELP, request)
    _answer(request, answers.help_text(request.command, request.args, lang=_lang(request)))


@task(name=TaskName.NEXT_EVENT, **_REPLY_RETRY)
def next_event(**payload: Any) -> None:
    """The next agenda item after now."""
    request = _parse(payload)
    _count_use(TaskName.NEXT_EVENT, request)
    items = agenda.load_items(get_store())
    upcoming = agenda.next_item(items or [], datetime.now(UTC))
    _answer(request, answers.next_event(upcoming, agenda_empty=not items, lang=_lang(request)))


@task(name=TaskName.SEARCH_AGENDA, **_REPLY_RETRY)
def search_agenda(**payload: Any) -> None:
    """Agenda items whose title contains the text."""
    request = _parse(payload)
    _count_use(TaskName.SEARCH_AGENDA, request)
    if not request.args.strip():
        _answer(request, answers.search_results("", [], lang=_lang(request)))  # asks for a word
        return
    items = agenda.load_items(get_store())
    matches = agenda.search(items, request.args, datetime.now(UTC)) if items else None
    _answer(request, answers.search_results(request.args, matches, lang=_lang(request)))


@task(name=TaskName.SEARCH_MORE, **_REPLY_RETRY)
def search_more(**payload: Any) -> None:
    """The next page of a search, after someone pressed "More" (posted to the action's response_url)."""
    page = _search_page.validate_python(payload)
    request = CommandRequest(
        correlation_id=page.correlation_id,
        team_id=page.team_id,
        channel=page.channel,
        user=page.user,
        command="search",
        args=page.query,
        thread_ts=page.thread_ts,
        response_url=page.response_url,
        requested_at=page.requested_at,
    )
    items = agenda.load_items(get_store())
    matches = agenda.search(items, page.query, datetime.now(UTC)) if items else None
    _answer(request, answers.search_results(page.query, matches, lang=page.lang, offset=page.offset))


@task(name=TaskName.COUNT_MESSAGES, **_REPLY_RETRY)
def count_messages(**payload: Any) -> None:
    """How many messages the mentioned user (default: the asker) wrote in this workspace."""
    request = _parse(payload)
    _count_use(TaskName.COUNT_MESSAGES, request)
    named = mentioned_user(request.args)
    if request.args.strip() and named is None:
        # ``cuenta bob``: not a mention, so we cannot tell who; say so rather than count the asker.
        _answer(request, answers.not_a_mention(request.args, lang=_lang(request)))
        return
    user = named or request.user
    count = get_store().message_count(team_id=request.team_id, user=user)
    _answer(request, answers.message_count(user=user, count=count, asker=request.user, lang=_lang(request)))


@task(name=TaskName.STATS, **_REPLY_RETRY)
def stats(**payload: Any) -> None:
    """The most used commands in this workspace."""
    request = _parse(payload)
    _count_use(TaskName.STATS, request)
    counts = get_store().command_counts(team_id=request.team_id)
    _answer(request, answers.stats(counts, lang=_lang(request)))


@task(name=TaskName.WELCOME, **_REPLY_RETRY)
def welcome(**payload: Any) -> None:
    """Welcome someone who joined a channel, once per person and channel, if a text is configured."""
    joined = _member_joined.validate_python(payload)
    greeting = get_settings().welcome_text_for(joined.channel)
    if not greeting:
        logger.info("no welcome configured channel=%s correlation_id=%s", joined.channel, joined.correlation_id)
        return
    store = get_store()
    if store.was_welcomed(team_id=joined.team_id, channel=joined.channel, user=joined.user):
        logger.info("already welcomed correlation_id=%s", joined.correlation_id)
        return
    request = CommandRequest(
        correlation_id=joined.correlation_id,
        team_id=joined.team_id,
        channel=joined.channel,
        user=joined.user,
        command="",
        requested_at=joined.requested_at,
    )
    # The reply ledger posts it once even if this task runs twice (keyed by person and channel,
    # not by event: Slack sends a new event for every join); the marker makes it once for good
    # (the ledger forgets after days; someone leaving and rejoining gets no second welcome).
    reply_id = f"welcome:{joined.team_id}:{joined.channel}:{joined.user}"
    _answer(request, answers.welcome(greeting, user=joined.user), reply_id=reply_id)
    store.mark_welcomed(team_id=joined.team_id, channel=joined.channel, user=joined.user)


@task(name=TaskName.ARCHIVE_MESSAGE, **_BULK_RETRY)
def archive_message(**payload: Any) -> None:
    """Keep one message event; count it once if a person wrote it."""
    message = _archived_message.validate_python(payload)
    stored = get_store().archive_message(message)
    logger.info(
        "archive %s kind=%s correlation_id=%s",
        "stored" if stored else "duplicate ignored",
        message.kind,
        message.correlation_id,
    )


@task(name=TaskName.REFRESH_AGENDA, **_BULK_RETRY)
def refresh_agenda(**payload: Any) -> None:
    """Reload the agenda and swap it in; a bad source keeps the old one."""
    request = _agenda_refresh.validate_python(payload)
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
