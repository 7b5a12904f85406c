"""Scheduled events (EventBridge rule or EventBridge Scheduler) become an agenda refresh.

In AWS a schedule invokes the Lambda directly with an event such as
``{"source": "aws.events", "detail-type": "Scheduled Event", "id": "...", "detail": {}}``.
Locally ``scripts/scheduler.py`` invokes ``handler`` with the same shape on an interval.
The event's ``detail`` may name an ``agenda_source``; otherwise the worker's configured
source (``CHARLA_AGENDA_SOURCE``) applies.

A ``schedules`` entry in ``cdk.json`` (docs/EXTENDING.md, "Add a schedule") fires the same event
with ``detail: {"job": "<name>", "payload": {...}}``: that job is queued instead, its payload
completed with the event's id and time. Jobs are declarations (``contract`` and the standard
library only): the ingress imports them, never the workers.
"""

import time
import uuid
from collections.abc import Mapping
from typing import Any

from contract.tasks import AgendaRefresh, TaskName
from lambda_handler.enqueue import enqueue

SCHEDULED_SOURCES = frozenset({"aws.events", "aws.scheduler"})
SCHEDULED_DETAIL_TYPE = "Scheduled Event"


def is_scheduled_event(event: Mapping[str, Any]) -> bool:
    """Whether a Lambda event is a schedule firing (not an HTTP request)."""
    return event.get("source") in SCHEDULED_SOURCES and event.get("detail-type") == SCHEDULED_DETAIL_TYPE


def on_scheduled_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """Queue ``refresh_agenda`` or the job the event names, keyed by the event id (a retried
    invocation keeps its task id).

    Raises:
        lambda_handler.errors.QueueUnavailable: SQS refused; the invocation fails and is retried.
    """
    event_id = str(event.get("id") or uuid.uuid4())
    detail = event.get("detail")
    if isinstance(detail, Mapping) and detail.get("job"):
        return _queue_job(event_id, str(detail["job"]), detail.get("payload") or {})
    source = detail.get("agenda_source") if isinstance(detail, Mapping) else None
    request = AgendaRefresh(
        correlation_id=event_id,
        source=str(source) if source else None,
        requested_at=time.time(),
    )
    task_id = enqueue(TaskName.REFRESH_AGENDA, request, idempotency_key=event_id)
    return {"ok": True, "task": str(TaskName.REFRESH_AGENDA), "task_id": task_id}


def _queue_job(event_id: str, name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Queue the job ``name`` with ``given`` plus ``correlation_id`` and ``requested_at``.

    Raises:
        LookupError: No such job (synth refuses it, so only a hand-made event can name one).
        TypeError: ``given`` does not fit the job's payload (likewise refused at synth).
    """
    import jobs

    job = jobs.find(name)
    payload = job.payload(**{"correlation_id": event_id, "requested_at": time.time(), **given})
    task_id = enqueue(job.task, payload, idempotency_key=event_id)
    return {"ok": True, "task": job.task, "task_id": task_id}
