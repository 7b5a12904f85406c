"""The base of the STATE table's aggregates that still speak DynamoDB directly (archive,
welcomes, agenda): the client, the table and a few writes they share. Each aggregate module
(``workers/state/archive.py``...) adds its own keys and methods on top; ``workers/store.py``
composes them into ``StateStore``.
"""

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from workers.state.table import StoreUnavailableError
from workers.state.table import cancellation_codes as _cancellation_codes
from workers.state.table import error_code as _error_code
from workers.state.table import key as _key
from workers.state.table import s as _s
from workers.state.table import translate as _translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Records:
    """The client and table every aggregate mixin writes through.

    Raises (every method of every aggregate):
        StoreUnavailableError: Throttled, conflicting or unreachable: worth retrying.
        StoreError: Refused for good.
    """

    _client: "DynamoDBClient"
    _table: str

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
