"""The task contract: command words, routing and the wire format, without Celery."""

import dataclasses

import pytest

from contract.commands import parse_command
from contract.queues import QUEUE_SPECS, QueueName
from contract.registry import TASK_NAMES, TASK_QUEUES
from contract.tasks import CommandRequest, TaskName
from contract.wire import decode_task_message, encode_task_message, task_id_for


@pytest.mark.parametrize(
    ("text", "task", "command", "args"),
    [
        ("<@UBOT> ping", TaskName.PING, "ping", ""),
        ("<@UBOT|charla>   VE  ", TaskName.PING, "VE", ""),
        ("Ayúda", TaskName.HELP, "Ayúda", ""),
        ("", TaskName.HELP, "", ""),
        ("<@UBOT> bailar tango", TaskName.HELP, "bailar", "tango"),
    ],
)
def test_command_words_resolve_to_tasks(text: str, task: TaskName, command: str, args: str) -> None:
    parsed = parse_command(text)

    assert (parsed.task, parsed.command, parsed.args) == (task, command, args)


def test_every_task_has_a_route_to_a_known_queue() -> None:
    assert set(TASK_QUEUES) == set(TASK_NAMES) >= set(TaskName)
    assert set(TASK_QUEUES.values()) <= set(QueueName)


def test_visibility_timeout_outlasts_every_task_the_worker_may_hold() -> None:
    for spec in QUEUE_SPECS.values():
        assert spec.visibility_timeout_s > spec.time_limit_s > spec.soft_time_limit_s


def test_a_task_message_round_trips() -> None:
    request = CommandRequest(
        correlation_id="Ev1", team_id="T1", channel="C1", user="U1", command="ping", requested_at=1.5
    )
    body = encode_task_message(
        task=TaskName.PING, kwargs=dataclasses.asdict(request), queue=QueueName.REPLIES, task_id=task_id_for("Ev1")
    )

    decoded = decode_task_message(body)

    assert decoded.task == TaskName.PING
    assert decoded.queue == QueueName.REPLIES
    assert decoded.task_id == task_id_for("Ev1")
    assert CommandRequest(**decoded.kwargs) == request


def test_task_ids_are_stable_per_key() -> None:
    assert task_id_for("Ev1") == task_id_for("Ev1") != task_id_for("Ev2")


@pytest.mark.parametrize("body", ["not base64!", "aGVsbG8=", ""])
def test_decoding_garbage_raises_value_error(body: str) -> None:
    with pytest.raises(ValueError, match="not a JSON Celery task message"):
        decode_task_message(body)
