"""Every job in ``jobs/`` (docs/EXTENDING.md, "Add a task") as a task of the registry both executors run.

A job's ``run(payload, context)`` knows nothing of the workers: here its ``JobContext`` is built
from the worker's own clients, and its once-only effects go through the effect records
(``workers/services/effects.py``) with the lease of the job's queue, like the Home view's. Each
run ends by recording how it ended (``workers/state/job_runs.py``) for ``charla status``; the
executor then settles it as any task (retries, dead letters, deadlines).
"""

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from slack_sdk import WebClient

from jobs import Job, all_jobs
from workers.outcomes import Defer
from workers.payloads import parse_payload
from workers.registry import TaskContext, register
from workers.runtime.slack import web_client
from workers.services import effects
from workers.store import get_store


@dataclass(frozen=True, slots=True)
class WorkerJobContext:
    """``jobs.JobContext`` for one run on a worker or the Lambda executor."""

    task_id: str
    slack: WebClient
    running: TaskContext

    def once(self, key: str, effect: Callable[[], object]) -> bool:
        def act() -> None:
            effect()

        # Namespaced so no job key can meet a built-in effect's (answers, notices, the Home view).
        return effects.once(
            get_store(), f"job:{key}", act, lease_s=self.running.spec.lease_s, observed=self.running.observed
        )

    def command_counts(self, team_id: str) -> Mapping[str, int]:
        return get_store().command_counts(team_id=team_id)


logger = logging.getLogger(__name__)


def _record(job: Job[Any], ctx: TaskContext, outcome: str) -> None:
    try:
        get_store().record_job_run(
            job=job.name, task_id=ctx.task_id, outcome=outcome, at=time.time(), worker=ctx.worker
        )
    except Exception as error:  # a report: its failure must not change how the run ends
        logger.warning("job run not recorded job=%s task_id=%s: %s", job.name, ctx.task_id, type(error).__name__)


def _task_of(job: Job[Any]) -> Callable[..., None]:
    adapter: TypeAdapter[Any] = TypeAdapter(job.payload)

    def run_job(ctx: TaskContext, **payload: Any) -> None:
        try:
            job.run(parse_payload(adapter, payload), WorkerJobContext(ctx.task_id, web_client(), ctx))
        except Defer:
            _record(job, ctx, "deferred")
            raise
        except Exception as error:
            _record(job, ctx, f"failed: {type(error).__name__}")
            raise
        _record(job, ctx, "succeeded")

    run_job.__name__ = run_job.__qualname__ = job.name
    run_job.__doc__ = job.run.__doc__
    return run_job


for _job in all_jobs().values():
    register(_job.task, _task_of(_job), payload=_job.payload, queue=_job.queue)
