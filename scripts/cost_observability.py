"""What watching the workers costs: heartbeats, failure notes and task metrics (EMF), per month.

Kept beside ``scripts/cost.py`` (same dated prices) as its own small model so the lead can fold
it into the cost table: ``python -m scripts.cost_observability [--workers N]``.

- Heartbeat: one ``PutItem`` (< 1 KB: 1 write unit) per worker per interval, plus one EMF line
  per consumed queue. Failure notes add one ``BatchWriteItem`` per interval only when something
  failed: not counted at rest.
- Custom metrics from EMF: ``WorkerHeartbeat`` per queue always exists; the task metrics exist
  (and are billed, prorated by the hour) only in hours a task of that queue ran: succeeded, run
  time and queue wait per queue in the steady state, failed/retried/refused only when they
  happen. The task name is a property of the line, not a dimension, so the count does not grow
  with the number of task names.
- The alarm reads two metrics (heartbeats and visible messages).
"""

import argparse
import json
from dataclasses import asdict, dataclass
from typing import Any

from scripts.cost import PRICES, Price

HOURS_PER_MONTH = 730.0
CUSTOM_METRIC = Price(
    0.30, "custom metric-month (first 10,000)", "2024-01", "https://aws.amazon.com/cloudwatch/pricing/"
)
HEARTBEAT_LINE_BYTES = 230  # one EMF heartbeat line, measured from a worker log
TASK_LINE_BYTES = 330  # one EMF task line with run time and queue wait, measured
# Every task metric, by queue: four outcomes, TaskRunTime and TaskQueueWait.
METRICS_PER_QUEUE = 6


@dataclass(frozen=True)
class ObservabilityCost:
    heartbeat_writes_per_worker_month: float
    heartbeat_dynamodb_usd_per_worker_month: float
    heartbeat_logs_usd_per_worker_month: float
    heartbeat_metrics_usd_month: float  # one WorkerHeartbeat metric per queue, shared by its workers
    alarm_usd_month: float
    task_metrics_usd_month_max: float  # every outcome on every queue, at least once an hour all month
    task_logs_usd_per_million_tasks: float

    def at_rest_usd_month(self, workers: int) -> float:
        per_worker = self.heartbeat_dynamodb_usd_per_worker_month + self.heartbeat_logs_usd_per_worker_month
        return workers * per_worker + self.heartbeat_metrics_usd_month + self.alarm_usd_month


def observability_cost(*, queues: int = 2, interval_s: float = 30.0) -> ObservabilityCost:
    """The monthly cost of heartbeats every ``interval_s`` and the task metrics (us-east-1 prices)."""
    beats = HOURS_PER_MONTH * 3600 / interval_s
    return ObservabilityCost(
        heartbeat_writes_per_worker_month=round(beats),
        heartbeat_dynamodb_usd_per_worker_month=round(beats / 1e6 * PRICES["dynamodb_per_million_wru"].value, 4),
        heartbeat_logs_usd_per_worker_month=round(
            beats * HEARTBEAT_LINE_BYTES / 1e9 * PRICES["cloudwatch_logs_ingest_gb"].value, 4
        ),
        heartbeat_metrics_usd_month=round(queues * CUSTOM_METRIC.value, 2),
        alarm_usd_month=round(2 * PRICES["cloudwatch_alarm_month"].value, 2),
        task_metrics_usd_month_max=round(queues * METRICS_PER_QUEUE * CUSTOM_METRIC.value, 2),
        task_logs_usd_per_million_tasks=round(
            TASK_LINE_BYTES * 1e6 / 1e9 * PRICES["cloudwatch_logs_ingest_gb"].value, 3
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--interval", type=float, default=30.0)
    args = parser.parse_args(argv)
    cost = observability_cost(interval_s=args.interval)
    report: dict[str, Any] = {**asdict(cost), "at_rest_usd_month": round(cost.at_rest_usd_month(args.workers), 2)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
