"""Your own Celery tasks that are not Slack commands: one module per job, found by its name.

A job is a module ``jobs/<name>.py`` that declares one ``Job`` (docs/EXTENDING.md, "Add a
task"): its payload dataclass, its queue (bulk unless it says otherwise) and ``run(payload,
context)``. Dropping the module in is the whole change: the workers register it
(``workers/tasks_jobs.py``) and both executors run it, ``charla send <name>`` and ``Job.delay``
send it, the generated schemas list it, and a ``schedules`` entry in ``cdk.json`` fires it.

A job module imports only ``jobs``, ``contract`` and the standard library at module level: the
ingress (which fires schedules) and the CLI import it, and neither carries the workers' Slack
or DynamoDB code. The work reaches Slack and the state through ``JobContext``, which the worker
builds for each run. Modules whose names start with ``_`` are this package's own, not jobs.
"""

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from contract.queues import QueueName

if TYPE_CHECKING:
    from slack_sdk import WebClient

# On the wire a job is ``charla.jobs.<module>``: never the name of a built-in task (``charla.<x>``).
TASK_PREFIX = "charla.jobs."
_JOB_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

P = TypeVar("P")


class JobContext(Protocol):
    """What a job's ``run`` may use, whichever executor runs it (built by ``workers/tasks_jobs.py``).

    ``task_id`` is the message's task id (copies of one message share it); ``slack`` is the
    posting Web API client, which never retries a post by itself.
    """

    @property
    def task_id(self) -> str: ...

    @property
    def slack(self) -> "WebClient": ...

    def once(self, key: str, effect: Callable[[], object]) -> bool:
        """Run ``effect`` once per ``key`` across every copy and run of every job; ``False`` if done before.

        Raises:
            workers.outcomes.Defer: Another run holds ``key`` now (the executor retries later).
            Whatever ``effect`` raises, after releasing ``key`` for a later copy.
        """
        ...

    def command_counts(self, team_id: str) -> Mapping[str, int]:
        """Uses of each command in the workspace so far (command name -> count)."""
        ...


@dataclass(frozen=True, slots=True)
class Job(Generic[P]):
    """One job: what it takes, where it queues and what it does.

    Attributes:
        name: The module's name (``usage_report``); ``charla send`` and ``cdk.json`` use it.
        payload: A frozen, keyword-only dataclass with ``correlation_id: str`` and
            ``requested_at: float`` (the contract's payload rules: ``__pydantic_config__``
            forbidding extra fields).
        run: ``run(payload, context)``: does the work; raise to fail (retried, then dead-lettered).
        queue: The queue it runs on; its time limits and dead-letter queue are that queue's.
    """

    name: str
    payload: type[P]
    run: Callable[[P, JobContext], None] = field(repr=False)
    queue: QueueName = QueueName.BULK

    def __post_init__(self) -> None:
        if not _JOB_NAME.match(self.name):
            raise ValueError(f"job name {self.name!r} must be lower_snake_case (it is a module name)")

    @property
    def task(self) -> str:
        """The Celery task name on the wire (``charla.jobs.<name>``)."""
        return TASK_PREFIX + self.name

    def delay(self, **fields: Any) -> str:
        """Queue this job with ``fields`` as its payload, from any Python process; returns the task id.

        No Celery needed: the message is built by ``contract/wire.py`` and sent with boto3 to the
        job's queue (URL from ``CHARLA_QUEUE_URL_<QUEUE>``, else found as ``charla`` finds it).
        ``correlation_id`` and ``requested_at`` are filled in when missing.

        Raises:
            contract.checks.PayloadInvalid: A field has the wrong type (nothing is sent).
            TypeError: A field the payload does not have, or a required one missing.
        """
        from jobs._sending import send

        return send(self, **fields)


def _module_names() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def find(name: str) -> Job[Any]:
    """The job declared by ``jobs/<name>.py`` (``name`` may carry the ``charla.jobs.`` prefix).

    Raises:
        LookupError: No such module, or it declares no ``Job`` named after it.
    """
    name = name.removeprefix(TASK_PREFIX)
    if not _JOB_NAME.match(name) or name not in _module_names():
        raise LookupError(f"no job {name!r} (jobs: {', '.join(_module_names()) or 'none'})")
    module = importlib.import_module(f"{__name__}.{name}")
    declared = [value for value in vars(module).values() if isinstance(value, Job) and value.name == name]
    if len(declared) != 1:
        raise LookupError(f"jobs/{name}.py must declare exactly one Job(name={name!r}, ...)")
    return declared[0]


def all_jobs() -> Mapping[str, Job[Any]]:
    """Every job in this package, by name (each module imported on the first call)."""
    return {name: find(name) for name in _module_names()}


__all__ = ["TASK_PREFIX", "Job", "JobContext", "all_jobs", "find"]
