"""One Fargate service of Celery workers for one queue, scaled on that queue's backlog per task."""

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contract import environment as env
from contract.queues import QUEUE_SPECS, QueueName
from infra.config import QueueScaling

# Fargate sends SIGKILL this long after SIGTERM, at most 120 s. Celery's warm shutdown finishes
# the running task, which its hard time limit bounds: the longest limit plus a margin to exit.
FARGATE_MAX_STOP_TIMEOUT_S = 120
STOP_MARGIN_S = 10
STOP_TIMEOUT_S = max(spec.time_limit_s for spec in QUEUE_SPECS.values()) + STOP_MARGIN_S
if STOP_TIMEOUT_S > FARGATE_MAX_STOP_TIMEOUT_S:  # pragma: no cover - a contract change would trip it
    raise ValueError(f"task time limits need a {STOP_TIMEOUT_S}s stop timeout; Fargate allows 120s")

# How often the scaling alarms look at the backlog, and for how many periods it must hold.
SCALING_PERIOD = Duration.minutes(1)
SCALE_IN_PERIODS = 5  # five quiet minutes before a task goes away


class WorkerService(Construct):
    """Fargate service running ``celery worker -Q <queue>``, with step scaling on backlog per task.

    Backlog per task is ``ApproximateNumberOfMessagesVisible / RunningTaskCount`` (the latter
    from Container Insights). With no task running, any visible message counts as a full
    ``backlog_per_task`` so a service at zero wakes up. There is deliberately no CPU policy:
    workers wait on Slack and SQS, and a CPU policy would fight the backlog one.

    Attributes:
        service: The Fargate service.
        task_definition: Its task definition (``task_role`` is what the stack grants to).
        container: The worker container.
        backlog_per_task: The metric math expression the scaling alarms watch.
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
        arm64: bool,
        spot: bool,
        scaling: QueueScaling,
        log_retention: logs.RetentionDays,
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
        log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.container = self.task_definition.add_container(
            "worker",
            image=image,
            environment={
                **environment,
                env.WORKER_QUEUES: queue_name.value,
                env.WORKER_CONCURRENCY: str(concurrency),
            },
            secrets=dict(secrets),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=queue_name.value, log_group=log_group),
            stop_timeout=Duration.seconds(STOP_TIMEOUT_S),
            readonly_root_filesystem=False,
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
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT" if spot else "FARGATE", weight=1)
            ],
        )

        visible = queue.metric_approximate_number_of_messages_visible(period=SCALING_PERIOD, statistic="Maximum")
        running = cloudwatch.Metric(
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            dimensions_map={"ClusterName": cluster.cluster_name, "ServiceName": self.service.service_name},
            period=SCALING_PERIOD,
            statistic="Average",
        )
        # Metric ids are unique per queue so the dashboard can graph every service's expression.
        v, r = f"visible_{queue_name.value}", f"running_{queue_name.value}"
        self.backlog_per_task = cloudwatch.MathExpression(
            expression=f"IF(FILL({r}, 0) >= 1, {v} / FILL({r}, 0), {v} * {scaling.backlog_per_task})",
            using_metrics={v: visible, r: running},
            period=SCALING_PERIOD,
            label=f"{queue_name} backlog per task",
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
        # In: -1 task after SCALE_IN_PERIODS minutes with nothing waiting. Tasks are stopped with
        # SIGTERM, and Celery finishes what it runs within the stop timeout.
        target.scale_on_metric(
            "ScaleInWhenIdle",
            metric=self.backlog_per_task,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            scaling_steps=[
                appscaling.ScalingInterval(upper=0, change=-1),
                appscaling.ScalingInterval(lower=0, change=0),
            ],
            cooldown=Duration.seconds(scaling.scale_in_cooldown_s),
            evaluation_periods=SCALE_IN_PERIODS,
        )
