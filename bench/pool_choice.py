"""Which Celery pool the ECS worker runs by default: figure 6's sustained load, once per pool.

    python -m bench.pool_choice [--rate 20] [--slack-ms 150] [--quick] [--only LABEL ...]

Each candidate runs figure 6 (``bench/sustained.py``) as it is, with the worker held to a Fargate
task's 0.25 vCPU by a cgroup v1 CPU quota (``bench/cpu_quota.py``), at one fixed rate for all of
them, with figure 6's AWS-like latencies (``bench/aws_latency.py``; Slack's ``chat.postMessage``
answered ``--slack-ms`` late: moto and the stand-in answer in a millisecond or two, which would
hide the time a prefork process spends blocked). Prints one line per pool: p50/p95 reply latency, the deepest
backlog, lost and duplicated, and the worker's CPU per event. The default in
``contract/environment.py`` (``DEFAULT_WORKER_POOL``/``DEFAULT_WORKER_CONCURRENCY``) is the
candidate that met the goal (0 lost, 0 duplicated, p95 < 1 s) with the lowest p95; the figures
are in docs/OPERATIONS.md ("Which pool the worker runs").
"""

import argparse
import json
import os
import sys

from bench import aws_latency, sustained
from bench.context import BenchContext
from bench.sustained import FARGATE_CPUS
from bench.throughput import WorkerSettings
from scripts.provision import LOCAL_CREDENTIALS, REGION

CANDIDATES = (
    WorkerSettings("prefork -c 2 (the old default)", concurrency=2),
    WorkerSettings("threads -c 8", concurrency=8, pool="threads"),
    WorkerSettings("threads -c 16", concurrency=16, pool="threads"),
    WorkerSettings("threads -c 32", concurrency=32, pool="threads"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second, the same for every pool")
    parser.add_argument("--slack-ms", type=float, default=150.0, help="chat.postMessage answered this late")
    parser.add_argument("--quick", action="store_true", help="10 s of load instead of 60")
    parser.add_argument("--only", nargs="+", help="labels (prefixes) of the candidates to run")
    args = parser.parse_args(argv)
    os.environ.update({**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": REGION})  # as `python -m bench` does
    aws_latency.SLACK_POST_S = args.slack_ms / 1000  # figure 6 reads it when it starts its stack
    rows = []
    for settings in CANDIDATES:
        if args.only and not any(settings.label.startswith(prefix) for prefix in args.only):
            continue
        ctx = BenchContext(quick=args.quick)
        ctx.start_moto()
        try:
            ctx.results.update(best_worker_settings=settings, sustained_rate=args.rate)
            figure = sustained.run(ctx)
        finally:
            ctx.stop()
        row = figure.table[0]
        rows.append(
            {
                "pool": settings.label,
                "rate": figure.extra.get("rate"),
                "p50_ms": row["p50_ms"],
                "p95_ms": row["p95_ms"],
                "max_queue_depth": row["max_queue_depth"],
                "lost": row["lost"],
                "duplicated": row["duplicated"],
                "worker_cpu_ms_per_event": figure.extra["cpu_ms_per_event"].get("worker"),
                "goal_met": figure.goal_met,
                "quota": figure.extra.get("cpu_quota"),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    print(f"Slack posts answered {args.slack_ms:.0f} ms late; worker under a {FARGATE_CPUS} CPU quota.")
    for row in rows:
        print(
            f"{row['pool']:<32} p50 {row['p50_ms']:>8} ms  p95 {row['p95_ms']:>8} ms"
            f"  backlog {row['max_queue_depth']:>4}  lost {row['lost']}  duplicated {row['duplicated']}"
            f"  worker CPU {row['worker_cpu_ms_per_event']} ms/event"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
