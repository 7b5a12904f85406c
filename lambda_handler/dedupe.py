"""Claiming a Slack delivery once: a conditional write in DynamoDB, with a lease and a TTL.

Slack re-sends an event it thinks we missed (at once after 3 s, then after 1 and 5 minutes), and
two copies can arrive at the same time. The first copy claims the delivery key; a copy that finds
the key claimed is acked with 200 and enqueues nothing.

A claim is ``pending`` while its request is being handled and ``done`` once the request was
answered 2xx. If handling fails, the claim is deleted so Slack's retry can claim again; if the
process dies before that, the pending claim's lease runs out and a later retry may claim it (the
task ids derived from the delivery key let workers drop the duplicate effect).
"""

import hashlib
import logging
import time
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from lambda_handler.errors import QueueUnavailable
from lambda_handler.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

# Longer than the Lambda timeout: a claim younger than this belongs to a request still running.
LEASE_S = 30
# Slack's last retry comes about 5 minutes after the first delivery; keep keys well past that.
TTL_S = 24 * 3600


@cache
def dynamodb_client() -> "DynamoDBClient":
    """The DynamoDB client, created on first use and kept for the life of the environment."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("dynamodb", config=config)


def delivery_key(payload: Mapping[str, Any]) -> str | None:
    """What identifies one Slack delivery, or ``None`` for requests that need no dedupe.

    Events carry an ``event_id``; slash commands a ``trigger_id`` (a body hash when absent);
    interactions a ``trigger_id`` or their action ts. URL verification is answered every time.
    """
    if payload.get("type") == "event_callback" and payload.get("event_id"):
        return f"event:{payload['event_id']}"
    if "command" in payload:
        trigger = payload.get("trigger_id")
        if trigger:
            return f"command:{trigger}"
        digest = hashlib.sha256(repr(sorted(payload.items())).encode()).hexdigest()
        return f"command-body:{digest}"
    inner = payload.get("payload")
    if isinstance(inner, Mapping) and inner.get("trigger_id"):
        return f"interaction:{inner['trigger_id']}"
    return None


def _errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def claim(key: str) -> bool:
    """Claim ``key``; ``False`` if another delivery holds it (pending within its lease, or done).

    Raises:
        QueueUnavailable: DynamoDB did not answer; the request must be answered non-2xx.
    """
    from botocore.exceptions import ClientError

    now = int(time.time())
    try:
        dynamodb_client().put_item(
            TableName=get_settings().dedupe_table,
            Item={
                "pk": {"S": key},
                "state": {"S": "pending"},
                "lease_until": {"N": str(now + LEASE_S)},
                "expires_at": {"N": str(now + TTL_S)},
            },
            ConditionExpression="attribute_not_exists(pk) OR (#state = :pending AND lease_until < :now)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":pending": {"S": "pending"}, ":now": {"N": str(now)}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise QueueUnavailable("dedupe table error") from error
    except _errors() as error:
        raise QueueUnavailable("dedupe table unreachable") from error
    return True


def complete(key: str) -> None:
    """Mark ``key`` done: every later copy is a duplicate. Best effort: the lease covers a failure."""
    try:
        dynamodb_client().update_item(
            TableName=get_settings().dedupe_table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET #state = :done REMOVE lease_until",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":done": {"S": "done"}},
        )
    except _errors():
        logger.warning("could not mark delivery done; its lease will expire instead")


def release(key: str) -> None:
    """Forget the claim on ``key`` so Slack's retry can claim it again. Best effort, as above."""
    try:
        dynamodb_client().delete_item(TableName=get_settings().dedupe_table, Key={"pk": {"S": key}})
    except _errors():
        logger.warning("could not release delivery claim; its lease will expire instead")
