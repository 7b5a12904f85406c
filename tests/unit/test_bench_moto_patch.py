"""The bench's moto patch (bench/moto_patch.py): a transaction no longer copies whole tables, and a
cancelled one still leaves every item as it was (all or nothing, as DynamoDB)."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

TABLE = "bench-patch"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for index in range(50):
            client.put_item(TableName=TABLE, Item={"pk": {"S": f"OLD#{index}"}, "sk": {"S": "x"}})
        client.put_item(TableName=TABLE, Item={"pk": {"S": "CHANNEL"}, "sk": {"S": "C1"}, "n": {"N": "1"}})
        yield client


@pytest.fixture
def tables_cannot_be_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copying a whole table now fails the transaction loudly (moto's original behaviour does it)."""
    from moto.dynamodb.models.table import Table

    def refuse(self: Any, memo: Any) -> Any:
        raise AssertionError("a whole table was deep-copied")

    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)


def _claim(client: Any, task: str, *, expected_n: str) -> None:
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {"pk": {"S": f"EFFECT#{task}"}, "sk": {"S": "EFFECT"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "CHANNEL"}, "sk": {"S": "C1"}},
                    "UpdateExpression": "ADD n :one",
                    "ConditionExpression": "n = :seen",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":seen": {"N": expected_n}},
                }
            },
        ]
    )


def _state(client: Any) -> dict[str, Any]:
    items = client.scan(TableName=TABLE)["Items"]
    return {item["pk"]["S"]: item.get("n", {}).get("N") for item in items}


def test_a_transaction_copies_only_what_it_touches(dynamodb: Any, tables_cannot_be_copied: None) -> None:
    from bench import moto_patch

    moto_patch.apply()
    _claim(dynamodb, "t1", expected_n="1")
    assert _state(dynamodb)["CHANNEL"] == "2" and "EFFECT#t1" in _state(dynamodb)


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb: Any, tables_cannot_be_copied: None) -> None:
    from bench import moto_patch

    moto_patch.apply()
    before = _state(dynamodb)
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        _claim(dynamodb, "t2", expected_n="7")  # the put succeeds first, then the update's condition fails
    assert _state(dynamodb) == before  # the put is undone, nothing else moved
    _claim(dynamodb, "t3", expected_n="1")
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "EFFECT#t4"}, "sk": {"S": "EFFECT"}})
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        _claim(dynamodb, "t4", expected_n="2")  # the put's condition fails: the update never runs
    assert _state(dynamodb)["CHANNEL"] == "2"
