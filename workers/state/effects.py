"""One answer's effect record, ``EFFECT#<effect id>`` / ``EFFECT``: the writes behind "each
answer is posted once". ``workers/services/replies.py`` owns the state machine and is the only
caller; this module knows the key, the attributes and each write's condition.

Attributes
    state        held | free | done
    owner        the run holding it (unique per execution)
    version      a fresh random token on every write: a would-be taker judges the holder's lease
                 by seeing it unchanged for a lease (the DynamoDB Lock Client's record version)
    posting_at   set by the fence right before a post: an attempt not yet proven absent from
                 Slack (the taker searches around it); absent: nothing can be in Slack
    searched     how far an interrupted search around ``posting_at`` got (a Slack ts)
    slot_at, shift_at   the channel slot the record keeps while free (``workers/state/pace.py``)
    message_ts   the post, once done
"""

import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.queues import DLQ_RETENTION_S, QUEUE_RETENTION_S
from workers.state.pace import ChannelMoved, SlotClaim, channel_write, pace_of
from workers.state.table import (
    CONTENTION_CODES,
    StoreContended,
    StoreUnavailableError,
    Table,
    cancellation_codes,
    error_code,
    item,
    n,
    num,
    s,
    t,
    translate,
)

# An effect's record outlives every copy of its task message: one can wait on its queue, then
# sit in the dead-letter queue until a person redrives it. A day more for the last retries.
EFFECT_TTL_S = QUEUE_RETENTION_S + DLQ_RETENTION_S + 24 * 3600


def effect_key(effect_id: str) -> dict[str, str]:
    return {"pk": f"EFFECT#{effect_id}", "sk": "EFFECT"}


def new_version() -> str:
    return secrets.token_hex(8)


class EffectState(StrEnum):
    """States of an effect record (the state machine is in ``workers/services/replies.py``)."""

    HELD = "held"
    FREE = "free"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class EffectRecord:
    """An effect record as stored."""

    state: EffectState
    owner: str
    version: str
    posting_at: float | None
    searched: str | None
    slot_at: float | None
    shift_at: float
    message_ts: str | None

    @property
    def suspect(self) -> bool:
        """An earlier run may have posted: look in Slack before posting."""
        return self.posting_at is not None


@dataclass(frozen=True, slots=True)
class ClaimTaken:
    """The claim transaction went through: the caller holds the effect at ``version``."""

    version: str


@dataclass(frozen=True, slots=True)
class EffectExists:
    """Another run created the effect first; ``record`` is what it holds now."""

    record: EffectRecord


ClaimResult = ClaimTaken | EffectExists | ChannelMoved


def record_of(found: dict[str, Any]) -> EffectRecord:
    state = EffectState(found.get("state", {}).get("S", EffectState.FREE))
    owner = found.get("owner", {}).get("S", "")
    # A record written before versions existed: its state, owner and lease moved on every write.
    version = found.get("version", {}).get("S") or f"legacy:{state}:{owner}:{found.get('lease_until', {}).get('N')}"
    posting_at = num(found, "posting_at") if "posting_at" in found else None
    if posting_at is None and found.get("suspect", {}).get("BOOL"):  # a legacy suspect record
        posting_at = num(found, "claimed_at")
    return EffectRecord(
        state=state,
        owner=owner,
        version=version,
        posting_at=posting_at,
        searched=found.get("searched", {}).get("S") or None,
        slot_at=num(found, "slot_at") if "slot_at" in found else None,
        shift_at=num(found, "shift_at"),
        message_ts=found.get("message_ts", {}).get("S") or None,
    )


_NAMES = {"#state": "state", "#owner": "owner", "#version": "version"}


class Effects:
    """Reads and writes of effect records."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def read(self, effect_id: str) -> EffectRecord | None:
        """The record (strongly consistent), or ``None`` if absent."""
        found = self._table.get(effect_key(effect_id))
        return record_of(found) if found else None

    def claim(
        self,
        effect_id: str,
        *,
        owner: str,
        now: float,
        posting: bool,
        count: tuple[str, str, str] | None = None,
        slot: SlotClaim | None = None,
    ) -> ClaimResult:
        """Create the record held by ``owner``, in one transaction with what it justifies.

        Args:
            posting: The run posts right after this write: the claim is its fence (stamps
                ``posting_at``), so the common path pays no separate fence.
            count: ``(team, channel, command)``: add one use of the command to the channel's
                counters (a counter moves only here, so a second run cannot count again).
            slot: Reserve ``slot.slot_at`` on the channel, provided its line is still as seen.

        Raises:
            StoreContended: A concurrent transaction held the channel item (retry in a moment).
        """
        version = new_version()
        record = item(
            effect_key(effect_id),
            state=s(EffectState.HELD),
            owner=s(owner),
            version=s(version),
            claimed_at=t(now),
            expires_at=n(now + EFFECT_TTL_S),
            **({"posting_at": t(now)} if posting else {}),
            **({"slot_at": t(slot.slot_at), "shift_at": t(slot.seen.shift)} if slot else {}),
        )
        put = {
            "TableName": self._table.name,
            "Item": record,
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        channel = channel_write(self._table.name, count=count, slot=slot)
        client = self._table.client
        try:
            if channel is None:
                client.put_item(**put)  # type: ignore[arg-type]
            else:
                client.transact_write_items(TransactItems=[{"Put": put}, channel])  # type: ignore[typeddict-item,list-item]
        except ClientError as error:
            code = error_code(error)
            if code == "ConditionalCheckFailedException":  # the lone put: the record exists
                old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
                return EffectExists(record_of(old or self._table.get(effect_key(effect_id)) or {}))
            if code != "TransactionCanceledException":
                raise translate(error, "claim effect") from error
            reasons: list[Any] = list(error.response.get("CancellationReasons") or [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                old = dict(reasons[0].get("Item") or {}) or self._table.get(effect_key(effect_id)) or {}
                return EffectExists(record_of(old))
            if slot is not None and len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
                found = reasons[1].get("Item")
                return ChannelMoved(pace_of(found) if found else None)
            codes = cancellation_codes(error)
            if any(code in CONTENTION_CODES for code in codes):
                raise StoreContended(f"claim effect: transaction cancelled {codes}") from error
            raise StoreUnavailableError(f"claim effect: transaction cancelled {codes}") from error
        except BotoCoreError as error:
            raise translate(error, "claim effect") from error
        return ClaimTaken(version)

    def take_over(self, effect_id: str, *, seen: EffectRecord, owner: str, now: float) -> str | None:
        """Hold the record if it is still exactly as ``seen`` (same version); its new version, or ``None``.

        The caller decides whether ``seen`` may be taken (FREE, or HELD and seen unchanged for a
        lease): the condition only proves nothing moved since.
        """
        version = new_version()
        values: dict[str, Any] = {
            ":held": s(EffectState.HELD),
            ":owner": s(owner),
            ":new": s(version),
            ":expires": n(now + EFFECT_TTL_S),
        }
        if seen.version.startswith("legacy:"):
            condition = "attribute_not_exists(#version) AND #state = :seen_state AND #owner = :seen_owner"
            values.update({":seen_state": s(seen.state), ":seen_owner": s(seen.owner)})
        else:
            condition = "#version = :seen"
            values[":seen"] = s(seen.version)
        moved = self._table.update(
            effect_key(effect_id),
            "SET #state = :held, #owner = :owner, #version = :new, expires_at = :expires",
            values,
            condition=condition,
            attribute_names=_NAMES,
            what="take over effect",
        )
        return version if moved else None

    def fence(self, effect_id: str, *, owner: str, version: str, now: float) -> str | None:
        """Right before a post: stamp ``posting_at`` if ``owner`` still holds the record at
        ``version`` (nobody took it over). The new version, or ``None`` if it moved."""
        fenced = new_version()
        moved = self._table.update(
            effect_key(effect_id),
            "SET posting_at = :now, #version = :new REMOVE searched",
            {":now": t(now), ":new": s(fenced), ":held": s(EffectState.HELD), ":owner": s(owner), ":seen": s(version)},
            condition="#state = :held AND #owner = :owner AND #version = :seen",
            attribute_names=_NAMES,
            what="fence effect",
        )
        return fenced if moved else None

    def finish(self, effect_id: str, *, owner: str, message_ts: str | None) -> bool:
        """HELD by ``owner`` -> DONE; ``False`` if ``owner`` no longer holds it."""
        return self._table.update(
            effect_key(effect_id),
            "SET #state = :done, message_ts = :ts, #version = :new REMOVE posting_at, searched",
            {
                ":done": s(EffectState.DONE),
                ":ts": s(message_ts or ""),
                ":new": s(new_version()),
                ":held": s(EffectState.HELD),
                ":owner": s(owner),
            },
            condition="#state = :held AND #owner = :owner",
            attribute_names=_NAMES,
            what="finish effect",
        )

    def release(
        self,
        effect_id: str,
        *,
        owner: str,
        now: float,
        proven_absent: bool,
        searched: str | None = None,
        slot_at: float | None = None,
        shift_at: float = 0.0,
    ) -> bool:
        """HELD by ``owner`` -> FREE, keeping its channel slot; ``False`` if not held by ``owner``.

        Args:
            proven_absent: Nothing the record's ``posting_at`` stands for can be in Slack (this
                run's own attempt failed in a way that proves it): forget it. Otherwise it stays.
            searched: How far this run's search around ``posting_at`` got, for the next copy.
        """
        values: dict[str, Any] = {
            ":free": s(EffectState.FREE),
            ":held": s(EffectState.HELD),
            ":owner": s(owner),
            ":new": s(new_version()),
            ":expires": n(now + EFFECT_TTL_S),
        }
        sets = ["#state = :free", "#version = :new", "expires_at = :expires"]
        removes = ["posting_at", "searched"] if proven_absent else []
        if searched and not proven_absent:
            sets.append("searched = :searched")
            values[":searched"] = s(searched)
        if slot_at is not None:
            sets += ["slot_at = :slot", "shift_at = :shift"]
            values[":slot"] = t(slot_at)
            values[":shift"] = t(shift_at)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return self._table.update(
            effect_key(effect_id),
            expression,
            values,
            condition="#state = :held AND #owner = :owner",
            attribute_names=_NAMES,
            what="release effect",
        )
