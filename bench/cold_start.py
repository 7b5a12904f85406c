"""Figure 1: ingress cold start (fresh process -> first 200) from the bundle ``cdk.out`` ships.

Every variant runs in a fresh interpreter of the runtime's Python (3.12) with ``-S`` (no
site-packages): the shipped ingress asset alone on the path, as Lambda's ``/var/task``, with the
bytecode it ships and no other (the code directory is read-only; ``bench.bundles`` refuses a run
that could write or reuse any other).
Variants, interleaved run by run so that drift on a shared machine hits them alike:
- charla: ``lambda_handler.main.handler`` with an API Gateway v2 event; the signing secret read
  from Secrets Manager (moto) on the first request, as in AWS; SQS is moto.
- charla from source: the same bundle without its bytecode (what shipping ``.pyc`` is worth).
- physical floor: stdlib ``hmac`` and botocore alone: GetSecretValue, the check, one SendMessage
  (the same AWS calls charla makes; nothing else).
- libraries floor: slack_sdk ``SignatureVerifier`` + boto3, the secret from the environment
  (the floor earlier runs reported).
- alternative: slack_bolt's ``aws_lambda`` adapter with a lazy listener (see bench.alternative),
  imported from the same bundle.
SnapStart is reported apart: after a restore only the first request runs (import, the Bolt app
and the clients are in the snapshot), so its figure is that part of charla's run.
"""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import boto3

from bench import alternative, floor
from bench.bundles import (
    bundle_env,
    check_runnable_as_shipped,
    package_overlay,
    runtime_python,
    shipped_ingress_bundle,
    source_copy,
)
from bench.common import (
    VMHWM_SNIPPET,
    WORKER_LOG_LEVEL,
    CountingProxy,
    Figure,
    apigw_v2_event,
    ratio,
    run_fresh,
    summary,
)
from bench.context import BenchContext
from contract import environment as env
from contract.queues import QueueName
from scripts.slack_requests import app_mention, signed_event
from scripts.stack import DevStack

# The least an ingress must do: read the secret, check the HMAC, send one message. Standard library
# and botocore only. Reads {"headers", "body", "queue_url"} on stdin; prints one JSON line.
PHYSICAL_FLOOR_CODE = """
import json, os, sys, time
request = json.loads(sys.stdin.read())
started = time.perf_counter()
import hashlib, hmac
import botocore.session
imported = time.perf_counter() - started
session = botocore.session.get_session()
secrets = session.create_client("secretsmanager")
stored = secrets.get_secret_value(SecretId=os.environ["CHARLA_SLACK_SIGNING_SECRET_ARN"])["SecretString"]
key = json.loads(stored)["signing_secret"].encode()
headers = request["headers"]
base = b"v0:" + headers["x-slack-request-timestamp"].encode() + b":" + request["body"].encode()
assert hmac.compare_digest("v0=" + hmac.new(key, base, hashlib.sha256).hexdigest(), headers["x-slack-signature"])
session.create_client("sqs").send_message(QueueUrl=request["queue_url"], MessageBody=request["body"])
elapsed = time.perf_counter() - started
print(json.dumps({"status": 200, "in_process_s": elapsed, "imported_s": imported,
                  "peak_rss_kib": _peak_rss_kib(), "modules": len(sys.modules)}))
"""

CHARLA_CODE = """
import json, sys, time
request = json.loads(sys.stdin.read())
started = time.perf_counter()
from lambda_handler.main import handler
imported = time.perf_counter() - started
class Context:
    function_name = "charla-ingress"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:charla-ingress"
    aws_request_id = "local"
response = handler(request["event"], Context())
elapsed = time.perf_counter() - started
print(json.dumps({"status": response["statusCode"], "in_process_s": elapsed, "imported_s": imported,
                  "peak_rss_kib": _peak_rss_kib(),
                  "modules": len(sys.modules),
                  "heavy": sorted(m for m in ("celery", "kombu", "pydantic", "workers") if m in sys.modules)}))
"""

VARIANTS = ("charla", "charla_source", "physical_floor", "libraries_floor", "alternative")
# Which bundle each variant runs from: the shipped one, or its copy without bytecode.
SOURCE_ONLY = frozenset({"charla_source"})


def _stdin_for(variant: str, stack: DevStack) -> str:
    request = signed_event(app_mention("ping"), stack.signing_secret)
    if variant in ("physical_floor", "libraries_floor"):
        return json.dumps(
            {
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": request.body.decode(),
                "queue_url": stack.queue_url(QueueName.REPLIES),
            }
        )
    if variant == "alternative":
        return json.dumps({"event": apigw_v2_event(request), "slack_api_url": f"{stack.slack_url}/api/"})
    return json.dumps({"event": apigw_v2_event(request)})


def _code_for(variant: str) -> str:
    return {
        "charla": CHARLA_CODE,
        "charla_source": CHARLA_CODE,
        "physical_floor": PHYSICAL_FLOOR_CODE,
        "libraries_floor": floor.COLD_START_CODE,
        "alternative": alternative.COLD_START_CODE,
    }[variant]


class BundleRuns:
    """Fresh runs of each variant from the shipped bundle (or its copy without bytecode) by the
    runtime's Python, refused if a run could write bytecode; the environment holds the secret the
    way each design reads it."""

    def __init__(self, stack: DevStack, bundle: Path, source: Path, secret_arn: str) -> None:
        self.stack = stack
        self.bundle = bundle
        self.source = source
        self.python = runtime_python()
        # The ingress ships botocore alone; the libraries floor and Bolt's adapter are built on boto3.
        self.boto3_overlay = package_overlay(("boto3", "s3transfer"))
        aws_like = {k: v for k, v in stack.env.items() if k != env.SLACK_SIGNING_SECRET}
        self.env_aws = {**aws_like, env.SLACK_SIGNING_SECRET_ARN: secret_arn}  # charla, physical floor: as in AWS
        self.env_plain = dict(stack.env)  # the libraries floor and Bolt read it from the environment

    def environ(self, variant: str, *, endpoint: str | None = None) -> dict[str, str]:
        base = self.env_plain if variant in ("libraries_floor", "alternative") else self.env_aws
        if endpoint:
            base = {**base, env.AWS_ENDPOINT_URL: endpoint}
        overlay = self.boto3_overlay if variant in ("libraries_floor", "alternative") else None
        return bundle_env(base, self.where(variant), overlay=overlay)

    def where(self, variant: str) -> Path:
        return self.source if variant in SOURCE_ONLY else self.bundle

    def run(self, variant: str, *, endpoint: str | None = None) -> dict[str, Any]:
        where = self.where(variant)
        environ = self.environ(variant, endpoint=endpoint)
        check_runnable_as_shipped(where, environ)
        result = run_fresh(
            _code_for(variant),
            env=environ,
            stdin=_stdin_for(variant, self.stack),
            python_args=["-S"],
            cwd=where,
            python=self.python,
        )
        check_runnable_as_shipped(where, environ)  # and it wrote none
        return result


def _median_phases(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Median ms spent importing and then answering the first request (in-process)."""
    imports = [r["imported_s"] * 1000 for r in runs]
    first = [(r["in_process_s"] - r["imported_s"]) * 1000 for r in runs]
    return {"imports": summary(imports)["median"], "first_request": summary(first)["median"]}


def import_offenders(runs: BundleRuns, *, top: int = 12) -> list[dict[str, Any]]:
    """``python -X importtime`` over a cold start from the bundle: top-level packages by cumulative time."""
    completed = subprocess.run(
        [runs.python, "-S", "-X", "importtime", "-c", VMHWM_SNIPPET + CHARLA_CODE],
        input=_stdin_for("charla", runs.stack),
        env=runs.environ("charla"),
        cwd=runs.bundle,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    per_package: dict[str, int] = {}
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    for line in completed.stderr.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        cumulative, name = int(match.group(2)), match.group(4)
        package = name.split(".", 1)[0]
        per_package[package] = max(per_package.get(package, 0), cumulative)
    ranked = sorted(per_package.items(), key=lambda item: -item[1])[:top]
    return [{"package": name, "cumulative_ms": round(us / 1000, 1)} for name, us in ranked]


def aws_calls_at_cold_start(runs: BundleRuns, moto_url: str) -> dict[str, dict[str, int]]:
    """One extra fresh run per variant with a counting proxy in front of moto: its AWS calls by action."""
    counted: dict[str, dict[str, int]] = {}
    with CountingProxy(moto_url) as proxy:
        for variant in VARIANTS:
            proxy.reset()
            runs.run(variant, endpoint=proxy.url)
            counted[variant] = dict(proxy.snapshot())
    runs.stack.empty_queues()
    return counted


def _calls(counts: dict[str, int]) -> str:
    return " + ".join(f"{n} {action.split('.', 1)[-1]}" for action, n in sorted(counts.items())) or "none"


def run(ctx: BenchContext) -> Figure:
    runs_each = 4 if ctx.quick else 15
    results: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    bundle = shipped_ingress_bundle()
    source = source_copy(bundle)
    with DevStack(worker_log_level=WORKER_LOG_LEVEL, worker_queues=[], moto_url=ctx.moto_url) as stack:
        secret_arn = boto3.client("secretsmanager", endpoint_url=ctx.moto_url).create_secret(
            Name=f"charla-bench-{stack.bot_token[-8:]}",
            # The ingress's own secret holds the signing secret alone (the bot token is the workers').
            SecretString=json.dumps({env.SECRET_KEY_SIGNING_SECRET: stack.signing_secret}),
        )["ARN"]
        runs = BundleRuns(stack, bundle, source, secret_arn)
        for variant in VARIANTS:  # one discarded run each: the page cache, as a Lambda's disk
            runs.run(variant)
        for _ in range(runs_each):
            for variant in VARIANTS:
                result = runs.run(variant)
                if result["status"] != 200:
                    raise RuntimeError(f"{variant} answered {result['status']}")
                results[variant].append(result)
            stack.empty_queues()
        offenders = import_offenders(runs)
        calls = aws_calls_at_cold_start(runs, ctx.moto_url)
        runs_python_version = subprocess.run(
            [runs.python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    table = []
    medians: dict[str, float] = {}
    rss: dict[str, float] = {}
    for variant in VARIANTS:
        wall = summary([r["wall_s"] * 1000 for r in results[variant]])
        in_process = summary([r["in_process_s"] * 1000 for r in results[variant]])
        peak = max(r["peak_rss_kib"] for r in results[variant]) / 1024
        medians[variant] = wall["median"]
        rss[variant] = peak
        table.append(
            {
                "variant": variant,
                "runs": len(results[variant]),
                "min_ms": round(wall["min"], 1),
                "median_ms": round(wall["median"], 1),
                "p95_ms": round(wall["p95"], 1),
                "in_handler_median_ms": round(in_process["median"], 1),
                "imports_median_ms": round(_median_phases(results[variant])["imports"], 1),
                "first_request_median_ms": round(_median_phases(results[variant])["first_request"], 1),
                "peak_rss_mib": round(peak, 1),
                "modules_loaded": results[variant][-1]["modules"],
            }
        )
    charla = summary([r["wall_s"] * 1000 for r in results["charla"]])
    heavy = results["charla"][-1].get("heavy", [])
    physical, libraries = medians["physical_floor"], medians["libraries_floor"]
    to_floor = ratio(medians["charla"], physical)
    to_alternative = ratio(medians["charla"], medians["alternative"])
    checks = {
        "<= 1.2x the physical floor": to_floor is not None and to_floor <= 1.2,
        "<= 0.9x Bolt aws_lambda adapter": to_alternative is not None and to_alternative <= 0.9,
        "peak RSS <= 90 MiB": rss["charla"] <= 90,
    }
    goal_met = all(checks.values())
    phases = {v: _median_phases(results[v]) for v in VARIANTS}
    bytecode_saves = medians["charla_source"] - medians["charla"]
    snapstart = summary([(r["in_process_s"] - r["imported_s"]) * 1000 for r in results["charla"]])
    limits = []
    if not checks["<= 1.2x the physical floor"]:
        limits.append(
            f"{to_floor}x the physical floor ({medians['charla']:.0f} ms vs {physical:.0f} ms): imports "
            f"{phases['charla']['imports']:.0f} ms vs {phases['physical_floor']['imports']:.0f} ms, with the "
            f"bytecode the bundle ships (without it charla starts in {medians['charla_source']:.0f} ms); then a "
            f"first request of {phases['charla']['first_request']:.0f} ms vs "
            f"{phases['physical_floor']['first_request']:.0f} ms (the botocore session, the Bolt app, "
            "Mangum/Starlette). "
            f"AWS calls before the first 200: charla {_calls(calls['charla'])}, physical floor "
            f"{_calls(calls['physical_floor'])}"
        )
    if not checks["<= 0.9x Bolt aws_lambda adapter"]:
        limits.append(
            f"{to_alternative}x the Bolt adapter, which imports {phases['alternative']['imports']:.0f} ms and "
            f"answers its first request in {phases['alternative']['first_request']:.0f} ms with AWS calls "
            f"{_calls(calls['alternative'])} (its lambda.invoke is skipped locally, and it reads the secret from "
            "the environment), where charla reads the secret from Secrets Manager and queues the task on SQS "
            "before it acks"
        )
    if not checks["peak RSS <= 90 MiB"]:
        limits.append(f"peak RSS {rss['charla']:.1f} MiB > 90 MiB")
    return Figure(
        number=1,
        name="Ingress cold start from the shipped bundle, no SnapStart (fresh process -> first 200)",
        value=round(charla["median"], 1),
        unit="ms",
        samples=len(results["charla"]),
        goal="<= 1.2x the physical floor, <= 0.9x Bolt aws_lambda adapter, peak RSS <= 90 MiB",
        goal_met=goal_met,
        command=ctx.command("cold_start"),
        min=round(charla["min"], 1),
        median=round(charla["median"], 1),
        p95=round(charla["p95"], 1),
        floor=round(physical, 1),
        alternative=round(medians["alternative"], 1),
        same_effects=round(physical, 1),
        ratio_to_same_effects=to_floor,
        ratio_to_floor=to_floor,
        ratio_to_alternative=to_alternative,
        limits="; ".join(limits),
        table=table,
        notes=[
            f"Every variant runs from the ingress asset as `cdk.out` ships it ({bundle.name[:18]}…): `python -S`, "
            "the bundle alone on the path, PYTHONDONTWRITEBYTECODE=1, and the run refused if the bundle holds "
            "bytecode it was not shipped with (bench.bundles), run by the runtime's Python "
            f"({runs_python_version}). `charla_source` is the same bundle without its bytecode: shipping "
            f"bytecode saves {bytecode_saves:.0f} ms of this cold start.",
            "Wall time from spawning the interpreter to its exit, after printing the first response: interpreter "
            "start, imports, settings, clients, GetSecretValue and one SendMessage to moto. In-handler time is "
            "from the first import to the response.",
            "Goals: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks.items()) + ".",
            f"Floors: physical (stdlib hmac + botocore, GetSecretValue + SendMessage) {physical:.0f} ms; libraries "
            f"(slack_sdk SignatureVerifier + boto3, secret from the environment) {libraries:.0f} ms. The ingress's "
            "same-effects floor is the physical floor: it makes the same two AWS calls.",
            f"SnapStart (the default deploy): import, the Bolt app and the AWS clients are in the snapshot; after a "
            f"restore only the first request runs: {snapstart['median']:.0f} ms median (p95 {snapstart['p95']:.0f} "
            "ms) here, the secret read included. AWS's own restore time comes on top and is not measurable locally.",
            "AWS calls before the first 200 (one extra run each through a counting proxy): "
            + "; ".join(f"{variant} {_calls(counted)}" for variant, counted in calls.items())
            + ".",
            f"Peak RSS (VmHWM) of the charla process: {rss['charla']:.1f} MiB (goal <= 90 MiB).",
            f"Heavy modules loaded by the charla handler: {heavy or 'none'} "
            "(tests/unit/test_import_graph.py keeps it that way).",
            "The alternative builds the boto3 Lambda client its lazy runner needs but cannot call "
            "lambda.invoke locally; it runs the lazy reply in a thread instead (a lower bound on its cost).",
        ],
        extra={
            "import_offenders": offenders,
            "peak_rss_mib": rss,
            "aws_calls": calls,
            "checks": checks,
            "bundle": bundle.name,
            "snapstart_after_restore_ms": {"median": round(snapstart["median"], 1), "p95": round(snapstart["p95"], 1)},
            "bytecode_saves_ms": round(bytecode_saves, 1),
        },
    )
