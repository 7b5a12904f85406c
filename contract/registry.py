"""Which payload each task takes and whether a caller may wait on its result.

Everything generated for other callers (``contract/schemas/``, ``docs/CONTRACT.md``'s task
table, the CLI and the Node client's checks) and the worker's payload check before a task runs
read these two registries; ``tests/integration/test_contract_schemas.py`` fails, naming the task,
when a ``TaskName`` has no payload here.
"""

from typing import Any

from contract.results import HealthCheck
from contract.tasks import (
    AgendaRefresh,
    ArchivedMessage,
    CommandRequest,
    FailureNotice,
    HomeOpened,
    MemberJoined,
    SearchPage,
    TaskName,
    queue_for,
)

# The dataclass each task's kwargs must validate against (kwargs = the dataclass's fields).
TASK_PAYLOADS: dict[TaskName, type[Any]] = {
    TaskName.PING: CommandRequest,
    TaskName.HELP: CommandRequest,
    TaskName.NEXT_EVENT: CommandRequest,
    TaskName.SEARCH_AGENDA: CommandRequest,
    TaskName.COUNT_MESSAGES: CommandRequest,
    TaskName.STATS: CommandRequest,
    TaskName.ARCHIVE_MESSAGE: ArchivedMessage,
    TaskName.REFRESH_AGENDA: AgendaRefresh,
    TaskName.SEARCH_MORE: SearchPage,
    TaskName.WELCOME: MemberJoined,
    TaskName.HEALTH: HealthCheck,
    TaskName.PUBLISH_HOME: HomeOpened,
    TaskName.NOTIFY_FAILURE: FailureNotice,
}

# Tasks whose result a caller may wait on: the worker stores their result in the results
# table when the message asks for it (header ``ignore_result: false``). Every other task is on
# a hot path (replies, archive) and stores nothing, whatever the message asks.
RESULT_TASKS: frozenset[TaskName] = frozenset({TaskName.PING, TaskName.HEALTH})


def payload_type(task: TaskName) -> type[Any]:
    """The payload dataclass of ``task``.

    Raises:
        KeyError: ``task`` has no payload entry (a contract bug, caught by the contract tests).
    """
    return TASK_PAYLOADS[task]


def is_waitable(task: TaskName) -> bool:
    """Whether a caller may ask for (and wait on) the result of ``task``."""
    return task in RESULT_TASKS


def describe(task: TaskName) -> dict[str, Any]:
    """The index entry of one task: its queue, payload type and whether it is waitable."""
    return {
        "queue": queue_for(task).value,
        "payload": payload_type(task).__name__,
        "waitable": is_waitable(task),
    }
