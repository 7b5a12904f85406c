"""The run-wide state each figure receives: quick or full, the shared moto server, figure results."""

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.processes import ManagedProcess, free_port, port_open, python_module, wait_until
from scripts.provision import LOCAL_CREDENTIALS, REGION

# moto with bench/moto_patch.py applied: transactions copy the items they touch, not whole tables.
MOTO_SERVER = "bench.moto_patch"


@dataclass
class BenchContext:
    """Shared by every figure in one run."""

    quick: bool
    moto_url: str = ""
    results: dict[str, Any] = field(default_factory=dict)  # figures read earlier figures' numbers
    _moto: ManagedProcess | None = None
    _log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="charla-bench-")))

    def command(self, figure: str) -> str:
        return f"python -m bench{' --quick' if self.quick else ''} --only {figure}"

    def start_moto(self) -> None:
        """One moto server for the whole run; each figure's stack provisions its own queues on it."""
        port = free_port()
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
        }
        self._moto = ManagedProcess(
            "moto",
            python_module(MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)),
            env=environ,
            log_dir=self._log_dir,
        )
        wait_until(lambda: port_open(port), timeout=60, message="moto server")
        self.moto_url = f"http://127.0.0.1:{port}"

    def ensure_moto(self) -> bool:
        """Start a new moto server if the shared one is gone; True when it had to.

        (On a machine shared with other engineers' test runs, a server can disappear mid-run; each
        figure provisions its own queues, so the next figure can go on with a fresh server.)
        """
        if self._moto is not None and self._moto.alive():
            return False
        if self._moto is not None:
            self._moto.stop()
        self.start_moto()
        return True

    def restart_moto(self) -> None:
        """A fresh moto server: its DynamoDB deep-copies whole tables on every TransactWriteItems, so
        a server that accumulated thousands of items from earlier figures slows down and, measured
        here, grew past 20 GB and was OOM-killed. Each figure (and each throughput run) starts clean."""
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self.start_moto()

    def log_dir_path(self) -> Path:
        """Where processes the figures start themselves keep their logs."""
        return self._log_dir

    def moto_pid(self) -> int | None:
        """The shared moto server's process (group) id, for CPU accounting."""
        return self._moto.pid if self._moto is not None else None

    def moto_alive(self) -> bool:
        return self._moto is not None and self._moto.alive()

    def stop(self) -> None:
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
