"""Is the process that wrote an endpoints file still there? (pid reuse included)

The local stack records its own pid and each child's, with an identity that a reused pid does
not share: on Linux the process's start time (``/proc/PID/stat`` field 22, clock ticks since
boot). ``charla`` then tells a stack that stopped or crashed from one that runs, and
``make stop`` signals only processes that are still the ones the stack started.
"""

import contextlib
import os
from pathlib import Path

_STAT_START_TIME_FIELD = 22  # 1-based, in proc(5)


def process_started(pid: int) -> str | None:
    """``pid``'s start time as a string ("" where /proc is absent), or None if no such process."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        text = stat.read_text()
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else _exists_elsewhere(pid)
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = text[text.rfind(")") + 2 :].split()
    if fields and fields[0] in ("Z", "X"):  # exited, not yet reaped: gone for our purposes
        return None
    return fields[_STAT_START_TIME_FIELD - 3] if len(fields) > _STAT_START_TIME_FIELD - 3 else ""


def _exists_elsewhere(pid: int) -> str | None:
    with contextlib.suppress(PermissionError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
    return ""


def still_running(pid: int, started: str | None) -> bool:
    """Whether ``pid`` is alive and is the process recorded as started at ``started``."""
    now = process_started(pid)
    if now is None:
        return False
    return not started or not now or now == started
