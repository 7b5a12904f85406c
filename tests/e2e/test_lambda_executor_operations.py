"""``charla workers`` and ``charla status`` see the Lambda executor, locally and as AWS shows it.

Locally: the small profile's stack (replies on the Lambda executor through the local event
source, nothing on bulk: Fargate scaled to zero at rest). In AWS the executor is an event source
mapping; moto in server mode holds a real one here (a function, its queue, the mapping), and
``charla`` finds it through the Lambda API as it would in an account.
"""

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from charla_cli.errors import EXIT_NO_WORKER, EXIT_OK
from charla_cli.main import main as charla
from contract.heartbeats import HEARTBEAT_INTERVAL_VARIABLE
from contract.queues import QueueName
from scripts.processes import wait_until
from scripts.provision import LOCAL_CREDENTIALS
from scripts.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
LOCAL_KEYS = {
    "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
    "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    home = tmp_path_factory.mktemp("clone")
    with DevStack(
        worker_queues=[],
        lambda_queues=[QueueName.REPLIES],
        sqs_wait_time_seconds=1,
        extra_env={HEARTBEAT_INTERVAL_VARIABLE: "1"},
        endpoints_file=home / ".stack" / "endpoints.json",
        log_dir=home / ".stack" / "logs",
    ) as stack:
        yield stack


def run(stack: DevStack, *argv: str) -> tuple[int, str]:
    """``charla ARGS`` from the directory holding the stack's ``.stack/`` (endpoints and logs)."""
    assert stack.endpoints_file
    out = io.StringIO()
    status = charla([*argv], environ={}, cwd=stack.endpoints_file.parent.parent, out=out)
    return status, out.getvalue()


def test_on_the_small_profile_workers_and_status_see_the_lambda_executor_and_exit_0(small: DevStack) -> None:
    status, table = wait_until(
        lambda: result if (result := run(small, "workers"))[0] == EXIT_OK else None,
        timeout=30,
        message="the local event source's heartbeat",
    )
    assert "lambda:" in table and "replies" in table and "lambda/1" in table

    status, answer = run(
        small, "send", "ping", "--json", '{"team_id":"T1","channel":"C1","user":"U1","command":"ping"}', "--wait", "20"
    )
    assert status == EXIT_OK
    assert json.loads(answer)["worker"].startswith("lambda:")

    status, report = run(small, "status", "--json")
    fields = json.loads(report)
    assert status == EXIT_OK, fields["problems"]
    assert any(name.startswith("lambda:") for name in fields["workers"]["names"])


def test_trace_follows_a_task_the_lambda_executor_ran(small: DevStack) -> None:
    status, sent = run(small, "send", "health")
    task_id = sent.strip()

    status, text = wait_until(
        lambda: found if "received" in (found := run(small, "trace", task_id))[1] else None,
        timeout=30,
        message="the Lambda executor's line about the task",
    )

    assert status == EXIT_OK, text
    assert "[lambda-replies] " in text and f"charla.health[{task_id}] received (Lambda executor" in text


def test_work_waiting_on_a_queue_no_executor_serves_is_exit_6_and_named(small: DevStack) -> None:
    small.sqs().send_message(QueueUrl=small.queue_url(QueueName.BULK), MessageBody="waits for a bulk worker")
    try:
        status, report = run(small, "status", "--json")
        fields = json.loads(report)
    finally:
        small.empty_queues()

    assert status == EXIT_NO_WORKER
    assert fields["queues_without_worker"] == ["bulk"]  # replies is served by the Lambda executor
    assert "no live worker while messages wait (bulk)" in fields["problems"]


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def test_in_aws_an_event_source_mapping_is_listed_as_the_queues_executor(small: DevStack) -> None:
    assert small.moto_url
    clients: dict[str, Any] = {
        name: boto3.client(name, endpoint_url=small.moto_url, region_name="us-east-1", **LOCAL_KEYS)
        for name in ("iam", "lambda")
    }
    role = clients["iam"].create_role(RoleName="charla-executor", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    function = clients["lambda"].create_function(
        FunctionName="charla-executor",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _function_zip()},
    )["FunctionArn"]
    queue_arn = small.sqs().get_queue_attributes(QueueUrl=small.queue_url(QueueName.BULK), AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    clients["lambda"].create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=function, BatchSize=1)

    status, listed = run(small, "workers", "--json")

    assert status == EXIT_OK
    executors = [r for r in json.loads(listed) if r["hostname"] == "lambda:charla-executor"]
    assert [(e["queues"], e["pool"], e["serving"]) for e in executors] == [(["bulk"], "lambda", True)]
