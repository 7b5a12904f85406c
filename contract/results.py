"""What a caller that waits on a task reads back, and the one task that exists for callers.

Results are written by Celery's own DynamoDB result backend (``workers/celery_worker/app.py``), so their
shape is Celery's; it is written down here (and in ``docs/CONTRACT.md``) because callers in
other languages read the record straight from the table.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

from contract.tasks import SCHEMA_VERSION

# Celery's DynamoDB backend: item key attribute ``id`` = this prefix + the task id; attribute
# ``result`` (binary) holds the JSON meta below; ``timestamp`` (number) when it was written;
# ``ttl`` (number, epoch seconds) when DynamoDB may delete it.
RESULT_KEY_PREFIX = "celery-task-meta-"
RESULT_VALUE_ATTRIBUTE = "result"
# A caller has a day to read an answer; after that DynamoDB's TTL removes it (no cost to keep).
RESULT_TTL_S = 24 * 3600

# ``status`` values in the record that end the wait.
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
READY_STATES = frozenset({SUCCESS, FAILURE, "REVOKED", "REJECTED"})


def result_key(task_id: str) -> str:
    """The ``id`` of the result item for ``task_id``."""
    return f"{RESULT_KEY_PREFIX}{task_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthCheck:
    """A caller asks a worker to prove it is consuming; the answer is the task's result.

    Attributes:
        correlation_id: Shown in the worker's log line and echoed in the result.
        requested_at: Epoch seconds when the caller sent it (the result reports the queue delay).
        schema_version: Bumped on incompatible changes to this shape.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    correlation_id: str
    requested_at: float
    schema_version: int = SCHEMA_VERSION
