"""Queue names and the limits that every deploy of a queue must agree on."""

from dataclasses import dataclass
from enum import StrEnum


class QueueName(StrEnum):
    """Celery queue names; each maps to one SQS queue (and its dead-letter queue)."""

    REPLIES = "replies"  # user-facing answers: latency matters
    BULK = "bulk"  # archive, counters, agenda refresh: throughput matters


# How many tasks a worker process may hold beyond the one it runs. A prefetched message is
# already invisible in SQS, so the visibility timeout must cover the wait behind them too.
WORKER_PREFETCH_MULTIPLIER = 4


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """Limits for one queue. The infra derives SQS and ECS settings from these numbers."""

    name: QueueName
    soft_time_limit_s: int
    time_limit_s: int
    max_receive_count: int

    @property
    def visibility_timeout_s(self) -> int:
        """Longer than every task the worker could run before this one finishes.

        A message stays invisible from receive until its late ack; with prefetch it may wait
        behind `WORKER_PREFETCH_MULTIPLIER` others, each allowed `time_limit_s`.
        """
        return self.time_limit_s * (WORKER_PREFETCH_MULTIPLIER + 1) + 30


QUEUE_SPECS: dict[QueueName, QueueSpec] = {
    QueueName.REPLIES: QueueSpec(QueueName.REPLIES, soft_time_limit_s=20, time_limit_s=30, max_receive_count=5),
    QueueName.BULK: QueueSpec(QueueName.BULK, soft_time_limit_s=50, time_limit_s=60, max_receive_count=5),
}

# Longest soft limit of any queue: a worker stopping gracefully may need this long to finish.
MAX_SOFT_TIME_LIMIT_S = max(spec.soft_time_limit_s for spec in QUEUE_SPECS.values())
