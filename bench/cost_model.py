"""Figure 7: monthly cost at rest and per million events (scripts.cost), and the first-reply latency
that scaling workers to zero costs, measured: a mention is queued while no worker runs, then a
worker is started cold; latency = reply recorded - mention sent.
"""

import time
from dataclasses import replace
from typing import Any

from bench.common import Figure, ratio, summary
from bench.context import BenchContext
from bench.reply_latency import ReplyWatcher
from contract.queues import QueueName
from scripts import cost
from scripts.slack_requests import app_mention
from scripts.stack import DevStack

# What AWS adds before a worker task exists (not measurable locally): the wake alarm (waiting
# messages, none in flight) fires within one 60 s CloudWatch period, then ECS places a Fargate task and pulls the image
# (typically 30-60 s for a small arm64 image). Written down as an estimate, not a measurement.
AWS_SCALE_FROM_ZERO_ESTIMATE_S = (60, 180)


def first_reply_from_zero(ctx: BenchContext, samples: int) -> list[float]:
    """Seconds from a mention sent with no worker running to its reply, the worker started cold."""
    latencies = []
    for _ in range(samples):
        with DevStack(worker_queues=[], moto_url=ctx.moto_url, sqs_wait_time_seconds=20) as stack:
            watcher = ReplyWatcher(stack.slack_url)
            mention = app_mention("ping", channel="C0ZERO")
            sent_at = time.time()
            if stack.post_event(mention).status != 200:
                raise RuntimeError(f"ingress refused the mention; logs:\n{stack.logs()}")
            stack.start_worker(queues=[QueueName.REPLIES])
            reply = watcher.wait_for(mention["ts"], timeout=60)
            latencies.append(float(reply["received_at"]) - sent_at)
    return latencies


def run(ctx: BenchContext) -> Figure:
    shape = cost.load_shape()
    usage = cost.Usage()
    measured: dict[str, Any] = {}
    if "sqs_requests_per_task" in ctx.results:
        usage = replace(usage, sqs_requests_per_task=round(ctx.results["sqs_requests_per_task"], 3))
        measured["sqs_requests_per_task"] = usage.sqs_requests_per_task
    if ctx.results.get("worker_tasks_per_cpu_s"):
        usage = replace(usage, worker_tasks_per_cpu_second=ctx.results["worker_tasks_per_cpu_s"])
        measured["worker_tasks_per_cpu_second"] = usage.worker_tasks_per_cpu_second
    if ctx.results.get("dynamodb_wru_per_event"):
        usage = replace(usage, dynamodb_wru_per_event=round(ctx.results["dynamodb_wru_per_event"], 2))
        measured["dynamodb_wru_per_event"] = usage.dynamodb_wru_per_event
    result = cost.report(shape, usage)
    default, zero, bolt = result["default"], result["scale_to_zero"], result["bolt_lambda"]
    latencies = first_reply_from_zero(ctx, 1 if ctx.quick else 3)
    cold = summary(latencies)
    per_million_ratio = ratio(default["per_million_events_usd"], bolt["per_million_events_usd"])
    checks = {
        "default at rest <= $12/month": default["at_rest_usd_month"] <= 12,
        "workers-min-0 at rest <= $7/month": zero["at_rest_usd_month"] <= 7,
        "per 1M events <= Bolt-on-Lambda": default["per_million_events_usd"] <= bolt["per_million_events_usd"],
    }
    limits = []
    if not checks["default at rest <= $12/month"] or not checks["workers-min-0 at rest <= $7/month"]:
        big = sorted(default["at_rest"].items(), key=lambda item: -item[1])[:4]
        limits.append(
            "at rest: "
            + ", ".join(f"{name} ${value:.2f}" for name, value in big)
            + (
                " (the dashboard is $0 within an account's 3 free dashboards)"
                if default["at_rest"].get("dashboards")
                else ""
            )
        )
    if not checks["per 1M events <= Bolt-on-Lambda"]:
        ours, theirs = default["per_million_events"], bolt["per_million_events"]
        # Every line where the two designs differ, largest first: what the gap is made of.
        lines = sorted(set(ours) | set(theirs), key=lambda name: -abs(ours.get(name, 0) - theirs.get(name, 0)))
        gaps = [
            f"{name} ${ours.get(name, 0):.2f} vs ${theirs.get(name, 0):.2f}"
            for name in lines
            if abs(ours.get(name, 0) - theirs.get(name, 0)) >= 0.005
        ]
        limits.append(
            f"per 1M events ${default['per_million_events_usd']} vs ${bolt['per_million_events_usd']} "
            f"(charla vs Bolt-on-Lambda, by line): {'; '.join(gaps)}"
        )
    table = [
        {
            "design": item["design"],
            "at_rest_usd_month": item["at_rest_usd_month"],
            "per_million_events_usd": item["per_million_events_usd"],
        }
        for item in (default, zero, bolt)
    ]
    return Figure(
        number=7,
        name="Cost: default deploy at rest",
        value=default["at_rest_usd_month"],
        unit="USD/month",
        samples=len(latencies),
        goal="default <= $12/month at rest; workers min 0 <= $7/month; per 1M events <= Bolt-on-Lambda",
        goal_met=all(checks.values()),
        command=ctx.command("cost_model") + "  (and python -m scripts.cost)",
        floor=None,
        alternative=bolt["at_rest_usd_month"],
        ratio_to_floor=None,
        ratio_to_alternative=per_million_ratio,
        limits="; ".join(limits),
        table=table,
        notes=[
            f"Shape: {shape.source}.",
            "Goals: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks.items()) + ".",
            f"Ratio to the alternative is per 1M events (${default['per_million_events_usd']} / "
            f"${bolt['per_million_events_usd']}); at rest the alternative costs "
            f"${bolt['at_rest_usd_month']}/month. There is no physical floor for money; none is given.",
            f"Scale-to-zero first reply, measured locally (mention queued with no worker, then a worker started "
            f"cold): median {cold['median']:.1f} s over {len(latencies)} run(s). In AWS add the queue-depth "
            f"alarm and a Fargate task launch: about {AWS_SCALE_FROM_ZERO_ESTIMATE_S[0]}-"
            f"{AWS_SCALE_FROM_ZERO_ESTIMATE_S[1]} s (estimate, not measured).",
            f"Measured inputs from this run: {measured or 'none (defaults used)'}; other per-event inputs are "
            "assumptions written in scripts/cost.py (Usage).",
            "Prices: us-east-1 on-demand, each dated in scripts/cost.py (PRICES); basis: the stack alone in its "
            "account, CloudWatch's always-free allowance (10 alarm metrics, 10 custom metrics, 3 dashboards) "
            "counted once as its own line, no 12-month free tier.",
        ],
        extra={"cost": result, "scale_to_zero_first_reply_s": latencies, "checks": checks},
    )
