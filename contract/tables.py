"""DynamoDB tables: their key schema and the variable that names each one.

The infra and the local provisioning both create tables from these specs; ``workers/store.py``
is the only code that reads or writes items.
"""

from dataclasses import dataclass
from enum import StrEnum


class TableName(StrEnum):
    """Logical table names; the physical name comes from the table's environment variable."""

    STATE = "state"  # archive, counters, agenda, effect records (single-table design)
    RESULTS = "results"  # results of waitable tasks, written by Celery's DynamoDB backend


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Key schema (string keys) and TTL attribute of one table."""

    name: TableName
    partition_key: str
    sort_key: str | None
    ttl_attribute: str | None

    @property
    def variable(self) -> str:
        """Environment variable holding the physical table name, e.g. ``CHARLA_TABLE_STATE``."""
        return f"CHARLA_TABLE_{self.name.name}"


TABLE_SPECS: dict[TableName, TableSpec] = {
    TableName.STATE: TableSpec(TableName.STATE, partition_key="pk", sort_key="sk", ttl_attribute="expires_at"),
    # Celery's DynamoDB result backend writes this shape: string key `id`, TTL attribute `ttl`
    # (see contract/results.py); it must not be changed to our own key names.
    TableName.RESULTS: TableSpec(TableName.RESULTS, partition_key="id", sort_key=None, ttl_attribute="ttl"),
}
