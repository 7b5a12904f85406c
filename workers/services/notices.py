"""Who to tell when an answer ends in the dead-letter queue, and in what words.

``failure_notice_for`` reads the dead-lettered task's own payload: a command (or a search button
press) names who asked and where; anything else (archive writes, refreshes, notices themselves)
has nobody to tell. The executors call ``redelivery.dead_letter``, which queues the notice task.
"""

import time
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contract.commands import command_name
from contract.registry import COMMAND_TASKS
from contract.tasks import CommandRequest, FailureNotice, SearchPage, TaskName

_command_request = TypeAdapter(CommandRequest)
_search_page = TypeAdapter(SearchPage)


def failure_notice_for(task: str, task_id: str, kwargs: Mapping[str, Any]) -> FailureNotice | None:
    """The notice for a dead-lettered task, or ``None`` if it answers nobody (or its payload is bad)."""
    try:
        if task in COMMAND_TASKS:
            request = _command_request.validate_python(dict(kwargs))
            where = (request.team_id, request.channel, request.user, request.thread_ts, request.response_url)
            command, args = request.command, request.args
        elif task == TaskName.SEARCH_MORE:
            page = _search_page.validate_python(dict(kwargs))
            where = (page.team_id, page.channel, page.user, page.thread_ts, page.response_url)
            command, args = command_name(TaskName.SEARCH_AGENDA, page.lang), page.query
        else:
            return None
    except (ValueError, ValidationError):
        return None
    team_id, channel, user, thread_ts, response_url = where
    return FailureNotice(
        correlation_id=str(kwargs.get("correlation_id") or task_id),
        failed_task_id=task_id,
        team_id=team_id,
        channel=channel,
        user=user,
        command=command,
        args=args[:200],
        thread_ts=thread_ts,
        response_url=response_url,
        requested_at=time.time(),
    )
