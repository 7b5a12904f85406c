"""A bench-only patch for moto's DynamoDB: a transaction backs up only the items it touches.

moto 5.2's ``transact_write_items`` deep-copies every table a transaction names before it runs, so
that it can put the whole table back if the transaction is cancelled: 5 ms at an empty table, 80 ms
at 1,600 items, growing with every effect record a run writes. Whoever runs later in a bench, or
longer, pays more: the figures would measure moto's copy, not charla. DynamoDB itself does no such
thing. Here the table copy is skipped and, instead, the items the transaction names are copied
before it runs and written back (or deleted again) if it is cancelled: the same all-or-nothing
outcome, at a cost that depends on the transaction, not on the table.

Never shipped and never used by tests: ``python -m bench.moto_patch -H HOST -p PORT`` is the moto
server the bench starts (``bench.context``, ``bench.sustained``).
"""

import copy
import sys
import threading
from typing import Any

_state = threading.local()


class _CopyWithoutTables:
    """Stands in for the ``copy`` module inside moto's DynamoDB models: while this thread runs a
    patched transaction, a deep copy of a whole ``Table`` returns the table itself (moto's own
    rollback then puts back the object it already has: a no-op); everything else is copied."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(_state, "in_transaction", False) and isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any] | None:
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    if op_type != "Put":
        key = op.get("Key")
        return dict(key) if isinstance(key, dict) else None
    item = op.get("Item") or {}
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    if not all(name in item for name in names):
        return None  # moto rejects it itself; nothing to back up
    return {name: item[name] for name in names}


def apply() -> None:
    """Patch ``DynamoDBBackend.transact_write_items`` in this process (idempotent)."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    backend_type = models.DynamoDBBackend
    if getattr(backend_type, "_charla_bench_patched", False):
        return
    original = backend_type.transact_write_items
    setattr(models, "copy", _CopyWithoutTables(Table))  # noqa: B010 - replaces a module moto imported

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for entry in transact_items:
            if len(entry) != 1:
                continue  # moto raises for it before writing anything
            op_type, op = next(iter(entry.items()))
            key = _key_of(self, op_type, op)
            if key is None:
                continue
            current = self.get_item(op["TableName"], key)
            backups.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        _state.in_transaction = True
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(backups):
                if attributes is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise
        finally:
            _state.in_transaction = False

    setattr(backend_type, "transact_write_items", transact_write_items)  # noqa: B010
    setattr(backend_type, "_charla_bench_patched", True)  # noqa: B010


def main(argv: list[str] | None = None) -> None:
    """moto's server, patched: the same arguments as ``python -m moto.server``."""
    apply()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
