"""Starting and stopping real local processes on free ports, and waiting on conditions.

Every process started here dies with the process that started it, however that one ends:
stopped cleanly (``ManagedProcess.stop``), interrupted, its terminal closed, or SIGKILLed.
Each child is in its own session (so it and its own children, e.g. Celery's prefork pool, are
stopped as one group) and asks Linux for a parent-death signal (``PR_SET_PDEATHSIG``): when
its parent goes, it gets SIGTERM and shuts down as on any stop (a Celery worker takes its pool
with it). Elsewhere than Linux only the clean paths apply; ``make stop`` cleans up after the rest.
"""

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Timeout(AssertionError):
    """A condition did not become true before its deadline."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.02,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    Raises:
        Timeout: ``timeout`` seconds passed first; the message says what was awaited.
    """
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):  # a server still starting refuses connections
            result = condition()
            if result:
                return result
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise Timeout(f"timed out after {timeout:.1f}s waiting for {text}")
        time.sleep(interval)


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError):
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return None


_LIBC = _libc()  # loaded before any fork: the child must not load libraries between fork and exec


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` giving the child SIGTERM when this process dies (Linux), or None.

    The signal is tied to the *thread* that forks, so it is only armed from the main thread
    (which lives as long as the process); children started from other threads rely on ``stop``.
    """
    libc = _LIBC
    if libc is None or threading.current_thread() is not threading.main_thread():
        return None

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def process_started(pid: int) -> str | None:
    """An identity for ``pid`` that a reused pid does not share (Linux: its start time), or None if gone."""
    from charla_cli.owner import process_started as started

    return started(pid)


class ManagedProcess:
    """A child process in its own session, logging to a file, stopped with its whole group.

    It dies with this process too (module docstring).
    """

    def __init__(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str], log_dir: Path, cwd: Path | None = None
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 - only prctl and getppid run in the child
        )
        self.started = process_started(self.popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def send_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def stop(self, *, grace: float = 10.0, signum: int = signal.SIGTERM) -> int | None:
        """Ask the group to stop, wait ``grace`` seconds, then kill it; returns the exit code."""
        if self.alive():
            self.send_signal(signum)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.send_signal(signal.SIGKILL)
                self.popen.wait(timeout=5)
        # Children that outlived the leader (e.g. prefork pool processes) go too.
        self.send_signal(signal.SIGKILL)
        self._log.close()
        return self.popen.returncode


def python_module(module: str, *args: str) -> list[str]:
    """argv running ``module`` with this interpreter (the project's venv)."""
    return [sys.executable, "-m", module, *args]


def start_moto_server(*, env: Mapping[str, str], log_dir: Path, timeout: float = 60.0) -> tuple[ManagedProcess, str]:
    """A moto server (every AWS service, in server mode) on a free 127.0.0.1 port; returns it and its URL.

    Raises:
        Timeout: It was not listening within ``timeout`` (its log is in the message).
        RuntimeError: It exited while starting.
    """
    port = free_port()
    process = ManagedProcess(
        "moto", python_module("moto.server", "-H", "127.0.0.1", "-p", str(port)), env=env, log_dir=log_dir
    )

    def listening() -> bool:
        if not process.alive():
            raise RuntimeError(f"moto exited early; log:\n{process.log_tail()}")
        return port_open(port)

    try:
        wait_until(listening, timeout=timeout, message=lambda: f"moto on port {port}; log:\n{process.log_tail()}")
    except BaseException:
        process.stop()
        raise
    return process, f"http://127.0.0.1:{port}"
