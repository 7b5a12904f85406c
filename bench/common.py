"""What every figure shares: the result record, statistics, the machine, fresh-process runs,
API Gateway events, and the counting proxy that sits in front of moto."""

import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scripts.slack_requests import SignedRequest

ROOT = Path(__file__).resolve().parent.parent
# Bench workers log as production's do (no -l in workers/celery_worker/docker-entrypoint.sh: Celery's WARNING);
# INFO writes a few lines per task, CPU the figures would charge to charla.
WORKER_LOG_LEVEL = "WARNING"
EVENT_V2_FIXTURE = ROOT / "tests" / "events" / "apigw_v2_post.json"
PACKAGES = (
    "slack-bolt",
    "slack-sdk",
    "starlette",
    "mangum",
    "boto3",
    "botocore",
    "celery",
    "kombu",
    "moto",
    "uvicorn",
    "pydantic",
)


@dataclass
class Figure:
    """One measured figure, as written to benchmarks.json and BENCHMARKS.md."""

    number: int
    name: str
    value: float | None
    unit: str
    samples: int
    goal: str
    goal_met: bool | None
    command: str
    min: float | None = None
    median: float | None = None
    p95: float | None = None
    floor: float | None = None  # the physical floor: the least work the job needs
    alternative: float | None = None
    ratio_to_floor: float | None = None
    ratio_to_alternative: float | None = None
    # The same-effects floor: charla's own effects (the same AWS calls and Slack post) in plain
    # boto3 with no framework. charla / it = the framework's tax; it / floor = the design's cost.
    same_effects: float | None = None
    ratio_to_same_effects: float | None = None
    limits: str = ""  # what limits it, when the goal is not met
    table: list[dict[str, Any]] = field(default_factory=list)  # every variant measured
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported p99 is a value that happened)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """min / median / p95 / p99 / max of ``values``."""
    return {
        "n": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
    }


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return round(value / reference, 3)


def machine() -> dict[str, Any]:
    """Cores, CPU, Python and the package versions the numbers were measured with."""
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


# -- fresh processes ------------------------------------------------------------------------------

VMHWM_SNIPPET = """
def _peak_rss_kib():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    return 0
"""


def run_fresh(
    code: str,
    *,
    env: Mapping[str, str],
    stdin: str = "",
    timeout: float = 60.0,
    python_args: Sequence[str] = (),
    cwd: Path = ROOT,
    python: str = sys.executable,
) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (``python``); it prints one JSON line last. Adds ``wall_s``: spawn to exit.

    ``python_args`` go before ``-c`` (``-S``: no site-packages, the bundle alone on the path).
    """
    started = time.perf_counter()
    completed = subprocess.run(
        [python, *python_args, "-c", VMHWM_SNIPPET + code],
        input=stdin,
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"fresh process failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def apigw_v2_event(request: SignedRequest, *, path: str = "/slack/events") -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event carrying ``request``, from the tests' fixture."""
    event: dict[str, Any] = json.loads(EVENT_V2_FIXTURE.read_text())
    event["headers"].update({name.lower(): value for name, value in request.headers.items()})
    event["body"] = request.body.decode()
    event["isBase64Encoded"] = False
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    return event


# -- process CPU --------------------------------------------------------------------------------


def group_cpu_seconds(pgid: int) -> float:
    """user+system CPU seconds of every live process in process group ``pgid`` (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is state (field 3); pgrp is field 5, utime 14, stime 15, cutime 16, cstime 17
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / ticks


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by named process groups, this process, and the rest of the machine, over a window."""

    def __init__(self, groups: Mapping[str, int]) -> None:
        self.groups = dict(groups)
        self._start: dict[str, float] = {}
        self._at = 0.0

    def _read(self) -> dict[str, float]:
        times = os.times()
        return {
            **{name: group_cpu_seconds(pgid) for name, pgid in self.groups.items()},
            "bench (senders)": times.user + times.system,
            "machine": machine_busy_seconds(),
        }

    def start(self) -> None:
        self._start, self._at = self._read(), time.monotonic()

    def stop(self) -> dict[str, float]:
        """CPU-seconds per wall second of each, plus ``other processes`` (the machine minus ours)."""
        end, elapsed = self._read(), max(time.monotonic() - self._at, 1e-9)
        used = {name: (end[name] - self._start[name]) / elapsed for name in end}
        machine = used.pop("machine")
        used["other processes on the machine"] = max(0.0, machine - sum(used.values()))
        return {name: round(value, 2) for name, value in used.items()}


# -- counting proxy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxiedCall:
    """One DynamoDB request seen by the proxy: when it arrived, its action, its JSON body and how
    long moto took to answer it (seen from the proxy)."""

    at: float
    action: str
    body: dict[str, Any]
    seconds: float = 0.0


class CountingProxy:
    """A plain HTTP proxy in front of moto that counts AWS API calls by action.

    The worker's and the ingress's ``AWS_ENDPOINT_URL`` point here; boto3 (JSON protocol, action in
    ``X-Amz-Target``) and query-protocol clients (``Action=`` in the form) are both understood.
    With ``keep_dynamodb`` it also keeps every DynamoDB request (time, action, body), from which
    the bench counts transactions and write units per event (``write_units``). ``latency_s``
    holds each call of an action that long before forwarding it (keys as counted, e.g.
    ``DynamoDB.GetItem``, ``AmazonSQS.SendMessage``); kept calls are timed after that hold.
    """

    def __init__(
        self, upstream: str, *, keep_dynamodb: bool = False, latency_s: Mapping[str, float] | None = None
    ) -> None:
        target = urlsplit(upstream)
        added = dict(latency_s or {})
        self.upstream_host = target.hostname or "127.0.0.1"
        self.upstream_port = target.port or 80
        self.counts: Counter[str] = Counter()
        self.dynamodb_calls: list[ProxiedCall] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                # JSON protocol: "AmazonSQS.ReceiveMessage", "DynamoDB_20120810.PutItem".
                action = (self.headers.get("X-Amz-Target") or "").replace("DynamoDB_20120810.", "DynamoDB.")
                if not action and body:  # query protocol (SQS only, for older clients)
                    name = dict(parse_qsl(body.decode(errors="replace"))).get("Action", "")
                    action = f"AmazonSQS.{name}" if name else ""
                with proxy.lock:
                    proxy.counts[action or f"{self.command} {self.path.split('?')[0]}"] += 1
                if added.get(action):
                    time.sleep(added[action])  # the network and service time AWS adds (bench/aws_latency.py)
                arrived = time.time()
                connection = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                    if keep_dynamodb and action.startswith("DynamoDB."):
                        call = ProxiedCall(
                            arrived,
                            action.removeprefix("DynamoDB."),
                            json.loads(body or b"{}"),
                            time.time() - arrived,
                        )
                        with proxy.lock:
                            proxy.dynamodb_calls.append(call)
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    connection.close()

            do_POST = _forward  # noqa: N815 - http.server's method names
            do_GET = _forward  # noqa: N815

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a long poll cut when moto stops at the end of a run: nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "CountingProxy":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.dynamodb_calls.clear()

    def calls(self) -> list[ProxiedCall]:
        with self.lock:
            return list(self.dynamodb_calls)


def sqs_requests(counts: Mapping[str, int]) -> int:
    """SQS API calls among everything the proxy counted."""
    return sum(n for action, n in counts.items() if action.startswith("AmazonSQS."))


def by_service(counts: Mapping[str, int], prefix: str) -> dict[str, int]:
    """The counts of one service's actions, prefix removed (``AmazonSQS.``, ``DynamoDB.``)."""
    return {action.removeprefix(prefix): n for action, n in sorted(counts.items()) if action.startswith(prefix)}


# -- counting AWS calls in a process --------------------------------------------------------------


def count_aws_calls() -> list[str]:
    """Wrap every botocore client's ``_make_api_call`` in this process; returns the list it appends
    ``"<service>.<operation>"`` to on each call (the count the ingress budget is checked against)."""
    from botocore.client import BaseClient

    calls: list[str] = []
    original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private in the type stubs

    def counted(self: Any, operation_name: str, api_params: Any) -> Any:
        calls.append(f"{self.meta.service_model.service_name}.{operation_name}")
        return original(self, operation_name, api_params)

    setattr(BaseClient, "_make_api_call", counted)  # noqa: B010
    return calls


# -- DynamoDB write units -------------------------------------------------------------------------


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB bills for one attribute value (its sizing rules, close enough for < 1 KB items)."""
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "B":
        return len(str(raw)) * 3 // 4
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in raw)
    return sum(len(str(v).encode()) for v in raw)  # SS / NS / BS


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes of a DynamoDB item in wire form (attribute names + values)."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def item_key(table_key: Mapping[str, Any]) -> str:
    return json.dumps(table_key, sort_keys=True)


def written_items(call: ProxiedCall) -> list[tuple[str, int, bool]]:
    """``(key, size known from the request, transactional)`` for each item ``call`` writes."""
    body = call.body
    if call.action == "TransactWriteItems":
        found = []
        for entry in body.get("TransactItems", []):
            kind, op = next(iter(entry.items()))
            if kind == "ConditionCheck":
                continue
            item = op.get("Item") or {}
            key = op.get("Key") or {name: item[name] for name in ("pk", "sk", "id") if name in item}
            found.append((item_key(key), item_size(item), True))
        return found
    if call.action == "PutItem":
        item = body.get("Item") or {}
        return [(item_key({n: item[n] for n in ("pk", "sk", "id") if n in item}), item_size(item), False)]
    if call.action in ("UpdateItem", "DeleteItem"):
        return [(item_key(body.get("Key") or {}), 0, False)]
    if call.action == "BatchWriteItem":
        return [
            (
                item_key({n: r["PutRequest"]["Item"][n] for n in ("pk", "sk") if n in r["PutRequest"]["Item"]}),
                item_size(r["PutRequest"]["Item"]),
                False,
            )
            for requests in body.get("RequestItems", {}).values()
            for r in requests
            if "PutRequest" in r
        ]
    return []


def write_units(call: ProxiedCall, stored_sizes: Mapping[str, int]) -> int:
    """Write request units ``call`` costs on demand: 1 per KB per item written, 2 in a transaction.

    An update's size is the item's stored size (read after the run; counters only grow), a put's
    is the larger of the request's item and the stored one.
    """
    units = 0
    for key, size, transactional in written_items(call):
        kib = max(1, -(-max(size, stored_sizes.get(key, 0)) // 1024))
        units += kib * (2 if transactional else 1)
    return units


def stored_item_sizes(client: Any, table: str) -> dict[str, int]:
    """Size of every item of ``table`` now, by ``item_key`` (a Scan, for after a run)."""
    sizes: dict[str, int] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            sizes[item_key({n: item[n] for n in ("pk", "sk", "id") if n in item})] = item_size(item)
    return sizes
