"""Heartbeat records in the STATE table (key schema: contract/heartbeats.py, docs/DATA.md).

Kept apart from ``workers/store.py``'s reply/pace/counter code on purpose: a heartbeat is
best effort, its client fails fast (one attempt, short timeouts) because it runs on the
worker's event loop, and a failed write only makes the worker look late in ``charla workers``.
"""

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from contract.heartbeats import (
    FAILURE_NOTE_BODY_ATTRIBUTE,
    FAILURE_NOTE_TTL_S,
    HEARTBEAT_BODY_ATTRIBUTE,
    HEARTBEAT_TTL_ATTRIBUTE,
    failure_note_key,
    heartbeat_key,
)
from workers.runtime import aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


class HeartbeatStore:
    """Writes and deletes this worker's heartbeat record."""

    def __init__(self, client: "DynamoDBClient", table: str) -> None:
        self._client = client
        self._table = table

    def put(self, record: Mapping[str, Any]) -> None:
        """One put_item (1 write unit: the record stays under 1 KB for a few active tasks)."""
        key = heartbeat_key(str(record["hostname"]), int(record["pid"]))
        self._client.put_item(
            TableName=self._table,
            Item={
                **{name: {"S": value} for name, value in key.items()},
                HEARTBEAT_BODY_ATTRIBUTE: {"S": json.dumps(record, separators=(",", ":"), sort_keys=True)},
                HEARTBEAT_TTL_ATTRIBUTE: {"N": str(int(record["expires_at"]))},
            },
        )

    def put_failure_notes(self, notes: Sequence[Mapping[str, Any]], worker: str) -> None:
        """Why each of these tasks failed or was refused, for ``charla dlq show`` (25 per batch).

        Raises:
            RuntimeError: DynamoDB left some notes unwritten (the caller keeps them for the next beat).
        """
        latest = {str(note["id"]): note for note in notes}  # one note per id: the last attempt's
        items = list(latest.values())
        for start in range(0, len(items), 25):
            requests = []
            for note in items[start : start + 25]:
                key = failure_note_key(str(note["id"]))
                body = json.dumps({**note, "worker": worker}, separators=(",", ":"), sort_keys=True)
                requests.append(
                    {
                        "PutRequest": {
                            "Item": {
                                **{name: {"S": value} for name, value in key.items()},
                                FAILURE_NOTE_BODY_ATTRIBUTE: {"S": body},
                                HEARTBEAT_TTL_ATTRIBUTE: {"N": str(int(float(note["at"]) + FAILURE_NOTE_TTL_S))},
                            }
                        }
                    }
                )
            response = self._client.batch_write_item(RequestItems={self._table: requests})  # type: ignore[dict-item]
            if response.get("UnprocessedItems"):
                raise RuntimeError("some failure notes were not written (throttled)")

    def delete(self, hostname: str, pid: int) -> None:
        key = heartbeat_key(hostname, pid)
        self._client.delete_item(TableName=self._table, Key={name: {"S": value} for name, value in key.items()})


def heartbeat_client(endpoint_url: str | None, region: str) -> "DynamoDBClient":
    # One attempt, short timeouts: the write runs on the worker's event loop and must not stall it.
    config = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1, "mode": "standard"})
    client: DynamoDBClient = aws.client("dynamodb", region=region, endpoint_url=endpoint_url, config=config)
    return client
