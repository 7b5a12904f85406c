"""Worker heartbeats: the record each worker writes to the STATE table, read by ``charla workers``.

Flower and ``celery inspect`` need a broadcast exchange, which SQS does not have, so workers
report themselves: one ``put_item`` per worker per interval (not per task) under one partition,
read back with a single ``Query``. The writer is ``workers/celery_worker/heartbeat.py``; the reader is
``charla_cli``; this module is the shape both agree on (docs/DATA.md has the table).

====================  ===========================  ============================================
pk                    sk                           what
====================  ===========================  ============================================
``WORKER``            ``<hostname>#<pid>``         one live worker's latest heartbeat (TTL)
``FAILURE#<id>``      ``LAST``                     why a message last failed or was refused (TTL)
``JOBRUN#<job>``      ``LAST``                     how a job from ``jobs/`` last ended (no TTL)
====================  ===========================  ============================================

``<id>`` of a failure note is the Celery task id, or the SQS message id when the message had
no readable task id; ``charla dlq show`` looks up each dead letter's note by both. Notes are
written with the next heartbeat (batched, only when something failed) and live as long as SQS
keeps a dead letter (14 days).

``expires_at`` is ``written_at + ttl``: DynamoDB's TTL deletes a dead worker's record within
days, so readers also drop any record whose ``expires_at`` has passed. A worker that stops
cleanly deletes its record at once; a killed one vanishes after its TTL.
"""

HEARTBEAT_PK = "WORKER"
# The attribute holding the record as JSON (one string keeps the record's shape out of
# DynamoDB's type system; nothing queries inside it).
HEARTBEAT_BODY_ATTRIBUTE = "heartbeat"
HEARTBEAT_TTL_ATTRIBUTE = "expires_at"

# Environment variables read by the worker (tests shorten both).
HEARTBEAT_INTERVAL_VARIABLE = "CHARLA_HEARTBEAT_INTERVAL_S"
HEARTBEAT_TTL_VARIABLE = "CHARLA_HEARTBEAT_TTL_S"
DEFAULT_INTERVAL_S = 30.0
# Three missed beats: one slow write or a long GC pause does not make a worker look dead.
DEFAULT_TTL_FACTOR = 3

# Fields of the JSON body (documented in docs/OPERATIONS.md's `charla workers` section).
#   hostname, pid, queues [str], pool, concurrency, started_at, written_at, expires_at (epoch s),
#   ecs {task_arn, family, revision} or null,
#   active [{task, id, started_at, runtime_s}],
#   counts {received, succeeded, retried, failed, refused},
#   last_failure {task, id, exception, at} or null
COUNT_NAMES = ("received", "succeeded", "retried", "failed", "refused")


FAILURE_NOTE_TTL_S = 14 * 24 * 3600
FAILURE_NOTE_BODY_ATTRIBUTE = "note"
# Fields of a failure note's JSON body: id, task, outcome (failed/refused), reason, at, worker.


# A job's last run, written by the run itself (``workers/tasks_jobs.py``), read by ``charla status``.
# Fields of its JSON body: job, task_id, outcome (succeeded, deferred, failed), at, worker.
JOB_RUN_BODY_ATTRIBUTE = "job_run"


def job_run_key(job: str) -> dict[str, str]:
    """Key of the record of ``job``'s last run (one record per job, overwritten by each run)."""
    return {"pk": f"JOBRUN#{job}", "sk": "LAST"}


def failure_note_key(task_or_message_id: str) -> dict[str, str]:
    """Key of the failure note of one task (or SQS message) id."""
    return {"pk": f"FAILURE#{task_or_message_id}", "sk": "LAST"}


def heartbeat_key(hostname: str, pid: int) -> dict[str, str]:
    """Key of one worker's heartbeat record."""
    return {"pk": HEARTBEAT_PK, "sk": f"{hostname}#{pid}"}


def default_ttl_s(interval_s: float) -> float:
    return interval_s * DEFAULT_TTL_FACTOR
