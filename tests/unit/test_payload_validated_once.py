"""Each payload is validated once per run: the executor's check at the door hands its model to
the task (workers/payloads.py), for the Celery worker and the Lambda executor alike.

Validations are counted by wrapping pydantic's ``TypeAdapter.validate_python`` (it still runs).
"""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import TypeAdapter

from contract.queues import QueueName
from contract.results import HealthCheck
from contract.tasks import CommandRequest, TaskName
from workers.payloads import VALIDATED_PAYLOAD_HEADER, PayloadRefused, handed_on, parse_payload, validated_payload
from workers.registry import TaskContext, TaskEntry


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    seen: list[Any] = []
    original = TypeAdapter.validate_python

    def counted(self: TypeAdapter[Any], value: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(value)
        return original(self, value, *args, **kwargs)

    monkeypatch.setattr(TypeAdapter, "validate_python", counted)
    yield seen


NOW = time.time()


def _health() -> dict[str, Any]:
    return {"correlation_id": "c1", "requested_at": NOW}


def test_a_handed_on_model_is_the_payload_and_is_not_validated_again(validations: list[Any]) -> None:
    adapter = TypeAdapter(HealthCheck)
    model, problem = validated_payload(TaskName.HEALTH.value, [[], _health(), {}])
    assert problem is None and isinstance(model, HealthCheck)
    assert len(validations) == 1
    with handed_on(model):
        assert parse_payload(adapter, _health()) is model
    assert len(validations) == 1
    # Outside a run (or with nothing handed on) the dict is validated, and refused if wrong.
    assert parse_payload(adapter, _health()) == model
    with pytest.raises(PayloadRefused):
        parse_payload(adapter, {"correlation_id": "c1"})


def test_a_model_of_another_type_is_not_taken_for_the_payload() -> None:
    other = CommandRequest(correlation_id="c", team_id="T", channel="C", user="U", command="ping", requested_at=1.0)
    with handed_on(other), pytest.raises(PayloadRefused):
        parse_payload(TypeAdapter(HealthCheck), {"correlation_id": "c1"})


def test_the_lambda_executor_validates_a_payload_once(validations: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from contract.wire import encode_task_message
    from workers.lambda_executor import main as lambda_executor

    answers: list[dict[str, Any]] = []
    adapter = TypeAdapter(HealthCheck)

    def health(context: TaskContext, **payload: Any) -> None:
        answers.append({"check": parse_payload(adapter, payload), "queue": context.queue})

    registry = {TaskName.HEALTH.value: TaskEntry(TaskName.HEALTH, health, HealthCheck, QueueName.REPLIES)}
    body = encode_task_message(task=TaskName.HEALTH, kwargs=_health(), queue="replies", task_id="t1")
    record = {
        "messageId": "m-1",
        "body": body,
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:charla-replies",
        "attributes": {"ApproximateReceiveCount": "1"},
    }
    monkeypatch.setattr(lambda_executor, "queue_of", lambda arn: QueueName.REPLIES)
    assert lambda_executor._run_record(record, tasks=registry, worker="lambda:test") == lambda_executor.DONE
    assert [type(answer["check"]) for answer in answers] == [HealthCheck]
    assert len([value for value in validations if isinstance(value, dict)]) == 1


def test_the_celery_task_takes_the_model_the_consumer_validated(
    validations: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # workers.celery_worker.app builds the Celery app from the worker's settings at import; nothing is contacted.
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "CHARLA_QUEUE_URL_REPLIES": "http://127.0.0.1:1/000000000000/replies",
        "CHARLA_QUEUE_URL_BULK": "http://127.0.0.1:1/000000000000/bulk",
        "CHARLA_TABLE_STATE": "state",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    from workers.runtime.settings import get_settings

    get_settings.cache_clear()
    from workers.celery_worker.celery_tasks import CELERY_TASKS

    task = CELERY_TASKS[TaskName.HEALTH.value]
    model, problem = validated_payload(TaskName.HEALTH.value, [[], _health(), {}])  # the consumer's check
    assert problem is None
    task.push_request(
        id="t1", delivery_info={"routing_key": "replies"}, hostname="celery@test", **{VALIDATED_PAYLOAD_HEADER: model}
    )
    try:
        answer = task.run(**_health())
    finally:
        task.pop_request()
    assert answer["correlation_id"] == "c1"
    assert len(validations) == 1, "the task validated the payload again"
    get_settings.cache_clear()
