"""The jobs ``charla status`` lists: each job in ``jobs/``, its queue, its schedule and its last run.

The schedule is read from the nearest ``cdk.json`` (the one a ``cdk deploy`` from here would use;
``-`` when there is none or it schedules nothing). The last run is the record each run writes when
it ends (``contract/heartbeats.py``, ``JOBRUN#<job>``): when it ended, how, on which worker.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contract.heartbeats import JOB_RUN_BODY_ATTRIBUTE, job_run_key
from jobs import all_jobs

CDK_JSON = "cdk.json"


def schedules(start: Path) -> dict[str, str]:
    """Job name -> schedule expression, from the nearest ``cdk.json`` at or above ``start``."""
    for directory in (start, *start.parents):
        candidate = directory / CDK_JSON
        if candidate.is_file():
            try:
                given = json.loads(candidate.read_text(encoding="utf-8")).get("context", {}).get("schedules") or {}
            except (ValueError, AttributeError):
                return {}
            return {
                str(name): str(entry if isinstance(entry, str) else entry.get("expression"))
                for name, entry in given.items()
            }
    return {}


def last_runs(dynamodb: Any, table: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """Each job's last-run record, by job name (jobs that never ran are absent)."""
    if not names:
        return {}
    keys = [{k: {"S": v} for k, v in job_run_key(name).items()} for name in names]
    items = dynamodb.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
    runs: dict[str, dict[str, Any]] = {}
    for item in items.get("Responses", {}).get(table, []):
        record: dict[str, Any] = json.loads(item[JOB_RUN_BODY_ATTRIBUTE]["S"])
        runs[str(record["job"])] = record
    return runs


def job_status(runs: Mapping[str, Mapping[str, Any]], scheduled: Mapping[str, str]) -> list[dict[str, Any]]:
    """One entry per job: ``name``, ``task``, ``queue``, ``schedule`` (or null), ``last_run`` (or null)."""
    return [
        {
            "name": name,
            "task": job.task,
            "queue": job.queue.value,
            "schedule": scheduled.get(name),
            "last_run": dict(runs[name]) if name in runs else None,
        }
        for name, job in all_jobs().items()
    ]
