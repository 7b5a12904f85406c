"""Task and worker metrics as CloudWatch Embedded Metric Format (EMF) log lines.

In AWS the worker's stdout goes to CloudWatch Logs, which turns each EMF line into metric
points: no metrics server, no PutMetricData calls, no agent. The format is small enough to
write directly (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
which keeps aws-lambda-powertools (and its imports) out of the worker image.

Lines go to the process's real stdout (``sys.__stdout__``): Celery redirects ``sys.stdout``
into its logger, whose prefix would break the JSON.
"""

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from contract.metrics import (
    DEFAULT_NAMESPACE,
    HEARTBEAT,
    NAMESPACE_VARIABLE,
    OUTCOME_METRICS,
    QUEUE_DIMENSION,
    QUEUE_WAIT,
    RUN_TIME,
    TASK_PROPERTY,
    UNROUTED_QUEUE,
)
from contract.tasks import queue_for


def namespace() -> str:
    return os.environ.get(NAMESPACE_VARIABLE) or DEFAULT_NAMESPACE


def emf_line(dimensions: Mapping[str, str], values: Mapping[str, tuple[float, str]], **properties: Any) -> str:
    """One EMF JSON document: ``values`` maps a metric name to (value, unit)."""
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace(),
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_value, unit) in values.items()],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _unit) in values.items()},
        **properties,
    }
    return json.dumps(document, separators=(",", ":"))


def _write(line: str, stream: TextIO | None = None) -> None:
    out = stream or sys.__stdout__
    if out is None:  # no stdout at all (a daemon): metrics are best effort
        return
    out.write(line + "\n")
    out.flush()


def task_queue(task: str) -> str:
    """The queue a task name is routed to by the contract, or ``UNROUTED_QUEUE``."""
    try:
        return queue_for(task).value
    except KeyError:
        return UNROUTED_QUEUE


def task_outcome(task: str, outcome: str, *, run_time_s: float | None, queue_wait_s: float | None) -> None:
    """One line per finished task attempt: dimension ``Queue``, the task name a property."""
    values: dict[str, tuple[float, str]] = {OUTCOME_METRICS[outcome]: (1, "Count")}
    if run_time_s is not None:
        values[RUN_TIME] = (round(run_time_s * 1000, 1), "Milliseconds")
    if queue_wait_s is not None:
        values[QUEUE_WAIT] = (round(queue_wait_s * 1000, 1), "Milliseconds")
    _write(emf_line({QUEUE_DIMENSION: task_queue(task)}, values, **{TASK_PROPERTY: task, "outcome": outcome}))


def heartbeat(queues: list[str], hostname: str) -> None:
    """One line per consumed queue per heartbeat: the alarm's "a worker is alive" signal."""
    for queue in queues:
        _write(emf_line({QUEUE_DIMENSION: queue}, {HEARTBEAT: (1, "Count")}, worker=hostname))
