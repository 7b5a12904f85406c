"""A CPU quota for the bench's worker: a cgroup v1 ``cpu`` group capped at a Fargate task's share.

A 0.25 vCPU Fargate task gets a quarter of a CPU; a worker on this machine would otherwise take
whatever the cores give it and flatter the sustained figure. These machines run as root with the
v1 cpu controller writable at /sys/fs/cgroup/cpu: a group with ``cpu.cfs_quota_us`` 25000 of
``cpu.cfs_period_us`` 100000 holds its processes to 0.25 CPU. Bench only, never tests; the group is
always removed (its processes first moved back to the parent).
"""

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

CPU_CGROUP_ROOT = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000


class QuotaUnavailable(RuntimeError):
    """The cgroup v1 cpu controller is not there or not writable."""


def group_pids(pgid: int) -> list[int]:
    """Every live process of process group ``pgid`` (a celery worker and its prefork children)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return sorted(pids)


@contextlib.contextmanager
def cpu_quota(pids: list[int], *, cpus: float, root: Path = CPU_CGROUP_ROOT) -> Iterator[Path]:
    """Hold ``pids`` (and the children they fork later) to ``cpus`` CPUs while the block runs.

    Raises:
        QuotaUnavailable: No writable cgroup v1 cpu controller at ``root``.
    """
    if not (root / "cgroup.procs").exists():
        raise QuotaUnavailable(f"no cgroup v1 cpu controller at {root}")
    group = root / f"charla-bench-{secrets.token_hex(4)}"
    try:
        group.mkdir()
    except OSError as error:
        raise QuotaUnavailable(f"cannot create {group}: {error}") from error
    try:
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(int(cpus * PERIOD_US)))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, OSError):  # a process that already exited
                (group / "cgroup.procs").write_text(str(pid))
        yield group
    finally:
        _remove(group, root)


def _remove(group: Path, root: Path) -> None:
    """Move what is left back to ``root`` and remove the group (rmdir: a cgroup is not a directory of files)."""
    with contextlib.suppress(OSError):
        for line in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                (root / "cgroup.procs").write_text(line)
    with contextlib.suppress(OSError):
        group.rmdir()


def quota_of(group: Path) -> float:
    """The CPUs ``group`` is held to (quota / period)."""
    return int((group / "cpu.cfs_quota_us").read_text()) / int((group / "cpu.cfs_period_us").read_text())
