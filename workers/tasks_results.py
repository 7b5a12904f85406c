"""Tasks that exist for callers who wait on an answer (``charla send --wait``, the Node client).

They post nothing to Slack; their return value is the answer, stored by Celery's DynamoDB
result backend when the message asks for it (see ``docs/CONTRACT.md``, "Results").
"""

import logging
import time
from typing import Any

from celery import Task
from pydantic import TypeAdapter

from contract.results import HealthCheck
from contract.tasks import TaskName
from workers.app import app
from workers.consumer import parse_payload

logger = logging.getLogger(__name__)
_health_check = TypeAdapter(HealthCheck)


@app.task(name=TaskName.HEALTH, bind=True)  # type: ignore[untyped-decorator]  # celery is untyped
def health(self: Task, **payload: Any) -> dict[str, Any]:
    """Prove a worker is consuming: who ran the task, from which queue, after how long."""
    check = parse_payload(_health_check, payload)
    delay_ms = max(0.0, (time.time() - check.requested_at) * 1000)
    logger.info("health correlation_id=%s queue_delay_ms=%.0f", check.correlation_id, delay_ms)
    return {
        "correlation_id": check.correlation_id,
        "worker": str(self.request.hostname),
        "queue": str((self.request.delivery_info or {}).get("routing_key", "")),
        "queue_delay_ms": round(delay_ms, 1),
    }
