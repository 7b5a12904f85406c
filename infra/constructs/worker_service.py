"""One Fargate service of Celery workers for one queue, scaled on that queue's backlog per task."""

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contract import environment as env
from contract import metrics as task_metrics
from contract.heartbeats import DEFAULT_INTERVAL_S
from contract.queues import QUEUE_SPECS, QueueName
from infra.config import QueueScaling

# Fargate sends SIGKILL this long after SIGTERM, at most 120 s. Celery's warm shutdown finishes
# the running task, which its hard time limit bounds: the longest limit plus a margin to exit.
FARGATE_MAX_STOP_TIMEOUT_S = 120
STOP_MARGIN_S = 10
STOP_TIMEOUT_S = max(spec.time_limit_s for spec in QUEUE_SPECS.values()) + STOP_MARGIN_S
if STOP_TIMEOUT_S > FARGATE_MAX_STOP_TIMEOUT_S:  # pragma: no cover - a contract change would trip it
    raise ValueError(f"task time limits need a {STOP_TIMEOUT_S}s stop timeout; Fargate allows 120s")

# Run in the container (WORKDIR /app, the venv on PATH); exit 1 when the prefork pool is short.
HEALTH_CHECK_COMMAND = ["CMD", "python", "-m", "workers.celery_worker.healthcheck"]

# How often the scaling alarms look at the backlog, and for how many periods it must hold.
SCALING_PERIOD = Duration.minutes(1)
SCALE_IN_PERIODS = 5  # five quiet minutes before a task goes away
# Each worker task sends one WorkerHeartbeat per consumed queue every heartbeat interval
# (workers/celery_worker/heartbeat.py): a minute's sum divided by this, rounded up, counts the running tasks.
BEATS_PER_TASK_MINUTE = round(60 / DEFAULT_INTERVAL_S)


class WorkerService(Construct):
    """Fargate service running ``celery worker -Q <queue>``, with step scaling on the queue's backlog.

    The backlog is every message not yet finished: ``ApproximateNumberOfMessagesVisible`` (waiting)
    plus ``ApproximateNumberOfMessagesNotVisible`` (in flight: running, or prefetched by a worker
    behind the one it runs; a task holds up to ``WORKER_PREFETCH_MULTIPLIER x concurrency``).
    Scale-out divides it by the running tasks, counted from the heartbeats the workers already
    send (``WorkerHeartbeat``, free of Container Insights' $15/month). A minute without a
    heartbeat datapoint yields no datapoint (never a count of zero): a late datapoint must not
    read as "no tasks" and scale out for nothing; the wake policy covers a service at zero.
    Three policies, each with its own alarm:

    - out: +1 task at ``backlog_per_task``, +2 at four times it;
    - in: -1 task after ``SCALE_IN_PERIODS`` minutes with nothing waiting and nothing in flight,
      so scale-in never stops a task that holds a message;
    - wake: +1 task when messages wait and none is in flight (nobody consumes: the service is at
      zero, or its tasks died). With ``wake_signal`` (the HTTP API's request count, for a replies
      service allowed to sleep) also when requests arrive and no worker beats: SQS stops
      publishing metrics for a queue idle six hours and takes minutes to resume, so the first
      mention after a quiet night would otherwise wait for SQS's metrics.

    There is deliberately no CPU policy: workers wait on Slack and SQS, and a CPU policy would
    fight the backlog one.

    Attributes:
        service: The Fargate service.
        task_definition: Its task definition (``task_role`` is what the stack grants to).
        container: The worker container.
        backlog_per_task: The metric the scale-out alarm watches (graphed on the dashboard).
        backlog: Waiting plus in-flight messages (the scale-in alarm's metric).
        waking: 1 while messages wait and none is in flight (the wake alarm's metric).
        log_group: The workers' log group (task lines, EMF metrics).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue_name: QueueName,
        queue: sqs.IQueue,
        cluster: ecs.ICluster,
        security_group: ec2.ISecurityGroup,
        image: ecs.ContainerImage,
        environment: Mapping[str, str],
        secrets: Mapping[str, ecs.Secret],
        cpu: int,
        memory_mb: int,
        concurrency: int,
        pool: str,
        arm64: bool,
        spot: bool,
        scaling: QueueScaling,
        log_retention: logs.RetentionDays,
        metrics_namespace: str,
        wake_signal: cloudwatch.IMetric | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=cpu,
            memory_limit_mib=memory_mb,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64 if arm64 else ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.log_group = log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.container = self.task_definition.add_container(
            "worker",
            image=image,
            environment={
                **environment,
                env.WORKER_QUEUES: queue_name.value,
                env.WORKER_POOL: pool,
                env.WORKER_CONCURRENCY: str(concurrency),
            },
            secrets=dict(secrets),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=queue_name.value, log_group=log_group),
            stop_timeout=Duration.seconds(STOP_TIMEOUT_S),
            readonly_root_filesystem=False,
            # Celery (PID 1) outlives a pool that cannot stay up; workers/celery_worker/healthcheck.py sees that.
            health_check=ecs.HealthCheck(
                command=HEALTH_CHECK_COMMAND,
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(60),
            ),
        )
        # On-demand Fargate uses the launch type, so no capacity-provider association is involved.
        # Spot needs one, and the service must depend on the cluster's association (created by the
        # cluster at synth): otherwise CloudFormation may create the service before it, or delete
        # it while the service drains ("The specified capacity provider is in use").
        placement: dict[str, Any] = (
            {"capacity_provider_strategies": [ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=1)]}
            if spot
            else {}
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            assign_public_ip=True,  # public subnets, no NAT: outbound only, no inbound rules
            security_groups=[security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            desired_count=scaling.min_tasks,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            platform_version=ecs.FargatePlatformVersion.LATEST,
            **placement,
        )
        if spot:
            # Every resource under the cluster, including the association the cluster adds at synth.
            self.service.node.add_dependency(cluster)

        q = queue_name.value
        v, nv, b, req = (
            f"visible_{q}",
            f"inflight_{q}",
            f"beats_{q}",
            f"requests_{q}",
        )  # unique: the dashboard graphs all
        queue_metrics = {
            v: queue.metric_approximate_number_of_messages_visible(period=SCALING_PERIOD, statistic="Maximum"),
            nv: queue.metric_approximate_number_of_messages_not_visible(period=SCALING_PERIOD, statistic="Maximum"),
        }
        beats = cloudwatch.Metric(
            namespace=metrics_namespace,
            metric_name=task_metrics.HEARTBEAT,
            dimensions_map={task_metrics.QUEUE_DIMENSION: q},
            statistic="Sum",
            period=SCALING_PERIOD,
        )
        self.backlog = cloudwatch.MathExpression(
            expression=f"{v} + {nv}", using_metrics=queue_metrics, period=SCALING_PERIOD, label=f"{q} backlog"
        )
        if wake_signal is None:
            self.waking = cloudwatch.MathExpression(
                expression=f"IF({v} >= 1 AND {nv} == 0, 1, 0)",
                using_metrics=queue_metrics,
                period=SCALING_PERIOD,
                label=f"{q} waiting with no consumer",
            )
        else:
            # Here a missing heartbeat does mean "no worker": the service may be at zero.
            self.waking = cloudwatch.MathExpression(
                expression=(
                    f"IF((FILL({v}, 0) >= 1 OR FILL({req}, 0) >= 1) AND FILL({nv}, 0) == 0 AND FILL({b}, 0) == 0, 1, 0)"
                ),
                using_metrics={**queue_metrics, b: beats, req: wake_signal},
                period=SCALING_PERIOD,
                label=f"{q} waiting or requested with no worker",
            )
        # No FILL: a minute without heartbeats gives no datapoint, and the alarm keeps its state.
        self.backlog_per_task: cloudwatch.IMetric = cloudwatch.MathExpression(
            expression=f"({v} + {nv}) / CEIL({b} / {BEATS_PER_TASK_MINUTE})",
            using_metrics={**queue_metrics, b: beats},
            period=SCALING_PERIOD,
            label=f"{q} backlog per task",
        )
        target = self.service.auto_scale_task_count(min_capacity=scaling.min_tasks, max_capacity=scaling.max_tasks)
        threshold = scaling.backlog_per_task
        # Out: +1 task at the target backlog per task, +2 at four times it. Only the upper alarm
        # exists (the interval below has no change), so this policy never scales in.
        target.scale_on_metric(
            "ScaleOutOnBacklog",
            metric=self.backlog_per_task,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            scaling_steps=[
                appscaling.ScalingInterval(upper=threshold, change=0),
                appscaling.ScalingInterval(lower=threshold, change=+1),
                appscaling.ScalingInterval(lower=threshold * 4, change=+2),
            ],
            cooldown=Duration.seconds(scaling.scale_out_cooldown_s),
            evaluation_periods=1,
        )
        # In: -1 task after SCALE_IN_PERIODS minutes with nothing waiting or in flight. Tasks are
        # stopped with SIGTERM, and Celery finishes what it runs within the stop timeout.
        target.scale_on_metric(
            "ScaleInWhenIdle",
            metric=self.backlog,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            scaling_steps=[
                appscaling.ScalingInterval(upper=0, change=-1),
                appscaling.ScalingInterval(lower=0, change=0),
            ],
            cooldown=Duration.seconds(scaling.scale_in_cooldown_s),
            evaluation_periods=SCALE_IN_PERIODS,
        )
        # Wake: one task when work waits and nothing consumes it (queue metrics only).
        target.scale_on_metric(
            "WakeOnWaitingWork",
            metric=self.waking,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            scaling_steps=[
                appscaling.ScalingInterval(upper=1, change=0),
                appscaling.ScalingInterval(lower=1, change=+1),
            ],
            cooldown=Duration.seconds(scaling.scale_out_cooldown_s),
            evaluation_periods=1,
        )
