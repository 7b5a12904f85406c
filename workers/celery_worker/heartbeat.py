"""The worker's heartbeat: one DynamoDB record per worker, rewritten every interval.

A consumer bootstep (it runs in the worker's main process, on Celery's own timer, the way
Celery's event heartbeat does) writes one record every ``CHARLA_HEARTBEAT_INTERVAL_S``
(default 30 s): who the worker is, what it consumes, the tasks running now and the counts
since start (``workers/celery_worker/activity.py``). One write per worker per interval, never per task.
A clean shutdown deletes the record; a killed worker's record expires after
``CHARLA_HEARTBEAT_TTL_S`` (default three intervals) and readers skip it from then on.

A failed write is logged and skipped: monitoring must never stop the work it watches.
"""

import json
import logging
import os
import time
import urllib.request
from typing import Any

from celery import bootsteps

from contract.heartbeats import (
    DEFAULT_INTERVAL_S,
    HEARTBEAT_INTERVAL_VARIABLE,
    HEARTBEAT_TTL_VARIABLE,
    default_ttl_s,
)
from workers.celery_worker.activity import ACTIVITY, WorkerActivity
from workers.runtime import metrics
from workers.state.heartbeats import HeartbeatStore, heartbeat_client

logger = logging.getLogger(__name__)
ECS_METADATA_VARIABLE = "ECS_CONTAINER_METADATA_URI_V4"


def intervals(environ: Any = os.environ) -> tuple[float, float]:
    """(interval, ttl) in seconds from the environment."""
    interval = float(environ.get(HEARTBEAT_INTERVAL_VARIABLE) or DEFAULT_INTERVAL_S)
    ttl = float(environ.get(HEARTBEAT_TTL_VARIABLE) or default_ttl_s(interval))
    return interval, ttl


def ecs_task(environ: Any = os.environ) -> dict[str, Any] | None:
    """Task ARN, family and revision from the ECS task metadata endpoint (None outside ECS)."""
    uri = environ.get(ECS_METADATA_VARIABLE)
    if not uri:
        return None
    try:
        with urllib.request.urlopen(f"{uri}/task", timeout=1) as response:  # noqa: S310 - ECS's link-local URL
            task = json.loads(response.read())
    except (OSError, ValueError) as error:
        logger.warning("ECS task metadata unavailable: %s", error)
        return None
    return {"task_arn": task.get("TaskARN"), "family": task.get("Family"), "revision": task.get("Revision")}


def active_tasks(requests: Any, now: float) -> list[dict[str, Any]]:
    """The tasks running now (Celery's ``active_requests`` in the main process)."""
    running = []
    for request in list(requests):
        started = getattr(request, "time_start", None)
        running.append(
            {
                "task": request.name,
                "id": request.id,
                "started_at": started,
                "runtime_s": round(now - started, 1) if started else None,
            }
        )
    return sorted(running, key=lambda item: item["started_at"] or now)


def build_record(
    *,
    hostname: str,
    pid: int,
    queues: list[str],
    pool: str,
    concurrency: int,
    ecs: dict[str, Any] | None,
    activity: WorkerActivity,
    requests: Any,
    ttl_s: float,
    now: float,
) -> dict[str, Any]:
    """The heartbeat record (fields listed in contract/heartbeats.py)."""
    return {
        "hostname": hostname,
        "pid": pid,
        "queues": queues,
        "pool": pool,
        "concurrency": concurrency,
        "ecs": ecs,
        "started_at": activity.started_at,
        "written_at": now,
        "expires_at": now + ttl_s,
        "active": active_tasks(requests, now),
        **activity.snapshot(),
    }


class Heartbeat(bootsteps.StartStopStep):  # type: ignore[misc]  # celery ships no type information
    """Consumer bootstep: write the heartbeat at start, every interval, and delete it at shutdown."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.interval_s, self.ttl_s = intervals()
        self.ecs = ecs_task()
        self._timer_entry: Any = None
        self._store: HeartbeatStore | None = None

    def _consumer_store(self) -> HeartbeatStore:
        if self._store is None:
            from workers.runtime.settings import get_settings

            settings = get_settings()
            self._store = HeartbeatStore(
                heartbeat_client(settings.aws_endpoint_url, settings.aws_region), settings.table_state
            )
        return self._store

    def start(self, consumer: Any) -> None:
        self.beat(consumer)
        self._timer_entry = consumer.timer.call_repeatedly(self.interval_s, self.beat, (consumer,), priority=10)

    def beat(self, consumer: Any) -> None:
        from celery.worker.state import active_requests

        controller = consumer.controller
        queues = sorted(consumer.app.amqp.queues.consume_from)
        pool_cls = getattr(controller, "pool_cls", None)
        record = build_record(
            hostname=consumer.hostname,
            pid=os.getpid(),
            queues=queues,
            pool=str(getattr(pool_cls, "__module__", "?")).rsplit(".", 1)[-1],
            concurrency=int(getattr(controller, "concurrency", 0) or 0),
            ecs=self.ecs,
            activity=ACTIVITY,
            requests=active_requests,
            ttl_s=self.ttl_s,
            now=time.time(),
        )
        try:
            store = self._consumer_store()
            store.put(record)
        except Exception as error:  # botocore errors, settings errors: never stop the worker for this
            logger.warning("heartbeat not written: %s: %s", type(error).__name__, error)
            return
        metrics.heartbeat(queues, consumer.hostname)
        notes = ACTIVITY.take_notes()
        if notes:
            try:
                store.put_failure_notes(notes, consumer.hostname)
            except Exception as error:  # kept for the next beat
                ACTIVITY.put_back(notes)
                logger.warning("failure notes not written: %s: %s", type(error).__name__, error)

    def _cancel(self) -> None:
        if self._timer_entry is not None:
            self._timer_entry.cancel()
            self._timer_entry = None

    def stop(self, consumer: Any) -> None:
        # Also called when the broker connection restarts: keep the record, stop the timer.
        self._cancel()

    def shutdown(self, consumer: Any) -> None:
        self._cancel()
        try:
            self._consumer_store().delete(consumer.hostname, os.getpid())
        except Exception as error:  # the record then expires by its TTL
            logger.warning("heartbeat not removed: %s: %s", type(error).__name__, error)
