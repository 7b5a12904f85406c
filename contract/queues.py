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
    def run_deadline_s(self) -> int:
        """How long after its start a run may still send a Slack call that can post.

        Checked by the run itself, on its own monotonic clock, at the fence before every post
        (``workers/services/replies.py``): a run past it never posts, whatever pool runs it.
        Celery's prefork pool also kills a task at ``time_limit_s``; its thread pool enforces no
        time limit at all, so this deadline, not the kill, is what the lease relies on.
        """
        return self.time_limit_s

    @property
    def lease_s(self) -> int:
        """How long a run's claim on an effect is trusted (``workers/services/replies.py``).

        A run sends no post later than ``run_deadline_s`` after it started, and every version it
        wrote was written after it started; the extra 30 s lets a request it had already sent
        reach Slack before another run looks there for it.
        """
        return self.run_deadline_s + 30

    @property
    def max_deferral_s(self) -> int:
        """How long the copies of one task may keep deferring (SQS delays added up) before the
        task goes to its dead-letter queue with the reason (``workers/outcomes.py``).

        Every legitimate wait is far shorter: another run's lease (``lease_s``), the channel's
        line, Slack's Retry-After, a history search at one call a minute. Thirty minutes is also
        how long a slash command's ``response_url`` lives: an answer later than that is news to
        a person, not a reply. A deferral that outlasts it is a wait that cannot end.
        """
        return max(30 * 60, 10 * self.lease_s)

    @property
    def visibility_timeout_s(self) -> int:
        """Longer than every task the worker could run before this one finishes.

        A message stays invisible from receive until its late ack; with prefetch it may wait
        behind `WORKER_PREFETCH_MULTIPLIER` others, each allowed `time_limit_s`.
        """
        return self.time_limit_s * (WORKER_PREFETCH_MULTIPLIER + 1) + 30


# SQS keeps a message this long on a main queue (its default) and on a dead-letter queue (its
# maximum, so dead letters wait for a human). The infra sets both from here.
QUEUE_RETENTION_S = 4 * 24 * 3600
DLQ_RETENTION_S = 14 * 24 * 3600
# SQS's largest per-message delay: a longer wait is taken in several hops.
MAX_DELAY_S = 900
# A task that fails this many times with a retryable error goes to its dead-letter queue.
MAX_TASK_FAILURES = 5

QUEUE_SPECS: dict[QueueName, QueueSpec] = {
    QueueName.REPLIES: QueueSpec(QueueName.REPLIES, soft_time_limit_s=20, time_limit_s=30, max_receive_count=5),
    QueueName.BULK: QueueSpec(QueueName.BULK, soft_time_limit_s=50, time_limit_s=60, max_receive_count=5),
}

# Longest soft limit of any queue: a worker stopping gracefully may need this long to finish.
MAX_SOFT_TIME_LIMIT_S = max(spec.soft_time_limit_s for spec in QUEUE_SPECS.values())

# SQS message attributes on a message a worker put in a dead-letter queue itself (both
# executors write them; ``charla dlq show`` and ``dlq redrive`` read them). The reason never
# holds the payload; ``NEVER_RUNNABLE`` marks a message refused by the contract (not JSON, an
# unknown task, a payload that does not validate): sending it back can never make it run.
DEAD_LETTER_REASON_ATTRIBUTE = "charla_dead_letter_reason"
NEVER_RUNNABLE_ATTRIBUTE = "charla_never_runnable"
