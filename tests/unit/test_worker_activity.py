"""What a worker reports about itself: counts, failure notes, the heartbeat record, EMF lines."""

import io
import json
from types import SimpleNamespace

import pytest
from celery.exceptions import Reject, Retry

from contract.heartbeats import COUNT_NAMES, default_ttl_s, heartbeat_key
from workers.celery_worker.activity import HOUR_S, Settled, WorkerActivity, outcome_of
from workers.celery_worker.heartbeat import build_record, intervals
from workers.runtime import metrics


def test_counts_last_failure_and_failures_in_the_last_hour() -> None:
    activity = WorkerActivity()
    activity.add("received")
    activity.add("succeeded", task="charla.ping", task_id="t1")
    activity.add("failed", task="charla.ping", task_id="t2", exception="ReplyRefused", reason="ReplyRefused: x")
    activity.add(
        "refused", task="?", task_id="?", reason="content type 'application/x-python-serialize'", message_id="m9"
    )

    snapshot = activity.snapshot()
    later = activity.snapshot(now=snapshot["last_failure"]["at"] + HOUR_S + 1)

    assert snapshot["counts"] == {"received": 1, "succeeded": 1, "retried": 0, "failed": 1, "refused": 1}
    assert set(snapshot["counts"]) == set(COUNT_NAMES)
    assert snapshot["last_failure"]["id"] == "t2"
    assert snapshot["failures_last_hour"] == 2
    assert later["failures_last_hour"] == 0


def test_failure_notes_are_keyed_by_task_id_else_message_id_and_taken_once() -> None:
    activity = WorkerActivity()
    activity.add("failed", task="charla.ping", task_id="t2", exception="E", reason="E: " + "x" * 1000)
    activity.add("refused", task="?", task_id="?", reason="not JSON", message_id="m9")

    notes = activity.take_notes()

    assert [n["id"] for n in notes] == ["t2", "m9"]
    assert len(notes[0]["reason"]) == 300  # user text in an exception stays short
    assert activity.take_notes() == []
    activity.put_back(notes)
    assert len(activity.take_notes()) == 2


@pytest.mark.parametrize(
    ("exception", "outcome"),
    [
        (RuntimeError("x"), "failed"),
        (Retry(), "retried"),
        (Reject("bad payload"), "refused"),
        (Settled("retried", "SlackUnavailable: ratelimited", "SlackUnavailable"), "retried"),
        (Settled("failed", "ReplyRefused: channel_not_found", "ReplyRefused"), "failed"),
    ],
)
def test_outcomes(exception: BaseException, outcome: str) -> None:
    assert outcome_of(exception) == outcome


def test_the_record_names_the_worker_its_running_tasks_and_expires() -> None:
    running = [SimpleNamespace(name="charla.ping", id="t1", time_start=100.0)]

    record = build_record(
        hostname="w@h",
        pid=7,
        queues=["replies"],
        pool="prefork",
        concurrency=2,
        ecs={"task_arn": "arn:aws:ecs:eu-west-1:1:task/c/abc", "family": "charla", "revision": "3"},
        activity=WorkerActivity(started_at=90.0),
        requests=running,
        ttl_s=90.0,
        now=104.0,
    )

    assert record["active"] == [{"task": "charla.ping", "id": "t1", "started_at": 100.0, "runtime_s": 4.0}]
    assert record["expires_at"] == 194.0
    assert record["ecs"]["revision"] == "3"
    assert len(json.dumps(record)) < 1024  # one DynamoDB write unit
    assert heartbeat_key("w@h", 7) == {"pk": "WORKER", "sk": "w@h#7"}


def test_interval_and_ttl_come_from_the_environment() -> None:
    assert intervals({}) == (30.0, default_ttl_s(30.0))
    assert intervals({"CHARLA_HEARTBEAT_INTERVAL_S": "1", "CHARLA_HEARTBEAT_TTL_S": "4"}) == (1.0, 4.0)


def test_emf_lines_follow_the_embedded_metric_format(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(metrics, "_write", lambda line, stream=None: out.write(line + "\n"))
    monkeypatch.setenv(metrics.NAMESPACE_VARIABLE, "charla/test")

    metrics.task_outcome("charla.ping", "failed", run_time_s=0.25, queue_wait_s=None)
    metrics.heartbeat(["replies"], "w@h")

    task_line, beat_line = (json.loads(line) for line in out.getvalue().splitlines())
    directive = task_line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "charla/test"
    # The task name is a property, not a dimension: one metric per queue, not one per task name.
    assert directive["Dimensions"] == [["Queue"]]
    assert task_line["Queue"] == "replies"
    assert {m["Name"] for m in directive["Metrics"]} == {"TaskFailed", "TaskRunTime"}
    assert (task_line["Task"], task_line["TaskFailed"], task_line["TaskRunTime"]) == ("charla.ping", 1, 250.0)
    assert isinstance(task_line["_aws"]["Timestamp"], int)
    assert beat_line["Queue"] == "replies"
    assert beat_line["WorkerHeartbeat"] == 1


def test_a_settled_outcome_survives_the_trip_from_the_pool_child() -> None:
    import pickle

    trip = pickle.dumps(Settled("failed", "ReplyRefused: channel_not_found", "ReplyRefused"))
    settled = pickle.loads(trip)  # noqa: S301 - our own bytes, as billiard moves them between processes

    assert (settled.outcome, settled.reason, settled.exception_type) == (
        "failed",
        "ReplyRefused: channel_not_found",
        "ReplyRefused",
    )
