"""How each job from ``jobs/`` last ended: ``JOBRUN#<job>`` / ``LAST`` (shape: contract/heartbeats.py).

One plain put per run, last writer wins: ``charla status`` shows it beside the job's queue and
schedule. It is a report, not a guarantee: what must happen once goes through ``JobContext.once``.
"""

import json

from contract.heartbeats import JOB_RUN_BODY_ATTRIBUTE, job_run_key
from workers.state.records import Records
from workers.state.table import item as _item
from workers.state.table import s as _s


class JobRuns(Records):
    """The last-run records of jobs (a mixin of ``StateStore``)."""

    def record_job_run(self, *, job: str, task_id: str, outcome: str, at: float, worker: str) -> None:
        """Overwrite ``job``'s last-run record."""
        body = {"job": job, "task_id": task_id, "outcome": outcome, "at": at, "worker": worker}
        self._client.put_item(
            TableName=self._table, Item=_item(job_run_key(job), **{JOB_RUN_BODY_ATTRIBUTE: _s(json.dumps(body))})
        )
