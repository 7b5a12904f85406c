"""What the worker refuses to run, and how: a refused message is never executed and never lost.

Celery's stock consumer *acks* (deletes) a message whose body it cannot decode, and a task that
raises is acked too, so a bad message would vanish without a trace. charla's rule: a message
that cannot be run as the contract says goes to its queue's dead-letter queue at once, byte for
byte, with the reason as a message attribute (``redelivery.refuse``; the Lambda executor does
the same), and only then is acked. Waiting for SQS to move it after ``maxReceiveCount``
receives would hide it for that many visibility timeouts (5 x 180 s on the replies queue) and
count it as that many failures. If the copy cannot be sent, the message is rejected without
ack: kombu leaves it on the queue (every charla queue has a redrive policy) and SQS moves it
later, so it is never lost. Each refusal writes one ``refused message`` log line naming the
task, id and reason (never the payload: it may hold user text).

Refused before any task code runs (``ContractConsumer``):
- a body that is not JSON: pickle, YAML or anything else outside ``accept_content``
  (Celery raises ``ContentDisallowed`` while building the request; loading pickle or YAML
  could run code, so it is never deserialized);
- a body that cannot be decoded at all, or has no task header;
- a task name no worker registers;
- positional arguments, or kwargs that do not validate against the task's payload dataclass
  in ``contract.registry.TASK_PAYLOADS`` (unknown fields, missing fields, wrong types).

The model the check produced is handed to the task in the request (``VALIDATED_PAYLOAD_HEADER``),
so each payload is validated once per run (``workers/payloads.py``).

And as a second line (``ContractTask``): a task whose payload fails ``parse_payload`` sends it
to the dead-letter queue at once (``PayloadRefused``), so it is not retried in a loop nor dropped.
Any other error inside a task is a failure to retry (``workers/outcomes.py``).

The consumer also decides whether a result is stored: only tasks in
``contract.registry.RESULT_TASKS`` honour ``ignore_result: false``; for every other task the
header is forced to ``true`` so the hot path never writes to the results table.
"""

import logging
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import Reject
from celery.worker.consumer import Consumer
from kombu.exceptions import ContentDisallowed

from contract.queues import QueueName
from contract.registry import RESULT_TASKS
from workers import redelivery
from workers.celery_worker import activity
from workers.outcomes import Defer, Later, outcome_of

# The check itself is Celery-free (workers/payloads.py), shared with the Lambda executor;
# re-exported here for the callers that import it from the consumer.
from workers.payloads import PAYLOADS as _PAYLOADS
from workers.payloads import (
    VALIDATED_PAYLOAD_HEADER,
    PayloadRefused,
    parse_payload,
    payload_problem,
    validated_payload,
    validation_summary,
)

logger = logging.getLogger("charla.refused")
__all__ = [
    "ContractConsumer",
    "ContractTask",
    "PayloadRefused",
    "parse_payload",
    "payload_problem",
    "validation_summary",
]

_SENT_TO_DLQ = "not run; sent to the dead-letter queue"
_LEFT_FOR_DLQ = "not run; left on the queue for SQS to dead-letter"
_WAITABLE: frozenset[str] = frozenset(str(task) for task in RESULT_TASKS)


def _describe(message: Any) -> str:
    headers = message.headers or {}
    queue = (message.delivery_info or {}).get("routing_key") or "?"
    return f"task={headers.get('task', '?')} id={headers.get('id', '?')} queue={queue}"


def _send_to_dead_letters(message: Any, reason: str) -> bool:
    """The refused message, as SQS delivered it, into its dead-letter queue now; False if that failed."""
    try:
        delivery = message.delivery_info
        body, queue_url = str(delivery["sqs_message"]["Body"]), str(delivery["sqs_queue"])
        redelivery.refuse(queue_url, body, reason)
    except (AttributeError, KeyError, TypeError, redelivery.RedeliveryError) as error:
        logger.warning("could not send a refused message to the dead-letter queue (%s); SQS will move it", error)
        return False
    return True


class ContractConsumer(Consumer):  # type: ignore[misc]  # celery ships no type information
    """The worker's consumer (``worker_consumer``): refuses what the contract does not allow."""

    def _refuse(self, message: Any, reason: str) -> None:
        headers = message.headers if isinstance(message.headers, dict) else {}
        activity.refused(
            str(headers.get("task", "?")),
            str(headers.get("id", "?")),
            reason=reason,
            message_id=activity.sqs_message_id(message),
        )
        sent = _send_to_dead_letters(message, reason)
        logger.error(
            "refused message %s content-type=%s: %s; %s",
            _describe(message),
            message.content_type,
            reason,
            _SENT_TO_DLQ if sent else _LEFT_FOR_DLQ,
        )
        if sent:
            message.ack()
        else:
            message.reject_log_error(logger, self.connection_errors)

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        """Celery acks here (the message would be lost); reject it instead."""
        self._refuse(message, f"cannot decode body ({type(exc).__name__}: {exc})")

    def on_unknown_message(self, body: Any, message: Any) -> None:
        self._refuse(message, "not a Celery task message (no task header)")

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        # Not Celery's own handling: it logs the whole body (user text) and leaves the message
        # for SQS to redeliver until maxReceiveCount.
        from celery.exceptions import NotRegistered

        self._record_failure(message, NotRegistered(str((message.headers or {}).get("task", "?"))), waitable_only=False)
        self._refuse(message, "no worker runs this task name")

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        if isinstance(exc, ContentDisallowed):
            reason = f"content type {message.content_type!r} is refused (JSON only: pickle and YAML can run code)"
        else:
            reason = f"invalid task message ({type(exc).__name__}: {exc})"
        self._refuse(message, reason)

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        """Celery's handler, behind a check of the payload against the contract."""
        handle = super().create_task_handler(*args, **kwargs)

        def on_task_received(message: Any) -> Any:
            headers = message.headers
            task = headers.get("task") if isinstance(headers, dict) else None
            if task in _PAYLOADS:
                try:
                    body = message.decode()
                except Exception:
                    return handle(message)  # Celery meets the same error: on_invalid_task / on_decode_error
                model, problem = validated_payload(task, body)
                if problem is not None:
                    self._record_failure(message, PayloadRefused(problem))
                    return self._refuse(message, problem)
                # Validated once, here: the model rides in the request (pickled to a prefork
                # child with it) and the task takes it instead of validating the dict again.
                headers[VALIDATED_PAYLOAD_HEADER] = model
            if task is not None and task not in _WAITABLE:
                headers["ignore_result"] = True  # hot path: store nothing, whatever the sender asked
            return handle(message)

        return on_task_received

    def _record_failure(self, message: Any, error: Exception, *, waitable_only: bool = True) -> None:
        """Tell a caller waiting on a waitable task (or any task asking for a result) why it will get no answer."""
        headers = message.headers if isinstance(message.headers, dict) else {}
        if headers.get("ignore_result") is not False or "id" not in headers:
            return
        if waitable_only and headers.get("task") not in _WAITABLE:
            return
        try:
            self.app.backend.mark_as_failure(headers["id"], error)
        except Exception:  # a result store outage must not stop the refusal itself
            logger.exception("could not record the refusal of task id=%s", headers.get("id"))


class ContractTask(Task):  # type: ignore[misc]  # celery ships no type information
    """Base of every charla task (``task_cls``): each way a run ends is settled here (``workers/outcomes.py``).

    Success returns as usual. A deferral or a retryable failure sends a copy of the message with
    an SQS delay (``workers/redelivery.py``) and acks this one; a permanent failure, or one
    failure too many, sends it to the dead-letter queue and acks this one. A caller waiting on
    the result sees ``RETRY`` until the failure is final. If the copy cannot be sent, the message is
    rejected without requeue: kombu leaves it on a queue with a redrive policy (every charla queue
    has one), SQS delivers it again after its visibility timeout, and nothing is recorded as failed.
    """

    # Counts each outcome in the worker's main process for the heartbeat and task metrics.
    Request = "workers.celery_worker.activity:CountingRequest"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:  # every way a run can fail is settled in one place
            try:
                outcome, reason = self._settle(error, kwargs)
            except redelivery.RedeliveryError as unsent:
                # No copy exists: keep this message (no ack, no FAILURE recorded); SQS delivers it
                # again after its visibility timeout.
                logger.error("task=%s id=%s left for redelivery: %s", self.name, self.request.id, unsent)
                raise Reject(str(unsent), requeue=False) from None
            # An Ignore (the message is settled) that tells the main process how, for its counts.
            raise activity.Settled(outcome, reason, type(error).__name__) from None

    def _settle(self, error: Exception, kwargs: dict[str, Any]) -> tuple[str, str]:
        """Send the copy the outcome asks for; returns (retried | refused | failed, reason)."""
        request = self.request
        failures = int(getattr(request, redelivery.FAILURES_HEADER, 0) or 0)
        deferred_s, _ = redelivery.carried(lambda name: getattr(request, name, None))
        queue = QueueName((request.delivery_info or {}).get("routing_key") or QueueName.REPLIES)
        outcome = outcome_of(error, failures=failures, deferred_s=deferred_s, queue=queue)
        copy = {
            "task": self.name,
            "task_id": request.id,
            "queue": queue,
            "kwargs": kwargs,
            "ignore_result": bool(request.ignore_result),
        }
        if isinstance(outcome, Later):
            redelivery.send_later(
                **copy,
                delay_s=outcome.delay_s,
                retries=int(request.retries or 0) + 1,
                failures=outcome.failures,
                deferred_s=outcome.deferred_s,
                observed=outcome.observed,
            )
            log = logger.info if isinstance(error, Defer) else logger.warning
            log("task=%s id=%s again in %d s: %s", self.name, request.id, outcome.delay_s, outcome.reason)
            if outcome.about_result:
                self._record(request.id, error, final=False)
            return "retried", outcome.reason
        if isinstance(error, PayloadRefused):
            logger.error(
                "refused message task=%s id=%s: %s; sent to the dead-letter queue", self.name, request.id, error
            )
        else:
            logger.error("task=%s id=%s dead-lettered: %s", self.name, request.id, outcome.reason)
        redelivery.dead_letter(**copy, reason=outcome.reason, never_runnable=isinstance(error, PayloadRefused))
        self._record(request.id, error, final=True)
        return ("refused" if isinstance(error, PayloadRefused) else "failed"), outcome.reason

    def _record(self, task_id: str, error: Exception, *, final: bool) -> None:
        """Tell a caller waiting on this task where it stands: ``RETRY`` until SQS gives up, then ``FAILURE``."""
        if self.request.ignore_result:
            return
        try:
            if final:
                self.backend.mark_as_failure(task_id, error, request=self.request)
            else:
                self.backend.mark_as_retry(task_id, error, request=self.request)
        except Exception:  # the result store is a courtesy to the caller; the message is settled
            logger.exception("could not record the state of task id=%s", task_id)
