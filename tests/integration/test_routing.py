"""Routing by task name: archive and agenda refresh land on the bulk queue, answers on the replies
queue, and a replies-only worker keeps answering while bulk work piles up."""

import subprocess
from collections import Counter

import pytest

from contract.queues import QueueName
from contract.tasks import TaskName
from contract.wire import decode_task_message
from scripts.processes import python_module, wait_until
from scripts.slack_requests import app_mention, channel_message, direct_message, next_ts
from scripts.stack import ROOT, DevStack

pytestmark = pytest.mark.slow


def routed_message(text: str, *, channel: str = "C0ROUTING", user: str = "U0BOB") -> dict[str, object]:
    return channel_message(text, channel=channel, user=user)


def take_tasks(stack: DevStack, queue: QueueName, expected: int) -> Counter[str]:
    """Take ``expected`` messages off ``queue`` (nothing else may be there) and count them by task."""
    tasks: Counter[str] = Counter()

    def took_all() -> bool:
        for message in stack.receive_raw(queue, wait_s=0):
            decoded = decode_task_message(message["Body"])
            assert decoded.queue == queue  # the routing key agrees with the queue it was sent to
            tasks[decoded.task] += 1
        return sum(tasks.values()) >= expected

    wait_until(took_all, timeout=10, message=lambda: f"{expected} messages on {queue}, have {dict(tasks)}")
    assert stack.queue_depth(queue) == 0
    return tasks


def test_each_task_lands_on_its_queue(stack_without_worker: DevStack) -> None:
    stack = stack_without_worker
    stack.empty_queues()

    assert stack.post_event(routed_message("hola a todos")).status == 200
    assert stack.post_event(app_mention("siguiente", channel="C0ROUTING")).status == 200
    assert stack.post_event(direct_message("busca python", channel="D0ROUTING")).status == 200
    subprocess.run(
        python_module("scripts.scheduler", "--once"),
        env=stack.env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )

    # The channel message and the DM are archived; the schedule asks for a refresh.
    assert take_tasks(stack, QueueName.BULK, 3) == {TaskName.ARCHIVE_MESSAGE: 2, TaskName.REFRESH_AGENDA: 1}
    # The mention and the DM are commands (a mention is archived from its message event only).
    assert take_tasks(stack, QueueName.REPLIES, 2) == {TaskName.NEXT_EVENT: 1, TaskName.SEARCH_AGENDA: 1}


def test_replies_are_answered_while_bulk_work_piles_up(stack_without_worker: DevStack) -> None:
    stack = stack_without_worker
    stack.empty_queues()
    for n in range(25):
        assert stack.post_event(routed_message(f"mensaje {n}", channel="C0BUSY")).status == 200
    assert stack.queue_depth(QueueName.BULK) == 25

    stack.start_worker("replies-only", queues=[QueueName.REPLIES])
    ts = next_ts()
    stack.post_event(app_mention("ping", channel="C0BUSY", ts=ts))

    reply = wait_until(
        lambda: next((r for r in stack.recorded() if r.get("thread_ts") == ts), None),
        timeout=20,
        message=lambda: f"the ping answer; logs:\n{stack.logs()}",
    )
    assert str(reply["text"]).startswith("pong (worker replies-only,")  # its name, no host
    assert stack.queue_depth(QueueName.BULK) == 25  # nobody consumes bulk: all still waiting

    stack.start_worker("bulk-only", queues=[QueueName.BULK])
    stack.wait_until_drained(QueueName.BULK, timeout=60)
    assert "Task charla.archive_message[" in stack.processes["bulk-only"].log_text()
    assert "Task charla.archive_message[" not in stack.processes["replies-only"].log_text()
