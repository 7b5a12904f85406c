"""Alarms (to an SNS topic) and one dashboard for the whole bot."""

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contract import metrics as task_metrics
from contract.queues import QUEUE_SPECS, QueueName
from infra.constructs.worker_service import WorkerService

PERIOD = Duration.minutes(1)
# Minutes without a heartbeat while messages wait before the alarm fires: a worker replaced by a
# deploy or a crash beats again within a minute or two; three quiet minutes is an outage.
NO_WORKER_MINUTES = 3


class Monitoring(Construct):
    """Alarms on what a user would notice, and a dashboard.

    - any message in a dead-letter queue (a task failed every retry);
    - the oldest message of a queue older than its visibility timeout (workers are not keeping up);
    - Lambda errors or throttles (Slack gets errors, retries, then gives up);
    - API Gateway 5xx answers;
    - no worker heartbeat (the workers' ``WorkerHeartbeat`` EMF metric) for a queue that should
      always have a worker, while that queue has visible messages.

    The dashboard also graphs the workers' task metrics (EMF lines, ``contract/metrics.py``):
    outcomes per task, run time and time waited in the queue, and heartbeats per queue.

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
        metrics_namespace: str = task_metrics.DEFAULT_NAMESPACE,
        always_on_queues: Sequence[QueueName] = (QueueName.REPLIES,),
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
        for name in always_on_queues:
            self._no_live_worker_alarm(name, queues[name], metrics_namespace, action)

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth: waiting (visible) and held by workers (in flight)",
                left=[
                    metric
                    for q in queues.values()
                    for metric in (
                        q.metric_approximate_number_of_messages_visible(period=PERIOD),
                        q.metric_approximate_number_of_messages_not_visible(period=PERIOD),
                    )
                ],
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
        self.dashboard.add_widgets(*self._task_widgets(metrics_namespace, list(queues)))
        region = Stack.of(self).region
        self.dashboard_url = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={dashboard_name}"
        )

    def _no_live_worker_alarm(
        self, name: QueueName, queue: sqs.IQueue, namespace: str, action: actions.SnsAction
    ) -> cloudwatch.Alarm:
        """1 for each minute with messages visible and no heartbeat from a worker of ``name``."""
        beats = cloudwatch.Metric(
            namespace=namespace,
            metric_name=task_metrics.HEARTBEAT,
            dimensions_map={task_metrics.QUEUE_DIMENSION: name.value},
            statistic="Sum",
            period=PERIOD,
        )
        visible = queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
        created = cloudwatch.Alarm(
            self,
            f"{name.name.title()}NoLiveWorker",
            # A missing heartbeat metric is zero heartbeats (FILL); missing queue data is no alarm.
            metric=cloudwatch.MathExpression(
                expression="IF(FILL(beats, 0) < 1 AND visible > 0, 1, 0)",
                using_metrics={"beats": beats, "visible": visible},
                period=PERIOD,
                label=f"{name} messages waiting with no live worker",
            ),
            threshold=0,
            evaluation_periods=NO_WORKER_MINUTES,
            datapoints_to_alarm=NO_WORKER_MINUTES,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=(
                f"No {name} worker sent a heartbeat for {NO_WORKER_MINUTES} minutes while {name} messages waited "
                "(see `charla workers` and docs/OPERATIONS.md)."
            ),
        )
        created.add_alarm_action(action)
        created.add_ok_action(action)
        self.alarms[f"{name.name.title()}NoLiveWorker"] = created
        return created

    @staticmethod
    def _task_widgets(namespace: str, queue_names: Sequence[QueueName]) -> list[cloudwatch.IWidget]:
        """Per-task outcomes, run time and queue wait (one line per task name), and heartbeats per queue."""

        def per_task(metric_name: str, statistic: str, label: str) -> cloudwatch.MathExpression:
            return cloudwatch.MathExpression(
                expression=(
                    f"SEARCH('{{{namespace},{task_metrics.TASK_DIMENSION}}} "
                    f"MetricName=\"{metric_name}\"', '{statistic}', 60)"
                ),
                using_metrics={},
                label=label,
                period=PERIOD,
            )

        outcomes = [per_task(metric, "Sum", outcome) for outcome, metric in task_metrics.OUTCOME_METRICS.items()]
        heartbeats = [
            cloudwatch.Metric(
                namespace=namespace,
                metric_name=task_metrics.HEARTBEAT,
                dimensions_map={task_metrics.QUEUE_DIMENSION: name.value},
                statistic="Sum",
                period=PERIOD,
                label=f"{name} heartbeats",
            )
            for name in queue_names
        ]
        return [
            cloudwatch.GraphWidget(title="Task outcomes per task", left=outcomes, width=12),
            cloudwatch.GraphWidget(
                title="Task run time and queue wait (p99, ms)",
                left=[per_task(task_metrics.RUN_TIME, "p99", "run time")],
                right=[per_task(task_metrics.QUEUE_WAIT, "p99", "queue wait")],
                width=12,
            ),
            cloudwatch.GraphWidget(title="Worker heartbeats per minute", left=heartbeats, width=12),
        ]
