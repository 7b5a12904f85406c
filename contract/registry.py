"""Every task, in one registry: the framework's own (``contract/tasks.py``), the commands
(``commands/``, one module each) and your own jobs (``jobs/``, one module each): its queue, its
payload and whether a caller may wait on it.

Everything generated for other callers (``contract/schemas/``, ``docs/CONTRACT.md``'s task
table, README's command table, the CLI and the Node client's checks), routing in both executors
and the worker's payload check before a task runs read these; ``tests/integration/
test_contract_schemas.py`` fails, naming the task, when a task has no payload here.
"""

from typing import Any

from commands import COMMANDS
from contract.command_spec import Command
from contract.queues import QueueName
from contract.results import HealthCheck
from contract.tasks import (
    BUILT_IN_QUEUES,
    AgendaRefresh,
    ArchivedMessage,
    FailureNotice,
    HomeOpened,
    MemberJoined,
    SearchPage,
    TaskName,
)
from jobs import Job, all_jobs

# The framework's own tasks' payloads (kwargs = the dataclass's fields).
_BUILT_IN_PAYLOADS: dict[str, type[Any]] = {
    TaskName.ARCHIVE_MESSAGE: ArchivedMessage,
    TaskName.REFRESH_AGENDA: AgendaRefresh,
    TaskName.SEARCH_MORE: SearchPage,
    TaskName.WELCOME: MemberJoined,
    TaskName.HEALTH: HealthCheck,
    TaskName.PUBLISH_HOME: HomeOpened,
    TaskName.NOTIFY_FAILURE: FailureNotice,
}

# Each command by its task name, in help order.
COMMANDS_BY_TASK: dict[str, Command] = {command.task: command for command in COMMANDS}
# Tasks a user can ask for by a command word (the rest are internal).
COMMAND_TASKS: frozenset[str] = frozenset(COMMANDS_BY_TASK)
# Each job by its task name (``charla.jobs.<module>``), in name order.
JOBS_BY_TASK: dict[str, Job[Any]] = {job.task: job for job in all_jobs().values()}
# Every task name: the enum's order first (generated files stay stable), then the new commands,
# then the jobs.
TASK_NAMES: tuple[str, ...] = (
    *(str(task) for task in TaskName),
    *(command.task for command in COMMANDS if command.task not in set(TaskName)),
    *JOBS_BY_TASK,
)
# Routing by task name, in one place: a new task lands on its queue without touching callers.
TASK_QUEUES: dict[str, QueueName] = {
    **BUILT_IN_QUEUES,
    **{c.task: c.queue for c in COMMANDS},
    **{task: job.queue for task, job in JOBS_BY_TASK.items()},
}
# The dataclass each task's kwargs must validate against.
TASK_PAYLOADS: dict[str, type[Any]] = {
    **_BUILT_IN_PAYLOADS,
    **{c.task: c.payload for c in COMMANDS},
    **{task: job.payload for task, job in JOBS_BY_TASK.items()},
}
# Tasks whose result a caller may wait on: the worker stores their result in the results
# table when the message asks for it (header ``ignore_result: false``). Every other task is on
# a hot path (replies, archive) and stores nothing, whatever the message asks.
RESULT_TASKS: frozenset[str] = frozenset({TaskName.HEALTH, *(c.task for c in COMMANDS if c.waitable)})


def payload_type(task: str) -> type[Any]:
    """The payload dataclass of ``task``.

    Raises:
        KeyError: ``task`` has no payload entry (a contract bug, caught by the contract tests).
    """
    return TASK_PAYLOADS[task]


def is_waitable(task: str) -> bool:
    """Whether a caller may ask for (and wait on) the result of ``task``."""
    return task in RESULT_TASKS


def describe(task: str) -> dict[str, Any]:
    """The index entry of one task: its queue, payload type and whether it is waitable."""
    return {
        "queue": TASK_QUEUES[task].value,
        "payload": payload_type(task).__name__,
        "waitable": is_waitable(task),
    }
