"""Other callers feed the bot through the documented SQS contract, as a user of each would.

Real processes: moto server, the Slack stand-in, a real ``celery worker``; the Node CLI
(clients/node) and ``charla send`` talk to them exactly as they would to AWS.
"""

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from contract.queues import QueueName
from contract.results import RESULT_TTL_S, result_key
from contract.tables import TABLE_SPECS, TableName
from contract.tasks import TaskName
from contract.wire import encode_task_message
from scripts.processes import wait_until
from scripts.provision import dynamodb
from scripts.stack import DevStack
from tests.integration.test_wire_node import NODE_CLIENT, ensure_node_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent.parent


def charla_send(stack: DevStack, *args: str) -> subprocess.CompletedProcess[str]:
    """``charla send ...`` as ``python -m charla_cli`` from this checkout.

    Not the installed console script: an editable install points it at whichever checkout ran
    ``pip install -e``, which need not be this one.
    """
    return subprocess.run(
        [sys.executable, "-m", "charla_cli", "send", *args],
        env=stack.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def node_send(stack: DevStack, *args: str) -> subprocess.CompletedProcess[str]:
    """``npx charla-send ...``, run as its bin file so no npm lookup is involved."""
    node = ensure_node_client()
    return subprocess.run(
        [node, str(NODE_CLIENT / "bin" / "charla-send.js"), *args],
        env=stack.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def replies_in(stack: DevStack, channel: str) -> list[dict[str, Any]]:
    return [record for record in stack.recorded() if record.get("channel") == channel]


def test_a_ping_sent_from_node_is_answered_in_slack(stack: DevStack) -> None:
    payload = {"team_id": "T1", "channel": "C0NODE", "user": "U1", "command": "ping"}

    sent = node_send(stack, "ping", "--json", json.dumps(payload))

    assert sent.returncode == 0, sent.stderr
    assert uuid.UUID(sent.stdout.strip())  # the task id
    stack.wait_for_replies(1)
    stack.wait_until_drained(QueueName.REPLIES)
    (reply,) = replies_in(stack, "C0NODE")
    assert str(reply["text"]).startswith("pong")


def test_charla_send_wait_prints_the_workers_answer(stack: DevStack) -> None:
    sent = charla_send(stack, "charla.health", "--json", '{"correlation_id": "from-python"}', "--wait", "20")

    assert sent.returncode == 0, sent.stderr
    answer = json.loads(sent.stdout)
    assert answer["correlation_id"] == "from-python"
    assert answer["queue"] == QueueName.REPLIES
    assert answer["worker"].startswith("worker@")


def test_node_wait_prints_the_workers_answer(stack: DevStack) -> None:
    sent = node_send(stack, "health", "--json", '{"correlation_id": "from-node"}', "--wait", "20")

    assert sent.returncode == 0, sent.stderr
    answer = json.loads(sent.stdout)
    assert (answer["correlation_id"], answer["queue"]) == ("from-node", QueueName.REPLIES)


@pytest.mark.parametrize("sender", [charla_send, node_send], ids=["python", "node"])
def test_a_payload_of_the_wrong_shape_is_refused_in_one_line_before_sending(stack: DevStack, sender: Any) -> None:
    sent = sender(stack, "ping", "--json", '{"channel": "C0NEVER", "colour": "red"}')

    assert sent.returncode == 2
    assert sent.stderr.count("\n") == 1
    assert "payload does not match CommandRequest" in sent.stderr
    assert "team_id" in sent.stderr and "colour" in sent.stderr
    assert not replies_in(stack, "C0NEVER")


@pytest.mark.parametrize("sender", [charla_send, node_send], ids=["python", "node"])
def test_no_answer_in_time_is_a_timeout_in_one_line(stack_without_worker: DevStack, sender: Any) -> None:
    sent = sender(stack_without_worker, "health", "--wait", "1")

    # charla also reads the heartbeats: with no worker alive it says so (exit 6, docs/OPERATIONS.md).
    assert sent.returncode == (6 if sender is charla_send else 3), sent.stderr
    assert sent.stderr.count("\n") == 1
    assert "no result for task" in sent.stderr and "after 1 s" in sent.stderr
    if sender is charla_send:
        assert "no worker is alive" in sent.stderr


def test_a_hot_path_task_stores_no_result_even_when_the_message_asks(stack: DevStack) -> None:
    task_id = str(uuid.uuid4())
    request = {
        "correlation_id": task_id,
        "team_id": "T1",
        "channel": "C0HOT",
        "user": "U1",
        "command": "help",
        "requested_at": 1.0,
    }
    stack.sqs().send_message(
        QueueUrl=stack.queue_url(QueueName.REPLIES),
        MessageBody=encode_task_message(
            task=TaskName.HELP, kwargs=request, queue="replies", task_id=task_id, ignore_result=False
        ),
    )

    stack.wait_for_replies(1)
    stack.wait_until_drained(QueueName.REPLIES)

    assert replies_in(stack, "C0HOT")
    assert stack.moto_url
    item = dynamodb(stack.moto_url).get_item(
        TableName=stack.env[TABLE_SPECS[TableName.RESULTS].variable], Key={"id": {"S": result_key(task_id)}}
    )
    assert "Item" not in item


def test_a_stored_result_is_plain_json_under_a_text_key_and_expires(stack: DevStack) -> None:
    task_id = str(uuid.uuid4())
    stack.sqs().send_message(
        QueueUrl=stack.queue_url(QueueName.REPLIES),
        MessageBody=encode_task_message(
            task=TaskName.HEALTH,
            kwargs={"correlation_id": "record", "requested_at": time.time()},
            queue="replies",
            task_id=task_id,
            ignore_result=False,
        ),
    )
    assert stack.moto_url
    table = stack.env[TABLE_SPECS[TableName.RESULTS].variable]
    client = dynamodb(stack.moto_url)

    item = wait_until(
        lambda: client.get_item(TableName=table, Key={"id": {"S": result_key(task_id)}}).get("Item"),
        timeout=20,
        message="the health result record",
    )

    record = json.loads(bytes(item["result"]["B"]))
    assert (record["status"], record["task_id"], record["result"]["correlation_id"]) == ("SUCCESS", task_id, "record")
    assert 0 < float(item["ttl"]["N"]) - time.time() <= RESULT_TTL_S
