"""What this worker has done since it started, counted in the worker's main process.

Celery's prefork pool runs tasks in child processes, so counters kept by task signals
(``task_success``...) would be split across children and lost with them. The main process
sees every task anyway: it builds a ``Request`` for each message it takes and gets each
outcome back from the pool (success, failure, retry, rejection, a child killed mid-task).
``CountingRequest`` (every charla task's ``Request``, set on ``ContractTask``) counts there,
so one process holds the whole picture whatever the pool, and the heartbeat
(``workers/celery_worker/heartbeat.py``) reads it without any cross-process traffic.

Each outcome also prints one CloudWatch Embedded Metric Format line (``workers/runtime/metrics.py``):
per task name, succeeded / failed / retried / refused, run time and time waited in the queue.
"""

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import Ignore, Reject, Retry
from celery.worker.request import Request

from contract.heartbeats import COUNT_NAMES
from workers.runtime import metrics

HOUR_S = 3600.0
REASON_MAX_CHARS = 300  # an exception's text is cut short: it may quote user input
_NOTES_MAX = 100  # failure notes waiting for the next heartbeat; beyond that the oldest are dropped


@dataclass
class WorkerActivity:
    """Counts since start, the last failure and failure notes; shared by the pool's callbacks (hence the lock)."""

    started_at: float = field(default_factory=time.time)
    counts: Counter[str] = field(default_factory=Counter)
    last_failure: dict[str, Any] | None = None
    _failure_times: deque[float] = field(default_factory=lambda: deque(maxlen=10_000), repr=False)
    _notes: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_NOTES_MAX), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(
        self,
        outcome: str,
        *,
        task: str = "?",
        task_id: str = "?",
        exception: str | None = None,
        reason: str | None = None,
        message_id: str | None = None,
    ) -> None:
        now = time.time()
        with self._lock:
            self.counts[outcome] += 1
            if outcome == "failed":
                self.last_failure = {"task": task, "id": task_id, "exception": exception, "at": now}
            if outcome in ("failed", "refused"):
                self._failure_times.append(now)
                note_id = task_id if task_id and task_id != "?" else message_id
                if note_id:
                    text = (reason or exception or outcome)[:REASON_MAX_CHARS]
                    self._notes.append({"id": note_id, "task": task, "outcome": outcome, "reason": text, "at": now})

    def take_notes(self) -> list[dict[str, Any]]:
        """Failure notes since the last call (the heartbeat writes them)."""
        with self._lock:
            notes = list(self._notes)
            self._notes.clear()
            return notes

    def put_back(self, notes: list[dict[str, Any]]) -> None:
        """Notes whose write failed, kept for the next heartbeat."""
        with self._lock:
            self._notes.extendleft(reversed(notes))

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        with self._lock:
            while self._failure_times and self._failure_times[0] < now - HOUR_S:
                self._failure_times.popleft()
            return {
                "counts": {name: self.counts[name] for name in COUNT_NAMES},
                "last_failure": dict(self.last_failure) if self.last_failure else None,
                "failures_last_hour": len(self._failure_times),
            }


ACTIVITY = WorkerActivity()


def refused(task: str, task_id: str, *, reason: str, message_id: str | None) -> None:
    """A message the consumer refused before any task code ran (workers/celery_worker/consumer.py)."""
    ACTIVITY.add("refused", task=task, task_id=task_id, reason=reason, message_id=message_id)
    metrics.task_outcome(task, "refused", run_time_s=None, queue_wait_s=None)


class Settled(Ignore):  # type: ignore[misc]  # celery ships no type information
    """Raised by ``ContractTask`` once it settled a failed run (a delayed copy or a dead letter).

    An ``Ignore`` to Celery (the message is acked, nothing else happens); its arguments travel
    from the pool's child to the main process, which counts the outcome they name.
    """

    def __init__(self, outcome: str, reason: str, exception_type: str) -> None:
        super().__init__(outcome, reason, exception_type)
        self.outcome = outcome
        self.reason = reason
        self.exception_type = exception_type  # of the error that was settled, for the heartbeat


def outcome_of(exception: BaseException) -> str | None:
    """How a task that raised ``exception`` ended: failed, retried or refused (None: ignored)."""
    if isinstance(exception, Settled):
        return exception.outcome
    if isinstance(exception, Retry):
        return "retried"
    if isinstance(exception, Reject):
        return "refused"
    if isinstance(exception, Ignore):
        return None
    return "failed"


def sqs_message_id(message: Any) -> str | None:
    try:
        return str(message.delivery_info["sqs_message"]["MessageId"])
    except (AttributeError, KeyError, TypeError):
        return None


def queue_wait_s(request: Request) -> float | None:
    """From SQS's SentTimestamp (fetched with the message, no extra request) to the task's start."""
    try:
        sent_ms = int(request._message.delivery_info["sqs_message"]["Attributes"]["SentTimestamp"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    started = getattr(request, "time_start", None) or time.time()
    return max(0.0, started - sent_ms / 1000)


class CountingRequest(Request):  # type: ignore[misc]  # celery ships no type information
    """Celery's request with its outcome counted (received, succeeded, retried, failed, refused).

    Celery subclasses this per task (``create_request_cls``) and that subclass defines its own
    ``on_success``, so the success path is wrapped per instance; failures, retries and
    rejections all pass through ``on_failure``, which the subclass inherits from here.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ACTIVITY.add("received")
        self._charla_wait_s: float | None = None
        self.on_success = self._counted_success  # the pool calls back whatever this attribute is

    def on_accepted(self, pid: int, time_accepted: float) -> None:
        super().on_accepted(pid, time_accepted)
        self._charla_wait_s = queue_wait_s(self)

    def _counted_success(self, failed__retval__runtime: Any, **kwargs: Any) -> Any:
        failed, _retval, runtime = failed__retval__runtime
        if not failed:  # a failure is passed on to on_failure below, and counted there
            ACTIVITY.add("succeeded", task=self.name, task_id=self.id)
            metrics.task_outcome(self.name, "succeeded", run_time_s=runtime, queue_wait_s=self._charla_wait_s)
        celery_on_success: Any = getattr(type(self), "on_success")  # noqa: B009 - the per-task subclass's handler
        return celery_on_success(self, failed__retval__runtime, **kwargs)

    def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> Any:
        exception = getattr(exc_info.exception, "exc", exc_info.exception)  # ExceptionWithTraceback
        outcome = outcome_of(exception)
        if outcome is not None:
            ACTIVITY.add(
                outcome,
                task=self.name,
                task_id=self.id,
                exception=exception.exception_type if isinstance(exception, Settled) else type(exception).__name__,
                reason=exception.reason
                if isinstance(exception, Settled)
                else f"{type(exception).__name__}: {exception}",
                message_id=sqs_message_id(self._message),
            )
            started = getattr(self, "time_start", None)
            metrics.task_outcome(
                self.name,
                outcome,
                run_time_s=(time.time() - started) if started else None,
                queue_wait_s=self._charla_wait_s,
            )
        return super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)
