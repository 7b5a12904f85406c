"""Operating the bot with ``charla``, as a person on call would, against the local stack.

Real processes: moto server, the Slack stand-in, the ingress and three ``celery worker``
processes over one module; ``charla`` runs as a subprocess from a directory that holds only the
``.stack/endpoints.json`` the stack wrote (no AWS or CHARLA variables), as from a fresh clone.
Heartbeats every second with a 4 s TTL keep the waits short. The tests share the stack and
run in file order: the last one stops the workers.
"""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contract.queues import QueueName
from contract.tasks import TaskName
from contract.wire import encode_task_message
from scripts.processes import wait_until
from scripts.slack_requests import app_mention
from scripts.stack import DevStack, http

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_ENV = {"CHARLA_HEARTBEAT_INTERVAL_S": "1", "CHARLA_HEARTBEAT_TTL_S": "4"}
SLOW_REPLY_S = 5  # the stand-in answers chat.postMessage this late: a task that runs for a while
STATUS_FIELDS = {
    "checked_at",
    "source",
    "queues",
    "workers",
    "failures_last_hour",
    "jobs",
    "messages_waiting",
    "queues_without_worker",
    "dead_letters",
    "problems",
}
QUEUE_FIELDS = {"queue", "url", "is_dlq", "visible", "in_flight", "delayed", "oldest_age_s"}
DOCUMENTED_EXIT_CODES = {0, 5, 6}
PREVIOUS_ENDPOINTS = '{"source": "make deploy-local"}\n'


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevStack, Path]]:
    """The stack (two one-process workers on the replies queue) and the directory charla runs in.

    An endpoints file is there before the stack starts (as ``make deploy-local`` leaves one): the
    stack replaces it while it runs and puts it back when it stops.
    """
    home = tmp_path_factory.mktemp("clone")
    endpoints = home / ".stack" / "endpoints.json"
    endpoints.parent.mkdir()
    endpoints.write_text(PREVIOUS_ENDPOINTS)
    with DevStack(
        worker_queues=[],
        extra_env=HEARTBEAT_ENV,
        sqs_wait_time_seconds=1,
        endpoints_file=endpoints,
        # A failing message reaches its DLQ after 2 receives, 8 s apart; slow tasks finish well within 8 s.
        queue_overrides={"visibility_timeout_s": 8, "max_receive_count": 2},
    ) as stack:
        for name in ("alpha", "beta"):
            # Prefetch 1: a busy worker takes nothing more, so the next message goes to the other one.
            stack.start_worker(
                name, queues=[QueueName.REPLIES], concurrency=1, extra_args=["--prefetch-multiplier", "1"]
            )
        yield stack, home
    assert endpoints.read_text() == PREVIOUS_ENDPOINTS


def charla(home: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """``charla ARGS`` in ``home`` with no AWS_* or CHARLA_* variables: only the endpoints file tells it where to go."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_"))}
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "charla_cli", *args],
        cwd=home,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def workers_json(home: Path) -> list[dict[str, Any]]:
    result = charla(home, "workers", "--json")
    assert result.returncode in (0, 6), result.stderr
    records: list[dict[str, Any]] = json.loads(result.stdout)
    return records


def names(records: list[dict[str, Any]]) -> set[str]:
    return {str(r["hostname"]).split("@")[0] for r in records}


def faults(stack: DevStack, **settings: Any) -> None:
    http(
        "POST",
        stack.slack_url + "/_faults",
        body=json.dumps(settings).encode(),
        headers={"Content-Type": "application/json"},
    )


def replies_in(stack: DevStack, channel: str) -> list[dict[str, Any]]:
    return [r for r in stack.recorded() if r.get("channel") == channel]


def test_status_json_has_the_documented_fields_and_exit_0_when_all_is_well(ops: tuple[DevStack, Path]) -> None:
    _stack, home = ops
    wait_until(lambda: names(workers_json(home)) >= {"alpha", "beta"}, timeout=30, message="both heartbeats")

    result = charla(home, "status", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert set(report) == STATUS_FIELDS
    assert {q["queue"] for q in report["queues"]} == {"replies", "replies-dlq", "bulk", "bulk-dlq"}
    assert all(set(q) == QUEUE_FIELDS for q in report["queues"])
    assert report["workers"]["alive"] == 2
    assert report["dead_letters"] == 0
    assert report["source"].endswith("(make chat / make demo (DevStack))")
    written = (home / ".stack" / "endpoints.json").read_text()
    assert "SLACK" not in written and "xoxb" not in written  # moto's dummy keys only, never a Slack secret


def test_two_workers_show_their_running_tasks_while_slow_tasks_run(ops: tuple[DevStack, Path]) -> None:
    stack, home = ops
    faults(stack, slow_channels={"CSLOW1": SLOW_REPLY_S, "CSLOW2": SLOW_REPLY_S})
    try:
        assert stack.post_event(app_mention("ping", channel="CSLOW1")).status == 200
        wait_until(
            lambda: any(r["active"] for r in workers_json(home)), timeout=30, message="the first slow task to run"
        )
        assert stack.post_event(app_mention("ping", channel="CSLOW2")).status == 200

        def both_busy() -> list[dict[str, Any]] | None:
            records = workers_json(home)
            return records if len([w for w in records if w["active"]]) == 2 else None

        busy = wait_until(
            both_busy,
            timeout=30,
            message=lambda: f"both workers busy; stack logs:\n{stack.logs()}",
        )
        table = charla(home, "workers")
    finally:
        faults(stack, slow_channels={})

    assert names(busy) == {"alpha", "beta"}
    running = [task for worker in busy for task in worker["active"]]
    assert {task["task"] for task in running} == {TaskName.PING.value}
    assert len({task["id"] for task in running}) == 2
    assert table.returncode == 0
    assert re.search(r"alpha@\S+ .* charla\.ping\[", table.stdout), table.stdout
    assert re.search(r"beta@\S+ .* charla\.ping\[", table.stdout), table.stdout
    wait_until(lambda: replies_in(stack, "CSLOW1") and replies_in(stack, "CSLOW2"), timeout=30, message="replies")


def test_a_sigkilled_worker_disappears_after_its_ttl(ops: tuple[DevStack, Path]) -> None:
    stack, home = ops
    gamma = stack.start_worker("gamma", queues=[QueueName.BULK], concurrency=1)
    wait_until(lambda: "gamma" in names(workers_json(home)), timeout=30, message="gamma's heartbeat")

    gamma.send_signal(signal.SIGKILL)  # no shutdown: its record stays until the TTL passes

    wait_until(lambda: "gamma" not in names(workers_json(home)), timeout=30, message="gamma to vanish")
    assert names(workers_json(home)) == {"alpha", "beta"}


def test_a_poison_message_shows_its_reason_and_comes_back_with_redrive(ops: tuple[DevStack, Path]) -> None:
    stack, home = ops
    faults(stack, failing_channels=["CPOISON"])  # chat.postMessage there: channel_not_found (permanent)
    assert stack.post_event(app_mention("ping", channel="CPOISON")).status == 200
    refused_id = "refused-" + os.urandom(4).hex()
    stack.sqs().send_message(  # a message the contract refuses: it never runs
        QueueUrl=stack.queue_url(QueueName.REPLIES),
        MessageBody=encode_task_message(task=TaskName.PING, kwargs={"team_id": 1}, queue="replies", task_id=refused_id),
    )

    def two_letters_with_reasons() -> list[dict[str, Any]] | None:
        shown = charla(home, "dlq", "show", "--json")
        letters: list[dict[str, Any]] = json.loads(shown.stdout or "[]")
        return letters if len(letters) == 2 and all(letter["reason"] for letter in letters) else None

    letters = wait_until(
        two_letters_with_reasons,
        timeout=90,
        interval=1,
        message=lambda: f"two dead letters with reasons; logs:\n{stack.logs()}",
    )
    by_id = {letter["task_id"]: letter for letter in letters}
    poison = next(letter for letter in letters if letter["task_id"] != refused_id)
    assert poison["task"] == TaskName.PING.value
    assert "channel_not_found" in poison["reason"]
    assert poison["reason"].startswith("dead-lettered: ")  # the worker parked it itself, reason in a header
    assert by_id[refused_id]["reason"].startswith("refused: payload does not match CommandRequest")
    counted = wait_until(
        lambda: [w for w in workers_json(home) if w["counts"]["failed"] and w["last_failure"]],
        timeout=30,
        message="the failure in a heartbeat",
    )
    assert counted[0]["last_failure"]["task"] == TaskName.PING.value
    assert counted[0]["last_failure"]["exception"] != "Settled"  # the error's own type
    # The refusal may have been counted after the heartbeat that carried the failure: the next one has it.
    wait_until(
        lambda: sum(w["counts"]["refused"] for w in workers_json(home)) >= 1,
        timeout=30,
        message="the refusal in a heartbeat",
    )
    shown = charla(home, "dlq", "show")
    assert shown.returncode == 5
    assert "channel_not_found" in shown.stdout
    assert charla(home, "status").returncode == 5
    assert not replies_in(stack, "CPOISON")

    faults(stack, failing_channels=[])  # the fix
    redriven = charla(home, "dlq", "redrive", "--task", "ping", "--id", poison["task_id"])

    assert redriven.returncode == 0, redriven.stderr
    assert "moved 1 message(s)" in redriven.stdout
    wait_until(lambda: replies_in(stack, "CPOISON"), timeout=60, message="the answer after redrive")
    left = json.loads(charla(home, "dlq", "show", "--json").stdout)
    assert [letter["task_id"] for letter in left] == [refused_id]  # not asked for: still parked

    purged = charla(home, "purge", "replies-dlq")  # no terminal to confirm on: refuses
    assert purged.returncode == 2
    assert "--yes" in purged.stderr
    assert charla(home, "purge", "replies-dlq", "--yes").returncode == 0
    wait_until(lambda: charla(home, "dlq", "show").returncode == 0, timeout=30, message="an empty DLQ")


def readme_operations_commands() -> list[str]:
    """The ``charla`` lines of the README's "Operating charla" code block, as written."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Operating charla", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [command for command in commands if command.startswith("charla ")]


def test_the_readme_operations_snippet_runs_as_written(ops: tuple[DevStack, Path]) -> None:
    _stack, home = ops
    commands = readme_operations_commands()
    assert len(commands) >= 4

    for command in commands:
        result = charla(home, *command.split()[1:])
        assert result.returncode in DOCUMENTED_EXIT_CODES, f"{command}: {result.stderr}"
        assert "Traceback" not in result.stderr


def readme_feed_commands() -> list[list[str]]:
    """The ``charla`` and ``charla-send`` lines of the README's "Feed the bot" block, as argv."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Feed the bot", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.strip() for line in block.splitlines() if not line.strip().startswith("#")]
    return [shlex.split(line) for line in lines if line.split(" ", 1)[0] in ("charla", "charla-send")]


def test_the_readme_python_and_node_snippets_run_as_written_from_a_clone_with_only_the_stack_file(
    ops: tuple[DevStack, Path],
) -> None:
    stack, home = ops
    commands = readme_feed_commands()
    assert {argv[0] for argv in commands} == {"charla", "charla-send"}
    assert (ROOT / ".venv" / "bin" / "charla-send").exists(), "make install links charla-send into .venv/bin"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_"))}
    environ["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{environ.get('PATH', '')}"  # source .venv/bin/activate
    before = len(replies_in(stack, "C1"))

    for argv in commands:
        result = subprocess.run(argv, cwd=home, env=environ, capture_output=True, text=True, timeout=90, check=False)
        assert result.returncode == 0, f"{shlex.join(argv)}: {result.stderr}"
        if "--wait" in argv:
            assert "worker" in json.loads(result.stdout), result.stdout  # the worker's answer, printed

    pings = sum(1 for argv in commands if "ping" in argv)
    wait_until(lambda: len(replies_in(stack, "C1")) >= before + pings, timeout=30, message="the pings' replies")


def test_with_no_worker_alive_send_wait_status_and_workers_say_so(ops: tuple[DevStack, Path]) -> None:
    stack, home = ops
    for name in ("alpha", "beta"):
        stack.processes.pop(name).stop()  # a clean stop removes the heartbeat at once (no TTL wait)
    assert workers_json(home) == []

    sent = charla(home, "send", "health", "--wait", "3")
    status = charla(home, "status")
    workers = charla(home, "workers")

    assert sent.returncode == 6
    assert sent.stderr.count("\n") == 1
    assert "no worker is alive" in sent.stderr
    assert status.returncode == 6
    assert "no live worker while messages wait" in status.stdout
    assert workers.returncode == 6
