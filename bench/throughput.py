"""Figure 4: worker throughput on ping tasks, fed so the queue stays <= 100 deep.

Tasks are injected without the ingress (``contract.wire.encode_task_message`` + SendMessageBatch)
by a feeder that keeps ``sent - replied`` under the depth limit. Each ping task posts its reply
to the Slack stand-in (the real work). Throughput = tasks / (last reply - first send); per core =
tasks per CPU-second of the consumer's whole process group (worker + pool children), read from
/proc. Floor: a raw ReceiveMessage(10) -> post -> DeleteMessageBatch loop in its own process on the
same moto, same stand-in, same feeder (its CPU is the consumer loop's thread time, imports excluded).
Same-effects floor: that loop plus charla's DynamoDB effects per task in plain boto3
(``bench.floor.SameEffects``): what the exactly-once design costs without the framework.
"""

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from bench import floor
from bench.common import WORKER_LOG_LEVEL, Figure, group_cpu_seconds, ratio
from bench.context import BenchContext
from contract.environment import DEFAULT_WORKER_CONCURRENCY, DEFAULT_WORKER_POOL
from contract.queues import WORKER_PREFETCH_MULTIPLIER, QueueName
from contract.tasks import CommandRequest, TaskName
from contract.wire import encode_task_message
from scripts.stack import DevStack, http

MAX_DEPTH = 100
# The issue asks for 5,000 tasks. Each ping task's command counter is a DynamoDB TransactWriteItems,
# and moto 5.2 deep-copies the table on every transaction: measured here, a 5,000-task run made the
# moto server grow past 15 GB in 7 minutes (and get OOM-killed at 24 GB), throughput falling as the
# table grew. 1,000 tasks per run keeps moto's cost flat enough to compare against the floor.
FULL_TASKS = 1000
# Channels the tasks cycle through. The same-effects floor reserves its channel's next post slot
# but posts at once; charla waits for the slot (Slack takes about a post a second per channel) and
# fences again before posting: up to 0.8 more DynamoDB calls per task at 50 channels, where each
# channel came due about once a second. With more channels than the fastest loop's tasks per
# second, no slot is ever in the future, and both sides make the same calls (3 per task).
CHANNELS = 500


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    """A worker configuration to try."""

    label: str
    concurrency: int = 2
    prefetch: int = WORKER_PREFETCH_MULTIPLIER
    polling_interval: str | None = None  # None: the worker's default (CHARLA_SQS_POLLING_INTERVAL unset)
    pool: str = "prefork"

    def args(self) -> list[str]:
        return ["--prefetch-multiplier", str(self.prefetch), "--pool", self.pool]


# The deploy's default (contract/environment.py, chosen by bench/pool_choice.py); the old
# default, prefork -c 2, is a candidate beside it.
DEFAULT = WorkerSettings(
    f"default ({DEFAULT_WORKER_POOL} -c {DEFAULT_WORKER_CONCURRENCY}, prefetch {WORKER_PREFETCH_MULTIPLIER})",
    concurrency=DEFAULT_WORKER_CONCURRENCY,
    pool=DEFAULT_WORKER_POOL,
)
CANDIDATES = (
    WorkerSettings("prefork -c 2, prefetch 4", concurrency=2),
    WorkerSettings("prefork -c 4, prefetch 10", concurrency=4, prefetch=10),
    WorkerSettings("threads -c 8, prefetch 4", concurrency=8, pool="threads"),
    WorkerSettings("threads -c 16, prefetch 10", concurrency=16, prefetch=10, pool="threads"),
)
QUICK_CANDIDATES = (WorkerSettings("threads -c 8, prefetch 4", concurrency=8, pool="threads"),)


def ping_body(index: int) -> str:
    request = CommandRequest(
        correlation_id=f"bench-{index}",
        team_id="TLOCAL",
        channel=f"C{index % CHANNELS:04d}TPT",
        user="U0BENCH",
        command="ping",
        thread_ts=f"{1_700_000_000 + index}.000100",
        requested_at=time.time(),
    )
    return encode_task_message(task=TaskName.PING, kwargs=dataclasses.asdict(request), queue=QueueName.REPLIES)


def replies_so_far(slack_url: str) -> int:
    return int(http("GET", f"{slack_url}/_count").json()["count"])


def feed(
    stack: DevStack,
    queue_url: str,
    total: int,
    *,
    done: Callable[[], int],
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
) -> dict[str, Any]:
    """Send ``total`` ping tasks in batches of 10, never more than MAX_DEPTH unfinished; wait for all."""
    sqs = stack.sqs()
    baseline = done()
    sent = 0
    max_outstanding = 0
    started = time.time()
    deadline = time.monotonic() + timeout
    while True:
        finished = done() - baseline
        outstanding = sent - finished
        max_outstanding = max(max_outstanding, outstanding)
        if finished >= total:
            break
        if not alive():
            raise RuntimeError(f"moto stopped after {finished}/{total} tasks (see dmesg for an OOM kill)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{finished}/{total} tasks done after {timeout:.0f} s; logs:\n{stack.logs()}")
        if sent < total and outstanding <= MAX_DEPTH - 10:
            batch = min(10, total - sent)
            sqs.send_message_batch(
                QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": ping_body(sent + i)} for i in range(batch)]
            )
            sent += batch
        else:
            time.sleep(0.005)  # the feeder's own pacing; it times nothing
    return {"started": started, "max_outstanding": max_outstanding}


def run_worker(ctx: BenchContext, settings: WorkerSettings, total: int) -> dict[str, Any]:
    ctx.restart_moto()
    extra_env = {} if settings.polling_interval is None else {"CHARLA_SQS_POLLING_INTERVAL": settings.polling_interval}
    with DevStack(
        worker_log_level=WORKER_LOG_LEVEL,
        worker_queues=[],
        moto_url=ctx.moto_url,
        extra_env=extra_env,
        sqs_wait_time_seconds=20,
    ) as stack:
        worker = stack.start_worker(
            queues=[QueueName.REPLIES], concurrency=settings.concurrency, extra_args=settings.args()
        )
        cpu_before = group_cpu_seconds(worker.pid)
        fed = feed(
            stack,
            stack.queue_url(QueueName.REPLIES),
            total,
            done=lambda: replies_so_far(stack.slack_url),
            timeout=60 + total / 5,
            alive=ctx.moto_alive,
        )
        last = http("GET", f"{stack.slack_url}/_recorded?since={replies_so_far(stack.slack_url) - 1}").json()
        finished = float(last["records"][-1]["received_at"])
        cpu = group_cpu_seconds(worker.pid) - cpu_before
    elapsed = finished - fed["started"]
    return {
        "settings": settings.label,
        "tasks": total,
        "elapsed_s": round(elapsed, 2),
        "tasks_per_s": round(total / elapsed, 1),
        "cpu_s": round(cpu, 2),
        "tasks_per_cpu_s": round(total / cpu, 1) if cpu else None,
        "max_depth": fed["max_outstanding"],
    }


def run_floor(ctx: BenchContext, total: int, *, same_effects: bool = False) -> dict[str, Any]:
    ctx.restart_moto()
    with DevStack(worker_log_level=WORKER_LOG_LEVEL, worker_queues=[], moto_url=ctx.moto_url) as stack:
        queue_url = stack.queue_url(QueueName.REPLIES)
        consumer = floor.start_consumer(stack, queue_url, expected=total, wait_s=20, same_effects=same_effects)
        fed = feed(
            stack,
            queue_url,
            total,
            done=lambda: replies_so_far(stack.slack_url),
            timeout=60 + total / 5,
            alive=ctx.moto_alive,
        )
        result = floor.consumer_result(consumer, timeout=30)
    elapsed = result["finished"] - fed["started"]
    return {
        "settings": (
            "same-effects floor: raw loop + GetItem, TransactWriteItems, post, UpdateItem per task"
            if same_effects
            else "floor: raw ReceiveMessage(10) -> post -> DeleteMessageBatch"
        ),
        "tasks": result["handled"],
        "elapsed_s": round(elapsed, 2),
        "tasks_per_s": round(result["handled"] / elapsed, 1),
        "cpu_s": round(result["cpu_s"], 2),
        "tasks_per_cpu_s": round(result["handled"] / result["cpu_s"], 1),
        "max_depth": fed["max_outstanding"],
    }


def run(ctx: BenchContext) -> Figure:
    total = 100 if ctx.quick else FULL_TASKS
    search_total = 100 if ctx.quick else 300
    floor_row = run_floor(ctx, total)
    same_row = run_floor(ctx, total, same_effects=True)
    default_row = run_worker(ctx, DEFAULT, total)
    search = [run_worker(ctx, settings, search_total) for settings in (QUICK_CANDIDATES if ctx.quick else CANDIDATES)]
    best_search = max(search, key=lambda row: row["tasks_per_s"])
    best_settings = next(
        s for s in (QUICK_CANDIDATES if ctx.quick else CANDIDATES) if s.label == best_search["settings"]
    )
    best_row = dict(best_search) if ctx.quick else run_worker(ctx, best_settings, total)
    best_row["settings"] = f"best: {best_row['settings']}"
    ctx.results["best_worker_settings"] = best_settings
    ctx.results["worker_tasks_per_cpu_s"] = default_row["tasks_per_cpu_s"]
    for row in search:
        row["settings"] = f"search: {row['settings']}"
    per_core = ratio(default_row["tasks_per_cpu_s"], floor_row["tasks_per_cpu_s"])
    per_core_same = ratio(default_row["tasks_per_cpu_s"], same_row["tasks_per_cpu_s"])
    design_per_core = ratio(same_row["tasks_per_cpu_s"], floor_row["tasks_per_cpu_s"])
    best_per_core = ratio(best_row["tasks_per_cpu_s"], floor_row["tasks_per_cpu_s"])
    # The goal is against the design's own best (the same effects by hand), not the physical floor,
    # which the design itself reaches only a fraction of: stated beside it, with no goal.
    goal_met = bool(per_core_same is not None and per_core_same >= 0.8)
    limits = ""
    if not goal_met:
        limits = (
            f"default settings reach {per_core_same}x the same-effects floor's tasks per CPU-second (best "
            f"settings {ratio(best_row['tasks_per_cpu_s'], same_row['tasks_per_cpu_s'])}x): the framework's tax. "
            "Per task Celery adds its consumer loop, a message object and an ack of its own (batched, up to 10 "
            "per DeleteMessageBatch: workers/celery_worker/sqs_batch_ack.py, counted in figure 5), and each of the "
            "worker's AWS and Slack calls goes through botocore's or slack_sdk's request building, signing and "
            "parsing. "
            f"Against the physical floor: {per_core}x, where the hand-written same-effects loop itself reaches "
            f"{design_per_core}x (its 3 DynamoDB calls per task)"
        )
    return Figure(
        number=4,
        name="Worker throughput per core vs the raw receive/delete loop",
        value=per_core_same,
        unit="x same-effects floor",
        samples=total,
        goal=">= 0.8x the same-effects floor per CPU-second (the design's own best); stated against the physical floor",
        goal_met=goal_met,
        command=ctx.command("throughput"),
        floor=floor_row["tasks_per_cpu_s"],
        alternative=None,
        same_effects=same_row["tasks_per_cpu_s"],
        ratio_to_same_effects=per_core_same,
        ratio_to_floor=per_core,
        ratio_to_alternative=None,
        limits=limits,
        table=[floor_row, same_row, default_row, best_row, *([] if ctx.quick else search)],
        notes=[
            f"Value: tasks per CPU-second of the worker's process group, default settings, divided by the "
            f"same-effects floor's ({per_core}x the physical floor's). Wall-clock throughput: default "
            f"{default_row['tasks_per_s']} tasks/s, best "
            f"({best_row['settings']}) {best_row['tasks_per_s']} tasks/s, floor {floor_row['tasks_per_s']} "
            f"tasks/s ({ratio(default_row['tasks_per_s'], floor_row['tasks_per_s'])}x and "
            f"{ratio(best_row['tasks_per_s'], floor_row['tasks_per_s'])}x the floor), same-effects floor "
            f"{same_row['tasks_per_s']} tasks/s.",
            f"Per CPU-second: the design's effects cost {design_per_core}x (same-effects floor / floor); the "
            f"framework's tax is {per_core_same}x (charla default / same-effects floor). Wall clock: charla "
            f"default {ratio(default_row['tasks_per_s'], same_row['tasks_per_s'])}x and best "
            f"{ratio(best_row['tasks_per_s'], same_row['tasks_per_s'])}x the same-effects floor's tasks/s, which "
            f"is {ratio(same_row['tasks_per_s'], floor_row['tasks_per_s'])}x the physical floor's (the same-effects "
            f"loop kept {same_row['cpu_s'] / max(same_row['elapsed_s'], 1e-9):.0%} of one core busy: the rest of "
            "its time it waited on moto).",
            f"Best settings found: {best_settings.label} ({best_per_core}x the floor per CPU-second).",
            f"{total} tasks per run, each run on a fresh moto whose transactions copy only the items they touch "
            "(bench/moto_patch.py: moto 5.2 itself deep-copies the whole table on every TransactWriteItems, so "
            "throughput fell as the table grew and whoever ran later paid more).",
            f"Tasks cycle through {CHANNELS} channels, so none waits for its channel's next post slot: the "
            "same-effects floor reserves that slot but never waits for it (at 50 channels charla's waits and "
            "second fences added up to 0.8 DynamoDB calls per task that the floor did not make).",
            f"The feeder keeps at most {MAX_DEPTH} tasks unfinished (max depth seen in the table); moto's own "
            "cost per request is part of the floor. The alternative (Bolt on Lambda) has no worker: not "
            "applicable.",
            f"{'Quick run: the search tries one candidate on ' if ctx.quick else 'Settings search: '}"
            f"{search_total} tasks each; the best is then rerun on {total}.",
        ],
        extra={"best_settings": dataclasses.asdict(best_settings)},
    )
