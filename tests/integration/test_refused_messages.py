"""Messages the contract refuses are never run and never lost: they end in the dead-letter queue.

A real ``celery worker`` consumes queues provisioned with a 1 s visibility timeout and
``maxReceiveCount`` 2, so a refused message reaches its DLQ in seconds. Each refusal must also
leave one clear ``refused message`` line in the worker's log.
"""

import base64
import json
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import Ignore
from pydantic import BaseModel

from charla_cli.endpoints import resolve
from charla_cli.errors import EXIT_TASK_FAILED, CliError
from charla_cli.send import wait_for_result
from contract.queues import QueueName
from contract.tasks import TaskName
from contract.wire import encode_task_message
from scripts.processes import wait_until
from scripts.stack import DevStack

pytestmark = [pytest.mark.slow]

DLQ_TIMEOUT_S = 45.0


class OpensAFile:
    """Unpickling this creates a file: proof that a pickle body was (or was not) deserialized."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def envelope_with(
    body: bytes,
    *,
    content_type: str,
    task: str = TaskName.PING,
    task_id: str | None = None,
    content_encoding: str = "utf-8",
) -> tuple[str, str]:
    """A charla message whose inner body and content type are replaced; returns (id, SQS body)."""
    task_id = task_id or str(uuid.uuid4())
    message = json.loads(base64.b64decode(encode_task_message(task=task, kwargs={}, queue="replies", task_id=task_id)))
    message.update({"body": b64(body), "content-type": content_type, "content-encoding": content_encoding})
    return task_id, b64(json.dumps(message).encode())


def ping_kwargs(**changes: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "correlation_id": "refused",
        "team_id": "T1",
        "channel": "C0REFUSED",
        "user": "U1",
        "command": "ping",
        "requested_at": 1.0,
    }
    kwargs.update(changes)
    return {key: value for key, value in kwargs.items() if value is not None}


@pytest.fixture(scope="module")
def fast_dlq_stack() -> Iterator[DevStack]:
    with DevStack(
        worker_concurrency=1,
        sqs_wait_time_seconds=1,
        queue_overrides={"visibility_timeout_s": 1, "max_receive_count": 2},
    ) as running:
        yield running


def dlq_url(stack: DevStack, queue: QueueName) -> str:
    return stack.queue_url(queue) + "-dlq"  # scripts/provision.py names each DLQ <queue>-dlq


def send_raw(stack: DevStack, body: str, queue: QueueName = QueueName.REPLIES) -> None:
    stack.sqs().send_message(QueueUrl=stack.queue_url(queue), MessageBody=body)


def wait_for_dead_letters(stack: DevStack, count: int, queue: QueueName = QueueName.REPLIES) -> list[str]:
    """Bodies of the first ``count`` messages in the DLQ (taken off it)."""
    bodies: list[str] = []

    def collected() -> list[str] | None:
        response = stack.sqs().receive_message(
            QueueUrl=dlq_url(stack, queue), MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in response.get("Messages", []):
            bodies.append(message["Body"])
            stack.sqs().delete_message(QueueUrl=dlq_url(stack, queue), ReceiptHandle=message["ReceiptHandle"])
        return bodies if len(bodies) >= count else None

    return wait_until(
        collected,
        timeout=DLQ_TIMEOUT_S,
        message=lambda: f"{count} dead letters (have {len(bodies)}); logs:\n{stack.logs()}",
    )


def task_id_of(body: str) -> str:
    try:
        return str(json.loads(base64.b64decode(body))["headers"]["id"])
    except ValueError:
        return body


def refusal_lines(stack: DevStack) -> list[str]:
    return [line for line in stack.processes["worker"].log_text().splitlines() if "refused message" in line]


def test_bad_messages_end_in_the_dlq_with_a_clear_log_line_and_are_never_run(
    fast_dlq_stack: DevStack, tmp_path: Path
) -> None:
    stack = fast_dlq_stack
    marker = tmp_path / "deserialized"
    pickle_id, pickle_body = envelope_with(
        pickle.dumps(OpensAFile(marker)), content_type="application/x-python-serialize", content_encoding="binary"
    )
    yaml_id, yaml_body = envelope_with(
        f'!!python/object/apply:builtins.open ["{marker}", "w"]'.encode(), content_type="application/x-yaml"
    )
    junk_id, junk_body = envelope_with(b'[[], {"channel": ', content_type="application/json")
    unknown_id, shape_id, extra_id, positional_id = (str(uuid.uuid4()) for _ in range(4))
    positional = json.loads(
        base64.b64decode(
            encode_task_message(task=TaskName.PING, kwargs=ping_kwargs(), queue="replies", task_id=positional_id)
        )
    )
    positional["body"] = b64(json.dumps([["C0REFUSED"], ping_kwargs(), {}]).encode())
    # what -> (task id, reason expected in the log line, SQS body)
    bad: dict[str, tuple[str, str, str]] = {
        "pickle": (pickle_id, "is refused (JSON only", pickle_body),
        "yaml": (yaml_id, "is refused (JSON only", yaml_body),
        "not json": (junk_id, "cannot decode body", junk_body),
        "unknown task": (
            unknown_id,
            "no worker runs this task name",
            encode_task_message(task="charla.dance", kwargs=ping_kwargs(), queue="replies", task_id=unknown_id),
        ),
        "wrong shape": (
            shape_id,
            "payload does not match CommandRequest: channel: Field required",
            encode_task_message(
                task=TaskName.PING, kwargs=ping_kwargs(channel=None), queue="replies", task_id=shape_id
            ),
        ),
        "extra field": (
            extra_id,
            "colour: Unexpected keyword argument",
            encode_task_message(
                task=TaskName.PING, kwargs=ping_kwargs(colour="red"), queue="replies", task_id=extra_id
            ),
        ),
        "positional": (
            positional_id,
            "positional argument(s); charla tasks take keyword arguments only",
            b64(json.dumps(positional).encode()),
        ),
    }
    bodies = [body for _, _, body in bad.values()]

    for body in bodies:
        send_raw(stack, body)
    dead = wait_for_dead_letters(stack, len(bodies))

    assert sorted(task_id_of(body) for body in dead) == sorted(task_id for task_id, _, _ in bad.values())
    lines = refusal_lines(stack)
    for what, (task_id, reason, _) in bad.items():
        assert any(task_id in line and reason in line for line in lines), f"{what}: {reason!r} not in {lines}"
    assert not marker.exists(), "a pickle or YAML body was deserialized"
    assert not [r for r in stack.recorded() if r.get("channel") == "C0REFUSED"], "a refused task was run"
    stack.wait_until_drained(QueueName.REPLIES)


def test_a_body_that_is_no_celery_message_at_all_ends_in_the_dlq(fast_dlq_stack: DevStack) -> None:
    bodies = ["hello, not a task", '{"task": "charla.ping", "kwargs": {}}']

    for body in bodies:
        send_raw(fast_dlq_stack, body)

    assert sorted(wait_for_dead_letters(fast_dlq_stack, len(bodies))) == sorted(bodies)
    assert any("not a Celery task message (no task header)" in line for line in refusal_lines(fast_dlq_stack))
    assert fast_dlq_stack.processes["worker"].alive()


def test_a_caller_waiting_on_a_refused_task_gets_its_reason(fast_dlq_stack: DevStack) -> None:
    task_id = str(uuid.uuid4())
    send_raw(
        fast_dlq_stack,
        encode_task_message(
            task=TaskName.HEALTH, kwargs={"correlation_id": "c"}, queue="replies", task_id=task_id, ignore_result=False
        ),
    )

    with pytest.raises(
        CliError,
        match=r"failed: PayloadRefused: payload does not match HealthCheck: "
        r"requested_at: Field required",
    ) as caught:
        wait_for_result(task_id, timeout_s=20, endpoints=resolve(environ=fast_dlq_stack.env))

    assert caught.value.status == EXIT_TASK_FAILED
    assert [task_id_of(body) for body in wait_for_dead_letters(fast_dlq_stack, 1)] == [task_id]


def _settled_by_contract_task(monkeypatch: pytest.MonkeyPatch, work: Any) -> list[tuple[str, dict[str, Any]]]:
    """Run ``work`` as a ContractTask and return how the run was settled (copies are recorded, not sent)."""
    from workers import redelivery

    settled: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(redelivery, "send_later", lambda **copy: settled.append(("later", copy)))
    monkeypatch.setattr(redelivery, "dead_letter", lambda **copy: settled.append(("dead letter", copy)))
    app = Celery("refusals", task_cls="workers.celery_worker.consumer:ContractTask", set_as_current=False)
    task = app.task(name="needs_shape", bind=True)(work)
    with pytest.raises(Ignore):
        task(size="large")
    return settled


def test_a_payload_that_breaks_the_contract_goes_to_the_dead_letter_queue_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import TypeAdapter

    from workers.celery_worker.consumer import parse_payload

    class Shape(BaseModel):
        size: int

    def needs_shape(self: Any, **payload: Any) -> int:
        return parse_payload(TypeAdapter(Shape), payload).size

    [(how, copy)] = _settled_by_contract_task(monkeypatch, needs_shape)

    assert how == "dead letter"
    assert "size: Input should be a valid integer" in copy["reason"]
    assert copy["kwargs"] == {"size": "large"}


def test_a_validation_error_inside_the_tasks_own_work_is_retried_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Shape(BaseModel):
        size: int

    def parses_its_own_data(self: Any, **payload: Any) -> int:
        return Shape.model_validate({"size": "from a broken API answer"}).size

    [(how, copy)] = _settled_by_contract_task(monkeypatch, parses_its_own_data)

    assert how == "later"
    assert copy["failures"] == 1 and copy["retries"] == 1
    assert 0 < copy["delay_s"] <= 900


def test_a_copy_that_cannot_be_sent_keeps_the_message_and_records_no_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery.exceptions import Reject

    from workers import redelivery

    def sqs_down(**copy: Any) -> None:
        raise redelivery.RedeliveryError("send failed: EndpointConnectionError")

    monkeypatch.setattr(redelivery, "send_later", sqs_down)
    app = Celery("refusals", task_cls="workers.celery_worker.consumer:ContractTask", set_as_current=False)

    def fails(self: Any, **payload: Any) -> None:
        raise RuntimeError("Slack 503")

    task = app.task(name="fails", bind=True)(fails)
    with pytest.raises(Reject) as rejected:  # rejected without requeue: SQS redelivers, redrive counts it
        task(size=1)
    assert rejected.value.requeue is False
