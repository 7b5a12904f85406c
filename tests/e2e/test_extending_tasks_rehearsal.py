"""docs/EXTENDING.md's "Add a task" and "Add a schedule", followed literally in a copy of the repository.

The page's ``python`` blocks whose first line names a file (``# jobs/<name>.py``) are written
there; its ``json`` block is the ``cdk.json`` context entry; its ``sh`` lines run in the copy,
with the copy first on ``PYTHONPATH`` so its packages win over the editable install:

- ``make schemas`` runs as written (``-o install-python``: the venv is this checkout's, never
  rebuilt from the copy);
- ``charla ...`` runs the CLI against a local stack started from the copy (its ingress, workers
  and Lambda executor import the copy's code), with the new job's queue run by a ``celery worker``
  and then by the Lambda executor;
- ``make synth`` is the same in-process synthesis the tests/infra tests make (a full ``cdk synth``
  bundles the Lambdas with pip), of the copy's app and ``cdk.json``; the schedule it produces is
  then fired as EventBridge would (``scripts.scheduler --once --job``) through the copy's ingress.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import scripts.stack
from contract.queues import QueueName
from scripts.processes import python_module, wait_until
from scripts.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "EXTENDING.md"
NOT_COPIED = shutil.ignore_patterns(
    ".venv", "node_modules", "cdk.out", ".git", ".stack", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"
)
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Section:
    files: dict[str, str]  # path in the repository -> text
    context: dict[str, Any]  # cdk.json context entries
    commands: list[str]


def section(title: str) -> Section:
    body = PAGE.read_text(encoding="utf-8").split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    files: dict[str, str] = {}
    context: dict[str, Any] = {}
    commands: list[str] = []
    for language, text in _BLOCK.findall(body):
        first = text.splitlines()[0]
        if language == "python" and first.startswith("# ") and first.endswith(".py"):
            files[first.removeprefix("# ")] = text
        elif language == "json":
            context.update(json.loads("{" + text.strip().rstrip(",") + "}"))
        elif language == "sh":
            commands += [line.strip() for line in text.splitlines() if line.strip()]
    return Section(files, context, commands)


TASK = section("Add a task")
SCHEDULE = section("Add a schedule")


def copy_environ(copy: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    environ = {k: v for k, v in environ.items() if not k.startswith(("AWS_", "CHARLA_"))}
    return {**environ, "PYTHONPATH": str(copy)}


def run_in(copy: Path, argv: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=copy, env=env or copy_environ(copy), capture_output=True, text=True, timeout=300, check=False
    )


def as_argv(command: str) -> list[str]:
    """A page command as this checkout runs it (``charla`` is the CLI module of the copy)."""
    words = shlex.split(command)
    if words[0] == "charla":
        return [sys.executable, "-m", "charla_cli", *words[1:]]
    if words == ["make", "schemas"]:
        return ["make", f"VENV={ROOT / '.venv'}", "-o", "install-python", "schemas"]
    raise AssertionError(f"docs/EXTENDING.md runs {command!r}: teach this rehearsal how")


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository with the page's files and ``cdk.json`` entry in it, and ``make schemas`` run."""
    copy = tmp_path_factory.mktemp("rehearsal") / "charla"
    shutil.copytree(ROOT, copy, ignore=NOT_COPIED)
    for path, text in {**TASK.files, **SCHEDULE.files}.items():
        (copy / path).write_text(text, encoding="utf-8")
    cdk_json = json.loads((copy / "cdk.json").read_text(encoding="utf-8"))
    cdk_json["context"].update(SCHEDULE.context)
    (copy / "cdk.json").write_text(json.dumps(cdk_json, indent=2), encoding="utf-8")
    for command in TASK.commands:
        if command.startswith("make "):
            made = run_in(copy, as_argv(command))
            assert made.returncode == 0, made.stdout + made.stderr
    return copy


@pytest.fixture(scope="module", params=["celery", "lambda"])
def stack(request: pytest.FixtureRequest, copy: Path) -> Iterator[DevStack]:
    """A local stack whose processes run the copy's code; the job's queue on either executor."""
    patch = pytest.MonkeyPatch()
    patch.setattr(scripts.stack, "ROOT", copy)  # the ingress, workers and event source start in the copy
    try:
        with DevStack(
            worker_queues=list(QueueName),
            lambda_queues=[QueueName.BULK] if request.param == "lambda" else [],
            sqs_wait_time_seconds=1,
            endpoints_file=copy / ".stack" / "endpoints.json",
            extra_env={"PYTHONPATH": str(copy)},
        ) as started:
            yield started
    finally:
        patch.undo()


def posts(stack: DevStack, channel: str, text: str) -> list[dict[str, Any]]:
    return [r for r in stack.recorded() if r.get("channel") == channel and r.get("text") == text]


def test_the_page_names_its_file_its_commands_and_its_schedule() -> None:
    assert list(TASK.files) == ["jobs/standup_reminder.py"]
    assert TASK.commands[0] == "make schemas" and TASK.commands[1].startswith("charla send standup_reminder")
    assert list(SCHEDULE.context["schedules"]) == ["standup_reminder"]
    assert SCHEDULE.commands == ["make synth"]


def test_make_schemas_puts_the_new_job_in_the_contract(copy: Path) -> None:
    index = json.loads((copy / "contract" / "schemas" / "index.json").read_text(encoding="utf-8"))

    assert index["tasks"]["charla.jobs.standup_reminder"] == {
        "queue": "bulk",
        "schema": "charla.jobs.standup_reminder.json",
        "waitable": False,
    }
    assert "charla.jobs.standup_reminder" in (copy / "docs" / "CONTRACT.md").read_text(encoding="utf-8")


def test_the_page_commands_send_the_job_and_status_lists_it_on_each_executor(copy: Path, stack: DevStack) -> None:
    send, status = TASK.commands[1], TASK.commands[2]
    payload = json.loads(shlex.split(send)[-1])

    sent = run_in(copy, as_argv(send))
    assert sent.returncode == 0, sent.stderr
    wait_until(lambda: posts(stack, payload["channel"], payload["text"]), timeout=30, message=stack.logs)

    listed = run_in(copy, as_argv(status))
    assert re.search(r"^standup_reminder\s+bulk\s+cron\(55 8 \? \* MON-FRI \*\)\s+succeeded", listed.stdout, re.M), (
        listed.stdout + listed.stderr
    )


def test_the_schedule_fires_the_job_through_the_ingress_on_each_executor(copy: Path, stack: DevStack) -> None:
    channel = SCHEDULE.context["schedules"]["standup_reminder"]["payload"]["channel"]
    before = len(posts(stack, channel, "Standup starts in 5 minutes."))

    fired = run_in(copy, python_module("scripts.scheduler", "--once", "--job", "standup_reminder"), env=stack.env)

    assert fired.returncode == 0, fired.stdout + fired.stderr
    assert '"task": "charla.jobs.standup_reminder"' in fired.stdout
    wait_until(
        lambda: len(posts(stack, channel, "Standup starts in 5 minutes.")) == before + 1, timeout=30, message=stack.logs
    )


SYNTH = """
import json, sys, tempfile
from pathlib import Path
from tests.infra.conftest import synthesize
context = json.loads(Path("cdk.json").read_text())["context"]
synth = synthesize(Path(tempfile.mkdtemp()), context)
print(json.dumps([r["Properties"] for r in synth.resources("AWS::Events::Rule").values()]))
"""


def test_make_synth_of_the_copy_has_the_rule_that_invokes_the_ingress_with_the_job(copy: Path) -> None:
    assert SCHEDULE.commands == ["make synth"]
    synthesized = run_in(copy, [sys.executable, "-c", SYNTH])
    assert synthesized.returncode == 0, synthesized.stderr[-3000:]

    rules = json.loads(synthesized.stdout.strip().splitlines()[-1])
    (rule,) = [r for r in rules if r["Description"] == "charla: run the job standup_reminder"]
    assert rule["ScheduleExpression"] == "cron(55 8 ? * MON-FRI *)"
    template = rule["Targets"][0]["InputTransformer"]["InputTemplate"]
    assert '"detail":{"job":"standup_reminder","payload":{"channel":"C0GENERAL"}}' in template.replace(" ", "")
