"""DynamoDB access: the one module that knows the STATE table's key schema (see docs/DATA.md).

Single-table design, string keys ``pk``/``sk``, TTL attribute ``expires_at``:

====================================  ==================================  ==========================
pk                                    sk                                  what
====================================  ==================================  ==========================
``MSG#<team>#<channel>``              ``<ts>#<kind>#<event_ts>``          one archived message event
``COUNT#<team>``                      ``USER#<user>``                     messages a person wrote
``COMMANDS#<team>``                   ``CMD#<command>``                   times a command was used
``COMMANDS#<team>``                   ``SEEN#<correlation_id>``           a counted request (TTL)
``AGENDA``                            ``CURRENT``                         pointer: the live version
``AGENDA``                            ``V#<version>#<index>``             one agenda item (old: TTL)
``REPLY#<reply key>``                 ``LEDGER``                          one answer: pending/done (TTL)
``PACE#<channel>``                    ``NEXT``                            the channel's next free post slot
====================================  ==================================  ==========================

Every write that adds to a counter is a transaction with a conditional put of the record that
justifies it, so a redelivered event or task adds nothing the second time.
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
# How long a request id is remembered for counting: far longer than Slack or SQS redeliver.
SEEN_REQUEST_TTL_S = 7 * 24 * 3600
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


# A reply's ledger entry outlives every redelivery of its task (SQS keeps messages 4 days).
REPLY_LEDGER_TTL_S = 7 * 24 * 3600
PACE_TTL_S = 3600


class ReplyState(StrEnum):
    """What the reply ledger says about one answer before it is posted."""

    NEW = "new"  # nobody tried: post it
    DONE = "done"  # posted before: do nothing
    UNFINISHED = "unfinished"  # an earlier attempt started and never confirmed: check Slack first


# -- keys: the whole key schema lives in these functions ---------------------------------------


def reply_key(reply_id: str) -> dict[str, str]:
    return {"pk": f"REPLY#{reply_id}", "sk": "LEDGER"}


def pace_key(channel: str) -> dict[str, str]:
    return {"pk": f"PACE#{channel}", "sk": "NEXT"}


def channel_archive_pk(team_id: str, channel: str) -> str:
    return f"MSG#{team_id}#{channel}"


def message_key(message: ArchivedMessage) -> dict[str, str]:
    """Key of one archived message event: the same event always gets the same key."""
    return {
        "pk": channel_archive_pk(message.team_id, message.channel),
        "sk": f"{message.ts}#{message.kind}#{message.event_ts}",
    }


def user_count_key(team_id: str, user: str) -> dict[str, str]:
    return {"pk": f"COUNT#{team_id}", "sk": f"USER#{user}"}


def command_count_key(team_id: str, command: str) -> dict[str, str]:
    return {"pk": f"COMMANDS#{team_id}", "sk": f"CMD#{command}"}


def seen_request_key(team_id: str, correlation_id: str) -> dict[str, str]:
    return {"pk": f"COMMANDS#{team_id}", "sk": f"SEEN#{correlation_id}"}


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

    def __init__(self, client: "DynamoDBClient", table: str) -> None:
        self._client = client
        self._table = table

    # -- archive and counters --------------------------------------------------------------

    def archive_message(self, message: ArchivedMessage, *, now: float | None = None) -> bool:
        """Keep ``message``; if a person wrote it, add one to their count, in one transaction.

        Returns:
            ``True`` if it was new; ``False`` if this event was already archived (nothing changed).
        """
        record = _item(
            message_key(message),
            event_id=_s(message.event_id),
            kind=_s(message.kind),
            user=_s(message.user),
            text=_s(message.text),
            is_bot={"BOOL": message.is_bot},
            archived_at=_n(now if now is not None else time.time()),
            **({"subtype": _s(message.subtype)} if message.subtype else {}),
            **({"thread_ts": _s(message.thread_ts)} if message.thread_ts else {}),
            **({"channel_type": _s(message.channel_type)} if message.channel_type else {}),
        )
        writes: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": record, "ConditionExpression": "attribute_not_exists(pk)"}}
        ]
        if is_counted(message):
            writes.append(self._add_one(user_count_key(message.team_id, message.user), "messages"))
        return self._transact(writes, what="archive message")

    def count_command(self, *, team_id: str, command: str, correlation_id: str, now: float | None = None) -> bool:
        """Add one use of ``command``, once per request (a redelivered task adds nothing).

        Returns:
            ``True`` if counted now; ``False`` if this request was counted before.
        """
        expires = (now if now is not None else time.time()) + SEEN_REQUEST_TTL_S
        marker = _item(seen_request_key(team_id, correlation_id), command=_s(command), expires_at=_n(expires))
        writes = [
            {"Put": {"TableName": self._table, "Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}},
            self._add_one(command_count_key(team_id, command), "uses"),
        ]
        return self._transact(writes, what="count command")

    def message_count(self, *, team_id: str, user: str) -> int:
        """Messages ``user`` wrote in the workspace (0 if none were archived)."""
        item = self._get(user_count_key(team_id, user))
        return int(item["messages"]["N"]) if item and "messages" in item else 0

    def command_counts(self, *, team_id: str) -> dict[str, int]:
        """Uses of each command in the workspace."""
        prefix = command_count_key(team_id, "")
        items = self._query(prefix["pk"], prefix["sk"])
        return {item["sk"]["S"].removeprefix(prefix["sk"]): int(item["uses"]["N"]) for item in items}

    def archived(self, *, team_id: str, channel: str) -> list[dict[str, Any]]:
        """Every archived event of a channel, oldest message first (plain values)."""
        return [
            {name: next(iter(value.values())) for name, value in item.items()}
            for item in self._query(channel_archive_pk(team_id, channel), "")
        ]

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

        Readers see the old agenda or the new one, never a mix. The replaced version gets a TTL.
        If another refresh swapped the pointer meanwhile, this one loses: its items get a TTL and
        StoreUnavailableError is raised (a retry reloads and swaps again).

        Returns:
            The new version id.
        """
        now = time.time() if now is None else now
        previous = self.agenda_version()
        version = new_agenda_version(now)
        self._batch_put(
            [
                _item(
                    agenda_item_key(version, index), title=_s(r.title), start=_s(r.start), end=_s(r.end), url=_s(r.url)
                )
                for index, r in enumerate(records)
            ]
        )
        pointer = _item(
            {"pk": AGENDA_PK, "sk": AGENDA_POINTER_SK}, version=_s(version), items=_n(len(records)), swapped_at=_n(now)
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
                self._expire_version(version, now)
                raise StoreUnavailableError("agenda swapped by a concurrent refresh") from error
            raise _translate(error, "swap agenda") from error
        except BotoCoreError as error:
            raise _translate(error, "swap agenda") from error
        if previous is not None:
            self._expire_version(previous, now)
        return version

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

    # -- reply ledger: each answer posted once ------------------------------------------------

    def begin_reply(self, reply_id: str, *, now: float | None = None) -> ReplyState:
        """Record that answer ``reply_id`` is about to be posted, unless it was already.

        ``UNFINISHED`` means an earlier attempt began and never confirmed (its worker died, or
        Slack failed): the caller looks for the answer in Slack before posting again.
        """
        now = time.time() if now is None else now
        expires = _n(now + REPLY_LEDGER_TTL_S)
        item = _item(reply_key(reply_id), state=_s("pending"), began_at=_n(now), expires_at=expires)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise _translate(error, "begin reply") from error
            old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
            old = old or self._get(reply_key(reply_id)) or {}
            return ReplyState.DONE if old.get("state", {}).get("S") == "done" else ReplyState.UNFINISHED
        except BotoCoreError as error:
            raise _translate(error, "begin reply") from error
        return ReplyState.NEW

    def finish_reply(self, reply_id: str, *, message_ts: str | None) -> None:
        """Mark answer ``reply_id`` posted (``message_ts``: where, when Slack said)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={name: _s(value) for name, value in reply_key(reply_id).items()},
                UpdateExpression="SET #state = :done, message_ts = :ts",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":done": _s("done"), ":ts": _s(message_ts or "")},
            )
        except (BotoCoreError, ClientError) as error:
            raise _translate(error, "finish reply") from error

    # -- channel pace: every worker together under Slack's per-channel limit --------------------

    def reserve_post_slot(
        self, channel: str, *, interval_s: float, now: float | None = None, not_before: float = 0.0
    ) -> float:
        """Reserve the channel's next free posting time, no earlier than ``not_before``; return it.

        One conditional write when the channel is idle; when it is busy, the reservation goes
        after the last one (optimistic: a lost race reads again). ``not_before`` honours a
        Retry-After: the slot and every later one move past it.
        """
        key = {name: _s(value) for name, value in pace_key(channel).items()}
        for attempt in range(20):
            current = max(not_before, now if (now is not None and attempt == 0) else time.time())
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET next_at = :next, expires_at = :expires",
                    ConditionExpression="attribute_not_exists(next_at) OR next_at <= :now",
                    ExpressionAttributeValues={
                        ":next": _n(current + interval_s),
                        ":now": _n(current),
                        ":expires": _n(current + PACE_TTL_S),
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return current
            except ClientError as error:
                if _error_code(error) != "ConditionalCheckFailedException":
                    raise _translate(error, "reserve post slot") from error
                old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
                seen = old.get("next_at", {}).get("N")
            except BotoCoreError as error:
                raise _translate(error, "reserve post slot") from error
            if seen is None:
                continue
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET next_at = :next",
                    ConditionExpression="next_at = :seen",
                    ExpressionAttributeValues={":next": _n(float(seen) + interval_s), ":seen": {"N": seen}},
                )
                return float(seen)
            except ClientError as error:
                if _error_code(error) != "ConditionalCheckFailedException":
                    raise _translate(error, "reserve post slot") from error
            except BotoCoreError as error:
                raise _translate(error, "reserve post slot") from error
            # lost the race to another worker: look again
        raise StoreUnavailableError(f"channel {channel} pace: too much contention")

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
        """Run ``writes`` all or nothing; ``False`` if the first (the keyed put) already existed."""
        try:
            if len(writes) == 1:
                self._client.put_item(**writes[0]["Put"])
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
            response = self._client.get_item(
                TableName=self._table, Key={name: _s(value) for name, value in key.items()}, ConsistentRead=True
            )
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


def dynamodb_client(endpoint_url: str | None, region: str) -> "DynamoDBClient":
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config)


@cache
def get_store() -> StateStore:
    """The store for this worker process, from its settings."""
    settings = get_settings()
    return StateStore(dynamodb_client(settings.aws_endpoint_url, settings.aws_region), settings.table_state)
