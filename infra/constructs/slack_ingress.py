"""The Slack ingress: HTTP API -> Lambda (Bolt behind Starlette, bundled without Docker)."""

from collections.abc import Mapping

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from contract import environment as env
from infra.bundling import ROOT, lambda_code

HANDLER = "lambda_handler.main.handler"
PACKAGES = ("lambda_handler", "contract", "commands", "jobs")  # jobs: the ingress fires their schedules
REQUIREMENTS = ROOT / "requirements-lambda.txt"
SLACK_EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
ALIAS_NAME = "live"


@jsii.implements(apigw.IAccessLogSettings)
class _JsonAccessLogs:
    """Access log settings for an HTTP API stage: one JSON line per request, no bodies or headers."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigw.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return apigw_v1.AccessLogFormat.custom(
            '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
            '"time":"$context.requestTime","method":"$context.httpMethod","path":"$context.path",'
            '"status":"$context.status","latencyMs":"$context.responseLatency",'
            '"integrationError":"$context.integrationErrorMessage"}'
        )


class SlackIngress(Construct):
    """The public endpoint Slack calls, and the Lambda behind it.

    The Lambda gets its own role with logging rights on its own log group only; the stack grants
    it the queues, the secret and the table it needs.

    Attributes:
        function: The Lambda function.
        alias: The ``live`` alias (a published version: SnapStart applies to versions only).
        role: The function's execution role.
        http_api: The HTTP API.
        request_url: The URL to paste into the Slack app's Event Subscriptions.
        log_group: The function's log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: Mapping[str, str],
        memory_mb: int,
        timeout_s: int,
        reserved_concurrency: int | None,
        snap_start: bool,
        throttle_rate: int,
        throttle_burst: int,
        log_retention: logs.RetentionDays,
        served_team_ids: str | None = None,
        served_app_id: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # Requests from any other workspace or app are acked and dropped by the ingress.
        served = {env.SLACK_TEAM_IDS: served_team_ids, env.SLACK_APP_ID: served_app_id}
        environment = {**environment, **{name: value for name, value in served.items() if value}}
        self.log_group = logs.LogGroup(self, "FunctionLogs", retention=log_retention)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="charla ingress Lambda",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_code(packages=PACKAGES, requirements=REQUIREMENTS),
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_s),
            reserved_concurrent_executions=reserved_concurrency,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
            # Each deploy publishes a version; with SnapStart a Python version costs snapshot cache
            # while it exists, so the previous one is deleted instead of kept.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY),
            environment=dict(environment),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # Anyone on the internet can make the ingress log: at INFO every rejected request cost
            # ~1.2 KB (START/END/REPORT plus its line). The platform's lines are dropped (WARN) and a
            # rejection is logged at DEBUG, so it costs only the stage's ~250-byte access-log line;
            # an accepted request keeps its one INFO "enqueued" line, the first step `charla trace`
            # follows in AWS.
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            description="charla ingress: verifies Slack requests, acks and enqueues",
        )
        self.alias = lambda_.Alias(self, "Live", alias_name=ALIAS_NAME, version=self.function.current_version)

        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention)
        self.http_api = apigw.HttpApi(self, "Api", description="charla Slack endpoint", create_default_stage=False)
        self.stage = self.http_api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=throttle_rate, burst_limit=throttle_burst),
            access_log_settings=_JsonAccessLogs(access_logs),
        )
        integration = integrations.HttpLambdaIntegration("Ingress", self.alias)
        self.http_api.add_routes(path=SLACK_EVENTS_PATH, methods=[apigw.HttpMethod.POST], integration=integration)
        self.http_api.add_routes(path=HEALTH_PATH, methods=[apigw.HttpMethod.GET], integration=integration)
        self.request_url = (
            f"https://{self.http_api.api_id}.execute-api.{Stack.of(self).region}.{Stack.of(self).url_suffix}"
            f"{SLACK_EVENTS_PATH}"
        )
