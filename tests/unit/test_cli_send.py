"""``charla send`` without AWS: payload checks, exit statuses and the wait loop (fake clients).

The real path (moto + a real worker) is in tests/e2e/test_polyglot.py and tests/e2e/test_operations.py.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from charla_cli.endpoints import Endpoints
from charla_cli.errors import EXIT_NO_WORKER, EXIT_TASK_FAILED, EXIT_TIMEOUT, EXIT_USAGE, CliError
from charla_cli.main import main
from charla_cli.send import build_payload, resolve_task, send, wait_for_result
from contract import environment
from contract.queues import QueueName
from contract.tables import TABLE_SPECS, TableName
from contract.tasks import TaskName
from contract.wire import decode_task_message

QUEUE_VARIABLE = environment.queue_url_variable(QueueName.REPLIES)
TABLE_VARIABLE = TABLE_SPECS[TableName.RESULTS].variable
RESULTS = Endpoints(region="us-east-1", variables={TABLE_VARIABLE: "results"})
PING = {"team_id": "T1", "channel": "C1", "user": "U1", "command": "ping"}


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send_message(self, **request: str) -> dict[str, str]:
        self.sent.append(request)
        return {"MessageId": "m1"}


class FakeResults:
    """Answers GetItem with ``records`` in turn (``None`` = not written yet)."""

    def __init__(self, *records: dict[str, Any] | None) -> None:
        self.records = list(records)
        self.keys: list[str] = []

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.keys.append(request["Key"]["id"]["S"])
        record = self.records.pop(0) if len(self.records) > 1 else self.records[0]
        return (
            {}
            if record is None
            else {"Item": {"id": request["Key"]["id"], "result": {"B": json.dumps(record).encode()}}}
        )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_short_and_full_task_names_resolve() -> None:
    assert resolve_task("health") == resolve_task("charla.health") == TaskName.HEALTH


def test_an_unknown_task_is_a_usage_error_listing_the_known_ones() -> None:
    with pytest.raises(CliError, match=r"unknown task 'dance' \(known: .*charla\.ping") as caught:
        resolve_task("dance")

    assert caught.value.status == EXIT_USAGE


def test_missing_correlation_id_and_requested_at_are_filled_in() -> None:
    payload = build_payload(TaskName.PING, json.dumps(PING), now=lambda: 99.5)

    assert payload["correlation_id"].startswith("cli-")
    assert payload["requested_at"] == 99.5
    assert payload["schema_version"] == 1  # defaults are sent explicitly


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"team_id": "T1"}', r"payload does not match CommandRequest for charla\.ping: channel: Field required"),
        (json.dumps({**PING, "colour": "red"}), r"colour: Unexpected keyword argument"),
        ("[1, 2]", r"must be a JSON object"),
        ("{nope", r"--json is not JSON"),
    ],
)
def test_a_bad_payload_is_a_usage_error(raw: str, expected: str) -> None:
    with pytest.raises(CliError, match=expected) as caught:
        build_payload(TaskName.PING, raw)

    assert caught.value.status == EXIT_USAGE


def test_the_sent_body_is_the_contract_message_on_the_tasks_queue() -> None:
    sqs = FakeSqs()

    task_id = send(
        TaskName.HEALTH,
        {"correlation_id": "c", "requested_at": 1.0, "schema_version": 1},
        wait=True,
        endpoints=Endpoints(region="us-east-1", variables={QUEUE_VARIABLE: "http://sqs/replies"}),
        sqs=sqs,
    )

    (request,) = sqs.sent
    assert request["QueueUrl"] == "http://sqs/replies"
    decoded = decode_task_message(request["MessageBody"])
    assert (decoded.task, decoded.task_id, decoded.queue, decoded.ignore_result) == (
        "charla.health",
        task_id,
        "replies",
        False,
    )


def test_a_missing_queue_url_names_the_variable() -> None:
    with pytest.raises(CliError, match=f"{QUEUE_VARIABLE} is not set"):
        send(TaskName.HEALTH, {}, wait=False, endpoints=Endpoints(region="us-east-1"), sqs=FakeSqs())


def test_waiting_returns_the_result_once_it_is_written() -> None:
    results = FakeResults(None, {"status": "STARTED"}, {"status": "SUCCESS", "result": {"worker": "w1"}})
    clock = FakeClock()

    result = wait_for_result("t1", timeout_s=5, endpoints=RESULTS, dynamodb=results, clock=clock, sleep=clock.sleep)

    assert result == {"worker": "w1"}
    assert results.keys[0] == "celery-task-meta-t1"


def test_a_failed_task_reports_its_error_type_and_message() -> None:
    failure = {"status": "FAILURE", "result": {"exc_type": "PayloadRefused", "exc_message": ["bad shape"]}}

    with pytest.raises(CliError, match=r"task t1 failed: PayloadRefused: bad shape") as caught:
        wait_for_result("t1", timeout_s=5, endpoints=RESULTS, dynamodb=FakeResults(failure))

    assert caught.value.status == EXIT_TASK_FAILED


def test_no_answer_before_the_deadline_is_a_timeout() -> None:
    clock = FakeClock()

    with pytest.raises(CliError, match=r"no result for task t1 after 2 s") as caught:
        wait_for_result(
            "t1",
            timeout_s=2,
            endpoints=RESULTS,
            dynamodb=FakeResults(None),
            clock=clock,
            sleep=clock.sleep,
        )

    assert caught.value.status == EXIT_TIMEOUT


def test_wait_on_a_task_that_stores_no_result_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status = main(["send", "help", "--json", json.dumps(PING), "--wait", "1"], environ={}, cwd=tmp_path)

    assert status == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("charla: charla.help stores no result, so --wait cannot work (waitable: charla.health")


def test_a_validation_error_exits_2_before_anything_is_sent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status = main(["send", "ping", "--json", '{"team_id": 1}'], environ={QUEUE_VARIABLE: "http://unused"}, cwd=tmp_path)

    assert status == EXIT_USAGE
    assert capsys.readouterr().err.startswith("charla: payload does not match CommandRequest")


def test_a_timeout_with_no_live_worker_says_so_and_exits_6() -> None:
    clock = FakeClock()

    with pytest.raises(CliError, match=r"no result for task t1 after 2 s: no worker is alive") as caught:
        wait_for_result(
            "t1",
            timeout_s=2,
            endpoints=RESULTS,
            dynamodb=FakeResults(None),
            clock=clock,
            sleep=clock.sleep,
            workers_alive=lambda: 0,
        )

    assert caught.value.status == EXIT_NO_WORKER
