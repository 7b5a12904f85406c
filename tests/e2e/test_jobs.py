"""The worked example job (``jobs/usage_report.py``) on both executors, sent as a user sends it.

Real processes: moto server, the Slack stand-in, the ingress, and the bulk queue run either by a
``celery worker`` or by the Lambda executor behind the local event source. ``charla`` and the
Python producer (``Job.delay``) run as subprocesses from a directory holding only the
``.stack/endpoints.json`` the stack wrote, as from a fresh clone.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contract.queues import QueueName
from contract.wire import encode_task_message
from jobs.usage_report import usage_report
from scripts.processes import wait_until
from scripts.slack_requests import TEAM_ID, app_mention
from scripts.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REPORTS = "C0REPORTS"


@pytest.fixture(scope="module", params=["celery", "lambda"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """Replies on a celery worker; bulk (where jobs run) on a celery worker or the Lambda executor."""
    home = tmp_path_factory.mktemp("clone")
    lambda_queues = [QueueName.BULK] if request.param == "lambda" else []
    with DevStack(
        worker_queues=list(QueueName),
        lambda_queues=lambda_queues,
        sqs_wait_time_seconds=1,
        endpoints_file=home / ".stack" / "endpoints.json",
    ) as started:
        yield started


def in_clone(stack: DevStack, *argv: str) -> subprocess.CompletedProcess[str]:
    """``argv`` run where the endpoints file is, with no AWS_* or CHARLA_* variables."""
    assert stack.endpoints_file
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_"))}
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        list(argv),
        cwd=stack.endpoints_file.parent.parent,
        env=environ,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def reports(stack: DevStack, period: str) -> list[dict[str, Any]]:
    return [
        r
        for r in stack.recorded()
        if r.get("channel") == REPORTS and f"Commands used ({period})" in str(r.get("text", ""))
    ]


def test_charla_send_posts_the_report_with_the_workspaces_command_counts(stack: DevStack) -> None:
    stack.post_event(app_mention("ping"))
    stack.wait_for_replies(1)

    payload = json.dumps({"team_id": TEAM_ID, "channel": REPORTS, "period": "2026-W10"})
    sent = in_clone(stack, sys.executable, "-m", "charla_cli", "send", "usage_report", "--json", payload)

    assert sent.returncode == 0, sent.stderr
    (report,) = wait_until(lambda: reports(stack, "2026-W10"), timeout=30, message=stack.logs)
    assert "ping: 1" in report["text"]


def test_the_report_is_posted_once_per_period_however_often_it_is_delivered(stack: DevStack) -> None:
    kwargs = {"correlation_id": "twice", "team_id": TEAM_ID, "channel": REPORTS, "period": "2026-W11"}
    body = encode_task_message(task=usage_report.task, kwargs={**kwargs, "requested_at": 1.0}, queue="bulk")
    for _ in range(2):  # the same message (same task id) delivered twice
        stack.sqs().send_message(QueueUrl=stack.queue_url(QueueName.BULK), MessageBody=body)
    # And a third copy from the Python producer, as a script on a laptop sends it.
    producer = (
        "from jobs.usage_report import usage_report; "
        f"print(usage_report.delay(team_id={TEAM_ID!r}, channel={REPORTS!r}, period='2026-W11'))"
    )
    produced = in_clone(stack, sys.executable, "-c", producer)
    assert produced.returncode == 0, produced.stderr

    wait_until(lambda: reports(stack, "2026-W11"), timeout=30, message=stack.logs)
    stack.wait_until_drained(QueueName.BULK, timeout=60)

    assert len(reports(stack, "2026-W11")) == 1


def test_charla_status_lists_the_job_and_how_its_last_run_ended(stack: DevStack) -> None:
    status = in_clone(stack, sys.executable, "-m", "charla_cli", "status", "--json")

    (job,) = [j for j in json.loads(status.stdout)["jobs"] if j["name"] == "usage_report"]
    assert (job["task"], job["queue"]) == ("charla.jobs.usage_report", "bulk")
    assert job["last_run"]["outcome"] == "succeeded"
    text = in_clone(stack, sys.executable, "-m", "charla_cli", "status").stdout
    assert "usage_report" in text and "succeeded" in text
