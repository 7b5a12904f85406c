"""Slack effects beside answers (issue #23): the Home view, the 👀 reaction, the failure notice.

Each is keyed like an answer and goes through the same effect records (``EFFECT#<key>``,
``workers/store.py``), from the outside and with the store's existing transitions only:

    (absent) --claim_effect--> HELD(r) --act, then finish_effect--> DONE
    HELD(r) --act failed, release_effect--> FREE --a later copy, take_over_effect--> HELD(r')
    HELD(o), lease live: defer (``Defer``), as an answer does; DONE: skip, no Slack call.

Unlike a message post, every effect here is safe to repeat: ``views.publish`` replaces the view,
``reactions.add``/``remove`` answer ``already_reacted``/``no_reaction``, an ephemeral notice is
"at least once" as a slash command's answer is (``replies`` says why). So a run that dies after
acting needs no look in Slack: a later copy simply acts again. Records carry no channel slot and
no counter; ``claim_effect`` is called with neither. What this relies on, for a port onto the new
machinery: ``read_effect``, ``claim_effect(count=None, slot=None)``, ``take_over_effect``,
``finish_effect``, ``release_effect``, ``channel_pace``, ``reserve_slot``, ``pause_channel``.

Pace: a notice is a message in a channel, so it takes a slot in the channel's line like an answer
(``reserve_slot``), waiting for it in the worker up to ``MAX_WAIT_S``, else deferring without
booking. ``views.publish`` (per user) and reactions (per message) post no message: Slack rates
them per method (Tier 4, Tier 3), not per channel; a 429 defers the task by Retry-After.
"""

import logging
import time
import uuid
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from workers.outcomes import Defer, PermanentError
from workers.store import ClaimTaken, EffectRecord, EffectState, StateStore

logger = logging.getLogger(__name__)

# Same figures as the answers' line (``replies``): one post a second a channel, wait 3 s at most.
CHANNEL_POST_INTERVAL_S = 1.0
MAX_WAIT_S = 3.0
# Slack errors that say the effect is already in place (a repeat): success.
ALREADY = frozenset({"already_reacted", "no_reaction"})
# Slack errors after which the same call may succeed later.
_RETRYABLE = frozenset({"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"})


class EffectRefused(PermanentError):
    """Slack refused the effect for good (missing scope, message gone, bad token)."""


def state_of(store: StateStore, key: str) -> EffectState | None:
    """Where the effect ``key`` stands (``None``: never claimed)."""
    record = store.read_effect(key)
    return record.state if record is not None else None


def _hold(store: StateStore, key: str, *, owner: str, record: EffectRecord | None, lease_s: float, now: float) -> bool:
    """Hold ``key`` for ``owner``; ``False`` if it is DONE. Raises ``Defer`` if another run holds it."""
    if record is None:
        claimed = store.claim_effect(key, owner=owner, lease_until=now + lease_s, now=now)
        if isinstance(claimed, ClaimTaken):
            return True
        record = getattr(claimed, "record", None)
        if record is None:  # pragma: no cover - only a claim with a slot can meet ChannelMoved
            raise Defer(1.0, f"effect {key}: claim raced", about_result=False)
    if record.state is EffectState.DONE:
        return False
    if record.state is EffectState.HELD and record.lease_until > now:
        raise Defer(min(record.lease_until - now, 5.0), f"another run holds effect {key}", about_result=False)
    if not store.take_over_effect(key, seen=record, owner=owner, lease_until=now + lease_s, now=now):
        raise Defer(1.0, f"effect {key} moved while taken over", about_result=False)
    return True


def once(
    store: StateStore,
    key: str,
    act: Callable[[], None],
    *,
    lease_s: float,
    clock: Callable[[], float] = time.time,
) -> bool:
    """Run ``act`` once per ``key`` (see the module's state machine); ``False`` if it was done before.

    A read first: a key already DONE (a redelivery, the same Home view again) costs one read, no write.

    Raises:
        Defer: Another run holds the effect now.
        Whatever ``act`` raises, after releasing the effect for a later copy.
    """
    owner = uuid.uuid4().hex
    if not _hold(store, key, owner=owner, record=store.read_effect(key), lease_s=lease_s, now=clock()):
        return False
    try:
        act()
    except BaseException:
        store.release_effect(key, owner=owner, suspect=False, now=clock())
        raise
    store.finish_effect(key, owner=owner, message_ts=None)
    return True


def slack_call(what: str, call: Callable[[], object]) -> None:
    """Make a Slack call whose repeat is harmless; map its errors to the task's outcomes.

    Raises:
        Defer: Slack said 429 (after Retry-After).
        EffectRefused: Slack refused for good.
        RuntimeError: A failure that may pass (retried with backoff by the executor).
    """
    try:
        call()
    except SlackApiError as error:
        response = error.response
        code = str(response.get("error", "")) if response is not None else ""
        status = response.status_code if response is not None else 0
        if code in ALREADY:
            return
        if status == 429:
            headers = response.headers if response is not None else {}
            retry_after = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), "1")
            raise Defer(
                max(1.0, float(retry_after[0] if isinstance(retry_after, list) else retry_after)), what
            ) from error
        if status >= 500 or code in _RETRYABLE:
            raise RuntimeError(f"{what}: {code or status}") from error
        raise EffectRefused(f"{what}: {code or status}") from error


def wait_for_channel_turn(
    store: StateStore,
    team_id: str,
    channel: str,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return at a slot of the channel's line (a message post); defer if the line is long.

    Raises:
        Defer: The channel's next free slot is more than ``MAX_WAIT_S`` away (nothing booked).
    """
    now = clock()
    pace = store.channel_pace(team_id, channel)
    first = max(pace.first_free(now), pace.paused_until)
    if first - now > MAX_WAIT_S:
        raise Defer(first - now, f"channel {channel} is busy", about_result=False)
    slot_at, _ = store.reserve_slot(team_id, channel, interval_s=CHANNEL_POST_INTERVAL_S, now=now)
    if slot_at > now:
        sleep(min(slot_at - now, MAX_WAIT_S))
