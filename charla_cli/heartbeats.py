"""Reading what workers report about themselves (record shapes: contract/heartbeats.py)."""

import json
import time
from collections.abc import Iterable
from typing import Any

from contract.heartbeats import (
    FAILURE_NOTE_BODY_ATTRIBUTE,
    HEARTBEAT_BODY_ATTRIBUTE,
    HEARTBEAT_PK,
    failure_note_key,
)


def live_workers(dynamodb: Any, table: str, *, now: float | None = None) -> list[dict[str, Any]]:
    """Heartbeats whose TTL has not passed (DynamoDB's own TTL deletion can lag by days)."""
    now = time.time() if now is None else now
    records: list[dict[str, Any]] = []
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": HEARTBEAT_PK}},
        ConsistentRead=True,
    )
    for page in pages:
        for item in page.get("Items", []):
            record: dict[str, Any] = json.loads(item[HEARTBEAT_BODY_ATTRIBUTE]["S"])
            if float(record.get("expires_at", 0)) > now:
                records.append(record)
    return sorted(records, key=lambda r: (r.get("hostname", ""), r.get("pid", 0)))


def failure_notes(dynamodb: Any, table: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The latest failure note per task or message id (ids without a note are absent)."""
    wanted = sorted({i for i in ids if i})
    notes: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 100):
        keys = [{k: {"S": v} for k, v in failure_note_key(i).items()} for i in wanted[start : start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                note: dict[str, Any] = json.loads(item[FAILURE_NOTE_BODY_ATTRIBUTE]["S"])
                notes[str(note["id"])] = note
            request = response.get("UnprocessedKeys") or {}
    return notes
