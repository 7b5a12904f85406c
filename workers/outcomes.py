"""How a task run can end besides success, and what each executor does about it.

Task code raises; the executor (the Celery worker today) decides from these rules alone:

- ``Defer``: not a failure. The run could not act *yet* (another run holds the effect, the
  channel's next post slot is far off, Slack said Retry-After). The task runs again after
  ``delay_s``, as an SQS delay: never a worker holding the message past its visibility timeout.
  The copies add up their delays (``deferred_s``, a header: no clock is compared); a task
  that has deferred for longer than its queue's ``max_deferral_s`` goes to its dead-letter
  queue with the last reason, so no wait is unbounded (the DLQ alarm fires, ``charla dlq show``
  says why). A deferral may hand its copy what it observed (``observed``: the effect record
  version it saw and for how long, ``workers/services/replies.py``).
- ``PermanentError``: retrying cannot help (the payload breaks the contract, Slack refused the
  answer for good). The message goes to its dead-letter queue now, for a person to look at.
- anything else: a failure that may pass (DynamoDB throttled, Slack 5xx, a reset connection, a
  bug). Retried with exponential backoff as SQS delays; after ``MAX_TASK_FAILURES`` failures the
  message goes to its dead-letter queue.

Only a message in a dead-letter queue is a final failure: a caller waiting on a result sees
``RETRY`` until then (``contract/results.py``).
"""

import math
import random
from dataclasses import dataclass

from contract.queues import MAX_DELAY_S, MAX_TASK_FAILURES, QUEUE_SPECS, QueueName

# First retry after about this long, doubling each time (jittered so retries spread out).
BACKOFF_BASE_S = 2.0


class Defer(Exception):
    """Run the task again in ``delay_s`` seconds; not a failure.

    Attributes:
        delay_s: Seconds to wait (rounded up; waits past SQS's 900 s take several hops).
        reason: For the log line.
        about_result: ``False`` when another run owns the outcome: a caller's result is left alone.
        observed: What the copy must know of this run's look at the effect record (its version
            and how long it has been seen unchanged), carried in the copy's headers.
    """

    def __init__(
        self,
        delay_s: float,
        reason: str,
        *,
        about_result: bool = True,
        observed: "Observed | None" = None,
    ) -> None:
        super().__init__(f"{reason}; again in {delay_s:.1f} s")
        self.delay_s = delay_s
        self.reason = reason
        self.about_result = about_result
        self.observed = observed


@dataclass(frozen=True, slots=True)
class Observed:
    """An effect record version a run saw, and for how many seconds copies have seen it unchanged.

    ``for_s`` only ever adds SQS delays that have gone by (each copy is receivable only after its
    ``DelaySeconds``), so it never overstates the time: no machine's clock is read for it.
    """

    version: str
    for_s: float


class PermanentError(Exception):
    """Retrying cannot help: dead-letter the message now."""


@dataclass(frozen=True, slots=True)
class Later:
    """Send the task again after ``delay_s`` seconds, having failed ``failures`` times so far."""

    delay_s: int
    failures: int
    reason: str
    about_result: bool = True
    deferred_s: float = 0.0  # the copies' deferrals so far, this one's included
    observed: Observed | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Move the message to its dead-letter queue (a final failure)."""

    reason: str


Outcome = Later | DeadLetter


def sqs_delay(seconds: float) -> int:
    """``seconds`` as an SQS ``DelaySeconds``: whole seconds, rounded up, at most 900."""
    return max(0, min(MAX_DELAY_S, math.ceil(seconds)))


def backoff_s(failures: int, *, rng: random.Random | None = None) -> float:
    """Delay before the retry that follows failure number ``failures`` (1-based), jittered."""
    ceiling = min(float(MAX_DELAY_S), BACKOFF_BASE_S * 2 ** max(0, failures - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def describe(error: BaseException) -> str:
    """The error's type and message: no payload or user text ever goes into it here."""
    return f"{type(error).__name__}: {error}"[:300]


def max_deferral_s(queue: QueueName | None = None) -> int:
    """How long a task's copies may defer in all on ``queue`` (the reply queue's when unknown)."""
    return QUEUE_SPECS[queue or QueueName.REPLIES].max_deferral_s


def outcome_of(
    error: BaseException, *, failures: int, deferred_s: float = 0.0, queue: QueueName | None = None
) -> Outcome:
    """What to do with a run that raised ``error`` after ``failures`` earlier failures and
    ``deferred_s`` seconds of earlier deferrals."""
    if isinstance(error, Defer):
        delay = sqs_delay(error.delay_s)
        bound = max_deferral_s(queue)
        if deferred_s + delay > bound:
            return DeadLetter(f"deferred {deferred_s + delay:.0f} s, longer than the {bound} s bound: {error.reason}")
        return Later(
            delay,
            failures,
            error.reason,
            about_result=error.about_result,
            deferred_s=deferred_s + delay,
            observed=error.observed,
        )
    if isinstance(error, PermanentError):
        return DeadLetter(describe(error))
    failures += 1
    if failures >= MAX_TASK_FAILURES:
        return DeadLetter(f"failed {failures} times, last: {describe(error)}")
    return Later(sqs_delay(backoff_s(failures)), failures, describe(error))
