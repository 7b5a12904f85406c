"""Figure 5: SQS API requests per task at load, and per idle hour.

A counting HTTP proxy sits in front of moto and every process of the stack (ingress, worker)
uses it as ``AWS_ENDPOINT_URL``, so each SQS call of the whole system is counted by action.
At load: events through the uvicorn ingress, open-loop paced, until every reply is recorded.
Idle: the same stack with nothing to do for a window, long poll at the production 20 s;
extrapolated to an hour and a month and priced with scripts.cost's dated SQS price.
"""

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from bench import floor
from bench.common import (
    WORKER_LOG_LEVEL,
    CountingProxy,
    Figure,
    by_service,
    ratio,
    sqs_requests,
    stored_item_sizes,
    write_units,
)
from bench.context import BenchContext
from bench.reply_latency import PRODUCTION_WAIT_S
from contract.queues import QueueName
from contract.tables import TABLE_SPECS, TableName
from contract.tasks import TaskName
from contract.wire import encode_task_message
from scripts import cost
from scripts.processes import wait_until
from scripts.provision import dynamodb as dynamodb_client
from scripts.slack_requests import app_mention
from scripts.stack import DevStack, http

HOURS_PER_MONTH = 730


def floor_requests_per_task(ctx: BenchContext, events: int, rate: float) -> tuple[float, dict[str, int]]:
    """The physical floor, measured at the same rate: raw SendMessage at ``rate``/s into a queue that
    the raw consumer (ReceiveMessage of up to 10, long poll, one DeleteMessageBatch per receive)
    drains, every call counted at a proxy. At a paced rate most receives find one message, so the
    floor is not the 1.2 per task that batches of 10 would give."""
    with (
        CountingProxy(ctx.moto_url) as proxy,
        DevStack(
            worker_log_level=WORKER_LOG_LEVEL,
            worker_queues=[],
            moto_url=proxy.url,
            sqs_wait_time_seconds=PRODUCTION_WAIT_S,
        ) as stack,
    ):
        queue_url = stack.queue_url(QueueName.REPLIES)
        consumer = floor.start_consumer(stack, queue_url, expected=events, wait_s=PRODUCTION_WAIT_S)
        client = stack.sqs()
        proxy.reset()
        started = time.monotonic()
        for index in range(events):
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
            body = encode_task_message(
                task=TaskName.PING,
                queue=QueueName.REPLIES,
                kwargs={"channel": f"C{index:05d}FLR", "thread_ts": None, "team_id": "TLOCAL"},
                task_id=str(uuid.uuid4()),
            )
            client.send_message(QueueUrl=queue_url, MessageBody=body)
        floor.consumer_result(consumer, timeout=60 + events / rate)
        counts = proxy.snapshot()
    breakdown = {action: n for action, n in by_service(counts, "AmazonSQS.").items() if action != "GetQueueAttributes"}
    return sum(breakdown.values()) / events, breakdown


def run(ctx: BenchContext) -> Figure:
    events, rate = (40, 20.0) if ctx.quick else (600, 20.0)
    idle_window_s = 5.0 if ctx.quick else 60.0
    with (
        CountingProxy(ctx.moto_url, keep_dynamodb=True) as proxy,
        DevStack(
            worker_log_level=WORKER_LOG_LEVEL, moto_url=proxy.url, sqs_wait_time_seconds=PRODUCTION_WAIT_S
        ) as stack,
    ):
        # Let the worker settle into its idle long polls, then count only what follows.
        time.sleep(1.0)
        proxy.reset()
        started = time.monotonic()
        statuses: list[int] = []

        def send(index: int) -> None:
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
            statuses.append(stack.post_event(app_mention("ping", channel=f"C{index % 30:04d}REQ")).status)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(send, range(events)))
        wait_until(
            lambda: int(http("GET", f"{stack.slack_url}/_count").json()["count"]) >= events,
            timeout=60,
            message="every reply",
        )
        stack.wait_until_drained(QueueName.REPLIES, timeout=30)
        at_load = proxy.snapshot()
        at_load_calls = proxy.calls()
        sizes = stored_item_sizes(dynamodb_client(ctx.moto_url), stack.env[TABLE_SPECS[TableName.STATE].variable])
        # GetQueueAttributes are the bench's own drain check, not the system's.
        at_load_total = sqs_requests(at_load) - at_load.get("AmazonSQS.GetQueueAttributes", 0)

        proxy.reset()
        time.sleep(idle_window_s)  # the measurement window itself: the count is the result
        idle = proxy.snapshot()
    if any(status != 200 for status in statuses):
        raise RuntimeError(f"ingress answered {Counter(statuses)}")
    floor_per_task, floor_breakdown = floor_requests_per_task(ctx, events, rate)
    per_task = at_load_total / events
    idle_per_hour = sqs_requests(idle) / idle_window_s * 3600
    # Derived from long polling: each consumed queue holds one poll open for up to 20 s.
    queues = len(stack.worker_queues)
    derived_per_hour = queues * 3600 / PRODUCTION_WAIT_S
    idle_month_cost = derived_per_hour * HOURS_PER_MONTH * cost.PRICES["sqs_per_million_requests"].value / 1e6
    goal_met = per_task <= 2.5
    ctx.results["sqs_requests_per_task"] = per_task
    breakdown = {action: n for action, n in by_service(at_load, "AmazonSQS.").items() if action != "GetQueueAttributes"}
    dynamodb = by_service(at_load, "DynamoDB.")
    # Write units as billed on demand: 1 per KB per item, 2 per KB per item in a transaction.
    wru = sum(write_units(call, sizes) for call in at_load_calls) / events
    ctx.results["dynamodb_wru_per_event"] = wru
    return Figure(
        number=5,
        name="SQS API requests per task at load",
        value=round(per_task, 3),
        unit="requests/task",
        samples=events,
        goal="<= 2.5 requests per task end to end at load; idle figure and its monthly cost written",
        goal_met=goal_met,
        command=ctx.command("sqs_requests"),
        floor=round(floor_per_task, 3),
        alternative=None,
        ratio_to_floor=ratio(per_task, floor_per_task),
        ratio_to_alternative=None,
        limits=""
        if goal_met
        else f"{per_task:.2f} per task against the floor's {floor_per_task:.2f}, measured at the same rate; per "
        "task by action: "
        + ", ".join(f"{action} {n / events:.2f}" for action, n in sorted(breakdown.items(), key=lambda kv: -kv[1]))
        + (
            " (deletes go out in DeleteMessageBatch calls of up to 10, or after 1 s:"
            " workers/celery_worker/sqs_batch_ack.py)"
            if breakdown.get("DeleteMessage", 0) >= events and not breakdown.get("DeleteMessageBatch")
            else ""
        ),
        table=[
            {
                "phase": "at load",
                "events": events,
                "requests": at_load_total,
                "per_task": round(per_task, 3),
                **breakdown,
            },
            {
                "phase": f"idle {idle_window_s:.0f} s",
                "requests": sqs_requests(idle),
                "per_hour_measured": round(idle_per_hour),
                "per_hour_derived": round(derived_per_hour),
                **by_service(idle, "AmazonSQS."),
            },
        ],
        notes=[
            f"At load: {events} mentions through the uvicorn ingress at {rate:.0f}/s (open loop), one worker "
            f"(prefork -c {stack.worker_concurrency}) consuming {queues} queues, long poll {PRODUCTION_WAIT_S} s. "
            "Counted at a proxy in front of moto, so ingress and worker calls are both in.",
            f"Floor, measured at the same {rate:.0f}/s: raw SendMessage, the raw consumer's ReceiveMessage(10) "
            f"and one DeleteMessageBatch per receive: {floor_per_task:.2f} requests per task ("
            + ", ".join(f"{action} {n / events:.2f}" for action, n in sorted(floor_breakdown.items()))
            + "). Batches of 10 would make it 1.2; at a paced rate a receive finds only the few messages "
            "that arrived during the last one.",
            f"Idle: {sqs_requests(idle)} requests in {idle_window_s:.0f} s = {idle_per_hour:.0f}/hour measured "
            f"(a short window sees whole 20 s polls or none); upper bound from long polling: {queues} queues x "
            f"3600/{PRODUCTION_WAIT_S} = {derived_per_hour:.0f}/hour per worker, "
            f"{derived_per_hour * HOURS_PER_MONTH / 1e6:.3f} M/month = ${idle_month_cost:.3f}/month at "
            f"${cost.PRICES['sqs_per_million_requests'].value}/M ({cost.PRICES['sqs_per_million_requests'].as_of}).",
            f"DynamoDB calls at load (counted at the same proxy, not SQS): {dynamodb or 'none'}; about "
            f"{wru:.2f} write units per event at load (1 per KB per item, 2 in a transaction; sizes from the requests "
            "and a scan after the run; deferred copies and retries included), used by the cost model. Figure 8 "
            "counts the budget per paced event.",
        ],
        extra={
            "idle_requests_per_hour_measured": idle_per_hour,
            "idle_requests_per_hour_derived": derived_per_hour,
            "idle_month_cost_usd": idle_month_cost,
            "at_load": dict(at_load),
            "idle": dict(idle),
        },
    )
