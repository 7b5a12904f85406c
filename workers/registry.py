"""Every task, registered once: name -> payload model -> function. Executors run this registry.

A task is a plain function ``fn(context, **payload)``: it parses its payload, calls a service and
returns (or raises, and the executor settles the run by ``workers/outcomes.py``). Nothing here
knows Celery. Two executors read the registry:

- the Celery worker: ``workers/celery_worker/celery_tasks.py`` makes one Celery task per entry (same names,
  routes, limits and ``ContractTask`` base);
- the Lambda executor: ``workers/lambda_executor/main.py`` runs an entry per SQS record.

Both check the payload against ``contract.registry.TASK_PAYLOADS`` first; registering a name
the contract does not know is an error at import.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from contract.queues import QUEUE_SPECS, QueueName, QueueSpec
from contract.registry import TASK_PAYLOADS
from contract.tasks import queue_for
from workers.outcomes import Observed

F = TypeVar("F", bound=Callable[..., Any])
# The modules whose import registers every task (kept here so both executors load the same set).
TASK_MODULES = ("workers.tasks", "workers.tasks_results", "workers.tasks_effects", "workers.tasks_jobs")


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a task may know about its run, whichever executor runs it.

    Attributes:
        task_id: The message's task id (the key of every effect the task makes).
        queue: The queue the message came from.
        retries: How many times this task was sent again (a copy is a continuation).
        worker: Who runs it, for answers such as ``ping``'s (``celery@host``, ``lambda:<function>``).
        observed: The effect record version an earlier run saw before deferring this copy, and
            for how long it has been seen unchanged (``workers/services/replies.py``).
        deadline: ``time.monotonic()`` after which this run must not send a Slack call that can
            post (``QueueSpec.run_deadline_s`` after it started; ``started``). ``None``: no deadline.
    """

    task_id: str
    queue: QueueName
    retries: int = 0
    worker: str = ""
    observed: Observed | None = None
    deadline: float | None = None

    @property
    def continuation(self) -> bool:
        """The message is a copy an earlier run sent again (deferred or retried)."""
        return self.retries > 0

    @property
    def spec(self) -> QueueSpec:
        return QUEUE_SPECS[self.queue]


@dataclass(frozen=True, slots=True)
class TaskEntry:
    """One registered task.

    Attributes:
        name: Its task name (the Celery task name on the wire).
        function: ``function(context, **payload)``.
        payload: The contract's payload dataclass for it.
        queue: The queue the contract routes it to (its time limits are that queue's).
    """

    name: str
    function: Callable[..., Any]
    payload: type[Any]
    queue: QueueName


TASKS: dict[str, TaskEntry] = {}


def started(queue: QueueName, *, now: Callable[[], float] = time.monotonic) -> float:
    """The deadline of a run of ``queue`` that starts now (``TaskContext.deadline``).

    Both executors call it as the task function is entered: every write the run makes to an
    effect record comes after it, which is what the lease argument needs (``contract/queues.py``).
    """
    return now() + QUEUE_SPECS[queue].run_deadline_s


def task(name: str) -> Callable[[F], F]:
    """Register the decorated function as the task ``name``; the function itself is unchanged.

    Raises:
        ValueError: ``name`` is registered twice or has no payload in the contract.
    """

    def decorate(function: F) -> F:
        if name not in TASK_PAYLOADS:
            raise ValueError(f"task {name} has no payload in contract.registry.TASK_PAYLOADS")
        return register(str(name), function, payload=TASK_PAYLOADS[name], queue=queue_for(name))

    return decorate


def register(name: str, function: F, *, payload: type[Any], queue: QueueName) -> F:
    """Register ``function`` as the task ``name`` (``task`` for the contract's, ``workers/tasks_jobs.py`` for jobs).

    Raises:
        ValueError: ``name`` is registered twice.
    """
    if name in TASKS:
        raise ValueError(f"task {name} is registered twice")
    TASKS[name] = TaskEntry(name, function, payload, queue)
    return function


def load() -> Mapping[str, TaskEntry]:
    """Import every task module and return the registry (name -> entry)."""
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)
    return TASKS
