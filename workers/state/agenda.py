"""The agenda: ``AGENDA`` / ``CURRENT`` (a pointer to the live version) and ``AGENDA`` /
``V#<version>#<index>`` (its items). Readers see the old agenda or the new one, never a mix.
This module is the only one that knows those keys.
"""

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from workers.state.records import Records
from workers.state.table import StoreUnavailableError
from workers.state.table import error_code as _error_code
from workers.state.table import item as _item
from workers.state.table import n as _n
from workers.state.table import s as _s
from workers.state.table import translate as _translate

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


def agenda_item_key(version: str, index: int) -> dict[str, str]:
    return {"pk": AGENDA_PK, "sk": f"{agenda_version_prefix(version)}{index:05d}"}


def agenda_version_prefix(version: str) -> str:
    return f"V#{version}#"


def new_agenda_version(now: float) -> str:
    """Sortable and unique: the refresh time, then a random suffix against concurrent refreshes."""
    return f"{int(now * 1000):015d}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class AgendaRecord:
    """An agenda item as stored (the service validates and formats it)."""

    title: str
    start: str
    end: str
    url: str


class AgendaRecords(Records):
    """Agenda versions (a mixin of ``StateStore``)."""

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
