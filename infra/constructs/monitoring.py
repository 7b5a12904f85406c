"""Alarms (to an SNS topic) and one dashboard for the whole bot."""

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contract.queues import QUEUE_SPECS, QueueName
from infra.constructs.worker_service import WorkerService

PERIOD = Duration.minutes(1)


class Monitoring(Construct):
    """Alarms on what a user would notice, and a dashboard.

    - any message in a dead-letter queue (a task failed every retry);
    - the oldest message of a queue older than its visibility timeout (workers are not keeping up);
    - Lambda errors or throttles (Slack gets errors, retries, then gives up);
    - API Gateway 5xx answers.

    Attributes:
        topic: Alarm notifications (subscribe an email with the ``alarm_email`` context).
        alarms: Every alarm, by a readable key.
        dashboard: The dashboard.
        dashboard_url: Its console URL.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        queues: Mapping[QueueName, sqs.IQueue],
        dead_letter_queues: Mapping[QueueName, sqs.IQueue],
        function: lambda_.IFunction,
        http_api: apigw.IHttpApi,
        workers: Mapping[QueueName, WorkerService],
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", display_name="charla alarms", enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        action = actions.SnsAction(self.topic)

        def alarm(key: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                key,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms[key] = created
            return created

        for name, dlq in dead_letter_queues.items():
            alarm(
                f"{name.name.title()}DeadLetters",
                dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                0,
                f"A {name} task failed every retry and sits in its dead-letter queue.",
            )
        for name, queue in queues.items():
            alarm(
                f"{name.name.title()}OldestMessage",
                queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                QUEUE_SPECS[name].visibility_timeout_s,
                f"A {name} message waited longer than the queue's visibility timeout: workers are behind.",
            )
        alarm(
            "LambdaErrors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            0,
            "The ingress Lambda failed; Slack saw errors.",
        )
        alarm(
            "LambdaThrottles",
            function.metric_throttles(period=PERIOD, statistic="Sum"),
            0,
            "The ingress Lambda was throttled (concurrency limit); Slack saw errors.",
        )
        api_5xx = http_api.metric_server_error(period=PERIOD, statistic="Sum")  # "5xx", by ApiId
        alarm("Api5xx", api_5xx, 0, "The HTTP API answered 5xx to Slack.")

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth (visible)",
                left=[q.metric_approximate_number_of_messages_visible(period=PERIOD) for q in queues.values()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Backlog per task",
                left=[worker.backlog_per_task for worker in workers.values()],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Ingress Lambda",
                left=[
                    function.metric_invocations(period=PERIOD),
                    function.metric_errors(period=PERIOD),
                    function.metric_throttles(period=PERIOD),
                ],
                right=[function.metric_duration(period=PERIOD, statistic="p99")],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=12),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Dead letters",
                left=[
                    q.metric_approximate_number_of_messages_visible(period=PERIOD) for q in dead_letter_queues.values()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="HTTP API",
                left=[http_api.metric_count(period=PERIOD), api_5xx],
                right=[http_api.metric_latency(period=PERIOD, statistic="p99")],
                width=12,
            ),
        )
        region = Stack.of(self).region
        self.dashboard_url = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={dashboard_name}"
        )
