"""One channel's line of posts: every worker together under Slack's per-channel pace.

Key: the channel's item ``CHANNELS#<team>`` / ``<channel>`` (it also holds the channel's command
counters, which the answer's claim adds to in the same transaction as its slot; keeping both on
one item keeps that claim at two items, see docs/RELIABILITY.md's budget).

Attributes: ``next_at`` (first free slot), ``paused_until`` (Slack's Retry-After ends then) and
``shift`` (seconds every reservation was moved by 429s so far). A reservation is optimistic on
``next_at`` as read (``version``).

A skewed writer: ``next_at`` and ``paused_until`` are times on the clock of whichever worker
wrote them. A worker whose clock runs ahead would push the line into its own future and make
every correct worker wait that long. A reader therefore never trusts a line longer than
``MAX_LINE_S`` nor a pause longer than ``MAX_PAUSE_S`` from its own now: past those it takes the
slot as free now (at worst Slack answers 429 once, and the pause moves the line as usual).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from workers.state.records import Records
from workers.state.table import StoreContended, Table, error_code, key, num, t, translate

# Longest line a channel can honestly have: at Slack's pace of about one post a second, two
# minutes is 120 answers waiting in one channel. A longer one was written by a clock running ahead.
MAX_LINE_S = 120.0
# Longest Retry-After the line honours as written (Slack's per-channel ones are seconds).
MAX_PAUSE_S = 120.0
COUNTER_PREFIX = "uses_"


def channel_key(team_id: str, channel: str) -> dict[str, str]:
    return {"pk": f"CHANNELS#{team_id}", "sk": channel}


def channels_pk(team_id: str) -> str:
    return f"CHANNELS#{team_id}"


def command_counter(command: str) -> str:
    """The channel item's attribute counting uses of ``command``."""
    return f"{COUNTER_PREFIX}{command}"


@dataclass(frozen=True, slots=True)
class ChannelPace:
    """A channel's posting state, shared by every worker.

    Attributes:
        next_at: Earliest time the next reservation may take (``None``: never posted).
        paused_until: Slack's Retry-After for this channel ends then.
        shift: Seconds every reservation was moved by 429s so far (see ``replies``).
        version: ``next_at`` exactly as stored, for the optimistic condition of a reservation.
    """

    next_at: float | None
    paused_until: float
    shift: float
    version: str | None

    def first_free(self, now: float) -> float:
        """The earliest slot a new reservation may take at ``now`` (a skewed writer's line ignored)."""
        line = self.next_at or 0.0
        if line > now + MAX_LINE_S:
            line = now  # written by a clock running ahead: no honest line is that long
        return max(now, line, self.paused_until_at(now))

    def paused_until_at(self, now: float) -> float:
        """``paused_until``, unless a clock running ahead wrote it further off than any Retry-After."""
        return self.paused_until if self.paused_until <= now + MAX_PAUSE_S else now


IDLE_CHANNEL = ChannelPace(next_at=None, paused_until=0.0, shift=0.0, version=None)


@dataclass(frozen=True, slots=True)
class ChannelMoved:
    """The channel's line moved since it was read; ``pace`` is the state now (``None``: read it)."""

    pace: ChannelPace | None


@dataclass(frozen=True, slots=True)
class SlotClaim:
    """The channel slot a claim reserves: ``slot_at``, taken from the channel state ``seen``."""

    team_id: str
    channel: str
    slot_at: float
    interval_s: float
    seen: ChannelPace


def pace_of(found: Mapping[str, Any] | None) -> ChannelPace:
    if not found:
        return IDLE_CHANNEL
    version = found.get("next_at", {}).get("N")
    return ChannelPace(
        next_at=float(version) if version is not None else None,
        paused_until=num(found, "paused_until"),
        shift=num(found, "shift"),
        version=version,
    )


def channel_write(
    table_name: str, *, count: tuple[str, str, str] | None, slot: SlotClaim | None
) -> dict[str, Any] | None:
    """The channel item's part of a claim: add one use of a command, reserve a slot (as seen)."""
    if count is None and slot is None:
        return None
    team_id, channel = (slot.team_id, slot.channel) if slot else (count[0], count[1])  # type: ignore[index]
    update: dict[str, Any] = {"TableName": table_name, "Key": key(channel_key(team_id, channel))}
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    clauses: list[str] = []
    if count is not None:
        names["#counter"] = command_counter(count[2])
        values[":one"] = {"N": "1"}
        clauses.append("ADD #counter :one")
    if slot is not None:
        values[":next"] = t(slot.slot_at + slot.interval_s)
        clauses.append("SET next_at = :next")
        if slot.seen.version is None:
            update["ConditionExpression"] = "attribute_not_exists(next_at)"
        else:
            update["ConditionExpression"] = "next_at = :seen"
            values[":seen"] = {"N": slot.seen.version}
        update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    update["UpdateExpression"] = " ".join(clauses)
    update["ExpressionAttributeValues"] = values
    if names:
        update["ExpressionAttributeNames"] = names
    return {"Update": update}


class ChannelCounts(Records):
    """Command counters on the channel items (a mixin of ``StateStore``)."""

    def command_counts(self, *, team_id: str) -> dict[str, int]:
        """Uses of each command in the workspace (summed over its channels)."""
        counts: dict[str, int] = {}
        for item in self._query(channels_pk(team_id), ""):
            for name, value in item.items():
                if name.startswith(COUNTER_PREFIX):
                    command = name.removeprefix(COUNTER_PREFIX)
                    counts[command] = counts.get(command, 0) + int(value["N"])
        return counts


class ChannelPaces:
    """Reads and writes of channel items' pace."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def read(self, team_id: str, channel: str) -> ChannelPace:
        """The channel's posting state (strongly consistent read)."""
        return pace_of(self._table.get(channel_key(team_id, channel)))

    def reserve_slot(self, team_id: str, channel: str, *, interval_s: float, now: float) -> tuple[float, ChannelPace]:
        """Reserve the channel's first free slot on its own (no effect is created with it).

        Used when a run holds an effect that has no slot yet (an ephemeral answer falling back to
        a channel post), or whose turn went by. Returns the slot and the state it was taken from.

        Raises:
            StoreContended: The line kept moving under it.
        """
        pace = self.read(team_id, channel)
        for _ in range(20):
            slot = SlotClaim(team_id, channel, pace.first_free(now), interval_s, pace)
            update = channel_write(self._table.name, count=None, slot=slot)
            assert update is not None
            try:
                self._table.client.update_item(**update["Update"])
                return slot.slot_at, pace
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise translate(error, "reserve post slot") from error
                old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
                pace = pace_of(old) if old else self.read(team_id, channel)
            except BotoCoreError as error:
                raise translate(error, "reserve post slot") from error
        raise StoreContended(f"channel {channel} pace: too much contention")

    def pause(self, team_id: str, channel: str, *, now: float, retry_after_s: float) -> ChannelPace:
        """Slack said 429 with ``Retry-After``: move every reservation of the channel by that much.

        Only the first 429 of a pause moves anything (condition: no pause running at ``now``), so
        many workers told to wait at once shift the line once. Returns the channel state after.
        """
        try:
            response = self._table.client.update_item(
                TableName=self._table.name,
                Key=key(channel_key(team_id, channel)),
                UpdateExpression=(
                    "SET paused_until = :until, shift = if_not_exists(shift, :zero) + :wait, "
                    "next_at = if_not_exists(next_at, :now) + :wait"
                ),
                ConditionExpression="attribute_not_exists(paused_until) OR paused_until <= :now",
                ExpressionAttributeValues={
                    ":until": t(now + retry_after_s),
                    ":wait": t(retry_after_s),
                    ":zero": {"N": "0"},
                    ":now": t(now),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise translate(error, "pause channel") from error
            old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
            return pace_of(old) if old else self.read(team_id, channel)
        except BotoCoreError as error:
            raise translate(error, "pause channel") from error
        return pace_of(response.get("Attributes"))
