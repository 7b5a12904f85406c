"""Jobs (``jobs/``): found by module name, light to import, sendable by the CLI and ``Job.delay``.

The real path (moto, the Slack stand-in, both executors) is in tests/e2e/test_jobs.py and
tests/e2e/test_extending_tasks_rehearsal.py.
"""

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import jobs
from charla_cli.endpoints import Endpoints
from charla_cli.errors import CliError
from charla_cli.send import build_payload, resolve_task, send
from contract import environment
from contract.checks import PayloadInvalid
from contract.queues import QueueName
from contract.wire import decode_task_message
from jobs._sending import payload_of
from jobs.usage_report import UsageReport, run, summary, usage_report, week_of
from tests.unit.test_import_graph import forbidden_modules
from workers.runtime.metrics import task_queue

ROOT = Path(__file__).resolve().parents[2]


def test_each_module_in_jobs_is_a_job_named_after_it() -> None:
    assert jobs.all_jobs()["usage_report"] is usage_report
    assert jobs.find("charla.jobs.usage_report") is usage_report
    assert usage_report.task == "charla.jobs.usage_report"
    assert usage_report.queue is QueueName.BULK


def test_an_unknown_job_is_a_lookup_error_naming_the_jobs() -> None:
    with pytest.raises(LookupError, match=r"no job 'weather' \(jobs: usage_report\)"):
        jobs.find("weather")
    with pytest.raises(LookupError):
        jobs.find("_sending")  # the package's own modules are not jobs


def test_a_job_name_is_a_module_name() -> None:
    with pytest.raises(ValueError, match="lower_snake_case"):
        jobs.Job(name="Usage-Report", payload=UsageReport, run=run)


def test_loading_every_job_loads_no_module_the_ingress_must_not_carry() -> None:
    probe = "import json, sys, jobs; jobs.all_jobs(); print(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(completed.stdout)
    assert "jobs.usage_report" in loaded
    banned = forbidden_modules()
    assert not [name for name in loaded for b in banned if name == b or name.startswith(b + ".")]


def test_the_producer_fills_in_the_ids_and_refuses_a_bad_payload_before_sending() -> None:
    payload = payload_of(usage_report, {"team_id": "T1", "channel": "C1"}, now=1000.0)
    assert (payload.requested_at, payload.correlation_id.startswith("job-")) == (1000.0, True)
    with pytest.raises(PayloadInvalid, match="channel"):
        payload_of(usage_report, {"team_id": "T1", "channel": 7}, now=1.0)
    with pytest.raises(TypeError, match="weather"):
        payload_of(usage_report, {"team_id": "T1", "channel": "C1", "weather": "sunny"}, now=1.0)


def test_charla_send_knows_jobs_by_name_and_sends_them_to_their_queue() -> None:
    job = resolve_task("usage_report")
    assert job == usage_report.task == resolve_task("charla.jobs.usage_report")
    payload = build_payload(job, '{"team_id": "T1", "channel": "C1"}', now=lambda: 5.0)
    sqs = _FakeSqs()
    bulk = environment.queue_url_variable(QueueName.BULK)
    send(job, payload, wait=False, endpoints=Endpoints(region="us-east-1", variables={bulk: "bulk-url"}), sqs=sqs)

    (sent,) = sqs.sent
    decoded = decode_task_message(sent["MessageBody"])
    assert (sent["QueueUrl"], decoded.task, decoded.queue) == ("bulk-url", "charla.jobs.usage_report", "bulk")
    assert decoded.kwargs["channel"] == "C1" and decoded.kwargs["requested_at"] == 5.0


def test_charla_send_lists_the_jobs_among_the_known_names() -> None:
    with pytest.raises(CliError, match="usage_report"):
        resolve_task("weather")
    with pytest.raises(CliError, match="payload does not match UsageReport"):
        build_payload(usage_report.task, '{"team_id": "T1"}')


def test_a_jobs_metrics_carry_its_queue() -> None:
    assert task_queue("charla.jobs.usage_report") == "bulk"
    assert task_queue("charla.jobs.weather") == "unrouted"


def test_the_report_is_keyed_by_team_channel_and_iso_week_and_lists_the_most_used_first() -> None:
    context = _Context(counts={"help": 2, "ping": 5, "busca": 2})
    run(UsageReport(correlation_id="c", team_id="T1", channel="C9", requested_at=1_796_000_000.0), context)

    ((key, text),) = context.done
    assert key == f"usage_report:T1:C9:{week_of(1_796_000_000.0)}"
    assert text == summary({"help": 2, "ping": 5, "busca": 2}, week_of(1_796_000_000.0))
    assert text.splitlines()[1:] == ["• ping: 5", "• busca: 2", "• help: 2"]
    assert week_of(1_796_000_000.0) == "2026-W49"  # Tuesday 1 December 2026, UTC


class _FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send_message(self, **request: str) -> dict[str, str]:
        self.sent.append(request)
        return {"MessageId": "m1"}


@dataclass
class _Slack:
    posted: list[str] = field(default_factory=list)

    def chat_postMessage(self, *, channel: str, text: str) -> None:  # noqa: N802 - slack_sdk's name
        self.posted.append(text)


@dataclass
class _Context:
    """A JobContext whose ``once`` records what it ran (the effect records are tested in integration)."""

    counts: Mapping[str, int]
    task_id: str = "t1"
    slack: Any = field(default_factory=_Slack)
    done: list[tuple[str, str]] = field(default_factory=list)

    def once(self, key: str, effect: Callable[[], object]) -> bool:
        effect()
        self.done.append((key, self.slack.posted[-1]))
        return True

    def command_counts(self, team_id: str) -> Mapping[str, int]:
        return self.counts
