"""What charla costs on AWS per month at rest and per million events, from the synthesized template.

    python -m scripts.cost                      # cdk.out/*.template.json if present, else the default shape
    python -m scripts.cost --template path.json --json

Prices are published us-east-1 on-demand prices kept below as dated constants. The basis (one
for every figure the docs quote): the stack alone in its account, so CloudWatch's always-free
allowance (10 alarm metrics, 10 custom metrics, 3 dashboards, never expiring) is counted once, as
its own negative line; no 12-month free tier. The deploy shape (Lambda memory, Fargate services and
their minimum tasks, queues, tables, secrets, alarms, NAT gateways, endpoints, public IPs) is read
from the CloudFormation template, which also names the profile it was built with; without one, it
is the documented default from ``infra/config.py`` and the result says so. Per-event figures take
measured inputs (SQS requests per task, worker tasks per CPU-second) from the benchmarks when
given, else the defaults below.
"""

import argparse
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from contract.environment import WORKER_QUEUES
from contract.metrics import NAMESPACE_VARIABLE as METRICS_NAMESPACE_VARIABLE
from contract.queues import QueueName
from contract.tasks import TaskName, queue_for

ROOT = Path(__file__).resolve().parent.parent
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60

# Container Insights (ECS, Fargate) metric names per dimension set, from the ECS Container
# Insights metric list: 8 resource metrics (CPU/memory utilised and reserved, network rx/tx,
# storage read/write) per cluster, service and task family, plus counts. Published only while
# something runs. The counts are an assumption to check against a bill; the price is dated above.
INSIGHTS_RESOURCE_METRICS = 8
INSIGHTS_CLUSTER_METRICS = INSIGHTS_RESOURCE_METRICS + 2  # + ServiceCount, TaskCount
INSIGHTS_SERVICE_METRICS = INSIGHTS_RESOURCE_METRICS + 5  # + Desired/Running/Pending/Deployment/TaskSet
INSIGHTS_TASK_FAMILY_METRICS = INSIGHTS_RESOURCE_METRICS
# The workers' own EMF metrics at rest (contract/metrics.py): one WorkerHeartbeat per consumed queue
# while a worker runs, and per task that runs (the scheduled refresh) its outcome, run time and
# queue wait. Also billed per hour published.
WORKER_HEARTBEAT_METRICS = 1
TASK_RUN_METRICS = 3

# CloudWatch's always-free allowance per account (https://aws.amazon.com/cloudwatch/pricing/,
# "Free tier": not the 12-month trial), counted once because the basis is an account of its own.
FREE_ALARM_METRICS = 10
FREE_CUSTOM_METRICS = 10
FREE_DASHBOARDS = 3
ALLOWANCE_LINE = "CloudWatch always-free allowance"

# One wake-up of a service at zero (the hourly agenda refresh): the wake alarm's 1-minute period,
# ~1 minute to place the task and pull the image, ~1 minute of work, then the scale-in alarm's
# quiet minutes (infra/constructs/worker_service.py SCALE_IN_PERIODS; a test keeps them equal).
WAKE_ALARM_MINUTES = 1
WAKE_START_MINUTES = 1
WAKE_WORK_MINUTES = 1
SCALE_IN_QUIET_MINUTES = 5
WAKE_MINUTES = WAKE_ALARM_MINUTES + WAKE_START_MINUTES + WAKE_WORK_MINUTES + SCALE_IN_QUIET_MINUTES


@dataclass(frozen=True)
class Price:
    """One published price: value in USD per ``unit``, as read on ``as_of`` from ``source``."""

    value: float
    unit: str
    as_of: str
    source: str


_FARGATE = "https://aws.amazon.com/fargate/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
PRICES: dict[str, Price] = {
    "fargate_arm_vcpu_hour": Price(0.03238, "vCPU-hour", "2024-01", _FARGATE),
    "fargate_arm_gb_hour": Price(0.00356, "GB-hour", "2024-01", _FARGATE),
    "fargate_x86_vcpu_hour": Price(0.04048, "vCPU-hour", "2024-01", _FARGATE),
    "fargate_x86_gb_hour": Price(0.004445, "GB-hour", "2024-01", _FARGATE),
    # Spot prices move with capacity; AWS quotes "up to 70% off". Modelled as 30% of on-demand.
    "fargate_spot_fraction": Price(0.30, "fraction of on-demand", "2024-01", _FARGATE),
    "sqs_per_million_requests": Price(
        0.40, "1M requests (64 KB chunks)", "2024-01", "https://aws.amazon.com/sqs/pricing/"
    ),
    "lambda_arm_gb_second": Price(0.0000133334, "GB-second", "2024-01", _LAMBDA),
    "lambda_x86_gb_second": Price(0.0000166667, "GB-second", "2024-01", _LAMBDA),
    "lambda_per_million_requests": Price(0.20, "1M requests", "2024-01", _LAMBDA),
    "lambda_snapstart_cache_gb_second": Price(0.0000015046, "GB-second cached", "2024-11", _LAMBDA),
    "lambda_snapstart_restore_gb": Price(0.0001397998, "GB restored", "2024-11", _LAMBDA),
    "apigw_http_per_million": Price(
        1.00, "1M requests (first 300M)", "2024-01", "https://aws.amazon.com/api-gateway/pricing/"
    ),
    "dynamodb_per_million_wru": Price(
        0.625, "1M write request units", "2024-11", "https://aws.amazon.com/dynamodb/pricing/on-demand/"
    ),
    "dynamodb_per_million_rru": Price(
        0.125, "1M read request units", "2024-11", "https://aws.amazon.com/dynamodb/pricing/on-demand/"
    ),
    "dynamodb_storage_gb_month": Price(
        0.25, "GB-month", "2024-11", "https://aws.amazon.com/dynamodb/pricing/on-demand/"
    ),
    "secrets_manager_secret_month": Price(
        0.40, "secret-month", "2024-01", "https://aws.amazon.com/secrets-manager/pricing/"
    ),
    # A metric-math alarm is billed per metric it reads (the expression itself is free).
    "cloudwatch_alarm_month": Price(
        0.10, "standard alarm metric-month", "2024-01", "https://aws.amazon.com/cloudwatch/pricing/"
    ),
    # Container Insights metrics are custom metrics; one published at least once an hour is billed
    # as a whole month (hourly proration), so a service woken every hour pays in full.
    "cloudwatch_custom_metric_month": Price(
        0.30, "custom metric-month (first 10k)", "2024-01", "https://aws.amazon.com/cloudwatch/pricing/"
    ),
    # Each account has 3 dashboards (up to 50 metrics) always free; counted here as if those are used.
    "cloudwatch_dashboard_month": Price(
        3.00, "dashboard-month", "2024-01", "https://aws.amazon.com/cloudwatch/pricing/"
    ),
    "cloudwatch_logs_ingest_gb": Price(0.50, "GB ingested", "2024-01", "https://aws.amazon.com/cloudwatch/pricing/"),
    "public_ipv4_hour": Price(0.005, "public IPv4 address-hour", "2024-02-01", "https://aws.amazon.com/vpc/pricing/"),
    "nat_gateway_hour": Price(0.045, "NAT gateway-hour", "2024-01", "https://aws.amazon.com/vpc/pricing/"),
    "interface_endpoint_hour": Price(
        0.01, "endpoint-AZ-hour", "2024-01", "https://aws.amazon.com/privatelink/pricing/"
    ),
    "ecr_storage_gb_month": Price(0.10, "GB-month", "2024-01", "https://aws.amazon.com/ecr/pricing/"),
}


@dataclass(frozen=True)
class WorkerService:
    """One Fargate service of workers."""

    name: str
    cpu_units: int
    memory_mb: int
    min_tasks: int
    max_tasks: int
    arm64: bool = True
    spot: bool = False
    public_ip: bool = True
    wakeups_per_month: float = 0.0  # starts from zero each month (scheduled work on its queue)

    def hourly(self) -> float:
        arch = "arm" if self.arm64 else "x86"
        price = (
            self.cpu_units / 1024 * PRICES[f"fargate_{arch}_vcpu_hour"].value
            + self.memory_mb / 1024 * PRICES[f"fargate_{arch}_gb_hour"].value
        )
        return price * (PRICES["fargate_spot_fraction"].value if self.spot else 1.0)


@dataclass(frozen=True)
class DeployShape:
    """The billable parts of one deploy."""

    source: str
    lambda_memory_mb: int = 256
    lambda_arm64: bool = True
    lambda_snap_start: bool = True
    http_api: bool = True
    services: tuple[WorkerService, ...] = ()
    queues: int = 4
    tables: int = 2
    secrets: int = 2  # the signing secret (ingress) and the bot token (workers)
    alarms: int = 7
    alarm_metrics: int = 7  # what alarms are billed by: one per plain alarm, one per metric read
    dashboards: int = 0
    profile: str = "default"  # the deploy profile the template was built with (its charla metadata)
    event_sources: int = 0  # queues on the Lambda executor (SQS event source mappings)
    executor_memory_mb: int = 512
    container_insights: bool = False
    worker_metrics: bool = False  # workers emit EMF metrics (heartbeats, task outcomes; contract/metrics.py)
    scheduled_runs_per_month: float = 0.0  # scheduled tasks (the agenda refresh)
    nat_gateways: int = 0
    interface_endpoint_azs: int = 0
    image_gb: float = 0.2  # the worker image in ECR

    def scaled_to_zero(self) -> "DeployShape":
        """The same deploy with every worker service allowed to stop (min 0 tasks)."""
        return replace(
            self, source=self.source + ", workers min 0", services=tuple(replace(s, min_tasks=0) for s in self.services)
        )


@dataclass(frozen=True)
class Usage:
    """Per-event inputs; the defaults are assumptions, the bench replaces them with measurements."""

    sqs_requests_per_task: float = 2.0  # measured by bench figure 5
    worker_tasks_per_cpu_second: float = 180.0  # measured by bench figure 4 (default settings)
    ingress_billed_ms: float = 20.0  # warm ack incl. one SendMessage in-region (assumption, 2026-11)
    cold_start_fraction: float = 0.01  # share of invocations that start an environment (assumption)
    cold_init_ms: float = 300.0  # billed INIT per cold start (Lambda bills INIT since 2025-08)
    dynamodb_wru_per_event: float = 4.0  # a counted command: TransactWriteItems of 2 items, 2 WRU each
    log_bytes_per_event: float = 1000.0  # START/END/REPORT + one structured line per hop (assumption)
    slack_call_ms: float = 150.0  # one chat.postMessage round trip from AWS (assumption, 2026-11)
    lambda_invoke_ms: float = 15.0  # an async lambda.invoke from inside Lambda (assumption)


@dataclass
class Estimate:
    """Monthly cost at rest and per million events, line by line."""

    design: str
    shape_source: str
    at_rest: dict[str, float] = field(default_factory=dict)
    per_million_events: dict[str, float] = field(default_factory=dict)

    @property
    def at_rest_total(self) -> float:
        return round(sum(self.at_rest.values()), 2)

    @property
    def per_million_total(self) -> float:
        return round(sum(self.per_million_events.values()), 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "design": self.design,
            "shape_source": self.shape_source,
            "at_rest_usd_month": self.at_rest_total,
            "per_million_events_usd": self.per_million_total,
            "at_rest": {k: round(v, 3) for k, v in self.at_rest.items()},
            "per_million_events": {k: round(v, 3) for k, v in self.per_million_events.items()},
        }


# -- reading the template -------------------------------------------------------------------------


def find_template(root: Path = ROOT) -> Path | None:
    """The synthesized charla stack template (``make synth``), if there is one."""
    candidates = sorted((root / "cdk.out").glob("*.template.json"))
    charla = [path for path in candidates if "charla" in path.name.lower()]
    found = charla or candidates
    return found[0] if found else None


def _refs(value: Any) -> Iterator[str]:
    """Every logical id a CloudFormation value points at (Ref / Fn::GetAtt), recursively."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt" and isinstance(inner, list) and inner:
                yield str(inner[0])
            else:
                yield from _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _refs(inner)


def shape_from_template(template: Mapping[str, Any], *, source: str) -> DeployShape:
    """The billable shape of a synthesized template."""
    resources: dict[str, Any] = template.get("Resources", {})
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, resource in resources.items():
        by_type.setdefault(resource.get("Type", ""), []).append((logical_id, resource.get("Properties", {})))

    functions = by_type.get("AWS::Lambda::Function", [])
    ingress = next(
        (p for _, p in functions if "lambda_handler" in str(p.get("Handler", ""))), functions[0][1] if functions else {}
    )
    scaling: dict[str, tuple[int, int]] = {}
    for _, props in by_type.get("AWS::ApplicationAutoScaling::ScalableTarget", []):
        for ref in _refs(props.get("ResourceId")):
            scaling[ref] = (int(props.get("MinCapacity", 0)), int(props.get("MaxCapacity", 1)))
    task_definitions = dict(by_type.get("AWS::ECS::TaskDefinition", []))
    wakeups = _scheduled_wakeups_per_month(by_type.get("AWS::Events::Rule", []))
    services = []
    for logical_id, props in by_type.get("AWS::ECS::Service", []):
        task_def = next((task_definitions[r] for r in _refs(props.get("TaskDefinition")) if r in task_definitions), {})
        platform = task_def.get("RuntimePlatform", {})
        strategy = props.get("CapacityProviderStrategy", [])
        spot = any(
            item.get("CapacityProvider") == "FARGATE_SPOT" and int(item.get("Weight", 0)) > 0 for item in strategy
        ) and not any(item.get("CapacityProvider") == "FARGATE" and int(item.get("Base", 0)) > 0 for item in strategy)
        network = props.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
        desired = int(props.get("DesiredCount", 1))
        min_tasks, max_tasks = scaling.get(logical_id, (desired, desired))
        consumes = _consumed_queues(task_def)
        services.append(
            WorkerService(
                name=logical_id,
                cpu_units=int(task_def.get("Cpu", 256)),
                memory_mb=int(task_def.get("Memory", 512)),
                min_tasks=min_tasks,
                max_tasks=max_tasks,
                arm64=platform.get("CpuArchitecture", "X86_64") == "ARM64",
                spot=spot,
                public_ip=network.get("AssignPublicIp") == "ENABLED",
                wakeups_per_month=wakeups if min_tasks == 0 and _AGENDA_QUEUE in consumes else 0.0,
            )
        )
    endpoint_azs = sum(
        len(p.get("SubnetIds", [])) or 1
        for _, p in by_type.get("AWS::EC2::VPCEndpoint", [])
        if p.get("VpcEndpointType") == "Interface"
    )
    executor_functions = [p for _, p in functions if "lambda_executor" in str(p.get("Handler", ""))]
    return DeployShape(
        source=source,
        profile=str(template.get("Metadata", {}).get("charla", {}).get("profile") or "default"),
        event_sources=len(by_type.get("AWS::Lambda::EventSourceMapping", [])),
        executor_memory_mb=int(executor_functions[0].get("MemorySize", 512)) if executor_functions else 512,
        lambda_memory_mb=int(ingress.get("MemorySize", 128)),
        lambda_arm64="arm64" in ingress.get("Architectures", ["x86_64"]),
        lambda_snap_start=ingress.get("SnapStart", {}).get("ApplyOn") == "PublishedVersions",
        http_api=bool(by_type.get("AWS::ApiGatewayV2::Api")),
        services=tuple(services),
        queues=len(by_type.get("AWS::SQS::Queue", [])),
        tables=len(by_type.get("AWS::DynamoDB::Table", [])) + len(by_type.get("AWS::DynamoDB::GlobalTable", [])),
        secrets=len(by_type.get("AWS::SecretsManager::Secret", [])),
        alarms=len(by_type.get("AWS::CloudWatch::Alarm", [])),
        alarm_metrics=sum(_alarm_metrics(p) for _, p in by_type.get("AWS::CloudWatch::Alarm", [])),
        dashboards=len(by_type.get("AWS::CloudWatch::Dashboard", [])),
        worker_metrics=any(
            METRICS_NAMESPACE_VARIABLE
            in {v.get("Name") for c in t.get("ContainerDefinitions", []) for v in c.get("Environment", [])}
            for t in task_definitions.values()
        ),
        scheduled_runs_per_month=wakeups,
        container_insights=any(
            setting.get("Name") == "containerInsights" and setting.get("Value") in ("enabled", "enhanced")
            for _, p in by_type.get("AWS::ECS::Cluster", [])
            for setting in p.get("ClusterSettings", [])
        ),
        nat_gateways=len(by_type.get("AWS::EC2::NatGateway", [])),
        interface_endpoint_azs=endpoint_azs,
    )


# The queue the scheduled agenda refresh lands on (its service is woken by the schedule).
_AGENDA_QUEUE = queue_for(TaskName.REFRESH_AGENDA).value


def _consumed_queues(task_definition: Mapping[str, Any]) -> set[str]:
    """Queues a worker task definition consumes (its ``CHARLA_WORKER_QUEUES`` variable)."""
    queues: set[str] = set()
    for container in task_definition.get("ContainerDefinitions", []):
        for variable in container.get("Environment", []):
            if variable.get("Name") == WORKER_QUEUES and isinstance(variable.get("Value"), str):
                queues |= {q.strip() for q in variable["Value"].split(",")}
    return queues


def _scheduled_wakeups_per_month(rules: list[tuple[str, dict[str, Any]]]) -> float:
    """How often a month the schedule rules fire (``rate(...)`` expressions; cron is not read)."""
    unit_minutes = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}
    total = 0.0
    for _, props in rules:
        found = re.fullmatch(r"rate\((\d+) (\w+)\)", str(props.get("ScheduleExpression", "")))
        if found and props.get("State", "ENABLED") == "ENABLED":
            total += MINUTES_PER_MONTH / (int(found[1]) * unit_minutes[found[2]])
    return total


def _alarm_metrics(props: Mapping[str, Any]) -> int:
    """Billed metrics of one alarm: 1 for a plain alarm, else each metric a math alarm reads."""
    metrics = props.get("Metrics")
    if not metrics:
        return 1
    return sum(1 for item in metrics if "MetricStat" in item)


def default_shape() -> DeployShape:
    """The documented default deploy (infra/config.py defaults), for when no template is synthesized.

    Assumed where the config is silent: workers in public subnets with a public IPv4 each (no NAT
    gateway), 4 queues (2 + their DLQs), 2 tables, 1 secret, 7 alarms (scale out/in per service,
    2 DLQ alarms, 1 Lambda errors).
    """
    try:
        from infra.config import CharlaConfig
    except ImportError:  # infra/ not importable: the same numbers, written down
        return DeployShape(
            source="documented default shape (constants; infra.config not importable)",
            services=(WorkerService("replies", 256, 512, 1, 4), WorkerService("bulk", 256, 512, 0, 2)),
        )
    config = CharlaConfig()
    services = tuple(
        WorkerService(
            name=str(queue),
            cpu_units=config.worker_cpu,
            memory_mb=config.worker_memory_mb,
            min_tasks=scaling.min_tasks,
            max_tasks=scaling.max_tasks,
            arm64=config.arm64,
            spot=config.fargate_spot,
        )
        for queue, scaling in config.scaling.items()
    )
    return DeployShape(
        source="documented default shape (infra/config.py CharlaConfig defaults; no template in cdk.out)",
        lambda_memory_mb=config.lambda_memory_mb,
        lambda_snap_start=config.lambda_snap_start,
        services=services,
    )


def load_shape(template_path: Path | None = None) -> DeployShape:
    path = template_path or find_template()
    if path and path.exists():
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        return shape_from_template(json.loads(path.read_text()), source=f"template {shown}")
    return default_shape()


# -- the models -----------------------------------------------------------------------------------


def _lambda_gb_second(arm64: bool) -> float:
    return PRICES["lambda_arm_gb_second" if arm64 else "lambda_x86_gb_second"].value


def charla_estimate(
    shape: DeployShape, usage: Usage = Usage(), executor: "ExecutorUsage | None" = None, *, design: str = "charla"
) -> Estimate:
    """Monthly cost at rest and per million events of charla deployed as ``shape``.

    Queues on the Lambda executor (``shape.event_sources``) add the event source's idle polls at
    rest, and per event the executor's invocation and SQS requests instead of Fargate task time.
    """
    executor = executor or ExecutorUsage()
    p = {name: price.value for name, price in PRICES.items()}
    estimate = Estimate(design=design, shape_source=shape.source)
    rest = estimate.at_rest
    warm_tasks = [s for s in shape.services if s.min_tasks > 0]
    rest["fargate workers"] = sum(s.min_tasks * s.hourly() for s in shape.services) * HOURS_PER_MONTH
    rest["public IPv4 (running tasks)"] = (
        sum(s.min_tasks for s in shape.services if s.public_ip) * p["public_ipv4_hour"] * HOURS_PER_MONTH
    )
    woken = [s for s in shape.services if s.min_tasks == 0 and s.wakeups_per_month > 0]
    wake_hours = [s.wakeups_per_month * WAKE_MINUTES / 60 for s in woken]
    rest["scheduled wake-ups (agenda refresh)"] = sum(
        hours * (s.hourly() + (p["public_ipv4_hour"] if s.public_ip else 0.0))
        for s, hours in zip(woken, wake_hours, strict=True)
    )
    # Custom metrics are billed for each hour they are published in: a warm service all month, a
    # service woken by the schedule for the share of hours that see a wake-up (all of them when
    # hourly or more often).
    published = [
        1.0 if svc.min_tasks > 0 else min(1.0, svc.wakeups_per_month / HOURS_PER_MONTH) for svc in shape.services
    ]
    insights_metrics = (
        INSIGHTS_CLUSTER_METRICS * max(published, default=0.0)
        + sum(published) * (INSIGHTS_SERVICE_METRICS + INSIGHTS_TASK_FAMILY_METRICS)
        if shape.container_insights
        else 0.0
    )
    rest["Container Insights metrics"] = insights_metrics * p["cloudwatch_custom_metric_month"]
    worker_metrics = (
        sum(published) * WORKER_HEARTBEAT_METRICS
        + min(1.0, shape.scheduled_runs_per_month / HOURS_PER_MONTH) * TASK_RUN_METRICS
        if shape.worker_metrics
        else 0.0
    )
    rest["worker metrics (heartbeats, scheduled task)"] = worker_metrics * p["cloudwatch_custom_metric_month"]
    rest["NAT gateways"] = shape.nat_gateways * p["nat_gateway_hour"] * HOURS_PER_MONTH
    rest["interface endpoints"] = shape.interface_endpoint_azs * p["interface_endpoint_hour"] * HOURS_PER_MONTH
    # An idle worker holds one 20 s long poll open per consumed queue: 180 receives an hour.
    rest["SQS idle long polls"] = (
        sum(s.min_tasks for s in warm_tasks) * 180 * HOURS_PER_MONTH * p["sqs_per_million_requests"] / 1e6
    )
    rest["secrets"] = shape.secrets * p["secrets_manager_secret_month"]
    rest["alarms"] = shape.alarm_metrics * p["cloudwatch_alarm_month"]
    rest["dashboards"] = shape.dashboards * p["cloudwatch_dashboard_month"]
    gb = shape.lambda_memory_mb / 1024
    rest["Lambda SnapStart cache"] = (
        gb * SECONDS_PER_MONTH * p["lambda_snapstart_cache_gb_second"] if shape.lambda_snap_start else 0.0
    )
    rest["ECR image"] = shape.image_gb * p["ecr_storage_gb_month"] if shape.services else 0.0
    if shape.event_sources:
        rest["SQS event source idle polls"] = (
            shape.event_sources * executor.idle_pollers * 3 * 60 * HOURS_PER_MONTH * p["sqs_per_million_requests"] / 1e6
        )
    custom_metrics = insights_metrics + worker_metrics
    rest[ALLOWANCE_LINE] = -(
        min(shape.alarm_metrics, FREE_ALARM_METRICS) * p["cloudwatch_alarm_month"]
        + min(custom_metrics, FREE_CUSTOM_METRICS) * p["cloudwatch_custom_metric_month"]
        + min(shape.dashboards, FREE_DASHBOARDS) * p["cloudwatch_dashboard_month"]
    )

    per = estimate.per_million_events
    per["API Gateway HTTP API"] = p["apigw_http_per_million"] if shape.http_api else 0.0
    per["Lambda requests"] = p["lambda_per_million_requests"]
    per["Lambda duration"] = 1e6 * gb * usage.ingress_billed_ms / 1000 * _lambda_gb_second(shape.lambda_arm64)
    cold = 1e6 * usage.cold_start_fraction
    per["Lambda cold starts"] = cold * (
        gb * p["lambda_snapstart_restore_gb"]
        if shape.lambda_snap_start
        else gb * usage.cold_init_ms / 1000 * _lambda_gb_second(shape.lambda_arm64)
    )
    per["SQS requests"] = usage.sqs_requests_per_task * p["sqs_per_million_requests"]
    service = shape.services[0] if shape.services else WorkerService("worker", 256, 512, 1, 1)
    task_seconds = 1e6 / (usage.worker_tasks_per_cpu_second * service.cpu_units / 1024)
    per["Fargate task time (scale-out)"] = task_seconds / 3600 * service.hourly()
    per["DynamoDB writes"] = usage.dynamodb_wru_per_event * p["dynamodb_per_million_wru"]
    per["CloudWatch Logs"] = usage.log_bytes_per_event * 1e6 / 1e9 * p["cloudwatch_logs_ingest_gb"]
    if shape.event_sources:  # replies on the Lambda executor: an invocation per event, no task time
        per.pop("Fargate task time (scale-out)", None)
        per["SQS requests"] = executor.sqs_requests_per_task * p["sqs_per_million_requests"]
        executor_gb = shape.executor_memory_mb / 1024
        per["Executor Lambda requests"] = p["lambda_per_million_requests"]
        per["Executor Lambda duration"] = 1e6 * executor_gb * executor.billed_ms / 1000 * _lambda_gb_second(True)
        per["Executor cold starts"] = (
            1e6 * usage.cold_start_fraction * executor_gb * usage.cold_init_ms / 1000 * _lambda_gb_second(True)
        )
    return estimate


def without_allowance(estimate: Estimate) -> float:
    """The at-rest total in an account whose CloudWatch allowance other stacks already use."""
    return round(estimate.at_rest_total - estimate.at_rest.get(ALLOWANCE_LINE, 0.0), 2)


def bolt_lambda_estimate(usage: Usage = Usage(), *, memory_mb: int = 256, arm64: bool = True) -> Estimate:
    """Bolt's aws_lambda adapter with a lazy listener: two invocations per event, nothing at rest.

    Same features, so the same DynamoDB writes and logs; one secret for the Slack credentials.
    """
    p = {name: price.value for name, price in PRICES.items()}
    estimate = Estimate(
        design="Bolt aws_lambda adapter + lazy listener",
        shape_source=f"API Gateway HTTP API + one {memory_mb} MB Lambda invoking itself",
    )
    estimate.at_rest["secrets"] = p["secrets_manager_secret_month"]
    gb = memory_mb / 1024
    per = estimate.per_million_events
    per["API Gateway HTTP API"] = p["apigw_http_per_million"]
    per["Lambda requests (ack + lazy self-invoke)"] = 2 * p["lambda_per_million_requests"]
    billed_s = (usage.ingress_billed_ms + usage.lambda_invoke_ms + usage.slack_call_ms) / 1000
    per["Lambda duration"] = 1e6 * gb * billed_s * _lambda_gb_second(arm64)
    per["Lambda cold starts"] = (
        2 * 1e6 * usage.cold_start_fraction * gb * usage.cold_init_ms / 1000 * _lambda_gb_second(arm64)
    )
    per["DynamoDB writes"] = usage.dynamodb_wru_per_event * p["dynamodb_per_million_wru"]
    per["CloudWatch Logs"] = usage.log_bytes_per_event * 1e6 / 1e9 * p["cloudwatch_logs_ingest_gb"]
    return estimate


# The small template's alarms (DLQs, oldest message, ingress, API, bulk scaling) and the metrics
# they are billed by.
SMALL_ALARMS = 13
SMALL_ALARM_METRICS = 17


@dataclass(frozen=True)
class ExecutorUsage:
    """Per-reply inputs of the Lambda executor (``profile=small``); assumptions, dated."""

    billed_ms: float = 200.0  # one reply: the Slack round trip plus the effect record's writes (2026-11)
    # SendMessage (ingress) + the event source's ReceiveMessage and DeleteMessageBatch, batch size 1.
    sqs_requests_per_task: float = 3.0
    # An idle SQS event source keeps about 5 pollers long-polling (20 s): 15 receives a minute (2026-11).
    idle_pollers: int = 5


def small_shape() -> DeployShape:
    """``-c profile=small`` as infra/config.py builds it, for when no template is synthesized.

    Replies run on the Lambda executor (no service); bulk is one Fargate Spot x86_64 service from
    zero tasks, woken by each agenda refresh. Alarms and the dashboard as the synthesized small
    template has them (tests/infra/test_lambda_executor.py compares the two estimates).
    """
    from infra.config import CharlaConfig

    config = CharlaConfig.from_context({"profile": "small"}.get)
    refreshes = HOURS_PER_MONTH * 60 / config.agenda_refresh_minutes
    services = tuple(
        WorkerService(
            name=str(queue),
            cpu_units=config.worker_cpu,
            memory_mb=config.worker_memory_mb,
            min_tasks=config.scaling_for(queue).min_tasks,
            max_tasks=config.scaling_for(queue).max_tasks,
            arm64=config.arm64,
            spot=config.fargate_spot,
            wakeups_per_month=refreshes if queue == QueueName.BULK else 0.0,
        )
        for queue, kind in config.executor.items()
        if kind == "fargate"
    )
    return DeployShape(
        source="profile=small (infra/profiles.py; no template given)",
        profile="small",
        event_sources=sum(1 for kind in config.executor.values() if kind == "lambda"),
        lambda_memory_mb=config.lambda_memory_mb,
        lambda_snap_start=config.lambda_snap_start,
        services=services,
        alarms=SMALL_ALARMS,
        alarm_metrics=SMALL_ALARM_METRICS,
        dashboards=1,
        container_insights=config.container_insights,
        worker_metrics=True,
        scheduled_runs_per_month=refreshes,
    )


def small_profile_estimate(
    shape: DeployShape,
    usage: Usage = Usage(),
    executor: ExecutorUsage = ExecutorUsage(),
    *,
    executor_memory_mb: int | None = None,
    event_sources: int | None = None,
) -> Estimate:
    """charla with replies on the Lambda executor: nothing warm at rest but the event source's polls.

    The same model as ``charla_estimate`` (which prices any shape with event sources); kept for
    callers (bench/) that name the profile.
    """
    shape = replace(
        shape,
        event_sources=event_sources if event_sources is not None else max(shape.event_sources, 1),
        executor_memory_mb=executor_memory_mb or shape.executor_memory_mb,
    )
    return charla_estimate(shape, usage, executor, design="charla profile=small (replies on the Lambda executor)")


def design_name(shape: DeployShape) -> str:
    """How a shape is labelled: by the profile its template was synthesized with."""
    return "charla default deploy" if shape.profile == "default" else f"charla profile={shape.profile} deploy"


def report(shape: DeployShape, usage: Usage = Usage()) -> dict[str, Any]:
    """The three designs the benchmarks compare, with the shape, inputs and prices used."""
    return {
        "shape": asdict(shape),
        "usage": asdict(usage),
        "prices": {name: asdict(price) for name, price in PRICES.items()},
        # The template's own deploy, named by the profile it was synthesized with (its metadata).
        "default": charla_estimate(shape, usage, design=design_name(shape)).to_json(),
        "scale_to_zero": charla_estimate(shape.scaled_to_zero(), usage, design="charla, workers min 0").to_json(),
        "small_profile": small_profile_estimate(small_shape(), usage).to_json(),
        "bolt_lambda": bolt_lambda_estimate(
            usage, memory_mb=shape.lambda_memory_mb, arm64=shape.lambda_arm64
        ).to_json(),
    }


def at_rest_markdown(estimates: Mapping[str, Estimate]) -> str:
    """The at-rest lines of each profile side by side, as the Markdown table docs/DEPLOY.md quotes."""
    names = list(estimates)
    lines = list(dict.fromkeys(key for estimate in estimates.values() for key in estimate.at_rest))
    rows = [
        "| Line | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for line in lines:
        values = [estimates[name].at_rest.get(line, 0.0) for name in names]
        if any(round(value, 2) for value in values):
            rows.append(f"| {line} | " + " | ".join(_usd(value) for value in values) + " |")
    rows.append("| **total** | " + " | ".join(f"**${estimates[n].at_rest_total:.2f}**" for n in names) + " |")
    return "\n".join(rows)


def _usd(value: float) -> str:
    return f"-${-value:.2f}" if round(value, 2) < 0 else f"${value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--template", type=Path, help="a synthesized template (default: cdk.out/*.template.json)")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument("--markdown", action="store_true", help="print the at-rest lines as a Markdown table")
    args = parser.parse_args()
    shape = load_shape(args.template)
    result = report(shape)
    if args.markdown:
        print(at_rest_markdown({"this deploy": charla_estimate(shape)}))
        return
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"shape: {result['shape']['source']} (profile={shape.profile})")
    print(f"basis: the stack alone in its account, CloudWatch's always-free allowance counted ({ALLOWANCE_LINE!r})")
    for key in ("default", "scale_to_zero", "small_profile", "bolt_lambda"):
        item = result[key]
        print(
            f"{item['design']:<52} at rest ${item['at_rest_usd_month']:>7.2f}/month   "
            f"per 1M events ${item['per_million_events_usd']:>6.2f}"
        )


if __name__ == "__main__":
    main()
