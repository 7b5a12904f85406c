"""Closing the terminal, killing ``make chat`` or running ``make stop`` leaves no process behind.

``make chat`` runs as a user starts it (``python -m scripts.chat``), with its endpoints file in a
scratch ``.stack/`` (``CHARLA_STACK_FILE``). Every process under it (moto, the Slack stand-in,
uvicorn, the celery worker and its pool, the scheduler) is noted while it runs; after the chat
is ended each way, none of them may be left, and ``charla`` must not call a dead stack healthy.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from charla_cli.errors import EXIT_UNREACHABLE
from charla_cli.owner import process_started
from scripts.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0
GONE_TIMEOUT_S = 60.0  # a worker finishes its current task on SIGTERM; none runs here


def children_of(pid: int) -> dict[int, str | None]:
    """Every live descendant of ``pid`` with its start time (Linux /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        parents[int(stat.parent.name)] = int(fields[1])
    found: dict[int, str | None] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = process_started(child)
                frontier.append(child)
    return found


def still_there(processes: dict[int, str | None]) -> list[int]:
    return [pid for pid, started in processes.items() if started is not None and process_started(pid) == started]


@dataclass
class Chat:
    popen: subprocess.Popen[bytes]
    home: Path
    output: Path

    @property
    def endpoints(self) -> Path:
        return self.home / ".stack" / "endpoints.json"

    def environ(self) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_"))}
        return {**environ, "CHARLA_STACK_FILE": str(self.endpoints), "PYTHONPATH": str(ROOT)}

    def run(self, module: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=self.home,
            env={k: v for k, v in self.environ().items() if k != "CHARLA_STACK_FILE"}
            if module == "charla_cli"
            else self.environ(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Chat]:
    """``make chat`` running, waiting at its prompt (stdin is a pipe that stays open)."""
    home = tmp_path / "clone"
    (home / ".stack").mkdir(parents=True)
    output = tmp_path / "chat.out"
    with output.open("wb") as sink:
        running = Chat(popen=None, home=home, output=output)  # type: ignore[arg-type]
        running.popen = subprocess.Popen(
            [sys.executable, "-m", "scripts.chat"],
            cwd=ROOT,
            env=running.environ(),
            stdin=subprocess.PIPE,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as a terminal's job: signals reach it alone
        )
    try:
        wait_until(
            lambda: "Talk to charla" in output.read_text(errors="replace"),
            timeout=START_TIMEOUT_S,
            message=lambda: f"the chat prompt; output:\n{output.read_text(errors='replace')}",
        )
        yield running
    finally:
        if running.popen.poll() is None:
            running.popen.kill()
        running.popen.wait(timeout=10)
        if running.popen.stdin is not None:
            running.popen.stdin.close()
        running.run("scripts.stop")  # whatever a failed test left


def ended(chat: Chat, signum: int) -> dict[int, str | None]:
    """Send ``signum`` to the chat and return what ran under it just before."""
    processes = children_of(chat.popen.pid)
    # moto, stand-in, ingress, worker (a thread pool, as deployed: one process), scheduler
    assert len(processes) >= 5, f"expected moto, stand-in, ingress, worker, scheduler: {processes}"
    chat.popen.send_signal(signum)
    chat.popen.wait(timeout=GONE_TIMEOUT_S)
    wait_until(
        lambda: not still_there(processes),
        timeout=GONE_TIMEOUT_S,
        message=lambda: f"every process to end; left: {still_there(processes)}",
    )
    return processes


def test_closing_the_terminal_stops_every_process_and_removes_the_endpoints_file(chat: Chat) -> None:
    ended(chat, signal.SIGHUP)  # what a closed terminal sends to its foreground job

    assert not chat.endpoints.exists()
    assert "Stopped." in chat.output.read_text()


def test_a_killed_chat_leaves_no_process_and_charla_calls_its_file_stale(chat: Chat) -> None:
    ended(chat, signal.SIGKILL)  # no cleanup code runs in the chat itself

    status = chat.run("charla_cli", "status")
    assert status.returncode == EXIT_UNREACHABLE
    assert "stale" in status.stderr and "make stop" in status.stderr, status.stderr

    stop = chat.run("scripts.stop")
    assert stop.returncode == 0, stop.stderr
    assert not chat.endpoints.exists()


def test_make_stop_ends_a_chat_running_elsewhere(chat: Chat) -> None:
    processes = children_of(chat.popen.pid)

    stop = chat.run("scripts.stop")

    assert stop.returncode == 0, stop.stderr
    assert "stopped:" in stop.stdout
    assert chat.popen.wait(timeout=GONE_TIMEOUT_S) == 0
    wait_until(lambda: not still_there(processes), timeout=GONE_TIMEOUT_S, message="every process to end")
    assert not chat.endpoints.exists()
