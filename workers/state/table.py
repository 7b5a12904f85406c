"""What every aggregate of the STATE table shares: attribute values, errors, conditional writes.

Errors (every aggregate raises these, nothing else):
    StoreUnavailableError: Throttled or unreachable: worth retrying (a failure, counted).
    StoreContended: Another writer held the item (``TransactionConflict``): retry soon; not a
        failure, the item is hot, not broken.
    StoreError: Refused for good (a bug or a misconfiguration): do not retry.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
# Another request held the item at that instant (DynamoDB's optimistic concurrency).
CONTENTION_CODES = frozenset({"TransactionConflictException", "TransactionInProgressException", "TransactionConflict"})


class StoreUnavailableError(RuntimeError):
    """DynamoDB could not do it now (throttling, network): retry the task later."""


class StoreContended(StoreUnavailableError):
    """Another write held the item at that instant: try again in a moment; never a failure."""


class StoreError(RuntimeError):
    """DynamoDB refused the request for good (a bug or a misconfiguration): do not retry."""


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: float) -> dict[str, str]:
    return {"N": str(int(value))}


def t(value: float) -> dict[str, str]:
    """A time to the millisecond: slots 10 ms apart must stay apart."""
    return {"N": f"{value:.3f}"}


def num(item: Mapping[str, Any], name: str, default: float = 0.0) -> float:
    value = item.get(name, {}).get("N")
    return float(value) if value is not None else default


def key(names: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {name: s(value) for name, value in names.items()}


def item(names: Mapping[str, str], **attributes: dict[str, Any]) -> dict[str, Any]:
    return {**key(names), **attributes}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


def translate(error: BotoCoreError | ClientError, what: str) -> RuntimeError:
    """A botocore error as one of this module's errors."""
    if isinstance(error, ClientError):
        code = error_code(error)
        if code in CONTENTION_CODES:
            return StoreContended(f"{what}: {code}")
        if code not in _RETRYABLE_CODES:
            return StoreError(f"{what}: {code}")
        return StoreUnavailableError(f"{what}: {code}")
    return StoreUnavailableError(f"{what}: {type(error).__name__}")


class Table:
    """One DynamoDB table: reads and single conditional writes, errors translated."""

    def __init__(self, client: "DynamoDBClient", name: str) -> None:
        self.client = client
        self.name = name

    def get(self, names: Mapping[str, str]) -> dict[str, Any] | None:
        """The item (strongly consistent read), or ``None``."""
        try:
            response = self.client.get_item(TableName=self.name, Key=key(names), ConsistentRead=True)
        except (BotoCoreError, ClientError) as error:
            raise translate(error, "read") from error
        found: dict[str, Any] | None = response.get("Item")
        return found

    def update(
        self,
        names: Mapping[str, str],
        expression: str,
        values: Mapping[str, Any],
        *,
        condition: str | None = None,
        attribute_names: Mapping[str, str] | None = None,
        what: str,
    ) -> bool:
        """One ``UpdateItem``; ``False`` if its condition failed."""
        request: dict[str, Any] = {"TableName": self.name, "Key": key(names), "UpdateExpression": expression}
        if values:
            request["ExpressionAttributeValues"] = dict(values)
        if condition:
            request["ConditionExpression"] = condition
        if attribute_names:
            request["ExpressionAttributeNames"] = dict(attribute_names)
        try:
            self.client.update_item(**request)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise translate(error, what) from error
        except BotoCoreError as error:
            raise translate(error, what) from error
        return True
