"""moto's server with its DynamoDB backend serialized: one table operation at a time.

moto 5.2's ``transact_write_items`` deep-copies each table it names and, when the transaction is
cancelled (a condition failed: an everyday answer for a copy meeting another run's hold), puts the
whole copied table back. Under concurrent requests that rollback erases every write other
requests made meanwhile, and the copy itself can fail ("dictionary changed size during
iteration", an HTTP 500). DynamoDB isolates transactions per item and loses nothing. Seen with
a thread pool of 16 in fault 2 (a record another run had claimed and fenced vanished: its DONE
write found no record, and the next copy claimed afresh and posted again). With this lock every
item operation and transaction runs alone, as DynamoDB's isolation promises; throughput is not
what the fault suite measures.

``python -m scripts.moto_serial -H HOST -p PORT``: the same arguments as ``python -m moto.server``
(``DevStack(moto_module="scripts.moto_serial")``).
"""

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.RLock()
OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_write_item",
    "batch_get_item",
    "transact_write_items",
    "transact_get_items",
)


def _serialized(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def alone(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)

    return alone


def patch() -> None:
    """Serialize every DynamoDB operation of moto's backend (idempotent per process)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in OPERATIONS:
        operation = getattr(DynamoDBBackend, name, None)
        if operation is not None and not getattr(operation, "_charla_serialized", False):
            serialized = _serialized(operation)
            serialized._charla_serialized = True  # type: ignore[attr-defined]
            setattr(DynamoDBBackend, name, serialized)


def main(argv: list[str] | None = None) -> None:
    """moto's server, serialized: the same arguments as ``python -m moto.server``."""
    patch()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
