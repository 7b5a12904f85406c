"""Each answer is posted once: the effect record's state machine, and the channel's pace.

An answer is one *effect*, keyed by its task id. The ingress derives task ids from the Slack
delivery (event id, trigger id), so Slack's retries, SQS's duplicate deliveries, retries and
redrives of one request all meet the same record, ``EFFECT#<task id>`` (``workers/store.py``).
Only the functions here move it.

States
    (absent)   no run got this far yet
    HELD(r)    run ``r`` may be posting, until its lease ends (``QueueSpec.lease_s``: longer
               than Celery lets a run live, so a live lease means a live owner)
    FREE       nobody holds it; ``suspect`` says an earlier run may have reached Slack
    DONE       posted (``message_ts``); final

Transitions (who moves it: the DynamoDB write)
    absent  -> HELD(r)  the first run. ONE transaction: the record (if absent), the command's
                        counter and the channel's next post slot (if still the one it read).
                        Counters move only here, so no copy of the task counts twice.
    FREE    -> HELD(r)  a later copy (a deferred one, a retry, a redelivery), if still as read
    HELD(o) -> HELD(r)  a later copy, once o's lease is over (o died or hung)
    HELD(r) -> DONE     r, after Slack answered ok, or after r found the post already in Slack
    HELD(r) -> FREE     r, when it knows nothing was posted (its slot is far off, Slack said 429
                        or refused); with ``suspect`` when it cannot know (reset, timeout, 5xx)

Reading it
    DONE                    ack, stop.
    HELD(o), lease live     never post: defer (an SQS delay) and look again later.
    expired HELD, suspect   take it over, then look in Slack for a message carrying this task
                            id in its metadata (paged) before posting.
    FREE, not suspect       take it over and post.

A crash at each point (the message in hand is acked only when the run ends)
    before the claim           nothing written; SQS redelivers; that run claims.
    after the claim            HELD(r) expires; the redelivered copy takes over, finds no post
                               in Slack, posts. The counter was counted once, by the claim.
    after Slack posted         HELD(r) expires; the next copy finds the post in Slack -> DONE.
    after DONE                 the redelivered copy sees DONE and acks.
    after FREE, before the delayed copy was sent   SQS redelivers the message; it claims FREE.
    after the copy, before the ack                 two copies: one posts, the other meets
                                                   HELD (defers) or DONE (acks).
    two runs at once           one transaction wins; the other meets HELD(live) and defers.

Pace
    All workers keep each channel to Slack's pace (about one post a second) through the
    channel's item: ``next_at`` (first free slot), ``paused_until`` and ``shift``. A claim
    reserves its slot in the claim transaction (optimistic on ``next_at``), so the common case
    costs no extra write. A run whose slot is further off than ``MAX_PACE_WAIT_S`` releases the
    effect *keeping its slot* and defers until then: it keeps its place in line. A 429 moves every
    reservation of the channel by Retry-After, once per pause (``StateStore.pause_channel``):
    a run's post time is ``slot_at + (shift now - shift when reserved)``, so the line keeps its
    order and no run ever books a new slot at its end (the old design's livelock).

Limit: an ephemeral answer (a slash command's ``response_url``) leaves nothing in Slack to look
for. A run that dies after posting one and before DONE is answered again: at least once.
"""

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from contract.tasks import CommandRequest
from workers.outcomes import Defer, PermanentError
from workers.services.answers import Answer
from workers.store import (
    ChannelMoved,
    ChannelPace,
    ClaimTaken,
    EffectRecord,
    EffectState,
    SlotClaim,
    StateStore,
    StoreUnavailableError,
)

logger = logging.getLogger(__name__)

REPLY_EVENT_TYPE = "charla_reply"
# Slack allows about one message per second per channel.
CHANNEL_POST_INTERVAL_S = 1.0
# A run waits in the worker for its slot this long at most; beyond it, it defers (SQS delay).
MAX_PACE_WAIT_S = 3.0
# A deferred copy is due back this long before its slot (then waits in the worker to the slot).
EARLY_RETURN_S = 1.5
# A run this late for its turn takes a new one: posting now would land on the next run's turn.
LATE_TOLERANCE_S = 0.5
# A copy that meets another run's live lease looks again this soon (a read, no write), so a
# duplicate settles in seconds rather than a whole lease.
HELD_RECHECK_S = 5.0
# How far back to look for an earlier run's post, and how many pages to read at most.
LOOKBACK_S = 5.0
MAX_HISTORY_PAGES = 20
# Slack allows some apps at most 15 messages a page (and one history call a minute) since 2025.
HISTORY_PAGE_LIMIT = 15
# Slack errors after which the same call may succeed later (nothing was posted).
_RETRYABLE_SLACK_ERRORS = frozenset(
    {"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)
# response_url answers that mean "this URL is gone": post to the channel instead.
_EXPIRED_RESPONSE_URL = frozenset({404, 410})


class SlackUnavailable(RuntimeError):
    """Slack failed or could not be reached: retry the task later (a retryable failure)."""


class ReplyRefused(PermanentError):
    """Slack refused the answer for good (channel gone, bot not in it, bad token)."""


class Delivery(StrEnum):
    """What ``deliver`` did."""

    POSTED = "posted"
    ALREADY_DONE = "already done"  # the record said DONE
    FOUND_POSTED = "found posted"  # an earlier run had posted; this one marked it DONE


@dataclass(frozen=True, slots=True)
class Run:
    """One execution of a task: who it is to the effect record.

    Attributes:
        task_id: The effect's key.
        lease_s: How long a claim by this run is trusted (the queue's ``lease_s``).
        continuation: The message is a copy a run sent again: look at the record before claiming.
        owner: Unique to this execution (two copies running at once never share it).
    """

    task_id: str
    lease_s: float
    continuation: bool = False
    owner: str = ""

    def __post_init__(self) -> None:
        if not self.owner:
            object.__setattr__(self, "owner", uuid.uuid4().hex)


@dataclass(frozen=True, slots=True)
class _Hold:
    """This run holds the effect: whether Slack must be checked first, and its slot if any."""

    suspect: bool
    slot_at: float | None
    shift_at: float
    fresh: bool = False  # reserved by this very run, just now: no 429 can have moved it yet


class _SlackSaid429(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limited for {retry_after_s} s")
        self.retry_after_s = retry_after_s


class _Uncertain(Exception):
    """The post may or may not have reached Slack."""


# -- Slack calls ---------------------------------------------------------------------------------


def _retry_after(headers: Mapping[str, Any] | None) -> float:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(1.0, float(raw))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def _post_to_channel(web: WebClient, request: CommandRequest, answer: Answer, task_id: str) -> str:
    """``chat.postMessage`` once (the client never retries it); the new message's ts.

    Raises:
        _SlackSaid429: Nothing was posted; wait Retry-After.
        ReplyRefused: Nothing was posted, and it never will be.
        SlackUnavailable: Nothing was posted (Slack said a retryable error).
        _Uncertain: The connection failed or Slack answered 5xx: it may have posted.
    """
    try:
        response = web.chat_postMessage(
            channel=request.channel,
            text=answer.text,
            blocks=answer.blocks,
            thread_ts=request.thread_ts,
            metadata={"event_type": REPLY_EVENT_TYPE, "event_payload": {"reply_id": task_id}},
        )
    except SlackApiError as error:
        status = error.response.status_code if error.response is not None else 0
        code = str(error.response.get("error", "")) if error.response is not None else ""
        if status == 429:
            raise _SlackSaid429(_retry_after(error.response.headers if error.response is not None else None)) from error
        if status >= 500:
            raise _Uncertain(f"chat.postMessage: HTTP {status}") from error
        if code in _RETRYABLE_SLACK_ERRORS:
            raise SlackUnavailable(f"chat.postMessage: {code}") from error
        raise ReplyRefused(f"chat.postMessage: {code or status}") from error
    except Exception as error:  # resets, timeouts, the soft time limit: the request may have landed
        raise _Uncertain(f"chat.postMessage: {type(error).__name__}") from error
    return str(response.get("ts") or "")


def find_posted(reader: WebClient, request: CommandRequest, task_id: str) -> str | None:
    """The ts of a message carrying ``task_id`` as its reply id, if Slack has one (every page read).

    Raises:
        SlackUnavailable: Slack could not be read now.
        ReplyRefused: The channel cannot be read (gone, or the bot was removed).
    """
    oldest = str(max(0.0, request.requested_at - LOOKBACK_S))
    cursor: str | None = None
    for _ in range(MAX_HISTORY_PAGES):
        try:
            if request.thread_ts:
                response = reader.conversations_replies(
                    channel=request.channel,
                    ts=request.thread_ts,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=HISTORY_PAGE_LIMIT,
                    cursor=cursor,
                )
            else:
                response = reader.conversations_history(
                    channel=request.channel,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=HISTORY_PAGE_LIMIT,
                    cursor=cursor,
                )
        except SlackApiError as error:
            code = str(error.response.get("error", "")) if error.response is not None else ""
            status = error.response.status_code if error.response is not None else 0
            if status == 429:  # not a failure: look again after Retry-After (never slept in the task)
                wait = _retry_after(error.response.headers if error.response is not None else None)
                raise Defer(wait, "Slack rate limits history reads") from error
            if status >= 500 or code in _RETRYABLE_SLACK_ERRORS:
                raise SlackUnavailable(f"look for an earlier answer: {code or status}") from error
            raise ReplyRefused(f"look for an earlier answer: {code or status}") from error
        except OSError as error:
            raise SlackUnavailable(f"look for an earlier answer: {type(error).__name__}") from error
        for message in response.get("messages") or []:
            payload: dict[str, Any] = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("reply_id") == task_id:
                return str(message.get("ts"))
        cursor = ((response.get("response_metadata") or {}).get("next_cursor")) or None
        if not response.get("has_more") or not cursor:
            return None
    raise SlackUnavailable(f"look for an earlier answer: more than {MAX_HISTORY_PAGES} pages")


# -- the state machine ---------------------------------------------------------------------------


def _take_existing(
    store: StateStore, run: Run, record: EffectRecord | None, *, clock: Callable[[], float]
) -> _Hold | None:
    """Hold an existing record (FREE, or HELD with its lease over); ``None`` if it is DONE.

    Raises:
        Defer: Another run holds it now.
    """
    for _ in range(10):
        if record is None:
            raise StoreUnavailableError(f"effect {run.task_id} vanished while being claimed")
        now = clock()
        if record.state is EffectState.DONE:
            return None
        if record.state is EffectState.HELD and record.lease_until > now:
            wait = min(record.lease_until - now, HELD_RECHECK_S)
            raise Defer(wait, "another run holds this answer", about_result=False)
        # An expired hold may have posted before its owner died: treat it as suspect.
        suspect = record.suspect or record.state is EffectState.HELD
        if store.take_over_effect(run.task_id, seen=record, owner=run.owner, lease_until=now + run.lease_s, now=now):
            return _Hold(suspect=suspect, slot_at=record.slot_at, shift_at=record.shift_at)
        record = store.read_effect(run.task_id)  # another copy moved it first: look again
    raise StoreUnavailableError(f"effect {run.task_id}: too much contention")


def _hold(
    store: StateStore, run: Run, request: CommandRequest, *, count_as: str | None, clock: Callable[[], float]
) -> _Hold | None:
    """Get this run the effect (the first claim reserves the channel slot and counts the command)."""
    if run.continuation:
        record = store.read_effect(run.task_id)
        if record is not None:
            return _take_existing(store, run, record, clock=clock)
    paced = request.response_url is None
    pace = store.channel_pace(request.team_id, request.channel) if paced else None
    count = (request.team_id, request.channel, count_as) if count_as else None
    for _ in range(20):
        now = clock()
        slot = (
            SlotClaim(request.team_id, request.channel, pace.first_free(now), CHANNEL_POST_INTERVAL_S, pace)
            if pace is not None
            else None
        )
        result = store.claim_effect(
            run.task_id, owner=run.owner, lease_until=now + run.lease_s, now=now, count=count, slot=slot
        )
        if isinstance(result, ClaimTaken):
            return _Hold(
                suspect=False,
                slot_at=slot.slot_at if slot else None,
                shift_at=pace.shift if pace else 0.0,
                fresh=True,
            )
        if isinstance(result, ChannelMoved):
            pace = result.pace  # another post took the slot first: take the next
            continue
        return _take_existing(store, run, result.record, clock=clock)
    raise StoreUnavailableError(f"channel {request.channel}: too much contention for a slot")


def _mark_done(store: StateStore, run: Run, message_ts: str | None) -> None:
    """HELD(r) -> DONE after Slack has the answer; a store failure here leaves it suspect."""
    try:
        done = store.finish_effect(run.task_id, owner=run.owner, message_ts=message_ts)
    except StoreUnavailableError as error:
        raise _Uncertain(f"posted, not yet marked done: {error}") from error
    if not done:
        # This run's lease ran out and another took over; that run finds this post in Slack.
        logger.warning("posted after losing the claim task_id=%s", run.task_id)


def _when_to_post(hold: _Hold, pace: ChannelPace) -> float:
    """The run's post time: its slot, moved by every 429 pause since it was reserved."""
    assert hold.slot_at is not None
    return max(hold.slot_at + (pace.shift - hold.shift_at), pace.paused_until)


def deliver(
    request: CommandRequest,
    answer: Answer | str,
    *,
    run: Run,
    count_as: str | None,
    web: WebClient,
    reader: WebClient,
    webhook_for: Callable[[str], WebhookClient],
    store: StateStore,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Post ``answer`` to ``request`` once per task id, in the channel's turn.

    Slash commands answer ephemerally through ``response_url``; if that URL has expired (it
    lives 30 minutes) the answer goes to the channel with ``chat.postMessage``.

    Args:
        count_as: The command to count one use of (with the claim), or ``None`` to count nothing.
        web: Posts; must not retry (a retried post can post twice).
        reader: Reads history; may retry.

    Raises:
        Defer: Not now (another run holds the answer, the channel's turn is far off, Slack said 429).
        SlackUnavailable: Slack failed; retry later.
        ReplyRefused: Slack will never take this answer.
        workers.store.StoreUnavailableError: DynamoDB failed; retry later.
    """
    answer = Answer(answer) if isinstance(answer, str) else answer
    hold = _hold(store, run, request, count_as=count_as, clock=clock)
    if hold is None:
        logger.info("answer already posted task_id=%s correlation_id=%s", run.task_id, request.correlation_id)
        return Delivery.ALREADY_DONE
    try:
        return _post_held(
            request,
            answer,
            hold,
            run=run,
            web=web,
            reader=reader,
            webhook_for=webhook_for,
            store=store,
            clock=clock,
            sleep=sleep,
        )
    except _Uncertain as error:
        _release(store, run, hold, now=clock(), suspect=True)
        raise SlackUnavailable(str(error)) from error
    except _Released:
        raise
    except Exception:
        # Nothing reached Slack on these paths (refused, a retryable Slack error, a store or
        # lookup failure): free the effect for the next copy, keeping what it knew.
        _release(store, run, hold, now=clock(), suspect=hold.suspect)
        raise


class _Released(Defer):
    """A deferral raised after the run already released the effect (keeping its slot)."""


def _release(store: StateStore, run: Run, hold: _Hold, *, now: float, suspect: bool) -> None:
    store.release_effect(
        run.task_id, owner=run.owner, suspect=suspect, now=now, slot_at=hold.slot_at, shift_at=hold.shift_at
    )


def _post_held(
    request: CommandRequest,
    answer: Answer,
    hold: _Hold,
    *,
    run: Run,
    web: WebClient,
    reader: WebClient,
    webhook_for: Callable[[str], WebhookClient],
    store: StateStore,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Delivery:
    if hold.suspect and not request.response_url:
        posted_ts = find_posted(reader, request, run.task_id)
        if posted_ts:
            _mark_done(store, run, posted_ts)
            logger.info("earlier run had posted task_id=%s correlation_id=%s", run.task_id, request.correlation_id)
            return Delivery.FOUND_POSTED
    if request.response_url:
        if _post_ephemeral(request, answer, webhook_for):
            _mark_done(store, run, None)
            return Delivery.POSTED
        if hold.slot_at is None:  # the URL has expired: the channel, in its turn
            slot_at, pace = store.reserve_slot(
                request.team_id, request.channel, interval_s=CHANNEL_POST_INTERVAL_S, now=clock()
            )
            hold = _Hold(suspect=hold.suspect, slot_at=slot_at, shift_at=pace.shift)
    if hold.slot_at is None:
        raise StoreUnavailableError(f"effect {run.task_id} holds no channel slot")
    hold = _wait_for_turn(request, hold, run=run, store=store, clock=clock, sleep=sleep)
    try:
        ts = _post_to_channel(web, request, answer, run.task_id)
    except _SlackSaid429 as limited:
        now = clock()
        pace = store.pause_channel(request.team_id, request.channel, now=now, retry_after_s=limited.retry_after_s)
        _release(store, run, hold, now=now, suspect=hold.suspect)
        wait = _when_to_post(hold, pace) - now - EARLY_RETURN_S
        raise _Released(wait, f"Slack rate limits channel {request.channel}") from limited
    _mark_done(store, run, ts)
    return Delivery.POSTED


def _wait_for_turn(
    request: CommandRequest,
    hold: _Hold,
    *,
    run: Run,
    store: StateStore,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> _Hold:
    """Return at the run's turn to post (with the slot it posts in); defer if the turn is far.

    A 429 may move the line while a run waits, so the line is read again after every wait. A run
    whose turn went by while it was away (a busy worker, SQS delivering late) takes a new slot
    rather than post out of turn on top of the run whose turn it is now.

    Raises:
        _Released: The turn is far off: the effect was released keeping the slot; come back then.
    """
    assert hold.slot_at is not None
    if hold.fresh and hold.slot_at <= clock():
        return hold  # reserved by this run a moment ago: no pause can have moved it yet
    for _ in range(10):
        pace = store.channel_pace(request.team_id, request.channel)
        at, now = _when_to_post(hold, pace), clock()
        if at < now - LATE_TOLERANCE_S:
            slot_at, pace = store.reserve_slot(
                request.team_id, request.channel, interval_s=CHANNEL_POST_INTERVAL_S, now=now
            )
            hold = _Hold(suspect=hold.suspect, slot_at=slot_at, shift_at=pace.shift)
            at = slot_at
        if at <= now:
            return hold
        if at - now > MAX_PACE_WAIT_S:
            _release(store, run, hold, now=now, suspect=hold.suspect)
            # Come back a little early and wait out the rest here, to post on the slot itself: a
            # copy arriving late would bunch up with the next one (SQS delays are whole seconds).
            raise _Released(at - now - EARLY_RETURN_S, f"channel {request.channel} posts at its turn")
        sleep(at - now)
    raise StoreUnavailableError(f"channel {request.channel}: the line kept moving")


def _post_ephemeral(request: CommandRequest, answer: Answer, webhook_for: Callable[[str], WebhookClient]) -> bool:
    """Answer through ``response_url``; ``False`` if the URL has expired (post in the channel instead).

    Raises:
        _Uncertain: The connection failed or Slack answered 5xx.
        SlackUnavailable: Slack said to try later (429).
    """
    assert request.response_url
    try:
        response = webhook_for(request.response_url).send(
            text=answer.text,
            blocks=answer.blocks,
            response_type="ephemeral",
            replace_original=answer.replace_original,
        )
    except Exception as error:  # as for chat.postMessage: it may have landed
        raise _Uncertain(f"response_url: {type(error).__name__}") from error
    if response.status_code == 200:
        return True
    if response.status_code >= 500:
        raise _Uncertain(f"response_url: HTTP {response.status_code}")
    if response.status_code == 429:
        raise SlackUnavailable("response_url: rate limited")
    logger.warning(
        "response_url failed status=%s correlation_id=%s; posting to the channel instead",
        response.status_code,
        request.correlation_id,
    )
    return False
