"""A caller waiting on a task sees the truth: RETRY while SQS still holds a copy, FAILURE only when final.

Real processes: moto server, the Slack stand-in answering 429, a real ``celery worker``.
"""

import json
import time
from typing import Any

import pytest

from contract.queues import QueueName
from contract.results import RESULT_VALUE_ATTRIBUTE, result_key
from contract.tables import TABLE_SPECS, TableName
from contract.tasks import TaskName
from contract.wire import encode_task_message
from scripts.processes import wait_until
from scripts.provision import dynamodb
from scripts.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _status(stack: DevStack, task_id: str) -> str | None:
    assert stack.moto_url
    item = (
        dynamodb(stack.moto_url)
        .get_item(
            TableName=stack.env[TABLE_SPECS[TableName.RESULTS].variable],
            Key={"id": {"S": result_key(task_id)}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if not item:
        return None
    record: dict[str, Any] = json.loads(bytes(item[RESULT_VALUE_ATTRIBUTE]["B"]))
    return str(record.get("status"))


def test_a_ping_held_back_by_slack_reads_retry_then_success_never_failure(stack: DevStack) -> None:
    channel, task_id = "C0TRUTH", f"truth-{time.time_ns()}"
    stack.set_slack_faults(rate_limited_for_s=6, retry_after_s=2, rate_limited_channels=[channel])
    request = {
        "correlation_id": task_id,
        "team_id": "T0TRUTH",
        "channel": channel,
        "user": "U1",
        "command": "ping",
        "requested_at": time.time(),
    }
    body = encode_task_message(
        task=TaskName.PING, kwargs=request, queue=QueueName.REPLIES, task_id=task_id, ignore_result=False
    )
    stack.sqs().send_message(QueueUrl=stack.queue_url(QueueName.REPLIES), MessageBody=body)

    seen: list[str] = []

    def finished() -> bool:
        status = _status(stack, task_id)
        if status and (not seen or seen[-1] != status):
            seen.append(status)
        return status == "SUCCESS"

    try:
        wait_until(finished, timeout=90, interval=0.05, message=lambda: f"SUCCESS (seen {seen}); {stack.logs()}")
    finally:
        stack.set_slack_faults(rate_limited_for_s=0, rate_limited_channels=[])

    assert seen[0] == "RETRY" and seen[-1] == "SUCCESS"
    assert "FAILURE" not in seen
    assert len([r for r in stack.recorded() if r.get("channel") == channel]) == 1
