"""Create charla's queues (each with a dead-letter queue) and tables in an AWS-compatible endpoint.

Locally this is moto in server mode; the names carry a prefix so several stacks can share one
server. The result is the environment that the ingress and workers read.
"""

import json
from typing import TYPE_CHECKING, Literal

import boto3

from contract import environment as env
from contract.queues import DLQ_RETENTION_S, QUEUE_RETENTION_S, QUEUE_SPECS
from contract.tables import TABLE_SPECS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def aws_client_kwargs(endpoint_url: str) -> dict[str, str]:
    return {
        "endpoint_url": endpoint_url,
        "region_name": REGION,
        "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def sqs(endpoint_url: str) -> "SQSClient":
    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def dynamodb(endpoint_url: str) -> "DynamoDBClient":
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def create_queues(
    endpoint_url: str, prefix: str, *, visibility_timeout_s: int | None = None, max_receive_count: int | None = None
) -> dict[str, str]:
    """Each contract queue with its DLQ and redrive policy; returns the queue URL variables.

    ``visibility_timeout_s`` / ``max_receive_count`` replace the contract's numbers on every
    queue: for tests that watch a message reach its DLQ in seconds, never for a deploy.
    """
    client = sqs(endpoint_url)
    variables: dict[str, str] = {}
    for spec in QUEUE_SPECS.values():
        dlq_url = client.create_queue(
            QueueName=f"{prefix}-{spec.name}-dlq", Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_S)}
        )["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = client.create_queue(
            QueueName=f"{prefix}-{spec.name}",
            Attributes={
                "VisibilityTimeout": str(visibility_timeout_s or spec.visibility_timeout_s),
                "MessageRetentionPeriod": str(QUEUE_RETENTION_S),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count or spec.max_receive_count}
                ),
            },
        )["QueueUrl"]
        variables[env.queue_url_variable(spec.name)] = url
    return variables


def create_tables(endpoint_url: str, prefix: str) -> dict[str, str]:
    """Each contract table (on-demand, TTL enabled); returns the table name variables."""
    client = dynamodb(endpoint_url)
    variables: dict[str, str] = {}
    for spec in TABLE_SPECS.values():
        name = f"{prefix}-{spec.name}"
        keys: list[tuple[str, Literal["HASH", "RANGE"]]] = [(spec.partition_key, "HASH")]
        if spec.sort_key:
            keys.append((spec.sort_key, "RANGE"))
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        )
        if spec.ttl_attribute:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
        variables[spec.variable] = name
    return variables


def provision(endpoint_url: str, prefix: str = "charla", **queue_overrides: int | None) -> dict[str, str]:
    """Queues and tables; returns the environment variables that name them.

    ``queue_overrides``: ``visibility_timeout_s`` / ``max_receive_count`` for tests (see ``create_queues``).
    """
    return {**create_queues(endpoint_url, prefix, **queue_overrides), **create_tables(endpoint_url, prefix)}
