"""``make stop``: end whatever the local stack left running, and remove its endpoints file.

A stack that stops normally (``/quit``, Ctrl-C, a closed terminal) takes its processes with it,
and on Linux its children also die with it if it is killed. This is for the rest: a stack
killed elsewhere, or one still running in a forgotten terminal. It reads the processes the stack
recorded in ``.stack/endpoints.json`` (or ``CHARLA_STACK_FILE``), asks the stack itself to stop
first (it cleans up as on Ctrl-C), then each remaining process group, and kills what is left
after a grace period. Only processes that are still the recorded ones (same pid *and* start
time) are signalled. A stack from ``make deploy-local`` is stopped the way
``make deploy-local-down`` does.
"""

import contextlib
import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from charla_cli.owner import still_running
from scripts.console import endpoints_file
from scripts.processes import Timeout, wait_until

GRACE_S = 20.0  # a Celery worker finishes its running task on SIGTERM (soft limits are 20-50 s)


def _recorded(document: Mapping[str, Any]) -> dict[str, tuple[int, str | None]]:
    entries: dict[str, Any] = {}
    if isinstance(document.get("owner"), Mapping):
        entries["stack (make chat / make demo)"] = document["owner"]
    entries.update(document.get("processes") or {})
    return {
        name: (int(entry["pid"]), entry.get("started"))
        for name, entry in entries.items()
        if isinstance(entry, Mapping) and isinstance(entry.get("pid"), int)
    }


def _signal(pid: int, signum: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, signum)  # each child leads its own session: its pool goes with it
        else:
            os.kill(pid, signum)


def stop(path: Path, *, grace_s: float = GRACE_S) -> list[str]:
    """Stop what ``path`` records; returns the names of the processes that were still running."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except ValueError:
        path.unlink(missing_ok=True)
        return []
    recorded = _recorded(document)
    running = {name: pid for name, (pid, started) in recorded.items() if still_running(pid, started)}
    owner = "stack (make chat / make demo)"
    if owner in running:  # the stack stops its own children in order and puts the file back
        _signal(running[owner], signal.SIGTERM, group=False)
        with contextlib.suppress(Timeout):
            wait_until(lambda: not still_running(*recorded[owner]), timeout=grace_s, message="the stack to stop")
    for name, pid in running.items():
        if name != owner and still_running(*recorded[name]):
            _signal(pid, signal.SIGTERM, group=True)

    def left() -> list[str]:
        return [name for name in running if still_running(*recorded[name])]

    with contextlib.suppress(Timeout):
        wait_until(lambda: not left(), timeout=grace_s, message="the stack's processes to stop")
    for name in left():
        _signal(recorded[name][0], signal.SIGKILL, group=name != owner)
    if recorded and _still_describes(path, recorded):
        path.unlink()  # the stack did not put a previous file back: nothing describes a running stack now
    return sorted(running)


def _still_describes(path: Path, recorded: Mapping[str, tuple[int, str | None]]) -> bool:
    try:
        return _recorded(json.loads(path.read_text())) == recorded
    except (OSError, ValueError):
        return False


def main() -> int:
    path = endpoints_file()
    if path.exists() and "deploy-local" in path.read_text() and "processes" not in path.read_text():
        from scripts.deploy_local import down

        down()
        return 0
    stopped = stop(path)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
