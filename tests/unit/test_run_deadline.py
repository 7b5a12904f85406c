"""Each Celery run gets its deadline as its task function is entered (workers/celery_worker/celery_tasks.py).

The thread pool enforces no time limit; the reply fence refuses a run past this deadline
(workers/services/replies.py, tests/integration/test_reply_deadline.py).
"""

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from contract.queues import QUEUE_SPECS, QueueName
from tests.unit.test_connection_pools import WORKER_ENV


@dataclass
class Request:
    """The parts of a Celery request ``context_of`` reads."""

    id: str = "task-1"
    retries: int = 0
    hostname: str = "celery@test"
    delivery_info: dict[str, Any] = field(default_factory=lambda: {"routing_key": "bulk"})


def test_a_celery_run_s_deadline_is_its_queue_s_from_its_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.runtime.settings import get_settings

    for name, value in WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        from workers.celery_worker.celery_tasks import context_of

        before = time.monotonic()
        context = context_of(Request())
        after = time.monotonic()
    finally:
        get_settings.cache_clear()
    deadline_s = QUEUE_SPECS[QueueName.BULK].run_deadline_s
    assert context.queue is QueueName.BULK
    assert context.deadline is not None and before + deadline_s <= context.deadline <= after + deadline_s
