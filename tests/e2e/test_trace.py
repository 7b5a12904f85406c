"""``charla trace ID`` answers "where did my message go?" on the local stack, from its logs and state.

A mention is followed from its Slack event id to the ts of the answer the bot posted; a
poisoned task from its id to the dead-letter queue with its reason. ``charla`` runs from a
directory holding only the ``.stack/`` the stack wrote (endpoints and process logs).
"""

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from charla_cli.errors import EXIT_DEAD_LETTERS, EXIT_NOT_FOUND, EXIT_OK
from charla_cli.main import main as charla
from contract.queues import QueueName
from contract.tasks import TaskName
from contract.wire import encode_task_message, task_id_for
from scripts.processes import wait_until
from scripts.slack_requests import app_mention
from scripts.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevStack, Path]]:
    home = tmp_path_factory.mktemp("clone")
    with DevStack(
        worker_queues=[QueueName.REPLIES],
        worker_concurrency=1,
        sqs_wait_time_seconds=1,
        endpoints_file=home / ".stack" / "endpoints.json",
        log_dir=home / ".stack" / "logs",
    ) as stack:
        yield stack, home


def trace(home: Path, identifier: str) -> tuple[int, str]:
    out = io.StringIO()
    return charla(["trace", identifier], environ={}, cwd=home, out=out), out.getvalue()


def test_a_mention_is_followed_from_its_event_id_to_the_posted_answer(traced: tuple[DevStack, Path]) -> None:
    stack, home = traced
    event_id = f"Ev0TRACE{uuid.uuid4().hex[:8].upper()}"
    assert stack.post_event(app_mention("ping", channel="C0TRACE"), event_id=event_id).status == 200
    [reply] = wait_until(
        lambda: [r for r in stack.recorded() if r.get("channel") == "C0TRACE"], timeout=30, message="the answer"
    )

    status, text = wait_until(
        lambda: found if "posted ts" in (found := trace(home, event_id))[1] else None,
        timeout=30,
        message="the effect record to be done",
    )

    task_id = task_id_for(f"{TaskName.PING.value}:{event_id}")
    assert status == EXIT_OK, text
    assert f"task      charla.ping {task_id}" in text
    assert "queued" in text and "enqueued task=charla.ping" in text  # the ingress's line
    assert "received" in text and f"charla.ping[{task_id}] received" in text  # the worker's line
    assert f"effect    {task_id}: done, posted ts {reply['ts']}" in text
    assert "in no dead-letter queue" in text


def test_a_poisoned_task_is_followed_to_the_dead_letter_queue_with_its_reason(traced: tuple[DevStack, Path]) -> None:
    stack, home = traced
    task_id = str(uuid.uuid4())
    body = encode_task_message(task=TaskName.PING, kwargs={"correlation_id": "c"}, queue="replies", task_id=task_id)
    stack.sqs().send_message(QueueUrl=stack.queue_url(QueueName.REPLIES), MessageBody=body)

    _status, text = wait_until(
        lambda: (
            found if (found := trace(home, task_id))[0] == EXIT_DEAD_LETTERS and "refused message" in found[1] else None
        ),
        timeout=30,
        message="the poisoned task in the DLQ and the worker's line about it",
    )

    assert f"DLQ       replies-dlq: charla.ping {task_id}: refused: payload does not match CommandRequest" in text
    assert "[worker] " in text and "refused message" in text  # the worker's log line


def test_an_id_nothing_names_says_so(traced: tuple[DevStack, Path]) -> None:
    _stack, home = traced

    status, text = trace(home, "Ev0NEVERSEEN")

    assert status == EXIT_NOT_FOUND
    assert "nothing known" in text


def test_in_aws_one_logs_insights_query_over_the_log_groups_finds_the_trail(traced: tuple[DevStack, Path]) -> None:
    import time

    import boto3

    from scripts.provision import LOCAL_CREDENTIALS

    stack, home = traced
    event_id = f"Ev0AWS{uuid.uuid4().hex[:8].upper()}"
    task_id = task_id_for(f"{TaskName.PING.value}:{event_id}")
    logs = boto3.client(
        "logs",
        endpoint_url=stack.moto_url,
        region_name="us-east-1",
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    now_ms = int(time.time() * 1000)
    trail = {
        "/aws/lambda/charla-ingress": f"INFO enqueued task=charla.ping queue=replies task_id={task_id} "
        f"correlation_id={event_id}",
        "/ecs/charla-worker": f"INFO Task charla.ping[{task_id}] received",
    }
    for group, line in trail.items():
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        events = [{"timestamp": now_ms, "message": line}, {"timestamp": now_ms, "message": "INFO someone else's task"}]
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)

    out = io.StringIO()
    argv = ["trace", event_id, "--log-group", "/aws/lambda/charla-ingress", "--log-group", "/ecs/charla-worker"]
    status = charla(argv, environ={}, cwd=home, out=out)

    text = out.getvalue()
    assert status == EXIT_OK, text
    assert f"queued    [/aws/lambda/charla-ingress] {trail['/aws/lambda/charla-ingress']}" in text
    assert f"received  [/ecs/charla-worker] {trail['/ecs/charla-worker']}" in text
    assert "someone else's" not in text
    assert "Logs Insights over /aws/lambda/charla-ingress, /ecs/charla-worker" in text
