"""DynamoDB access: the one module that knows the STATE table's key schema (see docs/DATA.md).

Single-table design, string keys ``pk``/``sk``, TTL attribute ``expires_at``:

====================================  ==================================  ==========================
pk                                    sk                                  what
====================================  ==================================  ==========================
``MSG#<team>#<channel>``              ``MSG#<ts>``                        one archived message (TTL)
``COUNT#<team>``                      ``USER#<user>``                     messages a person wrote
``CHANNELS#<team>``                   ``<channel>``                       command counters and post pacing
``AGENDA``                            ``CURRENT``                         pointer: the live version
``AGENDA``                            ``V#<version>#<index>``             one agenda item (TTL unless live)
``EFFECT#<effect id>``                ``EFFECT``                          one answer's claim (TTL)
``WELCOME#<team>#<channel>``          ``USER#<user>``                     this person was welcomed here
====================================  ==================================  ==========================

An archived message is one record that its events (new, edited, deleted) update in whatever order
they arrive: ``posted_at`` says the original was applied (and counted), ``edited_at`` which edit
the text is from, ``deleted_at`` that the text is gone for good.

Heartbeats (``WORKER``) and failure notes (``FAILURE#<id>``) share this table; their keys live in
``contract/heartbeats.py`` (the ``charla`` console reads them) and ``workers/heartbeat_store.py``
writes them.

Every write that adds to a counter is a transaction with a conditional put of the record that
justifies it, so a redelivered event or task adds nothing the second time. The answer's claim,
its command counter and its channel's post slot are that one transaction
(``workers/services/replies.py`` owns the state machine; this module only knows the keys).
"""

import logging
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contract.queues import DLQ_RETENTION_S, QUEUE_RETENTION_S
from contract.tasks import ArchivedMessage, MessageKind
from workers.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

AGENDA_PK = "AGENDA"
AGENDA_POINTER_SK = "CURRENT"
# A replaced agenda version stays readable this long (a reader that fetched the old pointer
# just before the swap still finds its items), then DynamoDB's TTL removes it.
OLD_AGENDA_TTL_S = 24 * 3600
# A new version's items carry this TTL until the version is live and settled: a refresh that dies
# half-way leaves nothing that lives forever. Long enough that the next refresh (hourly by
# default) settles a version whose refresh died between its swap and clearing the TTL.
PENDING_AGENDA_TTL_S = 24 * 3600
# Subtypes a person writes; joins, topic changes and the like are archived but not counted.
COUNTED_SUBTYPES: frozenset[str | None] = frozenset({None, "file_share", "thread_broadcast", "me_message"})
_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)


class StoreUnavailableError(RuntimeError):
    """DynamoDB could not do it now (throttling, conflict, network): retry the task later."""


class StoreError(RuntimeError):
    """DynamoDB refused the request for good (a bug or a misconfiguration): do not retry."""


# An effect's record outlives every copy of its task message: one can wait on its queue, then
# sit in the dead-letter queue until a person redrives it. A day more for the last retries.
EFFECT_TTL_S = QUEUE_RETENTION_S + DLQ_RETENTION_S + 24 * 3600


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
    lease_until: float
    suspect: bool
    slot_at: float | None
    shift_at: float
    message_ts: str | None


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
        """The earliest slot a new reservation may take at ``now``."""
        return max(now, self.next_at or 0.0, self.paused_until)


IDLE_CHANNEL = ChannelPace(next_at=None, paused_until=0.0, shift=0.0, version=None)


@dataclass(frozen=True, slots=True)
class SlotClaim:
    """The channel slot a claim reserves: ``slot_at``, taken from the channel state ``seen``."""

    team_id: str
    channel: str
    slot_at: float
    interval_s: float
    seen: ChannelPace


@dataclass(frozen=True, slots=True)
class ClaimTaken:
    """The claim transaction went through: the caller holds the effect."""


@dataclass(frozen=True, slots=True)
class EffectExists:
    """Another run created the effect first; ``record`` is what it holds now."""

    record: EffectRecord


@dataclass(frozen=True, slots=True)
class ChannelMoved:
    """The channel's slots moved since they were read; ``pace`` is the state now."""

    pace: ChannelPace


ClaimResult = ClaimTaken | EffectExists | ChannelMoved


# -- keys: the whole key schema lives in these functions ---------------------------------------


def effect_key(task_id: str) -> dict[str, str]:
    return {"pk": f"EFFECT#{task_id}", "sk": "EFFECT"}


def channel_key(team_id: str, channel: str) -> dict[str, str]:
    return {"pk": f"CHANNELS#{team_id}", "sk": channel}


def command_counter(command: str) -> str:
    """The channel item's attribute counting uses of ``command``."""
    return f"{COUNTER_PREFIX}{command}"


COUNTER_PREFIX = "uses_"


def channel_archive_pk(team_id: str, channel: str) -> str:
    return f"MSG#{team_id}#{channel}"


def message_key(message: ArchivedMessage) -> dict[str, str]:
    """Key of one archived message: its new, edited and deleted events all land on this record."""
    return archived_message_key(message.team_id, message.channel, message.ts)


def archived_message_key(team_id: str, channel: str, ts: str) -> dict[str, str]:
    return {"pk": channel_archive_pk(team_id, channel), "sk": f"MSG#{ts}"}


def welcome_key(team_id: str, channel: str, user: str) -> dict[str, str]:
    return {"pk": f"WELCOME#{team_id}#{channel}", "sk": f"USER#{user}"}


def user_count_key(team_id: str, user: str) -> dict[str, str]:
    return {"pk": f"COUNT#{team_id}", "sk": f"USER#{user}"}


def channels_pk(team_id: str) -> str:
    return f"CHANNELS#{team_id}"


def agenda_item_key(version: str, index: int) -> dict[str, str]:
    return {"pk": AGENDA_PK, "sk": f"{agenda_version_prefix(version)}{index:05d}"}


def agenda_version_prefix(version: str) -> str:
    return f"V#{version}#"


def is_counted(message: ArchivedMessage) -> bool:
    """A new message a person wrote (not a bot, not an edit, deletion, join or topic change)."""
    return (
        message.kind == MessageKind.NEW
        and not message.is_bot
        and bool(message.user)
        and message.subtype in COUNTED_SUBTYPES
    )


def new_agenda_version(now: float) -> str:
    """Sortable and unique: the refresh time, then a random suffix against concurrent refreshes."""
    return f"{int(now * 1000):015d}-{secrets.token_hex(3)}"


# -- attribute values ------------------------------------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": str(int(value))}


def _t(value: float) -> dict[str, str]:
    """A time to the millisecond: slots 10 ms apart must stay apart."""
    return {"N": f"{value:.3f}"}


def _num(item: Mapping[str, Any], name: str, default: float = 0.0) -> float:
    value = item.get(name, {}).get("N")
    return float(value) if value is not None else default


def _key(key: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {name: _s(value) for name, value in key.items()}


def _effect_record(item: Mapping[str, Any]) -> EffectRecord:
    return EffectRecord(
        state=EffectState(item.get("state", {}).get("S", EffectState.FREE)),
        owner=item.get("owner", {}).get("S", ""),
        lease_until=_num(item, "lease_until"),
        suspect=bool(item.get("suspect", {}).get("BOOL", False)),
        slot_at=_num(item, "slot_at") if "slot_at" in item else None,
        shift_at=_num(item, "shift_at"),
        message_ts=item.get("message_ts", {}).get("S") or None,
    )


def _channel_pace(item: Mapping[str, Any] | None) -> ChannelPace:
    if not item:
        return IDLE_CHANNEL
    version = item.get("next_at", {}).get("N")
    return ChannelPace(
        next_at=float(version) if version is not None else None,
        paused_until=_num(item, "paused_until"),
        shift=_num(item, "shift"),
        version=version,
    )


def _item(key: Mapping[str, str], **attributes: dict[str, Any]) -> dict[str, Any]:
    return {**{name: _s(value) for name, value in key.items()}, **attributes}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


def _translate(error: BotoCoreError | ClientError, what: str) -> RuntimeError:
    if isinstance(error, ClientError) and _error_code(error) not in _RETRYABLE_CODES:
        return StoreError(f"{what}: {_error_code(error)}")
    code = _error_code(error) if isinstance(error, ClientError) else type(error).__name__
    return StoreUnavailableError(f"{what}: {code}")


@dataclass(frozen=True, slots=True)
class AgendaRecord:
    """An agenda item as stored (the service validates and formats it)."""

    title: str
    start: str
    end: str
    url: str


class StateStore:
    """Reads and writes of the STATE table.

    Raises (every method):
        StoreUnavailableError: Throttled, conflicting or unreachable: worth retrying.
        StoreError: Refused for good.
    """

    def __init__(self, client: "DynamoDBClient", table: str, *, archive_retention_days: int = 365) -> None:
        self._client = client
        self._table = table
        self._archive_retention_s = archive_retention_days * 24 * 3600

    # -- archive and counters --------------------------------------------------------------

    def archive_message(self, message: ArchivedMessage, *, now: float | None = None) -> bool:
        """Apply one message event to the message's record; count a new message a person wrote.

        One record per message (see the module docstring): a new message is one conditional put,
        in the same transaction as its author's count; an edit replaces the text (only if it is
        newer than the last edit applied); a deletion removes the text and keeps who and when.
        Events may arrive in any order: a deletion leaves a tombstone that no later original or
        edit brings text back to, and an original arriving after an edit keeps the edited text.

        Returns:
            ``True`` if the event changed the record; ``False`` if it was a redelivery or is
            older than what the record already holds (nothing changed, nothing counted).
        """
        now = time.time() if now is None else now
        if message.kind == MessageKind.EDITED:
            return self._apply_edit(message, now)
        if message.kind == MessageKind.DELETED:
            return self._apply_deletion(message, now)
        return self._apply_new(message, now)

    def _archive_expiry(self, message: ArchivedMessage) -> dict[str, Any]:
        """``expires_at`` of a message's record: its own time plus the retention (none when 0)."""
        if not self._archive_retention_s:
            return {}
        try:
            written = float(message.ts)
        except ValueError:
            written = time.time()
        return {"expires_at": _n(written + self._archive_retention_s)}

    def _apply_new(self, message: ArchivedMessage, now: float) -> bool:
        key = message_key(message)
        about = {
            "event_id": _s(message.event_id),
            "user": _s(message.user),
            "posted_at": _s(message.event_ts),
            "is_bot": {"BOOL": message.is_bot},
            "archived_at": _n(now),
            **({"subtype": _s(message.subtype)} if message.subtype else {}),
            **({"thread_ts": _s(message.thread_ts)} if message.thread_ts else {}),
            **({"channel_type": _s(message.channel_type)} if message.channel_type else {}),
            **self._archive_expiry(message),
        }
        counter = (
            [self._add_one(user_count_key(message.team_id, message.user), "messages")] if is_counted(message) else []
        )
        # The common case: nothing is known of this message yet. One put (and the count).
        put = {
            "TableName": self._table,
            "Item": _item(key, text=_s(message.text), **about),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        if self._transact([{"Put": put}, *counter], what="archive"):
            return True
        # An edit or deletion got here first (out-of-order delivery), or this is a redelivery.
        for _ in range(3):
            existing = self._get(key) or {}
            if "posted_at" in existing:
                return False  # the original was applied before: a redelivery
            keeps_text = "deleted_at" in existing or "edited_at" in existing
            names = {f"#{name}": name for name in about}
            values = {f":{name}": value for name, value in about.items()}
            assignments = [f"#{name} = :{name}" for name in about]
            condition = "attribute_not_exists(posted_at)"
            if not keeps_text:
                names["#text"], values[":text"] = "text", _s(message.text)
                assignments.append("#text = :text")
                condition += " AND attribute_not_exists(deleted_at) AND attribute_not_exists(edited_at)"
            update = {
                "TableName": self._table,
                "Key": {name: _s(value) for name, value in key.items()},
                "UpdateExpression": "SET " + ", ".join(assignments),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
            if self._transact([{"Update": update}, *counter], what="archive"):
                return True
            # A deletion or edit landed between the read and the write: look again.
        raise StoreUnavailableError("archive: message record changing under us")

    def _apply_edit(self, message: ArchivedMessage, now: float) -> bool:
        expiry = self._archive_expiry(message)
        update = {
            "TableName": self._table,
            "Key": {name: _s(value) for name, value in message_key(message).items()},
            "UpdateExpression": "SET #text = :text, edited_at = :at, #user = if_not_exists(#user, :user), "
            "archived_at = :now" + (", expires_at = :expires" if expiry else ""),
            # Never after a deletion; never an older edit over a newer one (Slack ts strings
            # have a fixed width, so they compare in time order).
            "ConditionExpression": "attribute_not_exists(deleted_at) AND "
            "(attribute_not_exists(edited_at) OR edited_at < :at)",
            "ExpressionAttributeNames": {"#text": "text", "#user": "user"},
            "ExpressionAttributeValues": {
                ":text": _s(message.text),
                ":at": _s(message.event_ts),
                ":user": _s(message.user),
                ":now": _n(now),
                **({":expires": expiry["expires_at"]} if expiry else {}),
            },
        }
        return self._transact([{"Update": update}], what="archive edit")

    def _apply_deletion(self, message: ArchivedMessage, now: float) -> bool:
        expiry = self._archive_expiry(message)
        update = {
            "TableName": self._table,
            "Key": {name: _s(value) for name, value in message_key(message).items()},
            "UpdateExpression": "SET deleted_at = :at, #user = if_not_exists(#user, :user), archived_at = :now"
            + (", expires_at = :expires" if expiry else "")
            + " REMOVE #text",
            "ConditionExpression": "attribute_not_exists(deleted_at)",
            "ExpressionAttributeNames": {"#text": "text", "#user": "user"},
            "ExpressionAttributeValues": {
                ":at": _s(message.event_ts),
                ":user": _s(message.user),
                ":now": _n(now),
                **({":expires": expiry["expires_at"]} if expiry else {}),
            },
        }
        return self._transact([{"Update": update}], what="archive deletion")

    def message_count(self, *, team_id: str, user: str) -> int:
        """Messages ``user`` wrote in the workspace (0 if none were archived)."""
        item = self._get(user_count_key(team_id, user))
        return int(item["messages"]["N"]) if item and "messages" in item else 0

    def command_counts(self, *, team_id: str) -> dict[str, int]:
        """Uses of each command in the workspace (summed over its channels)."""
        counts: dict[str, int] = {}
        for item in self._query(channels_pk(team_id), ""):
            for name, value in item.items():
                if name.startswith(COUNTER_PREFIX):
                    command = name.removeprefix(COUNTER_PREFIX)
                    counts[command] = counts.get(command, 0) + int(value["N"])
        return counts

    def archived(self, *, team_id: str, channel: str) -> list[dict[str, Any]]:
        """Every archived event of a channel, oldest message first (plain values)."""
        return [
            {name: next(iter(value.values())) for name, value in item.items()}
            for item in self._query(channel_archive_pk(team_id, channel), "")
        ]

    def archived_message(self, *, team_id: str, channel: str, ts: str) -> dict[str, Any] | None:
        """One archived message as plain values, or ``None`` if nothing is stored for it."""
        item = self._get(archived_message_key(team_id, channel, ts))
        return {name: next(iter(value.values())) for name, value in item.items()} if item else None

    # -- welcomes ----------------------------------------------------------------------------

    def was_welcomed(self, *, team_id: str, channel: str, user: str) -> bool:
        """Whether ``user`` was welcomed to ``channel`` before."""
        return self._get(welcome_key(team_id, channel, user)) is not None

    def mark_welcomed(self, *, team_id: str, channel: str, user: str, now: float | None = None) -> bool:
        """Remember that ``user`` was welcomed to ``channel`` (a conditional put: once for good).

        Returns:
            ``True`` if recorded now; ``False`` if it was recorded before.
        """
        item = _item(welcome_key(team_id, channel, user), welcomed_at=_n(time.time() if now is None else now))
        put = {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        return self._transact([{"Put": put}], what="mark welcomed")

    # -- agenda ----------------------------------------------------------------------------

    def agenda_version(self) -> str | None:
        """The live agenda version, or ``None`` if no agenda was ever loaded."""
        item = self._get({"pk": AGENDA_PK, "sk": AGENDA_POINTER_SK})
        return item["version"]["S"] if item else None

    def agenda(self) -> list[AgendaRecord] | None:
        """The live agenda (pointer first, then its items); ``None`` if never loaded."""
        version = self.agenda_version()
        if version is None:
            return None
        items = self._query(AGENDA_PK, agenda_version_prefix(version))
        return [
            AgendaRecord(title=i["title"]["S"], start=i["start"]["S"], end=i["end"]["S"], url=i["url"]["S"])
            for i in items
        ]

    def replace_agenda(self, records: Sequence[AgendaRecord], *, now: float | None = None) -> str:
        """Write ``records`` as a new version, then point readers at it in one conditional write.

        Readers see the old agenda or the new one, never a mix. Every item is written with a TTL
        (``PENDING_AGENDA_TTL_S``), so a refresh that fails half-way leaves nothing that lives
        forever; only once the pointer names the version are its items' TTLs cleared and the
        pointer marked ``settled``. If that clearing fails, the next refresh settles it first
        (``settle_agenda``). The replaced version gets a TTL. If another refresh swapped the
        pointer meanwhile, this one loses (its items expire) and StoreUnavailableError is raised
        (a retry reloads and swaps again).

        Returns:
            The new version id.
        """
        now = time.time() if now is None else now
        previous = self.agenda_version()
        version = new_agenda_version(now)
        pending = _n(now + PENDING_AGENDA_TTL_S)
        self._batch_put(
            [
                _item(
                    agenda_item_key(version, index),
                    title=_s(r.title),
                    start=_s(r.start),
                    end=_s(r.end),
                    url=_s(r.url),
                    expires_at=pending,
                )
                for index, r in enumerate(records)
            ]
        )
        pointer = _item(
            {"pk": AGENDA_PK, "sk": AGENDA_POINTER_SK},
            version=_s(version),
            items=_n(len(records)),
            swapped_at=_n(now),
            settled={"BOOL": False},
        )
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if previous is None
            else {
                "ConditionExpression": "version = :previous",
                "ExpressionAttributeValues": {":previous": _s(previous)},
            }
        )
        try:
            self._client.put_item(TableName=self._table, Item=pointer, **condition)
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                raise StoreUnavailableError("agenda swapped by a concurrent refresh") from error
            raise _translate(error, "swap agenda") from error
        except BotoCoreError as error:
            raise _translate(error, "swap agenda") from error
        self._settle(version)
        if previous is not None:
            self._expire_version(previous, now)
        return version

    def settle_agenda(self) -> bool:
        """Clear the TTL of the live version's items if the refresh that swapped it in did not.

        Returns:
            ``True`` if there was something to settle.
        """
        item = self._get({"pk": AGENDA_PK, "sk": AGENDA_POINTER_SK})
        if not item or item.get("settled", {}).get("BOOL", True):
            return False
        logger.warning("settling agenda version=%s left unsettled by an earlier refresh", item["version"]["S"])
        self._settle(item["version"]["S"])
        return True

    def _settle(self, version: str) -> None:
        """Make the live version's items permanent, then say so on the pointer."""
        for item in self._query(AGENDA_PK, agenda_version_prefix(version)):
            self._update({"pk": item["pk"]["S"], "sk": item["sk"]["S"]}, "REMOVE expires_at", {}, what="settle agenda")
        self._update(
            {"pk": AGENDA_PK, "sk": AGENDA_POINTER_SK},
            "SET settled = :true",
            {":true": {"BOOL": True}, ":version": _s(version)},
            condition="version = :version",
            what="settle agenda",
        )

    def _update(
        self,
        key: Mapping[str, str],
        expression: str,
        values: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        what: str,
    ) -> bool:
        """One ``UpdateItem``; ``False`` if its condition failed."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {name: _s(value) for name, value in key.items()},
            "UpdateExpression": expression,
        }
        if values:
            request["ExpressionAttributeValues"] = dict(values)
        if condition:
            request["ConditionExpression"] = condition
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        try:
            self._client.update_item(**request)
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False
            raise _translate(error, what) from error
        except BotoCoreError as error:
            raise _translate(error, what) from error
        return True

    def _expire_version(self, version: str, now: float) -> None:
        expires = _n(now + OLD_AGENDA_TTL_S)
        for item in self._query(AGENDA_PK, agenda_version_prefix(version)):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    UpdateExpression="SET expires_at = :expires",
                    ExpressionAttributeValues={":expires": expires},
                )
            except (BotoCoreError, ClientError) as error:
                # The swap is done; a missed TTL only leaves an unread item behind.
                logger.warning("could not expire agenda version=%s error=%s", version, type(error).__name__)
                return

    # -- effects: the records behind "each answer posted once" (workers/services/replies.py) ----

    def claim_effect(
        self,
        task_id: str,
        *,
        owner: str,
        lease_until: float,
        now: float,
        count: tuple[str, str, str] | None = None,
        slot: SlotClaim | None = None,
    ) -> ClaimResult:
        """Create the effect record held by ``owner``, in one transaction with what it justifies.

        Args:
            count: ``(team, channel, command)``: add one use of the command to the channel's
                counters (a counter moves only here, so a second run cannot count again).
            slot: Reserve ``slot.slot_at`` on the channel, provided its slots are still as
                ``slot.seen`` says.

        Returns:
            ``ClaimTaken``; ``EffectExists`` with the record another run created; or
            ``ChannelMoved`` with the channel's state now (read again, pick a later slot).
        """
        record = _item(
            effect_key(task_id),
            state=_s(EffectState.HELD),
            owner=_s(owner),
            lease_until=_t(lease_until),
            suspect={"BOOL": False},
            claimed_at=_t(now),
            expires_at=_n(now + EFFECT_TTL_S),
            **({"slot_at": _t(slot.slot_at), "shift_at": _t(slot.seen.shift)} if slot else {}),
        )
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": record,
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]
        channel_update = self._channel_update(count=count, slot=slot)
        if channel_update is not None:
            writes.append(channel_update)
        try:
            if len(writes) == 1:
                self._client.put_item(**writes[0]["Put"])
            else:
                self._client.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
        except ClientError as error:
            code = _error_code(error)
            if code == "ConditionalCheckFailedException":  # the lone put: the record exists
                old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
                return EffectExists(_effect_record(old or self._get(effect_key(task_id)) or {}))
            if code != "TransactionCanceledException":
                raise _translate(error, "claim effect") from error
            reasons: list[Any] = list(error.response.get("CancellationReasons") or [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                old = dict(reasons[0].get("Item") or {}) or self._get(effect_key(task_id)) or {}
                return EffectExists(_effect_record(old))
            if slot is not None and len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
                item = reasons[1].get("Item")
                return ChannelMoved(_channel_pace(item) if item else self.channel_pace(slot.team_id, slot.channel))
            raise StoreUnavailableError(f"claim effect: transaction cancelled {_cancellation_codes(error)}") from error
        except BotoCoreError as error:
            raise _translate(error, "claim effect") from error
        return ClaimTaken()

    def _channel_update(self, *, count: tuple[str, str, str] | None, slot: SlotClaim | None) -> dict[str, Any] | None:
        if count is None and slot is None:
            return None
        team_id, channel = (slot.team_id, slot.channel) if slot else (count[0], count[1])  # type: ignore[index]
        update: dict[str, Any] = {"TableName": self._table, "Key": _key(channel_key(team_id, channel))}
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        clauses: list[str] = []
        if count is not None:
            names["#counter"] = command_counter(count[2])
            values[":one"] = {"N": "1"}
            clauses.append("ADD #counter :one")
        if slot is not None:
            values[":next"] = _t(slot.slot_at + slot.interval_s)
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

    def read_effect(self, task_id: str) -> EffectRecord | None:
        """The effect record of ``task_id`` (strongly consistent), or ``None`` if absent."""
        item = self._get(effect_key(task_id))
        return _effect_record(item) if item else None

    def take_over_effect(self, task_id: str, *, seen: EffectRecord, owner: str, lease_until: float, now: float) -> bool:
        """Hold a FREE record, or a HELD one whose lease is over, exactly as ``seen``; ``False`` if it moved."""
        return self._move_effect(
            task_id,
            what="take over effect",
            update="SET #state = :held, #owner = :owner, lease_until = :lease, expires_at = :expires",
            condition="#state = :seen_state AND #owner = :seen_owner AND lease_until = :seen_lease",
            values={
                ":held": _s(EffectState.HELD),
                ":owner": _s(owner),
                ":lease": _t(lease_until),
                ":expires": _n(now + EFFECT_TTL_S),
                ":seen_state": _s(seen.state),
                ":seen_owner": _s(seen.owner),
                ":seen_lease": _t(seen.lease_until),
            },
        )

    def finish_effect(self, task_id: str, *, owner: str, message_ts: str | None) -> bool:
        """HELD by ``owner`` -> DONE; ``False`` if ``owner`` no longer holds it."""
        return self._move_effect(
            task_id,
            what="finish effect",
            update="SET #state = :done, message_ts = :ts",
            condition="#state = :held AND #owner = :owner",
            values={
                ":done": _s(EffectState.DONE),
                ":ts": _s(message_ts or ""),
                ":held": _s(EffectState.HELD),
                ":owner": _s(owner),
            },
        )

    def release_effect(
        self,
        task_id: str,
        *,
        owner: str,
        suspect: bool,
        now: float,
        slot_at: float | None = None,
        shift_at: float = 0.0,
    ) -> bool:
        """HELD by ``owner`` -> FREE, keeping the channel slot it holds; ``False`` if not held by ``owner``.

        ``suspect`` records that a post may have reached Slack; it is never cleared here.
        """
        values: dict[str, Any] = {
            ":free": _s(EffectState.FREE),
            ":held": _s(EffectState.HELD),
            ":owner": _s(owner),
            ":now": _t(now),
            ":expires": _n(now + EFFECT_TTL_S),
        }
        update = "SET #state = :free, lease_until = :now, expires_at = :expires"
        if suspect:
            update += ", suspect = :true"
            values[":true"] = {"BOOL": True}
        if slot_at is not None:
            update += ", slot_at = :slot, shift_at = :shift"
            values[":slot"] = _t(slot_at)
            values[":shift"] = _t(shift_at)
        return self._move_effect(
            task_id, what="release effect", update=update, condition="#state = :held AND #owner = :owner", values=values
        )

    def _move_effect(self, task_id: str, *, what: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        return self._update(
            effect_key(task_id),
            update,
            values,
            condition=condition,
            names={"#state": "state", "#owner": "owner"},
            what=what,
        )

    # -- channel pace: every worker together under Slack's per-channel limit --------------------

    def channel_pace(self, team_id: str, channel: str) -> ChannelPace:
        """The channel's posting state (strongly consistent read)."""
        return _channel_pace(self._get(channel_key(team_id, channel)))

    def reserve_slot(self, team_id: str, channel: str, *, interval_s: float, now: float) -> tuple[float, ChannelPace]:
        """Reserve the channel's first free slot on its own (no effect is created with it).

        Used when a run holds an effect that has no slot yet (an ephemeral answer falling back to
        a channel post). Returns the slot and the channel state it was taken from.
        """
        pace = self.channel_pace(team_id, channel)
        for _ in range(20):
            slot = SlotClaim(team_id, channel, pace.first_free(now), interval_s, pace)
            update = self._channel_update(count=None, slot=slot)
            assert update is not None
            try:
                self._client.update_item(**update["Update"])
                return slot.slot_at, pace
            except ClientError as error:
                if _error_code(error) != "ConditionalCheckFailedException":
                    raise _translate(error, "reserve post slot") from error
                old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
                pace = _channel_pace(old) if old else self.channel_pace(team_id, channel)
            except BotoCoreError as error:
                raise _translate(error, "reserve post slot") from error
        raise StoreUnavailableError(f"channel {channel} pace: too much contention")

    def pause_channel(self, team_id: str, channel: str, *, now: float, retry_after_s: float) -> ChannelPace:
        """Slack said 429 with ``Retry-After``: move every reservation of the channel by that much.

        Only the first 429 of a pause moves anything (condition: no pause running at ``now``), so
        many workers told to wait at once shift the line once. Returns the channel state after.
        """
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(channel_key(team_id, channel)),
                UpdateExpression=(
                    "SET paused_until = :until, shift = if_not_exists(shift, :zero) + :wait, "
                    "next_at = if_not_exists(next_at, :now) + :wait"
                ),
                ConditionExpression="attribute_not_exists(paused_until) OR paused_until <= :now",
                ExpressionAttributeValues={
                    ":until": _t(now + retry_after_s),
                    ":wait": _t(retry_after_s),
                    ":zero": {"N": "0"},
                    ":now": _t(now),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise _translate(error, "pause channel") from error
            old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
            return _channel_pace(old) if old else self.channel_pace(team_id, channel)
        except BotoCoreError as error:
            raise _translate(error, "pause channel") from error
        return _channel_pace(response.get("Attributes"))

    # -- plumbing --------------------------------------------------------------------------

    def _add_one(self, key: Mapping[str, str], attribute: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": {name: _s(value) for name, value in key.items()},
                "UpdateExpression": "ADD #counter :one",
                "ExpressionAttributeNames": {"#counter": attribute},
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }

    def _transact(self, writes: list[dict[str, Any]], *, what: str) -> bool:
        """Run ``writes`` all or nothing; ``False`` if the first (the keyed write)'s condition failed."""
        try:
            if len(writes) == 1 and "Put" in writes[0]:
                self._client.put_item(**writes[0]["Put"])
            elif len(writes) == 1:
                self._client.update_item(**writes[0]["Update"])
            else:
                self._client.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
        except ClientError as error:
            code = _error_code(error)
            if code == "ConditionalCheckFailedException":
                return False
            if code == "TransactionCanceledException":
                reasons = _cancellation_codes(error)
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
                raise StoreUnavailableError(f"{what}: transaction cancelled {reasons}") from error
            raise _translate(error, what) from error
        except BotoCoreError as error:
            raise _translate(error, what) from error
        return True

    def _get(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(TableName=self._table, Key=_key(key), ConsistentRead=True)
        except (BotoCoreError, ClientError) as error:
            raise _translate(error, "read") from error
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query(self, pk: str, sk_prefix: str) -> list[dict[str, Any]]:
        condition = "pk = :pk AND begins_with(sk, :prefix)" if sk_prefix else "pk = :pk"
        values = {":pk": _s(pk), **({":prefix": _s(sk_prefix)} if sk_prefix else {})}
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        try:
            while True:
                request: dict[str, Any] = {
                    "TableName": self._table,
                    "KeyConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                    "ConsistentRead": True,
                }
                if start:
                    request["ExclusiveStartKey"] = start
                page = self._client.query(**request)
                items.extend(page.get("Items", []))
                start = page.get("LastEvaluatedKey")
                if not start:
                    return items
        except (BotoCoreError, ClientError) as error:
            raise _translate(error, "query") from error

    def _batch_put(self, items: Iterable[dict[str, Any]]) -> None:
        pending: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
        retries = 0
        try:
            while pending:
                batch, pending = pending[:25], pending[25:]
                unprocessed = self._client.batch_write_item(RequestItems={self._table: batch})
                left = unprocessed.get("UnprocessedItems", {}).get(self._table, [])
                if left:
                    retries += 1
                    if retries > 8:
                        raise StoreUnavailableError(f"write agenda: {len(left) + len(pending)} items unprocessed")
                    pending = list(left) + pending
                    time.sleep(min(0.05 * 2**retries, 1.0))  # DynamoDB asks us to back off
        except (BotoCoreError, ClientError) as error:
            raise _translate(error, "write agenda") from error

    # -- people: the language each person reads (issue #23; appended, nothing above changed) ----

    def person_languages(self, *, team_id: str, user: str) -> "PersonLanguages":
        """What is known of ``user``'s language: Slack locale (and when it was read), last written."""
        item = self._get(person_key(team_id, user)) or {}
        return PersonLanguages(
            locale=item["locale"]["S"] if "locale" in item else None,
            locale_read_at=_num(item, "locale_read_at"),
            last_written=item["last_written"]["S"] if "last_written" in item else None,
            home_view=item["home_view"]["S"] if "home_view" in item else None,
        )

    def remember_home_view(self, *, team_id: str, user: str, digest: str) -> None:
        """Record the digest of the Home view last published for ``user`` (the next same one is skipped)."""
        self._update(
            person_key(team_id, user), "SET home_view = :digest", {":digest": _s(digest)}, what="remember home view"
        )

    def remember_locale(self, *, team_id: str, user: str, locale: str, now: float) -> None:
        """Cache ``user``'s Slack locale (``""``: Slack gave none) as read at ``now``."""
        self._update(
            person_key(team_id, user),
            "SET #locale = :locale, locale_read_at = :at",
            {":locale": _s(locale), ":at": _n(now)},
            names={"#locale": "locale"},
            what="remember locale",
        )

    def remember_written_language(self, *, team_id: str, user: str, lang: str) -> bool:
        """Record the language ``user`` last wrote a command in; a write only when it changed.

        Returns:
            ``True`` if it changed now.
        """
        return self._update(
            person_key(team_id, user),
            "SET last_written = :lang",
            {":lang": _s(lang)},
            condition="attribute_not_exists(last_written) OR last_written <> :lang",
            what="remember language",
        )


def person_key(team_id: str, user: str) -> dict[str, str]:
    return {"pk": f"PERSON#{team_id}", "sk": f"USER#{user}"}


@dataclass(frozen=True, slots=True)
class PersonLanguages:
    """A person's language sources: their Slack locale (cached) and the language they last wrote in."""

    locale: str | None
    locale_read_at: float
    last_written: str | None
    home_view: str | None = None  # digest of the Home view last published for them


def dynamodb_client(endpoint_url: str | None, region: str) -> "DynamoDBClient":
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config)


@cache
def get_store() -> StateStore:
    """The store for this worker process, from its settings."""
    settings = get_settings()
    return StateStore(
        dynamodb_client(settings.aws_endpoint_url, settings.aws_region),
        settings.table_state,
        archive_retention_days=settings.archive_retention_days,
    )
