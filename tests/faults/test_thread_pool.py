"""The worker's default pool (threads, issue 21) under the faults that matter for it, with real
``celery worker --pool threads`` processes.

Celery's thread pool enforces no time limit: nothing kills a run that overruns. What keeps an
overdue run from posting is its deadline (``QueueSpec.run_deadline_s``), checked at the fence
before every post (``workers/services/replies.py``).

22: a run stalls past its deadline (its worker paused, as a starved or paused container) while
    waiting for its channel's turn, within its lease: nothing takes it over and nothing kills it.
    It must not post when it wakes: it releases the answer, and its copy answers once.
24: fault 8 on threads: the same 40 tasks delivered twice at once to two thread-pool workers.

(Fault 17 on threads, a run frozen past its *lease* while another worker takes the answer over,
is ``test_exactly_once_second_pass.py::test_17_...[threads]``; faults 2 and 3, a worker killed
or stopped mid-batch, run on both pools in ``test_faults.py``.)

Each prints its figures: answers, duplicates, lost, unbounded (copies left waiting or in the DLQ).
"""

import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from contract.queues import QUEUE_SPECS, QueueName
from scripts.processes import wait_until
from scripts.provision import dynamodb
from scripts.slack_requests import next_ts
from scripts.stack import DevStack
from tests.faults.conftest import ScenarioReport
from tests.faults.effects import (
    answers,
    dead_letter_url,
    depth_with_delayed,
    per_thread,
    ping_task,
    reply_id,
    send_bodies,
    settle,
    slack_state,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]
DEADLINE_S = QUEUE_SPECS[QueueName.REPLIES].run_deadline_s
LEASE_S = QUEUE_SPECS[QueueName.REPLIES].lease_s
THREADS = 8
# "pong (worker ..., 123 ms in the queue)": how long the run that posted had waited when it started.
_QUEUED_MS = re.compile(r"(\d+) ms in the queue")


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    """No worker at first: each scenario starts the thread-pool workers it needs."""
    # moto's DynamoDB serialized: its transaction rollback erases concurrent writes (scripts/moto_serial.py).
    with DevStack(
        worker_queues=[], sqs_wait_time_seconds=1, worker_pool="threads", moto_module="scripts.moto_serial"
    ) as running:
        yield running


def _figures(report: ScenarioReport, stack: DevStack, found: list[dict[str, object]], expected: int) -> None:
    ids = [reply_id(r) for r in found]
    report["answers"] = len(found)
    report["duplicates"] = len(ids) - len(set(ids))
    report["lost"] = max(0, expected - len(set(ids)))
    report["unbounded"] = depth_with_delayed(stack, stack.queue_url(QueueName.REPLIES)) + depth_with_delayed(
        stack, dead_letter_url(stack, QueueName.REPLIES)
    )


WORKERS = ("overrun", "threads-a", "threads-b")


def _stop_workers(stack: DevStack) -> None:
    """Stop this module's workers left by an earlier scenario (each starts its own)."""
    for name in WORKERS:
        if name in stack.processes and stack.processes[name].alive():
            stack.processes[name].stop()


def test_22_a_run_that_overruns_its_deadline_on_a_thread_does_not_post_and_its_copy_answers_once(
    stack: DevStack, report: ScenarioReport
) -> None:
    assert stack.moto_url
    table, client = stack.env["CHARLA_TABLE_STATE"], dynamodb(stack.moto_url)
    _stop_workers(stack)
    worker = stack.start_worker("overrun", queues=[QueueName.REPLIES], concurrency=THREADS, pool="threads")
    channel = "C0OVERRUN"
    task = ping_task(channel, event_id="EvOVERRUN1", thread_ts=None)
    # The channel's line is busy for the next 2.9 s: the run waits for its turn on its thread.
    client.put_item(
        TableName=table,
        Item={"pk": {"S": "CHANNELS#TLOCAL"}, "sk": {"S": channel}, "next_at": {"N": f"{time.time() + 2.9:.3f}"}},
    )
    send_bodies(stack, stack.queue_url(QueueName.REPLIES), [task.body])

    def held() -> bool:
        found = client.get_item(
            TableName=table, Key={"pk": {"S": f"EFFECT#{task.task_id}"}, "sk": {"S": "EFFECT"}}, ConsistentRead=True
        ).get("Item")
        return bool(found) and found["state"]["S"] == "held"

    wait_until(held, timeout=30, interval=0.02, message="the run's claim")
    worker.send_signal(signal.SIGSTOP)  # the run's thread stalls (the whole worker with it)
    stalled_at = time.monotonic()
    try:
        assert answers(slack_state(stack), {channel}) == [], "stalled too late: the scenario did not happen"
        # Past the run's deadline, well within its lease: no copy exists, nobody can take it over,
        # and on a thread pool nothing kills the run. Only its deadline stands between it and a post.
        wait_until(
            lambda: time.monotonic() - stalled_at > DEADLINE_S + 2,
            timeout=DEADLINE_S + 30,
            interval=0.5,
            message="the run's deadline to pass",
        )
        stalled_s = time.monotonic() - stalled_at
    finally:
        worker.send_signal(signal.SIGCONT)
    settled = settle(stack, lambda: bool(answers(slack_state(stack), {channel})), timeout=60)
    found = answers(slack_state(stack), {channel})
    refusal = f"past its deadline, not posting task_id={task.task_id}"
    overdue = [line for line in worker.log_text().splitlines() if refusal in line]
    queued_ms = [int(m.group(1)) for r in found if (m := _QUEUED_MS.search(str(r.get("text"))))]

    report["stalled_s"] = round(stalled_s)
    report["deadline_s"] = DEADLINE_S
    report["lease_s"] = LEASE_S
    report["overdue_runs_refused"] = len(overdue)
    report["posting_run_waited_s"] = round(queued_ms[0] / 1000) if queued_ms else None
    _figures(report, stack, found, expected=1)
    assert stalled_s < LEASE_S  # within the lease: the fence's version check alone would let it post
    assert len(overdue) == 1, worker.log_tail()
    # The answer came from the copy, which started after the stall (not from the overdue run,
    # which started within a second of the request).
    assert queued_ms and queued_ms[0] >= DEADLINE_S * 1000, found
    assert report.figures["duplicates"] == 0, found
    assert report.figures["lost"] == 0
    assert report.figures["unbounded"] == 0
    assert settled, stack.logs()


def test_24_the_same_task_delivered_twice_at_once_to_two_thread_pool_workers_is_answered_once(
    stack: DevStack, report: ScenarioReport
) -> None:
    _stop_workers(stack)
    for name in ("threads-a", "threads-b"):
        stack.start_worker(name, queues=[QueueName.REPLIES], concurrency=THREADS, pool="threads")
    tasks = [ping_task(f"C0TDUP{index % 8}", event_id=f"EvTDUP{index:04d}", thread_ts=next_ts()) for index in range(40)]
    url = stack.queue_url(QueueName.REPLIES)

    # Both copies of every task at the same instant; any thread of either worker may take either.
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: send_bodies(stack, url, [t.body for t in tasks]), range(2)))

    expected = {(t.channel, str(t.thread_ts)) for t in tasks}
    settled = settle(stack, lambda: expected <= set(per_thread(answers(slack_state(stack), "C0TDUP"))), timeout=180)
    seen: Counter[tuple[str, str]] = per_thread(answers(slack_state(stack), "C0TDUP"))

    report["tasks"] = len(tasks)
    report["messages"] = 2 * len(tasks)
    report["workers"] = f"2 x threads -c {THREADS}"
    report["answers"] = sum(seen.values())
    report["duplicates"] = sum(n - 1 for n in seen.values() if n > 1)
    report["lost"] = len(expected - set(seen))
    assert report.figures["lost"] == 0
    assert report.figures["duplicates"] == 0, [key for key, n in seen.items() if n > 1][:10]
    assert settled, stack.logs()
