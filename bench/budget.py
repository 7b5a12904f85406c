"""Figure 8: the budget per event, counted, not taken from the docs.

The ingress (uvicorn) reaches AWS through one counting proxy and the worker through another, so
every call is attributed to the process that made it. Events are paced: each is sent, its effect
is waited for (the reply in the Slack stand-in and the effect record DONE, or the archived
record), then the next; so every call in an event's window belongs to that event. Command events
are ``ping`` mentions over a few channels; archived events are plain channel messages.

Per event, from the worker proxy's DynamoDB log: transactions before the post (arrived at the
proxy before the stand-in received the post), writes after it, reads; and the write units of
every DynamoDB write the event caused (the ingress's too, if it made any), billed
as on-demand DynamoDB does: 1 per KB per item written, 2 per KB per item in a transaction. Item
sizes come from the requests and, for updates, from a scan of the table after the run.
"""

import time
from dataclasses import dataclass
from typing import Any

from bench.common import (
    WORKER_LOG_LEVEL,
    CountingProxy,
    Figure,
    ProxiedCall,
    by_service,
    stored_item_sizes,
    write_units,
)
from bench.context import BenchContext
from contract import environment as env
from contract.queues import QueueName
from contract.tables import TABLE_SPECS, TableName
from scripts.processes import wait_until
from scripts.provision import dynamodb
from scripts.slack_requests import app_mention, channel_message
from scripts.stack import DevStack, http

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
# The design's budget per command event (docs/RELIABILITY.md, issue #11).
INGRESS_CALLS = 1
TRANSACTIONS_BEFORE_POST = 1
WRITES_AFTER_POST = 1
WRITE_UNITS = 5


@dataclass
class EventWindow:
    """One paced event: what was sent, when, and when its post reached the stand-in."""

    kind: str
    started: float
    ended: float = 0.0
    posted_at: float | None = None
    ingress_calls: int = 0


def _effect_done(client: Any, table: str, task_id: str) -> bool:
    item = client.get_item(
        TableName=table, Key={"pk": {"S": f"EFFECT#{task_id}"}, "sk": {"S": "EFFECT"}}, ConsistentRead=True
    ).get("Item")
    return bool(item) and item.get("state", {}).get("S") == "done"


def _archived(client: Any, table: str, team: str, channel: str, ts: str) -> bool:
    """Whether the channel's archive holds a record for message ``ts`` (whatever its sort key's shape)."""
    items = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"MSG#{team}#{channel}"}},
        ConsistentRead=True,
    ).get("Items", [])
    return any(ts in item.get("sk", {}).get("S", "") for item in items)


def _per_event(
    window: EventWindow, calls: list[ProxiedCall], ingress_calls: list[ProxiedCall], sizes: dict[str, int]
) -> dict[str, Any]:
    mine = [c for c in calls if window.started <= c.at < window.ended]
    at_door = [c for c in ingress_calls if window.started <= c.at < window.ended and c.action in WRITES]
    posted = window.posted_at
    writes = [c for c in mine if c.action in WRITES]
    return {
        "transactions_before_post": sum(
            1 for c in writes if c.action == "TransactWriteItems" and (posted is None or c.at < posted)
        ),
        "writes_before_post": sum(1 for c in writes if posted is None or c.at < posted),
        "writes_after_post": sum(1 for c in writes if posted is not None and c.at >= posted),
        "reads": sum(1 for c in mine if c.action in READS),
        # Every write the event caused, the door's included (the design has none there).
        "write_units": sum(write_units(c, sizes) for c in [*writes, *at_door]),
        "actions": sorted(c.action for c in mine),
    }


def _row(kind: str, windows: list[EventWindow], measured: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(measured)

    def mean(key: str) -> float:
        return round(float(sum(m[key] for m in measured)) / n, 3)

    return {
        "event": kind,
        "events": n,
        "ingress_aws_calls_max": max(w.ingress_calls for w in windows),
        "ingress_aws_calls_mean": round(sum(w.ingress_calls for w in windows) / n, 3),
        "transactions_before_post_max": max(m["transactions_before_post"] for m in measured),
        "writes_before_post_max": max(m["writes_before_post"] for m in measured),
        "writes_after_post_max": max(m["writes_after_post"] for m in measured),
        "reads_mean": mean("reads"),
        "write_units_mean": mean("write_units"),
        "write_units_max": max(m["write_units"] for m in measured),
    }


def run(ctx: BenchContext) -> Figure:
    commands, messages = (6, 3) if ctx.quick else (60, 20)
    channels = 6
    team = "TLOCAL"
    with (
        CountingProxy(ctx.moto_url, keep_dynamodb=True) as ingress_proxy,
        CountingProxy(ctx.moto_url, keep_dynamodb=True) as worker_proxy,
        DevStack(
            worker_log_level=WORKER_LOG_LEVEL, worker_queues=[], moto_url=ingress_proxy.url, sqs_wait_time_seconds=20
        ) as stack,
    ):
        # The ingress keeps the first proxy; the worker is started with the second.
        stack.env = {**stack.env, env.AWS_ENDPOINT_URL: worker_proxy.url}
        stack.start_worker(queues=[QueueName.REPLIES, QueueName.BULK])
        table = stack.env[TABLE_SPECS[TableName.STATE].variable]
        direct = dynamodb(ctx.moto_url)  # the bench's own reads go straight to moto, uncounted
        slack_seen = int(http("GET", f"{stack.slack_url}/_count").json()["count"])
        time.sleep(1.0)  # the worker's first idle polls: not part of any event
        ingress_proxy.reset()
        worker_proxy.reset()
        windows: list[EventWindow] = []
        for index in range(commands + messages):
            is_command = index < commands
            channel = f"C{index % channels:04d}BUD"
            window = EventWindow(kind="command" if is_command else "archived message", started=time.time())
            before = ingress_proxy.snapshot()
            if is_command:
                event = app_mention("ping", channel=channel)
            else:
                event = channel_message(f"hello {index}", channel=channel)
            status = stack.post_event(event).status
            if status != 200:
                raise RuntimeError(f"ingress answered {status}; logs:\n{stack.logs()}")
            window.ingress_calls = sum((ingress_proxy.snapshot() - before).values())
            if is_command:

                def replied(ts: str = event["ts"]) -> dict[str, Any] | None:
                    records = http("GET", f"{stack.slack_url}/_recorded?since={slack_seen}").json()["records"]
                    return next((r for r in records if r.get("thread_ts") == ts), None)

                record = wait_until(replied, timeout=30, interval=0.01, message="the reply")
                task_id = ((record.get("metadata") or {}).get("event_payload") or {}).get("reply_id", "")
                window.posted_at = float(record["received_at"])

                def done(task_id: str = task_id) -> bool:
                    return _effect_done(direct, table, task_id)

                wait_until(done, timeout=30, interval=0.01, message="the effect marked DONE")
            else:

                def archived(ts: str = event["ts"], channel: str = channel) -> bool:
                    return _archived(direct, table, team, channel, ts)

                wait_until(archived, timeout=30, interval=0.01, message="the archived message")
            time.sleep(0.2)  # a late write of this event (there should be none) still lands in its window
            window.ended = time.time()
            windows.append(window)
        calls = worker_proxy.calls()
        door_calls = ingress_proxy.calls()
        sizes = stored_item_sizes(direct, table)
        ingress_counts = ingress_proxy.snapshot()
        worker_counts = worker_proxy.snapshot()
    measured = [_per_event(w, calls, door_calls, sizes) for w in windows]
    rows = []
    for kind in ("command", "archived message"):
        picked = [(w, m) for w, m in zip(windows, measured, strict=True) if w.kind == kind]
        rows.append(_row(kind, [w for w, _ in picked], [m for _, m in picked]))
    command = rows[0]
    checks = {
        f"ingress AWS calls per event == {INGRESS_CALLS}": all(
            r["ingress_aws_calls_max"] == INGRESS_CALLS for r in rows
        ),
        f"DynamoDB transactions before the post <= {TRANSACTIONS_BEFORE_POST}": command["transactions_before_post_max"]
        <= TRANSACTIONS_BEFORE_POST,
        f"DynamoDB writes before the post <= {TRANSACTIONS_BEFORE_POST}": command["writes_before_post_max"]
        <= TRANSACTIONS_BEFORE_POST,
        f"DynamoDB writes after the post <= {WRITES_AFTER_POST}": command["writes_after_post_max"] <= WRITES_AFTER_POST,
        f"write units per command event <= {WRITE_UNITS}": command["write_units_max"] <= WRITE_UNITS,
    }
    limits = [name + ": NOT met" for name, ok in checks.items() if not ok]
    if limits:
        examples = [m["actions"] for w, m in zip(windows, measured, strict=True) if w.kind == "command"][:3]
        limits.append(f"DynamoDB calls of the first command events: {examples}")
    return Figure(
        number=8,
        name="Budget per command event: AWS calls and DynamoDB write units, counted",
        value=command["write_units_mean"],
        unit="write units/command event",
        samples=commands + messages,
        goal=(
            f"ingress {INGRESS_CALLS} AWS call; worker <= {TRANSACTIONS_BEFORE_POST} DynamoDB transaction before the "
            f"post and <= {WRITES_AFTER_POST} write after it; <= {WRITE_UNITS} write units per command event"
        ),
        goal_met=all(checks.values()),
        command=ctx.command("budget"),
        min=None,
        median=None,
        p95=None,
        limits="; ".join(limits),
        table=rows,
        notes=[
            "Checks: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks.items()) + ".",
            f"{commands} ping mentions over {channels} channels, then {messages} channel messages, paced one at a "
            "time; the ingress and the worker each reach moto through their own counting proxy.",
            f"All ingress calls: {dict(ingress_counts)}. Worker DynamoDB calls: "
            f"{by_service(worker_counts, 'DynamoDB.')}; worker SQS calls (idle long polls included): "
            f"{by_service(worker_counts, 'AmazonSQS.')}.",
            "Write units: 1 per KB per item written, 2 per KB per item in a TransactWriteItems (DynamoDB on-demand "
            "pricing); item sizes from the requests and a scan of the table after the run (largest item: "
            f"{max(sizes.values(), default=0)} bytes).",
        ],
        extra={"checks": checks, "per_event": measured},
    )
