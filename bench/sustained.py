"""Figure 6: sustained load through the whole stack, open loop, across many channels.

A thread pool sends signed mentions to the uvicorn ingress on a fixed schedule (event i at
``start + i / rate``), whatever the answers' speed; then the bench waits for the replies with a
deadline. Lost = accepted (200) events with no reply; duplicated = events replied to more than
once. Latency = reply ``received_at`` - scheduled send time (so a late sender counts against us).
Queue depth is sampled every second. Worker: the best settings of figure 4 when it ran.

SQS and DynamoDB run on two moto servers, as they are two services in AWS: moto 5.2 deep-copies a
whole DynamoDB table on every TransactWriteItems (one per command, by design), and in one server
that work holds the lock SQS answers under, so the ingress's acks would measure moto's table
copies rather than the ingress.

The rate is one this box can carry with the worker held to a Fargate task's 0.25 vCPU (a cgroup v1
CPU quota, bench.cpu_quota): the worker's tasks per CPU-second measured by figure 4 in the same
run, times 0.25, with headroom; both moto servers are patched (bench/moto_patch.py) so that a
transaction's cost does not grow with the table. It is held 60 s; the goal is 0 lost, 0 duplicated
and a p95 reply under 1 s, at no less than 25 events/s, with AWS's and Slack's latencies injected
where moto and the stand-in answer faster (bench/aws_latency.py); the figure extrapolates what one
0.25 vCPU task and the default deploy's API throttle carry in AWS. (An earlier goal of 100 events/s
exceeded the default throttle, 50/s, and measured moto.) The run stops sending early, and reports
how long it held and why, when the ack goal is already lost (more than 1 % of acks over 3 s or not
200) or when the backlog could no longer be drained within the drain deadline at the reply rate of
the last seconds.
"""

import contextlib
import json
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import aws_latency
from bench.common import ROOT, WORKER_LOG_LEVEL, CountingProxy, CpuMeter, Figure, ProxiedCall, summary
from bench.context import MOTO_SERVER, BenchContext
from bench.cpu_quota import QuotaUnavailable, cpu_quota, group_pids, quota_of
from bench.throughput import DEFAULT, WorkerSettings
from contract.queues import QueueName
from scripts.processes import start_moto_server
from scripts.provision import LOCAL_CREDENTIALS, REGION, create_queues, create_tables, sqs
from scripts.slack_requests import app_mention, signed_event
from scripts.stack import DevStack, http

CHANNELS = 200
# The default deploy's API Gateway stage throttle, steady rate (cdk.json, infra/config.py).
DEFAULT_THROTTLE = int(json.loads((ROOT / "cdk.json").read_text())["context"]["api_throttle_rate"])
# Share of acks that must come within Slack's 3 s (the goal).
ACKS_UNDER_3S = 0.99
# (seconds held, drain deadline s); the rate comes from carry_rate().
FULL = (60.0, 120.0)
QUICK = (10.0, 60.0)
# A Fargate task of the default deploy: 0.25 vCPU. The worker runs under this quota.
FARGATE_CPUS = 0.25
# Share of the quota the chosen rate may use: the rest absorbs bursts and the machine's noise.
HEADROOM = 0.6
P95_GOAL_MS = 1000.0
# The highest rate held here: what one box's moto and ingress carry without becoming the subject.
# Not the deploy's API throttle (a workspace-sized 10/s by default, and one setting to raise):
# the figure is what a worker carries, the throttle only enters the extrapolation.
MAX_RATE = 50.0
# What one default Fargate task must carry (with AWS-like latencies injected): the rate is never lower.
GOAL_RATE = 25.0
# When figure 4 did not run: events/s the quota'd worker is assumed to carry.
FALLBACK_RATE = {True: 5.0, False: GOAL_RATE}


def carry_rate(results: Mapping[str, Any], *, quick: bool) -> tuple[float, str]:
    """The rate to hold and where it comes from: figure 4's tasks per CPU-second (same run) x the
    quota x the headroom, at least ``GOAL_RATE`` (``--quick``: at most 10/s) and at most
    ``MAX_RATE``; or the rate asked for (``sustained_rate``)."""
    if asked := results.get("sustained_rate"):
        return float(asked), f"{float(asked):.0f}/s, as asked"
    per_cpu_s = results.get("worker_tasks_per_cpu_s")
    if not per_cpu_s:
        rate = FALLBACK_RATE[quick]
        return rate, f"{rate:.0f}/s (figure 4 did not run: no measured tasks per CPU-second)"
    measured = round(float(per_cpu_s) * FARGATE_CPUS * HEADROOM)
    rate = min(MAX_RATE, max(GOAL_RATE, measured))
    if quick:
        rate = min(rate, 10.0)
    return rate, (
        f"{rate:.0f}/s: figure 4's {per_cpu_s} tasks per CPU-second x {FARGATE_CPUS} vCPU x {HEADROOM} headroom "
        f"= {measured}/s, held to at least the goal's {GOAL_RATE:.0f}/s"
        + (" (capped at 10/s in --quick)" if quick else "")
    )


# How far back the reply rate is measured to decide whether the backlog can still drain.
RATE_WINDOW_S = 5


def _depth(client: Any, queue_url: str) -> int:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def run(ctx: BenchContext) -> Figure:
    duration, drain_s = QUICK if ctx.quick else FULL
    rate, rate_source = carry_rate(ctx.results, quick=ctx.quick)
    total = int(rate * duration)
    settings: WorkerSettings = ctx.results.get("best_worker_settings", DEFAULT)
    depths: list[int] = []
    replied_samples: list[tuple[float, int]] = []
    stop_reason: list[str] = []
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_", "SLACK_"))}
    dynamodb_moto, dynamodb_url = start_moto_server(
        env={**base_env, **LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": REGION},
        log_dir=ctx.log_dir_path(),
        module=MOTO_SERVER,
    )
    prefix = f"charla-load-{secrets.token_hex(3)}"
    resources = {**create_queues(ctx.moto_url, prefix), **create_tables(dynamodb_url, prefix)}
    queue_client = sqs(ctx.moto_url)
    # The worker reaches DynamoDB through a proxy that times each call: moto's transaction time as
    # the table grows is the evidence for where the run stops.
    # Both proxies hold each call as long as AWS would take (bench/aws_latency.py).
    timing = CountingProxy(dynamodb_url, keep_dynamodb=True, latency_s=aws_latency.DYNAMODB_S)
    sqs_latency = CountingProxy(ctx.moto_url, latency_s=aws_latency.SQS_S)
    try:
        stack_cm = DevStack(
            worker_log_level=WORKER_LOG_LEVEL,
            worker_queues=[],
            moto_url=timing.url,
            resources=resources,
            extra_env={"AWS_ENDPOINT_URL_SQS": sqs_latency.url},
            sqs_wait_time_seconds=20,
        )
        with timing, sqs_latency, stack_cm as stack:
            stack.set_slack_faults(delay_posts_s=aws_latency.SLACK_POST_S)
            meter = CpuMeter(
                {
                    "ingress (uvicorn)": stack.processes["ingress"].pid,
                    "moto SQS": ctx.moto_pid() or 0,
                    "moto DynamoDB": dynamodb_moto.pid,
                }
            )
            result = _run_load(
                stack,
                meter=meter,
                queue_client=queue_client,
                settings=settings,
                rate=rate,
                total=total,
                drain_s=drain_s,
                depths=depths,
                replied_samples=replied_samples,
                stop_reason=stop_reason,
            )
        transactions = _transaction_times(timing.calls(), result["start"])
    finally:
        dynamodb_moto.stop()
    return _figure(
        ctx,
        transactions=transactions,
        settings=settings,
        rate=rate,
        duration=duration,
        drain_s=drain_s,
        total=total,
        depths=depths,
        replied_samples=replied_samples,
        stop_reason=stop_reason,
        rate_source=rate_source,
        **result,
    )


def _run_load(
    stack: DevStack,
    *,
    meter: CpuMeter,
    queue_client: Any,
    settings: WorkerSettings,
    rate: float,
    total: int,
    drain_s: float,
    depths: list[int],
    replied_samples: list[tuple[float, int]],
    stop_reason: list[str],
) -> dict[str, Any]:
    worker = stack.start_worker(
        queues=[QueueName.REPLIES], concurrency=settings.concurrency, extra_args=settings.args()
    )
    meter.groups["worker"] = worker.pid
    quota = contextlib.ExitStack()
    quota_note = ""
    try:
        group = quota.enter_context(cpu_quota(group_pids(worker.pid), cpus=FARGATE_CPUS))
        quota_note = f"the worker ran under a cgroup v1 CPU quota of {quota_of(group)} CPU (a {FARGATE_CPUS} vCPU task)"
    except QuotaUnavailable as error:
        quota_note = f"NO CPU quota: {error}; the worker had the machine's cores"
    with quota:
        result = _send_and_drain(
            stack,
            meter=meter,
            queue_client=queue_client,
            rate=rate,
            total=total,
            drain_s=drain_s,
            depths=depths,
            replied_samples=replied_samples,
            stop_reason=stop_reason,
        )
    return {**result, "quota_note": quota_note}


def _send_and_drain(
    stack: DevStack,
    *,
    meter: CpuMeter,
    queue_client: Any,
    rate: float,
    total: int,
    drain_s: float,
    depths: list[int],
    replied_samples: list[tuple[float, int]],
    stop_reason: list[str],
) -> dict[str, Any]:
    queue_url = stack.queue_url(QueueName.REPLIES)
    baseline = int(http("GET", f"{stack.slack_url}/_count").json()["count"])
    mentions = [app_mention("ping", channel=f"C{index % CHANNELS:05d}LOAD") for index in range(total)]
    scheduled: dict[str, float] = {}
    statuses: Counter[int] = Counter()
    acks: list[float] = []
    unacked: dict[str, float] = {}
    lock = threading.Lock()
    sampling = threading.Event()
    stop_sending = threading.Event()
    sent = [0]
    last_index = [0]

    def sample() -> None:
        while not sampling.wait(1.0):
            with contextlib.suppress(Exception):  # a sample lost under load is only a missing point
                depths.append(_depth(queue_client, queue_url))
                now = time.time()
                replied = int(http("GET", f"{stack.slack_url}/_count").json()["count"]) - baseline
                replied_samples.append((now, replied))
                if stop_sending.is_set():
                    continue
                with lock:
                    bad = sum(1 for value in acks if value > 3000) + sum(
                        n for status, n in statuses.items() if status != 200
                    )
                if sent[0] >= 50 and bad > (1 - ACKS_UNDER_3S) * sent[0]:
                    # The ack goal is lost from here on; sending more only deepens moto's queue.
                    stop_reason.append(
                        f"stopped sending after {now - start:.1f} s ({sent[0]} events): {bad} acks were over 3 s or "
                        f"not 200, more than {1 - ACKS_UNDER_3S:.0%} of those sent; queue depth {depths[-1]}, "
                        f"{sent[0] - replied} events not yet replied"
                    )
                    stop_sending.set()
                    continue
                # The drain test is judged from 10 s in (the worker's first tasks import lazily).
                if len(replied_samples) <= 2 * RATE_WINDOW_S:
                    continue
                then, earlier = replied_samples[-1 - RATE_WINDOW_S]
                recent_rate = (replied - earlier) / max(now - then, 1e-9)
                backlog = sent[0] - replied
                # Half the drain deadline at today's pace: the pace keeps falling as the table grows.
                if backlog > recent_rate * drain_s * 0.5:
                    stop_reason.append(
                        f"stopped sending after {now - start:.1f} s ({sent[0]} events): the backlog of "
                        f"{backlog} would not drain within {drain_s:.0f} s at the last {RATE_WINDOW_S} s's "
                        f"{recent_rate:.1f} replies/s"
                    )
                    stop_sending.set()

    start = time.time() + 0.5
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    meter.start()

    def send(index: int) -> None:
        at = start + index / rate
        time.sleep(max(0.0, at - time.time()))
        if stop_sending.is_set():
            return
        with lock:
            sent[0] += 1
            last_index[0] = max(last_index[0], index)
        mention = mentions[index]
        request = signed_event(mention, stack.signing_secret)
        try:
            status = http(
                "POST", f"{stack.ingress_url}/slack/events", body=request.body, headers=request.headers, timeout=30
            ).status
        except OSError:  # timed out or refused: Slack would retry
            status = 0
        ack_s = time.time() - at
        with lock:
            statuses[status] += 1
            acks.append(ack_s * 1000)
            if status == 200:
                scheduled[mention["ts"]] = at
            else:
                unacked[mention["ts"]] = at

    with ThreadPoolExecutor(max_workers=128) as pool:
        list(pool.map(send, range(total)))
    send_end = time.time()
    cpu = meter.stop()  # while sending: who had the machine's cores
    held_s = last_index[0] / rate  # the last scheduled send, from the first
    accepted = len(scheduled)
    deadline = time.monotonic() + drain_s
    replies: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        replies = http("GET", f"{stack.slack_url}/_recorded?since={baseline}").json()["records"]
        if len({r.get("thread_ts") for r in replies} & scheduled.keys()) >= accepted:
            break
        time.sleep(0.5)  # checking for completion, not timing: latencies come from received_at
    time.sleep(2.0)  # a late duplicate would land now; the count below includes it
    replies = http("GET", f"{stack.slack_url}/_recorded?since={baseline}").json()["records"]
    sampling.set()
    sampler.join(timeout=5)
    items = stack_items(stack)
    return {
        "sent": sent[0],
        "held_s": held_s,
        "start": start,
        "send_end": send_end,
        "scheduled": scheduled,
        "unacked": unacked,
        "statuses": statuses,
        "acks": acks,
        "replies": replies,
        "state_items": items,
        "cpu": cpu,
    }


def _transaction_times(calls: list[ProxiedCall], start: float, bucket: int = 10) -> list[dict[str, Any]]:
    """moto's TransactWriteItems time (median, ms) and count per ``bucket`` seconds from the first send."""
    buckets: dict[int, list[float]] = {}
    for call in calls:
        if call.action == "TransactWriteItems":
            buckets.setdefault(int((call.at - start) // bucket), []).append(call.seconds * 1000)
    return [
        {"from_s": index * bucket, "transactions": len(times), "median_ms": round(summary(times)["median"], 1)}
        for index, times in sorted(buckets.items())
    ]


def stack_items(stack: DevStack) -> int:
    """Items in the state table at the end (what moto copies on every transaction)."""
    from contract.tables import TABLE_SPECS, TableName
    from scripts.provision import dynamodb

    assert stack.moto_url
    client = dynamodb(stack.moto_url)
    table = stack.env[TABLE_SPECS[TableName.STATE].variable]
    return sum(page.get("Count", 0) for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def _figure(
    ctx: BenchContext,
    *,
    transactions: list[dict[str, Any]],
    settings: WorkerSettings,
    rate: float,
    duration: float,
    drain_s: float,
    total: int,
    depths: list[int],
    replied_samples: list[tuple[float, int]],
    stop_reason: list[str],
    sent: int,
    held_s: float,
    start: float,
    send_end: float,
    scheduled: dict[str, float],
    unacked: dict[str, float],
    statuses: Counter[int],
    acks: list[float],
    replies: list[dict[str, Any]],
    state_items: int,
    cpu: dict[str, float],
    rate_source: str,
    quota_note: str,
) -> Figure:
    accepted = len(scheduled)
    per_thread = Counter(r.get("thread_ts") for r in replies if r.get("thread_ts") in scheduled)
    lost = accepted - len(per_thread)
    duplicated = sum(1 for count in per_thread.values() if count > 1)
    # Requests the bench gave up on (no 200 within 30 s) that were enqueued anyway: Slack would have
    # retried them under the same task id, and the worker's effect record would have settled the copies.
    answered_unacked = len({r.get("thread_ts") for r in replies} & unacked.keys())
    first_reply: dict[str, float] = {}
    for record in replies:
        ts = record.get("thread_ts")
        if ts in scheduled and ts not in first_reply:
            first_reply[ts] = float(record["received_at"])
    latencies = [(first_reply[ts] - scheduled[ts]) * 1000 for ts in first_reply]
    stats = summary(latencies) if latencies else {"n": 0, "min": 0, "median": 0, "p95": 0, "p99": 0, "max": 0}
    ack = summary(acks) if acks else {"n": 0, "min": 0, "median": 0, "p95": 0, "p99": 0, "max": 0}
    slow_acks = sum(1 for value in acks if value > 3000)
    fast_share = 1 - slow_acks / max(len(acks), 1)
    achieved_rate = sent / max(held_s + 1 / rate, 1e-9)
    reply_rates = _reply_rates(replied_samples)
    # Slack waits 3 s for an ack and retries after that: a late ack counts against the goal, as does a
    # sender that could not keep the rate, or a run that had to stop before the full duration.
    checks = {
        f"0 lost (every acked event replied within {drain_s:.0f} s of the last send)": lost == 0,
        "0 duplicated": duplicated == 0,
        "every event acked 200": statuses.get(200, 0) == sent,
        f">= {ACKS_UNDER_3S:.0%} of acks under 3 s": fast_share >= ACKS_UNDER_3S,
        f"{rate:.0f}/s kept": achieved_rate >= 0.9 * rate,
        f"held {duration:.0f} s": sent == total,
        f"p95 reply < {P95_GOAL_MS / 1000:.0f} s": bool(latencies) and stats["p95"] < P95_GOAL_MS,
    }
    # CPU per event per component (ms of CPU for each event sent), and what AWS would carry.
    cpu_ms_per_event = {name: round(value / max(achieved_rate, 1e-9) * 1000, 2) for name, value in cpu.items()}
    worker_share = cpu.get("worker", 0.0)
    task_carries = achieved_rate * FARGATE_CPUS / worker_share if worker_share else None
    tasks_for_throttle = -(-DEFAULT_THROTTLE // task_carries) if task_carries else None
    goal_met = all(checks.values())
    missed = [name for name, ok in checks.items() if not ok]
    limits = ""
    if not goal_met:
        limits = (
            f"not met: {', '.join(missed)}. Held {rate:.0f}/s for {held_s:.1f} s of {duration:.0f} s "
            f"({sent} events sent, sent at {achieved_rate:.0f}/s); {lost} of {accepted} acked events not replied "
            f"within {drain_s:.0f} s after sending, {duplicated} duplicated, ingress statuses {dict(statuses)} "
            f"(0 = no answer in 30 s), {slow_acks} acks over 3 s ({fast_share:.1%} under). "
            + (stop_reason[0] + ". " if stop_reason else "")
            + f"CPU while sending, CPU-seconds per second ({os.cpu_count()} cores in all): "
            + ", ".join(f"{name} {value}" for name, value in cpu.items())
            + f". Replies/s over the run (5 s buckets): {reply_rates}. moto's TransactWriteItems median time per 10 s "
            f"(from the first send): {[(t['from_s'], t['median_ms']) for t in transactions]} ms; the state table "
            f"held {state_items} items at the end (one effect record per event); max queue depth "
            f"{max(depths, default=0)}"
        )
    aws = (
        f"In AWS: the worker used {worker_share} CPU-s per s at {achieved_rate:.1f} events/s, so one "
        f"{FARGATE_CPUS} vCPU task carries about {task_carries:.0f} events/s; the default deploy's API throttle "
        f"({DEFAULT_THROTTLE}/s steady) needs about {tasks_for_throttle:.0f} such tasks (an extrapolation from this "
        "machine's CPU, not a measurement in AWS)."
        if task_carries
        else "No worker CPU was measured: no extrapolation to AWS."
    )
    return Figure(
        number=6,
        name="Sustained load at the rate a 0.25 vCPU worker carries: p95 reply latency (zero lost, zero duplicated)",
        value=round(stats["p95"], 1),
        unit="ms",
        samples=sent,
        goal=(
            f"the rate this box carries with the worker at 0.25 vCPU ({rate:.0f}/s, never under {GOAL_RATE:.0f}/s), "
            f"AWS-like latencies injected, held {duration:.0f} s: 0 lost, "
            f"0 duplicated, p95 reply < 1 s, >= {ACKS_UNDER_3S:.0%} of acks under 3 s"
        ),
        goal_met=goal_met,
        command=ctx.command("sustained"),
        min=round(stats["min"], 1),
        median=round(stats["median"], 1),
        p95=round(stats["p95"], 1),
        floor=None,
        alternative=None,
        ratio_to_floor=None,
        ratio_to_alternative=None,
        limits=limits,
        table=[
            {
                "events_sent": sent,
                "held_s": round(held_s, 1),
                "accepted_200": statuses.get(200, 0),
                "replied": len(per_thread),
                "lost": lost,
                "duplicated": duplicated,
                "send_rate_achieved": round(achieved_rate, 1),
                "p50_ms": round(stats["median"], 1),
                "p95_ms": round(stats["p95"], 1),
                "p99_ms": round(stats["p99"], 1),
                "max_ms": round(stats["max"], 1),
                "max_queue_depth": max(depths, default=0),
                "ack_p50_ms": round(ack["median"], 1),
                "ack_p95_ms": round(ack["p95"], 1),
                "acks_over_3s": slow_acks,
                "acks_under_3s_share": round(fast_share, 4),
                "replied_though_not_acked": answered_unacked,
            }
        ],
        notes=[
            "Checks: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks.items()) + ".",
            f"Rate: {rate_source}; {quota_note}.",
            aws_latency.described() + " (bench/aws_latency.py; assumptions, not measurements).",
            "CPU per event, ms of CPU for each event sent: "
            + ", ".join(f"{name} {value}" for name, value in cpu_ms_per_event.items())
            + ".",
            aws,
            f"Up to {total} mentions at {rate:.0f}/s open loop over {CHANNELS} channels through uvicorn + one worker "
            f"({settings.label}), long poll 20 s; {sent} sent. Latency counts from each event's scheduled send "
            "time. SQS and DynamoDB on two moto servers, both patched (bench/moto_patch.py).",
            f"Replies per second, 5 s buckets from the first send: {reply_rates}.",
            f"CPU while sending, CPU-seconds per second ({os.cpu_count()} cores in all): "
            + ", ".join(f"{name} {value}" for name, value in cpu.items())
            + ".",
            "moto's TransactWriteItems time (worker's calls, timed at a proxy), per 10 s from the first send: "
            + "; ".join(f"{t['from_s']} s: {t['transactions']} at median {t['median_ms']} ms" for t in transactions)
            + f"; {state_items} items in the state table at the end.",
            f"Queue depth sampled each second: max {max(depths, default=0)}, median "
            f"{sorted(depths)[len(depths) // 2] if depths else 0}.",
            "No floor or alternative: this figure is about correctness and latency under load.",
            *(stop_reason or [f"Held the whole {duration:.0f} s."]),
        ],
        extra={
            "held_s": held_s,
            "checks": checks,
            "state_items": state_items,
            "reply_rates": reply_rates,
            "cpu_while_sending": cpu,
            "cpu_ms_per_event": cpu_ms_per_event,
            "rate": rate,
            "rate_source": rate_source,
            "cpu_quota": quota_note,
            "one_task_carries_events_per_s": round(task_carries, 1) if task_carries else None,
            "transaction_times": transactions,
        },
    )


def _reply_rates(samples: list[tuple[float, int]], bucket: int = 5) -> list[float]:
    """Replies per second in consecutive ``bucket``-second windows of the 1 s samples."""
    rates = []
    for index in range(bucket, len(samples), bucket):
        (t0, n0), (t1, n1) = samples[index - bucket], samples[index]
        rates.append(round((n1 - n0) / max(t1 - t0, 1e-9), 1))
    return rates
