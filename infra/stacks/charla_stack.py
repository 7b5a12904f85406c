"""The one charla stack: composes the constructs and grants between them (all IAM is read here)."""

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from contract import environment as env
from contract import metrics as task_metrics
from contract.queues import QUEUE_SPECS, QueueName
from contract.registry import RESULT_TASKS
from contract.tables import TABLE_SPECS, TableName
from contract.tasks import TaskName, queue_for
from infra.bundling import ROOT
from infra.config import CharlaConfig
from infra.constructs.bot_secrets import BotSecrets, bot_token_secret_name, signing_secret_name
from infra.constructs.ingress_schedule import IngressSchedule
from infra.constructs.lambda_executor import LAMBDA_RUNS_PER_TASK, LambdaExecutor
from infra.constructs.monitoring import Monitoring, request_alarm_per_minute
from infra.constructs.slack_ingress import SlackIngress
from infra.constructs.state_tables import StateTables
from infra.constructs.task_queues import TaskQueues
from infra.constructs.worker_service import WorkerService
from infra.nag import suppress_reviewed_findings

WORKER_DOCKERFILE = "workers/celery_worker/Dockerfile"
# What the workers' code calls on each table (tests/infra/test_stack.py reads workers/ and checks
# these cover every DynamoDB call in it, and no more). TransactWriteItems is authorised per item
# action (Put/Update/Delete/ConditionCheck), and has no action of its own.
STATE_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
)
# Celery's DynamoDB result backend: describes the table at start, then reads and writes items.
RESULTS_TABLE_ACTIONS = (
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
# Read by workers/runtime/settings.py; not in contract/environment.py (yet), hence spelled here.
AGENDA_SOURCE_VARIABLE = env.AGENDA_SOURCE


class CharlaStack(Stack):
    """Ingress (HTTP API + Lambda), queues, tables, secret, workers (Fargate), schedule, monitoring.

    Attributes:
        queues, tables, secrets, ingress, workers, monitoring: the parts, for tests and outputs.
        resource_environment: Every queue/table variable the ingress and workers read.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: CharlaConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        retention = _retention(config.log_retention_days)

        self.queues = TaskQueues(self, "Queues", specs=QUEUE_SPECS.values())
        self.tables = StateTables(
            self,
            "Tables",
            specs=TABLE_SPECS.values(),
            name_prefix=config.stack_name,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.secrets = BotSecrets(self, "Secrets", env_name=config.env_name)
        # Who may read each secret; the deny-all-others resource policies are added once all exist.
        token_readers: list[iam.IRole] = []

        queue_environment = {env.queue_url_variable(name): q.queue_url for name, q in self.queues.queues.items()}
        table_environment = {TABLE_SPECS[name].variable: t.table_name for name, t in self.tables.tables.items()}
        self.resource_environment = {**queue_environment, **table_environment}

        # -- ingress: one SendMessage per request, no table (docs/RELIABILITY.md) ----------------
        self.ingress = SlackIngress(
            self,
            "Ingress",
            environment={**queue_environment, env.SLACK_SIGNING_SECRET_ARN: self.secrets.signing_secret.secret_arn},
            memory_mb=config.lambda_memory_mb,
            timeout_s=config.lambda_timeout_s,
            reserved_concurrency=config.lambda_reserved_concurrency,
            snap_start=config.lambda_snap_start,
            throttle_rate=config.api_throttle_rate,
            throttle_burst=config.api_throttle_burst,
            log_retention=retention,
            served_team_ids=config.slack_team_ids,
            served_app_id=config.slack_app_id,
        )
        for queue in self.queues.queues.values():
            queue.grant_send_messages(self.ingress.role)
        BotSecrets.allow_only(self.secrets.signing_secret, [self.ingress.role])

        # -- workers -------------------------------------------------------------------------
        # Public subnets and public IPs instead of NAT gateways (a fixed ~$65/month for two);
        # the security group has no inbound rules, so nothing can connect to a task.
        vpc = ec2.Vpc(
            self,
            "Network",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)],
            # True would add a custom resource (a Lambda) just to empty the default group's rules;
            # nothing uses the default group here.
            restrict_default_security_group=False,
            flow_logs={
                "Rejected": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                        logs.LogGroup(self, "FlowLogs", retention=retention)
                    ),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        security_group = ec2.SecurityGroup(
            self,
            "WorkerSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="charla workers: outbound HTTPS only (AWS APIs, ECR, Slack), no inbound rules",
        )
        # Everything a worker talks to is HTTPS: SQS, DynamoDB, Secrets Manager, CloudWatch Logs,
        # ECR and Slack. DNS to the VPC resolver is not filtered by security groups (VPC docs).
        security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and Slack")
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            # Capacity providers only for Spot; on-demand services use the FARGATE launch type.
            enable_fargate_capacity_providers=config.fargate_spot,
            # Per-task metrics on request only (billed as custom metrics); scaling uses heartbeats.
            container_insights_v2=(
                ecs.ContainerInsights.ENABLED if config.container_insights else ecs.ContainerInsights.DISABLED
            ),
        )
        cluster = self.cluster
        image = (
            _prebuilt_image(self, config.worker_image)
            if config.worker_image
            else ecs.ContainerImage.from_asset(
                str(ROOT),
                file=WORKER_DOCKERFILE,
                platform=(ecr_assets.Platform.LINUX_ARM64 if config.arm64 else ecr_assets.Platform.LINUX_AMD64),
            )
        )
        metrics_namespace = task_metrics.namespace_for(config.env_name)
        # Every worker reads and writes the state table; only the services that run waitable tasks
        # (contract/registry.py) get the results table.
        worker_environment = {
            **queue_environment,
            TABLE_SPECS[TableName.STATE].variable: self.tables.tables[TableName.STATE].table_name,
            "AWS_REGION": self.region,
            task_metrics.NAMESPACE_VARIABLE: metrics_namespace,
            env.SLACK_BOT_TOKEN_SECRET_ARN: self.secrets.bot_token.secret_arn,
        }
        if config.agenda_source:
            worker_environment[AGENDA_SOURCE_VARIABLE] = config.agenda_source
        worker_environment[env.ARCHIVE_RETENTION_DAYS] = str(config.archive_retention_days)
        worker_environment[env.DEFAULT_LANGUAGE] = config.default_language
        if config.welcome_text:
            worker_environment[env.WELCOME_TEXT] = config.welcome_text
        if config.welcome_texts:
            worker_environment[env.WELCOME_TEXTS] = json.dumps(dict(config.welcome_texts), ensure_ascii=False)
        self.workers: dict[QueueName, WorkerService] = {}
        # Queues whose cdk.json executor is "lambda" run on the Lambda executor instead of a service.
        self.lambda_executors: dict[QueueName, LambdaExecutor] = {
            name: self._lambda_executor(name, worker_environment, retention)
            for name in self.queues.queues
            if config.executor_for(name) == "lambda"
        }
        for name in [n for n in self.queues.queues if n not in self.lambda_executors]:
            worker = self._worker_service(
                name,
                cluster=cluster,
                security_group=security_group,
                image=image,
                worker_environment=worker_environment,
                retention=retention,
            )
            # The execution role injects the token at task start; the task role re-reads it.
            token_readers += [worker.task_definition.task_role, worker.task_definition.obtain_execution_role()]
            self.workers[name] = worker
        token_readers += [executor.role for executor in self.lambda_executors.values()]
        BotSecrets.allow_only(self.secrets.bot_token, token_readers)

        # -- schedule and monitoring ---------------------------------------------------------
        self.schedule = IngressSchedule(
            self,
            "AgendaSchedule",
            target=self.ingress.alias,
            schedule=events.Schedule.rate(Duration.minutes(config.agenda_refresh_minutes)),
            description="charla: refresh the agenda",
        )
        # Jobs from jobs/ on a schedule (cdk.json "schedules"): the same rule, naming the job.
        self.job_schedules = {
            name: IngressSchedule(
                self,
                f"JobSchedule-{name}",
                target=self.ingress.alias,
                schedule=events.Schedule.expression(entry.expression),
                description=f"charla: run the job {name}",
                detail={"job": name, "payload": dict(entry.payload)},
            )
            for name, entry in config.schedules.items()
        }
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            dashboard_name=f"charla-{config.env_name}",
            queues=self.queues.queues,
            dead_letter_queues=self.queues.dead_letter_queues,
            function=self.ingress.function,
            http_api=self.ingress.http_api,
            workers=self.workers,
            alarm_email=config.alarm_subscriber,
            metrics_namespace=metrics_namespace,
            # Queues scaled to zero at rest wait for a worker by design; the rest must always have one.
            # A queue on the Lambda executor has no worker to beat: the event source mapping is always on.
            always_on_queues=[name for name in self.workers if config.scaling_for(name).min_tasks >= 1],
            sleeping_queues=[name for name in self.workers if config.scaling_for(name).min_tasks == 0],
            executors={name: executor.function for name, executor in self.lambda_executors.items()},
            task_log_groups=[
                *(worker.log_group for worker in self.workers.values()),
                *(executor.log_group for executor in self.lambda_executors.values()),
            ],
            request_alarm_per_minute=request_alarm_per_minute(config.api_throttle_rate),
            monthly_budget_usd=config.monthly_budget_usd or None,
            dashboard=config.dashboard,
        )

        # Read by scripts/cost.py to name what it prices (a template says which profile built it).
        self.template_options.metadata = {"charla": {"profile": config.profile or "default"}}
        self._warn_when_alarms_reach_nobody()
        self._add_outputs()
        suppress_reviewed_findings(self)

    def _lambda_executor(
        self, name: QueueName, worker_environment: dict[str, str], retention: logs.RetentionDays
    ) -> LambdaExecutor:
        """The Lambda executor for queue ``name``, granted what a Fargate worker's task role is."""
        queue = self.queues.queues[name]
        result_tables = _worker_result_tables(self.tables.tables, name)
        environment = {k: v for k, v in worker_environment.items() if k != "AWS_REGION"}  # Lambda sets it
        environment.update({TABLE_SPECS[t].variable: table.table_name for t, table in result_tables.items()})
        scaling = self.config.scaling_for(name)
        executor = LambdaExecutor(
            self,
            f"{name.name.title()}Executor",
            queue_name=name,
            queue=queue,
            environment=environment,
            max_concurrency=scaling.max_tasks * LAMBDA_RUNS_PER_TASK,
            log_retention=retention,
        )
        self._grant_task_work(executor.role, name, result_tables)
        return executor

    def _worker_service(
        self,
        name: QueueName,
        *,
        cluster: ecs.ICluster,
        security_group: ec2.ISecurityGroup,
        image: ecs.ContainerImage,
        worker_environment: dict[str, str],
        retention: logs.RetentionDays,
    ) -> WorkerService:
        """The Fargate service of Celery workers for queue ``name``, granted what its tasks use."""
        config = self.config
        queue = self.queues.queues[name]
        result_tables = _worker_result_tables(self.tables.tables, name)
        worker = WorkerService(
            self,
            f"{name.name.title()}Workers",
            queue_name=name,
            queue=queue,
            cluster=cluster,
            security_group=security_group,
            image=image,
            environment={
                **worker_environment,
                **{TABLE_SPECS[t].variable: table.table_name for t, table in result_tables.items()},
            },
            secrets={
                env.SLACK_BOT_TOKEN: ecs.Secret.from_secrets_manager(self.secrets.bot_token, env.SECRET_KEY_BOT_TOKEN)
            },
            cpu=config.worker_cpu,
            memory_mb=config.worker_memory_mb,
            concurrency=config.worker_concurrency,
            pool=config.worker_pool,
            arm64=config.arm64,
            spot=config.fargate_spot,
            scaling=config.scaling_for(name),
            log_retention=retention,
            metrics_namespace=task_metrics.namespace_for(config.env_name),
            # A replies service allowed to sleep wakes on the API's requests too (SQS's metrics
            # for a queue idle six hours resume only minutes after the first message).
            wake_signal=(
                self.ingress.http_api.metric_count(period=Duration.minutes(1), statistic="Sum")
                if name == QueueName.REPLIES and config.scaling_for(name).min_tasks == 0
                else None
            ),
        )
        task_role = worker.task_definition.task_role
        queue.grant_consume_messages(task_role)
        self._grant_task_work(task_role, name, result_tables)
        return worker

    def _grant_task_work(
        self, role: iam.IRole, name: QueueName, result_tables: Mapping[TableName, dynamodb.ITable]
    ) -> None:
        """What running ``name``'s tasks needs, on either executor, and nothing more.

        - SQS: a retry or deferral re-sends a copy to the task's own queue; a final failure goes
          straight to that queue's DLQ (``workers/redelivery.py``). No task hands work to another
          queue, so no other queue is granted.
        - DynamoDB: ``STATE_TABLE_ACTIONS`` on the state table (no Scan, no BatchGetItem), and
          ``RESULTS_TABLE_ACTIONS`` on the results table where the queue carries a waitable task.
          Granted per table, never per key: the key layout belongs to the state modules.
        - S3: the agenda object, for the queue that refreshes the agenda.
        """
        self.queues.queues[name].grant_send_messages(role)
        self.queues.dead_letter_queues[name].grant_send_messages(role)
        self.tables.tables[TableName.STATE].grant(role, *STATE_TABLE_ACTIONS)
        for table in result_tables.values():
            table.grant(role, *RESULTS_TABLE_ACTIONS)
        if name == queue_for(TaskName.REFRESH_AGENDA) and self.config.agenda_source:
            agenda_object = _s3_object_arn(self, self.config.agenda_source)
            if agenda_object:
                role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[agenda_object]))

    def _warn_when_alarms_reach_nobody(self) -> None:
        """A warning that `cdk synth` and `cdk deploy` print before anything is deployed."""
        if self.config.alarm_subscriber:
            return
        Annotations.of(self).add_warning_v2(
            "charla:AlarmsReachNobody",
            f"{self.stack_name}: no alarm_email, so no alarm reaches a person. Set alarm_email in cdk.json "
            "(docs/DEPLOY.md, step 3); outside env_name=dev the deploy refuses without it.",
        )

    def _add_outputs(self) -> None:
        """What the operator needs after a deploy (docs/DEPLOY.md reads each by name)."""
        config, cluster = self.config, self.cluster
        CfnOutput(
            self,
            "SlackRequestUrl",
            value=self.ingress.request_url,
            description="Paste into the Slack app: Event Subscriptions and the /charla command",
        )
        if self.monitoring.dashboard_url:
            CfnOutput(self, "DashboardUrl", value=self.monitoring.dashboard_url)
        CfnOutput(
            self,
            "SlackSigningSecretName",
            value=signing_secret_name(config.env_name),
            description='Put {"signing_secret": ...} here (docs/DEPLOY.md); only the ingress reads it',
        )
        CfnOutput(
            self,
            "SlackBotTokenSecretName",
            value=bot_token_secret_name(config.env_name),
            description='Put {"bot_token": "<Bot User OAuth Token>"} here (docs/DEPLOY.md); only the workers read it',
        )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.monitoring.topic.topic_arn,
            description="Alarms go here; nobody hears them unless alarm_email is set (docs/DEPLOY.md)",
        )
        CfnOutput(
            self,
            "ClusterName",
            value=cluster.cluster_name,
            description="For aws ecs update-service --force-new-deployment (docs/DEPLOY.md)",
        )
        for name, worker in self.workers.items():
            CfnOutput(
                self,
                f"{name.name.title()}ServiceName",
                value=worker.service.service_name,
                description=f"The {name} workers' ECS service",
            )
        CfnOutput(
            self,
            "ResourceEnvironment",
            value=self.to_json_string(self.resource_environment),
            description="Queue URL and table name variables (JSON), as the ingress and workers read them",
        )


def _worker_result_tables(
    tables: Mapping[TableName, dynamodb.ITable], queue: QueueName
) -> dict[TableName, dynamodb.ITable]:
    """The results table for a service that consumes a waitable task's queue, else nothing."""
    if TableName.RESULTS in tables and any(queue_for(task) == queue for task in RESULT_TASKS):
        return {TableName.RESULTS: tables[TableName.RESULTS]}
    return {}


# <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag | @digest]
_PRIVATE_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+?)(?::(?P<tag>[\w.-]+)|@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def _prebuilt_image(stack: Stack, uri: str) -> ecs.ContainerImage:
    """A prebuilt worker image. A private ECR image gets a pull grant on its repository for the
    execution role (``from_registry`` would give none, and the task would never start); any
    other URI must be public."""
    found = _PRIVATE_ECR.match(uri)
    if not found:
        return ecs.ContainerImage.from_registry(uri)
    repository = ecr.Repository.from_repository_attributes(
        stack,
        "WorkerImageRepository",
        repository_arn=f"arn:{stack.partition}:ecr:{found['region']}:{found['account']}:repository/{found['repository']}",
        repository_name=found["repository"],
    )
    return ecs.ContainerImage.from_ecr_repository(repository, found["digest"] or found["tag"] or "latest")


def _s3_object_arn(stack: Stack, source: str) -> str | None:
    """``arn:<partition>:s3:::bucket/key`` for an ``s3://bucket/key`` source, else None."""
    parts = urlsplit(source)
    if parts.scheme != "s3":
        return None
    if not parts.netloc or not parts.path.strip("/"):
        raise ValueError(f"agenda_source must be s3://bucket/key, got {source!r}")
    return f"arn:{stack.partition}:s3:::{parts.netloc}/{parts.path.lstrip('/')}"


# CloudWatch Logs accepts only certain retention periods; these are the ones offered here.
RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def _retention(days: int) -> logs.RetentionDays:
    """The retention for ``days``.

    Raises:
        ValueError: ``days`` is not one of ``RETENTION_DAYS``.
    """
    if days not in RETENTION_DAYS:
        raise ValueError(f"log_retention_days must be one of {sorted(RETENTION_DAYS)}, got {days}")
    return RETENTION_DAYS[days]
