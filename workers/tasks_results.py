"""Tasks that exist for callers who wait on an answer (``charla send --wait``, the Node client).

They post nothing to Slack; their return value is the answer, stored in the results table when
the message asks (by Celery's DynamoDB result backend, or by the Lambda executor in the same
shape; see ``docs/CONTRACT.md``, "Results").
"""

import logging
import time
from typing import Any

from pydantic import TypeAdapter

from contract.results import HealthCheck
from contract.tasks import TaskName
from workers.payloads import parse_payload
from workers.registry import TaskContext, task

logger = logging.getLogger(__name__)
_health_check = TypeAdapter(HealthCheck)


@task(TaskName.HEALTH)
def health(ctx: TaskContext, **payload: Any) -> dict[str, Any]:
    """Prove a worker is consuming: who ran the task, from which queue, after how long."""
    check = parse_payload(_health_check, payload)
    delay_ms = max(0.0, (time.time() - check.requested_at) * 1000)
    logger.info("health correlation_id=%s queue_delay_ms=%.0f", check.correlation_id, delay_ms)
    return {
        "correlation_id": check.correlation_id,
        "worker": ctx.worker,
        "queue": ctx.queue.value,
        "queue_delay_ms": round(delay_ms, 1),
    }
