"""Each answer is posted once: the effect record's state machine, and the channel's pace.

``deliver(request, answer, run=...)`` is the one entry point for "post this answer once": any
effect that must happen once per task (a post, an ephemeral answer, later a view or a reaction)
goes through it or through a function built on the same transitions below.

An answer is one *effect*, keyed by its task id. The ingress derives task ids from the Slack
delivery (event id, trigger id), so Slack's retries, SQS's duplicate deliveries, retries and
redrives of one request all meet the same record, ``EFFECT#<task id>``
(``workers/state/effects.py``). Only the functions here move it.

The rule: **suspect unless proven otherwise.** From the moment a Slack call that may post is
sent, every way out leaves the record suspect (``posting_at`` kept); only an answer that proves
nothing was posted (Slack's 429, a refusal, an expired ``response_url``) clears it.

States
    (absent)    no run got this far yet
    HELD(r, v)  run ``r`` holds it; ``v`` is the record version, a fresh token on every write
    FREE        nobody holds it
    DONE        posted (``message_ts``); final
  and on HELD or FREE: ``posting_at``, stamped by the fence right before a post: an attempt not
  yet proven absent from Slack. No ``posting_at``: nothing of this answer can be in Slack.

Transitions (each one conditional DynamoDB write)
    absent  -> HELD(r)  the first run. ONE transaction: the record, the command's counter and
                        the channel's slot (if the line is still as read). Counters move only
                        here. When the slot is now, this claim is also the fence (stamps
                        ``posting_at``): the common path writes nothing more before the post.
    FREE    -> HELD(r)  a later copy, if the version is still the one it read
    HELD(o,v) -> HELD(r) a later copy that has seen version ``v`` unchanged for a whole lease
                        (``QueueSpec.lease_s``), measured without comparing clocks: the time is
                        the SQS delays its copies waited (``Defer.observed``, carried in the
                        copy's headers), never another machine's timestamp. A live holder
                        writes (fence, release, done) well within a lease, changing ``v``.
    HELD(r,v) -> HELD(r,v') the FENCE, right before every Slack post or ``response_url`` call:
                        the run is within its deadline (``Run.deadline``), owner is r and the
                        version is still ``v`` (nobody took over), stamps ``posting_at``. If it
                        fails, r lost the answer: it never posts.
    HELD(r) -> DONE     r, after Slack answered ok, or after r found the post in Slack
    HELD(r) -> FREE     r, keeping ``posting_at`` unless its own attempt was proven absent
                        (also a run past its deadline at the fence: it sent nothing, so its own
                        stamp is cleared, and its copy comes back in ``OVERDUE_DEFER_S``)

Reading it
    DONE                          ack, stop.
    HELD(o), not seen for a lease defer (an SQS delay of ``HELD_RECHECK_S``) carrying the version.
    HELD(o), seen for a lease     take it over.
    HELD(r) by this very run      a lost answer to its own write: it holds it.
    FREE                          take it over.
  then, holding it with ``posting_at`` set: look in Slack for a message carrying this task id
  in its metadata, in one window around ``posting_at`` (``SEARCH_MARGIN_S`` either side), in the
  one place the answer can be: the request's thread, or its channel or DM (where a
  ``response_url`` answer falls back to as well). Found -> DONE. Not found -> proven absent.
  A history 429 saves how far the search got (``searched``) and defers: the next copy goes on.

A crash at each point (the message in hand is acked only when the run ends)
    before the claim              nothing written; SQS redelivers; that run claims.
    after the claim, before the fence   a copy waits a lease of unchanged version, takes over,
                                  and, if the claim stamped ``posting_at``, searches (finds
                                  nothing) and posts.
    after the fence, before/after Slack took it   the same copy searches the window around
                                  ``posting_at``: finds it -> DONE, or proves it absent and posts.
    after DONE                    the redelivered copy sees DONE and acks.
    a pause (VM, container) anywhere   a frozen run that wakes after a takeover fails its fence
                                  and never posts; one that wakes past its deadline, before
                                  any takeover, is refused by its deadline at the fence. Only
                                  a pause between the last deadline check and the request
                                  leaving the process (microseconds, no I/O between) for
                                  longer than a lease could still post late.
    a run that overruns on a thread   (no time limit kills it) refused at the fence once past
                                  its deadline; it releases and defers; its copy posts.
    two runs at once              one transaction wins; the other meets HELD and defers.

Every wait is bounded: a copy's deferrals add up (``workers/outcomes.py``); past the queue's
``max_deferral_s`` the task goes to its dead-letter queue saying why.

Why the lease is long enough, on any pool
    A copy takes over a hold only after seeing one version unchanged for ``lease_s`` (the SQS
    delays of its copies). The holder wrote that version during its run, so after the run
    started. Each run has a deadline, ``QueueSpec.run_deadline_s`` (the queue's hard time limit)
    after it started, on its own monotonic clock (``TaskContext.deadline``, set by both executors
    as the task function is entered): the deadline is checked before the fence's write and again
    right before the Slack call, with no I/O between that check and the request leaving. So a
    post leaves at most ``run_deadline_s`` after the last version its run wrote, and ``lease_s``
    = ``run_deadline_s`` + 30 s leaves it 30 s to reach Slack (the posting client gives up after
    ``POST_TIMEOUT_S``) before any copy can take over and search. Two clocks measure durations
    here (SQS's delays, the run's monotonic clock); no timestamp crosses machines.
    Celery's prefork pool also kills a run at ``time_limit_s``; its thread pool (the ECS
    worker's default) kills nothing, and the Lambda executor runs a batch under one function
    timeout. None of that matters to the argument: a run past its deadline may go on running
    (a stalled read, a wait), but its fence refuses, it releases the answer (it sent nothing)
    and defers; its copy takes the answer over and posts it once.

Pace
    All workers keep each channel to Slack's pace (about one post a second) through the
    channel's item (``workers/state/pace.py``): ``next_at`` (first free slot), ``paused_until``
    and ``shift``. A claim reserves its slot in the claim transaction (optimistic on ``next_at``).
    A run whose slot is further off than ``MAX_PACE_WAIT_S`` releases the effect *keeping its
    slot* and defers until then. A 429 moves every reservation of the channel by Retry-After, once
    per pause: a run's post time is ``slot_at + (shift now - shift when reserved)``. A line or a
    pause further off than any honest one (a writer whose clock runs ahead) is not trusted.
    A ``TransactionConflict`` on the channel item is contention: retried, then deferred, never
    counted as a failure.

Limit: an ephemeral answer (a slash command's ``response_url``) leaves nothing in Slack to look
for. A run that dies after sending one and before DONE is answered again: at least once.
"""

import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from contract.command_spec import Answer
from contract.tasks import CommandRequest
from workers.outcomes import Defer, Observed, PermanentError
from workers.state.effects import ClaimTaken, EffectRecord, EffectState
from workers.state.pace import MAX_LINE_S, ChannelMoved, ChannelPace, SlotClaim
from workers.state.table import StoreContended, StoreUnavailableError
from workers.store import StateStore

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
# A copy that meets another run's hold looks again this soon (a read, no write), so a duplicate
# settles in seconds; it takes over only once it has seen the same version for a whole lease.
HELD_RECHECK_S = 5.0
# The search window around ``posting_at``: the fence's clock against Slack's (the fence stamps
# AWS's time, workers/runtime/clock.py; a minute covers what is left) plus the post's own time on the
# wire (the posting client's timeout, workers/runtime/slack.py).
SEARCH_MARGIN_S = 60.0
POST_TIMEOUT_S = 5.0
MAX_HISTORY_PAGES = 20
# Slack allows some apps at most 15 messages a page (and one history call a minute) since 2025.
HISTORY_PAGE_LIMIT = 15
# Slack errors that say the call was not carried out: nothing was posted, it may work later.
_NOT_DONE_SLACK_ERRORS = frozenset({"ratelimited", "service_unavailable", "request_timeout"})
# Slack errors after which "part of the operation may have succeeded" (Slack's own words).
_MAYBE_DONE_SLACK_ERRORS = frozenset({"internal_error", "fatal_error"})
# response_url answers that mean "this URL is gone" (it lives 30 minutes): post in the channel.
_EXPIRED_RESPONSE_URL = frozenset({404, 410})
# A TransactionConflict on the channel item is retried this often in the run before it defers.
CONTENTION_RETRIES = 3
CONTENTION_DEFER_S = 1.0
# A run past its deadline releases the answer; its copy comes back this soon and takes it over.
OVERDUE_DEFER_S = 1.0


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
        lease_s: How long a holder's version must be seen unchanged before a copy takes over
            (the queue's ``lease_s``).
        continuation: The message is a copy a run sent again: look at the record before claiming.
        owner: Unique to this execution (two copies running at once never share it).
        observed: What the runs before this copy saw of the record (``Defer.observed``).
        deadline: The run's ``time.monotonic()`` after which it must not send a call that may
            post (``TaskContext.deadline``: ``QueueSpec.run_deadline_s`` after it started);
            ``None``: none (a caller outside the executors).
    """

    task_id: str
    lease_s: float
    continuation: bool = False
    owner: str = ""
    observed: Observed | None = None
    deadline: float | None = None

    def __post_init__(self) -> None:
        if not self.owner:
            object.__setattr__(self, "owner", uuid.uuid4().hex)


class _Stage(StrEnum):
    """How far this run got with its own attempt: what its exit leaves on the record."""

    BEFORE = "before"  # nothing sent: the record's ``posting_at`` (an earlier run's) stays as is
    SENDING = "sending"  # a post may be on its way: only a proof of "not posted" clears it
    ANSWERED = "answered"  # Slack took it: suspect until DONE
    SETTLED = "settled"  # released, finished or lost: nothing more to write


@dataclass(slots=True)
class _Hold:
    """This run holds the effect (mutable: the run moves it along)."""

    version: str
    posting_at: float | None  # an earlier attempt not yet proven absent: search before posting
    searched: str | None
    slot_at: float | None
    shift_at: float
    fresh: bool = False  # reserved by this very run, just now: no 429 can have moved it yet
    fenced: bool = False  # the last write (claim or fence) stamped ``posting_at`` for this post
    stage: _Stage = _Stage.BEFORE


class _SlackSaid429(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limited for {retry_after_s} s")
        self.retry_after_s = retry_after_s


class _Uncertain(Exception):
    """The post may or may not have reached Slack."""


class _NotPosted(Exception):
    """Slack's answer proves nothing was posted; ``error`` is what the run raises."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Released(Defer):
    """A deferral raised after the run already released the effect."""


class _Overdue(Defer):
    """The run is past its deadline: it must not post. Its exit releases the effect for its copy."""


class _SearchPaused(Defer):
    """Slack limits history reads: come back later and go on from ``mark``."""

    def __init__(self, delay_s: float, reason: str, *, mark: str | None) -> None:
        super().__init__(delay_s, reason)
        self.mark = mark


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
        _NotPosted: Slack's answer proves nothing was posted (a refusal, or try later).
        _Uncertain: It may have posted (a reset, a timeout, 5xx, internal_error, fatal_error).
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
        if status >= 500 or code in _MAYBE_DONE_SLACK_ERRORS:
            raise _Uncertain(f"chat.postMessage: {code or status}") from error
        if code in _NOT_DONE_SLACK_ERRORS:
            raise _NotPosted(SlackUnavailable(f"chat.postMessage: {code}")) from error
        raise _NotPosted(ReplyRefused(f"chat.postMessage: {code or status}")) from error
    except Exception as error:  # resets, timeouts, the soft time limit: the request may have landed
        raise _Uncertain(f"chat.postMessage: {type(error).__name__}") from error
    return str(response.get("ts") or "")


def _post_ephemeral(request: CommandRequest, answer: Answer, webhook_for: Callable[[str], WebhookClient]) -> bool:
    """Answer through ``response_url``; ``False`` if the URL has expired (post in the channel instead).

    Raises:
        _Uncertain: The connection failed or Slack answered 5xx.
        _NotPosted: Slack refused it (429: later; any other 4xx: for good).
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
        raise _NotPosted(SlackUnavailable("response_url: rate limited"))
    if response.status_code not in _EXPIRED_RESPONSE_URL:
        # Refused, not expired: an ephemeral answer never becomes a public one for this.
        raise _NotPosted(ReplyRefused(f"response_url: HTTP {response.status_code} {response.body!r}"[:200]))
    logger.warning(
        "response_url expired status=%s correlation_id=%s; posting to the channel instead",
        response.status_code,
        request.correlation_id,
    )
    return False


def _history_page(
    reader: WebClient, request: CommandRequest, window: dict[str, Any], cursor: str | None, *, mark: str | None
) -> Any:
    """One page of the thread's replies or the channel's history (with metadata) in ``window``."""
    try:
        if request.thread_ts:
            return reader.conversations_replies(
                channel=request.channel,
                ts=request.thread_ts,
                include_all_metadata=True,
                limit=HISTORY_PAGE_LIMIT,
                cursor=cursor,
                **window,
            )
        return reader.conversations_history(
            channel=request.channel, include_all_metadata=True, limit=HISTORY_PAGE_LIMIT, cursor=cursor, **window
        )
    except SlackApiError as error:
        code = str(error.response.get("error", "")) if error.response is not None else ""
        status = error.response.status_code if error.response is not None else 0
        if status == 429:  # not a failure: go on after Retry-After, from where this one got
            wait = _retry_after(error.response.headers if error.response is not None else None)
            raise _SearchPaused(wait, "Slack rate limits history reads", mark=mark) from error
        if status >= 500 or code in _NOT_DONE_SLACK_ERRORS | _MAYBE_DONE_SLACK_ERRORS:
            raise SlackUnavailable(f"look for an earlier answer: {code or status}") from error
        raise ReplyRefused(f"look for an earlier answer: {code or status}") from error
    except OSError as error:
        raise SlackUnavailable(f"look for an earlier answer: {type(error).__name__}") from error


def find_posted(
    reader: WebClient, request: CommandRequest, task_id: str, *, posting_at: float, searched: str | None = None
) -> str | None:
    """The ts of a message carrying ``task_id`` as its reply id, in the window around ``posting_at``.

    The answer can only be in one place: the request's thread, or else its channel or DM (an
    expired ``response_url`` answer falls back there too). History pages come newest first and a
    thread's replies oldest first, so ``searched`` (from an interrupted search) narrows the window
    from the side already read.

    Raises:
        _SearchPaused: Slack limits history reads now (or the window is long): go on later.
        SlackUnavailable: Slack could not be read now.
        ReplyRefused: The channel cannot be read (gone, or the bot was removed).
    """
    oldest = posting_at - SEARCH_MARGIN_S
    latest = posting_at + POST_TIMEOUT_S + SEARCH_MARGIN_S
    if searched is not None:
        if request.thread_ts:
            oldest = max(oldest, float(searched))
        else:
            latest = min(latest, float(searched))
    mark = searched
    cursor: str | None = None
    window = {"oldest": f"{max(0.0, oldest):.6f}", "latest": f"{latest:.6f}", "inclusive": True}
    for _ in range(MAX_HISTORY_PAGES):
        response = _history_page(reader, request, window, cursor, mark=mark)
        messages = response.get("messages") or []
        for message in messages:
            payload: dict[str, Any] = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("reply_id") == task_id:
                return str(message.get("ts"))
        stamps = [str(m.get("ts")) for m in messages if m.get("ts") and m.get("ts") != request.thread_ts]
        if stamps:
            edge = max(stamps, key=float) if request.thread_ts else min(stamps, key=float)
            mark = edge if mark is None else (max if request.thread_ts else min)(mark, edge, key=float)
        cursor = ((response.get("response_metadata") or {}).get("next_cursor")) or None
        if not response.get("has_more") or not cursor:
            return None
    raise _SearchPaused(1.0, f"the window holds more than {MAX_HISTORY_PAGES} pages", mark=mark)


# -- the state machine ---------------------------------------------------------------------------


def _held_from(record: EffectRecord, version: str) -> _Hold:
    return _Hold(
        version=version,
        posting_at=record.posting_at,
        searched=record.searched,
        slot_at=record.slot_at,
        shift_at=record.shift_at,
    )


def _take_existing(
    store: StateStore, run: Run, record: EffectRecord | None, *, clock: Callable[[], float]
) -> _Hold | None:
    """Hold an existing record (FREE, or HELD seen unchanged for a lease); ``None`` if it is DONE.

    Raises:
        Defer: Another run holds it; the copy carries the version seen and for how long.
    """
    for _ in range(10):
        if record is None:
            raise StoreUnavailableError(f"effect {run.task_id} vanished while being claimed")
        if record.state is EffectState.DONE:
            return None
        if record.state is EffectState.HELD and record.owner == run.owner:
            return _held_from(record, record.version)  # our own write, whose answer was lost
        if record.state is EffectState.HELD:
            seen = run.observed
            seen_for = seen.for_s if seen is not None and seen.version == record.version else 0.0
            if seen_for < run.lease_s:
                wait = min(HELD_RECHECK_S, run.lease_s - seen_for)
                raise Defer(
                    wait,
                    "another run holds this answer",
                    about_result=False,
                    observed=Observed(record.version, seen_for + wait),
                )
            logger.warning("taking over an answer whose holder fell silent task_id=%s", run.task_id)
        version = store.effects.take_over(run.task_id, seen=record, owner=run.owner, now=clock())
        if version is not None:
            return _held_from(record, version)
        record = store.effects.read(run.task_id)  # it moved since it was read: look again
    raise StoreContended(f"effect {run.task_id}: too much contention")


def _hold(
    store: StateStore,
    run: Run,
    request: CommandRequest,
    *,
    count_as: str | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> _Hold | None:
    """Get this run the effect (the first claim reserves the channel slot and counts the command)."""
    if run.continuation or run.observed is not None:
        record = store.effects.read(run.task_id)
        if record is not None:
            return _take_existing(store, run, record, clock=clock)
    paced = request.response_url is None
    pace = store.pace.read(request.team_id, request.channel) if paced else None
    count = (request.team_id, request.channel, count_as) if count_as else None
    conflicts = 0
    for _ in range(20):
        now = clock()
        slot = (
            SlotClaim(request.team_id, request.channel, pace.first_free(now), CHANNEL_POST_INTERVAL_S, pace)
            if pace is not None
            else None
        )
        posting_now = slot is None or slot.slot_at <= now
        try:
            result = store.effects.claim(
                run.task_id, owner=run.owner, now=now, posting=posting_now, count=count, slot=slot
            )
        except StoreContended:
            conflicts += 1
            if conflicts >= CONTENTION_RETRIES:
                raise
            sleep(random.uniform(0.02, 0.1) * 2**conflicts)  # noqa: S311 - jitter, not a secret
            continue
        if isinstance(result, ClaimTaken):
            return _Hold(
                version=result.version,
                posting_at=None,
                searched=None,
                slot_at=slot.slot_at if slot else None,
                shift_at=pace.shift if pace else 0.0,
                fresh=True,
                fenced=posting_now,
            )
        if isinstance(result, ChannelMoved):  # another post took the slot first: take the next
            pace = result.pace or store.pace.read(request.team_id, request.channel)
            continue
        return _take_existing(store, run, result.record, clock=clock)
    raise StoreContended(f"channel {request.channel}: too much contention for a slot")


def _in_time(run: Run, monotonic: Callable[[], float]) -> None:
    """Refuse a Slack call that may post once the run is past its deadline (``Run.deadline``).

    Checked before the fence's write and again right before the call, with no I/O between that
    check and the request leaving: a post leaves no later than ``run_deadline_s`` after the run
    started, on any pool (Celery's thread pool kills nothing at ``time_limit_s``).

    Raises:
        _Overdue: Past the deadline; nothing was sent by this attempt (``deliver`` releases).
    """
    if run.deadline is not None and monotonic() >= run.deadline:
        logger.warning("past its deadline, not posting task_id=%s", run.task_id)
        raise _Overdue(OVERDUE_DEFER_S, "the run went past its deadline before posting")


def _fence(
    store: StateStore, run: Run, hold: _Hold, *, now: float, monotonic: Callable[[], float] = time.monotonic
) -> None:
    """Right before a Slack call that may post: prove this run still holds the answer, stamp ``posting_at``.

    Raises:
        _Released: Another run took the answer over: this one must not post (it writes nothing).
        _Overdue: The run is past its deadline: it must not post (the caller's exit releases).
    """
    _in_time(run, monotonic)
    if hold.fenced:
        return
    version = store.effects.fence(run.task_id, owner=run.owner, version=hold.version, now=now)
    if version is None:
        record = store.effects.read(run.task_id)
        if record is not None and record.state is EffectState.HELD and record.owner == run.owner:
            version = record.version  # our fence went through; only its answer was lost
        else:
            hold.stage = _Stage.SETTLED
            logger.warning("lost the answer to a takeover before posting task_id=%s", run.task_id)
            observed = Observed(record.version, 0.0) if record is not None else None
            raise _Released(HELD_RECHECK_S, "another run took this answer over", about_result=False, observed=observed)
    hold.version, hold.fenced = version, True


def _mark_done(store: StateStore, run: Run, hold: _Hold, message_ts: str | None) -> None:
    """HELD(r) -> DONE once Slack has the answer (a failure here leaves it suspect: see ``deliver``)."""
    done = store.effects.finish(run.task_id, owner=run.owner, message_ts=message_ts)
    hold.stage = _Stage.SETTLED
    if not done:
        # Only a pause between the fence and the request leaving could get here (see the docstring).
        logger.error("posted after losing the answer task_id=%s", run.task_id)


def _when_to_post(hold: _Hold, pace: ChannelPace, now: float) -> float:
    """The run's post time: its slot, moved by every 429 pause since it was reserved."""
    assert hold.slot_at is not None
    return max(hold.slot_at + (pace.shift - hold.shift_at), pace.paused_until_at(now))


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
    monotonic: Callable[[], float] = time.monotonic,
) -> Delivery:
    """Post ``answer`` to ``request`` once per task id, in the channel's turn.

    Slash commands answer ephemerally through ``response_url``; if that URL has expired (it
    lives 30 minutes) the answer goes to the channel with ``chat.postMessage``.

    Args:
        count_as: The command to count one use of (with the claim), or ``None`` to count nothing.
        web: Posts; must not retry (a retried post can post twice).
        reader: Reads history; may retry.
        monotonic: The clock ``run.deadline`` is on (``time.monotonic``).

    Raises:
        Defer: Not now (another run holds the answer, the channel's turn is far off, Slack said
            429, the channel item is contended, the run went past its deadline before posting);
            ``observed`` is for the copy.
        SlackUnavailable: Slack failed; retry later.
        ReplyRefused: Slack will never take this answer.
        workers.state.table.StoreUnavailableError: DynamoDB failed; retry later.
    """
    answer = Answer(answer) if isinstance(answer, str) else answer
    try:
        hold = _hold(store, run, request, count_as=count_as, clock=clock, sleep=sleep)
    except StoreContended as error:
        raise Defer(CONTENTION_DEFER_S, f"contention on channel {request.channel}: {error}") from error
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
            monotonic=monotonic,
        )
    except Exception as error:  # the soft time limit too (an Exception): every exit settles the record
        _settle_exit(store, run, hold, error, now=clock())
        if isinstance(error, _Uncertain):
            raise SlackUnavailable(str(error)) from error
        if isinstance(error, _NotPosted):
            raise error.error from error
        if isinstance(error, StoreContended):
            raise Defer(CONTENTION_DEFER_S, f"contention on channel {request.channel}: {error}") from error
        raise


def _settle_exit(store: StateStore, run: Run, hold: _Hold, error: BaseException, *, now: float) -> None:
    """Release the effect on the way out: suspect unless this run's own attempt was proven absent."""
    if hold.stage is _Stage.SETTLED:
        return
    # Cleared only if no earlier attempt is left unproven and this run's own attempt, if it made
    # one, was answered with a proof that nothing was posted.
    proven = hold.posting_at is None and (
        hold.stage is _Stage.BEFORE or (hold.stage is _Stage.SENDING and isinstance(error, _NotPosted))
    )
    searched = error.mark if isinstance(error, _SearchPaused) else None
    try:
        store.effects.release(
            run.task_id,
            owner=run.owner,
            now=now,
            proven_absent=proven,
            searched=searched,
            slot_at=hold.slot_at,
            shift_at=hold.shift_at,
        )
    except Exception as release_error:  # the record stays HELD: a copy takes over after a lease
        logger.warning("could not release task_id=%s: %s", run.task_id, type(release_error).__name__)
    hold.stage = _Stage.SETTLED


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
    monotonic: Callable[[], float],
) -> Delivery:
    if hold.posting_at is not None:
        posted_ts = find_posted(reader, request, run.task_id, posting_at=hold.posting_at, searched=hold.searched)
        if posted_ts:
            _mark_done(store, run, hold, posted_ts)
            logger.info("earlier run had posted task_id=%s correlation_id=%s", run.task_id, request.correlation_id)
            return Delivery.FOUND_POSTED
        hold.posting_at = None  # proven absent: the fence below replaces it with this run's
    if request.response_url:
        _fence(store, run, hold, now=clock(), monotonic=monotonic)
        _in_time(run, monotonic)  # nothing between this check and the request leaving
        hold.stage = _Stage.SENDING
        if _post_ephemeral(request, answer, webhook_for):
            hold.stage = _Stage.ANSWERED
            _mark_done(store, run, hold, None)
            return Delivery.POSTED
        # The URL has expired (nothing was posted): the channel, in its turn, fenced again.
        hold.stage, hold.fenced = _Stage.BEFORE, False
        if hold.slot_at is None:
            slot_at, pace = store.pace.reserve_slot(
                request.team_id, request.channel, interval_s=CHANNEL_POST_INTERVAL_S, now=clock()
            )
            hold.slot_at, hold.shift_at, hold.fresh = slot_at, pace.shift, False
    if hold.slot_at is None:
        raise StoreUnavailableError(f"effect {run.task_id} holds no channel slot")
    _wait_for_turn(request, hold, run=run, store=store, clock=clock, sleep=sleep)
    _fence(store, run, hold, now=clock(), monotonic=monotonic)
    _in_time(run, monotonic)  # nothing between this check and the request leaving
    hold.stage = _Stage.SENDING
    try:
        ts = _post_to_channel(web, request, answer, run.task_id)
    except _SlackSaid429 as limited:
        now = clock()
        pace = store.pace.pause(request.team_id, request.channel, now=now, retry_after_s=limited.retry_after_s)
        store.effects.release(
            run.task_id, owner=run.owner, now=now, proven_absent=True, slot_at=hold.slot_at, shift_at=hold.shift_at
        )
        hold.stage = _Stage.SETTLED
        wait = _when_to_post(hold, pace, now) - now - EARLY_RETURN_S
        raise _Released(wait, f"Slack rate limits channel {request.channel}") from limited
    hold.stage = _Stage.ANSWERED
    _mark_done(store, run, hold, ts)
    return Delivery.POSTED


def _wait_for_turn(
    request: CommandRequest,
    hold: _Hold,
    *,
    run: Run,
    store: StateStore,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    """Return at the run's turn to post (``hold`` updated with the slot it posts in); defer if far.

    A 429 may move the line while a run waits, so the line is read again after every wait. A run
    whose turn went by while it was away (a busy worker, SQS delivering late) takes a new slot
    rather than post out of turn on top of the run whose turn it is now; so does one whose slot
    is further off than any honest line (reserved by a worker whose clock runs ahead).

    Raises:
        _Released: The turn is far off: the effect was released keeping the slot; come back then.
    """
    assert hold.slot_at is not None
    if hold.fresh and hold.slot_at <= clock():
        return  # reserved by this run a moment ago (its claim was its fence): no pause moved it
    for _ in range(10):
        pace = store.pace.read(request.team_id, request.channel)
        now = clock()
        at = _when_to_post(hold, pace, now)
        if at < now - LATE_TOLERANCE_S or at > now + MAX_LINE_S:
            slot_at, pace = store.pace.reserve_slot(
                request.team_id, request.channel, interval_s=CHANNEL_POST_INTERVAL_S, now=now
            )
            hold.slot_at, hold.shift_at, hold.fresh = slot_at, pace.shift, False
            at = slot_at
        if at <= now:
            return
        if at - now > MAX_PACE_WAIT_S:
            store.effects.release(
                run.task_id,
                owner=run.owner,
                now=now,
                proven_absent=hold.posting_at is None,  # nothing sent yet, and no earlier attempt left
                slot_at=hold.slot_at,
                shift_at=hold.shift_at,
            )
            hold.stage = _Stage.SETTLED
            # Come back a little early and wait out the rest here, to post on the slot itself: a
            # copy arriving late would bunch up with the next one (SQS delays are whole seconds).
            raise _Released(at - now - EARLY_RETURN_S, f"channel {request.channel} posts at its turn")
        hold.fenced = False  # time passes while it waits: fence again right before the post
        sleep(at - now)
    raise StoreUnavailableError(f"channel {request.channel}: the line kept moving")
