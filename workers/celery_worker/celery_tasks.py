"""The Celery executor's tasks: one Celery task per registry entry (``workers/registry.py``).

Names and routes are the contract's, the base class is ``ContractTask`` (``workers/celery_worker/consumer.py``
settles every way a run ends) and the time limits are those of the task's queue. The Celery
request becomes the executor-neutral ``TaskContext`` the task function takes, and the payload model
the consumer validated is handed on to it (``workers/payloads.py``): validated once per run.
"""

from collections.abc import Callable
from typing import Any

from celery import Task

from contract.queues import QUEUE_SPECS, QueueName
from workers import redelivery
from workers.celery_worker.app import app
from workers.payloads import VALIDATED_PAYLOAD_HEADER, handed_on
from workers.registry import TaskContext, TaskEntry, load, started


def context_of(request: Any) -> TaskContext:
    """A Celery request as the task function sees it."""
    queue = QueueName((request.delivery_info or {}).get("routing_key") or QueueName.REPLIES)
    _, observed = redelivery.carried(lambda name: getattr(request, name, None))
    return TaskContext(
        task_id=str(request.id),
        queue=queue,
        retries=int(request.retries or 0),
        worker=str(request.hostname),
        observed=observed,
        deadline=started(queue),  # the thread pool enforces no time limit: the reply fence does
    )


def _celery_task(entry: TaskEntry) -> Task:
    function: Callable[..., Any] = entry.function

    def run(self: Task, **payload: Any) -> Any:
        # The model the consumer validated (workers/celery_worker/consumer.py): the task parses nothing again.
        with handed_on(getattr(self.request, VALIDATED_PAYLOAD_HEADER, None)):
            return function(context_of(self.request), **payload)

    run.__name__ = run.__qualname__ = function.__name__
    run.__doc__ = function.__doc__
    run.__module__ = function.__module__
    spec = QUEUE_SPECS[entry.queue]
    made: Task = app.task(
        name=entry.name, bind=True, soft_time_limit=spec.soft_time_limit_s, time_limit=spec.time_limit_s
    )(run)
    return made


CELERY_TASKS: dict[str, Task] = {name: _celery_task(entry) for name, entry in load().items()}
