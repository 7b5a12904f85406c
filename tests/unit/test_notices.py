"""Who is told when an answer ends in the dead-letter queue: the asker of a command, nobody else."""

from contract.tasks import TaskName
from workers.services.notices import failure_notice_for

REQUEST = {
    "correlation_id": "Ev1",
    "team_id": "T1",
    "channel": "C1",
    "user": "U1",
    "command": "siguiente",
    "thread_ts": "1.2",
    "requested_at": 1.0,
}


def test_a_dead_lettered_command_names_its_asker_and_where_they_asked() -> None:
    notice = failure_notice_for(TaskName.NEXT_EVENT, "task-1", REQUEST)
    assert notice is not None
    assert (notice.user, notice.channel, notice.thread_ts, notice.command) == ("U1", "C1", "1.2", "siguiente")
    assert notice.failed_task_id == "task-1"


def test_a_search_button_press_is_told_in_its_searchs_language() -> None:
    page = {"correlation_id": "T", "team_id": "T1", "channel": "C1", "user": "U2", "query": "py", "offset": 5,
            "lang": "es", "requested_at": 1.0}  # fmt: skip
    notice = failure_notice_for(TaskName.SEARCH_MORE, "task-2", page)
    assert notice is not None and notice.command == "busca" and notice.user == "U2"


def test_nobody_is_told_for_bulk_work_notices_or_a_payload_that_breaks_the_contract() -> None:
    assert failure_notice_for(TaskName.ARCHIVE_MESSAGE, "t", {"x": 1}) is None
    assert failure_notice_for(TaskName.NOTIFY_FAILURE, "t", REQUEST) is None
    assert failure_notice_for(TaskName.PING, "t", {**REQUEST, "evil": True}) is None
    assert failure_notice_for("charla.unknown", "t", REQUEST) is None
