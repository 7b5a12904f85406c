"""Container health check: is the Celery worker's prefork pool up?

ECS runs ``python -m workers.celery_worker.healthcheck`` in the worker container (infra/constructs/worker_service.py).
Celery is PID 1 there (the entrypoint ``exec``s it) and forks ``CHARLA_WORKER_CONCURRENCY`` pool
processes; a worker whose pool cannot stay up (processes killed for memory, a broken install)
still looks alive to ECS because PID 1 lives on. This counts PID 1's children and exits 1 when
there are fewer than the configured concurrency, so ECS replaces the task after a few failed
checks. Stdlib only: it starts in tens of milliseconds on a 0.25 vCPU task.
"""

import argparse
import os
import sys
from pathlib import Path

from contract import environment as env


def children_of(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """Process ids whose parent is ``pid`` (read from ``/proc/<id>/stat``)."""
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # "pid (comm) state ppid ...": comm may hold spaces or parentheses, so split after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pid", type=int, default=1, help="the Celery main process (PID 1 in the container)")
    args = parser.parse_args(argv)
    if os.environ.get(env.WORKER_POOL, env.DEFAULT_WORKER_POOL) != "prefork":
        return 0  # other pools run in PID 1 itself: no pool processes to count
    expected = int(os.environ.get(env.WORKER_CONCURRENCY, "1"))
    running = len(children_of(args.pid))
    if running < expected:
        print(f"unhealthy: {running} of {expected} pool processes under pid {args.pid}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
