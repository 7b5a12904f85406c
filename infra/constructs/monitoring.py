"""Alarms (to an SNS topic that reaches a person), a monthly budget, and an optional dashboard."""

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
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
# A queue whose consumer may be at zero waits for a wake-up before its oldest message is taken:
# the wake alarm's minute, SQS's metric delay, and a Fargate task's start (image pull, Celery up).
# Its oldest-message alarm allows that much on top of the visibility timeout, for this many
# minutes in a row, so a slow wake from zero never pages anybody.
WAKE_ALLOWANCE_S = 600
OLDEST_MESSAGE_MINUTES = 3
# Slack delivers at most 30,000 events an hour to one app from one workspace (its Events API rate
# limit, the app_rate_limited event): more requests than that a minute, for this many minutes in a
# row, are not Slack's: someone is running the bill up. Below the throttle, or it would never fire.
SLACK_EVENTS_PER_MINUTE_MAX = 30_000 // 60
REQUEST_ALARM_SHARE_OF_THROTTLE = 0.8
REQUEST_ALARM_MINUTES = 5


def request_alarm_per_minute(throttle_rate: int) -> int:
    """Requests a minute above which the ``ApiRequests`` alarm counts a minute as too busy."""
    return min(SLACK_EVENTS_PER_MINUTE_MAX, round(throttle_rate * 60 * REQUEST_ALARM_SHARE_OF_THROTTLE))


# A single 5xx (a probe's 6-10 MB body: HTTP API accepts it, Lambda's 6 MB payload limit refuses
# the invocation) is not an outage; Slack retries a failed event three times, so an outage that
# users notice gives several 5xx within the window.
API_5XX_PER_WINDOW = 3
API_5XX_MINUTES = 5


class Monitoring(Construct):
    """Alarms on what a user would notice, and a dashboard.

    - any message in a dead-letter queue (a task failed every retry);
    - the oldest message of a queue older than its visibility timeout for three minutes (workers
      are not keeping up), plus ``WAKE_ALLOWANCE_S`` where the consumer may be at zero;
    - ingress Lambda errors or throttles (Slack gets errors, retries, then gives up), and the same
      for each Lambda executor (its queue's age is the oldest-message alarm);
    - API Gateway 5xx answers (several in five minutes), and more requests than a workspace sends;
    - no worker heartbeat (the workers' ``WorkerHeartbeat`` EMF metric) for a queue that should
      always have a worker, while that queue has visible messages.

    With an ``alarm_email``, a monthly AWS Budgets cost budget mails the same address at 80% of
    actual and 100% of forecast spend (no charge for a budget without actions).

    The optional dashboard also graphs the workers' task metrics (EMF lines, ``contract/metrics.py``):
    outcomes, run time and time waited in the queue per queue, a Logs Insights table per task name,
    and heartbeats per queue.

    Attributes:
        topic: Alarm notifications (subscribe an email with the ``alarm_email`` context).
        alarms: Every alarm, by a readable key.
        dashboard: The dashboard, or ``None`` (``dashboard=false``).
        dashboard_url: Its console URL, or ``None``.
        budget: The monthly cost budget, or ``None``.
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
        sleeping_queues: Sequence[QueueName] = (QueueName.BULK,),
        executors: Mapping[QueueName, lambda_.IFunction] | None = None,
        task_log_groups: Sequence[logs.ILogGroup] = (),
        request_alarm_per_minute: int = 300,
        monthly_budget_usd: int | None = None,
        dashboard: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", display_name="charla alarms", enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        action = actions.SnsAction(self.topic)

        def alarm(
            key: str, metric: cloudwatch.IMetric, threshold: float, description: str, minutes: int = 1
        ) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                key,
                metric=metric,
                threshold=threshold,
                evaluation_periods=minutes,
                datapoints_to_alarm=minutes,
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
            allowance = WAKE_ALLOWANCE_S if name in sleeping_queues else 0
            alarm(
                f"{name.name.title()}OldestMessage",
                queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                QUEUE_SPECS[name].visibility_timeout_s + allowance,
                f"A {name} message waited longer than the queue's visibility timeout"
                + (" and a wake-up from zero" if allowance else "")
                + f" for {OLDEST_MESSAGE_MINUTES} minutes: its consumers are behind or down.",
                minutes=OLDEST_MESSAGE_MINUTES,
            )
        for name, executor in (executors or {}).items():
            label = name.name.title()
            alarm(
                f"{label}ExecutorErrors",
                executor.metric_errors(period=PERIOD, statistic="Sum"),
                0,
                f"The {name} executor Lambda failed (not a task: the function itself); its records come back.",
            )
            alarm(
                f"{label}ExecutorThrottles",
                executor.metric_throttles(period=PERIOD, statistic="Sum"),
                0,
                f"The {name} executor Lambda was throttled (account concurrency); {name} messages wait.",
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
        api_5xx = http_api.metric_server_error(period=Duration.minutes(API_5XX_MINUTES), statistic="Sum")
        alarm(
            "Api5xx",
            api_5xx,
            API_5XX_PER_WINDOW - 1,
            f"The HTTP API answered 5xx {API_5XX_PER_WINDOW}+ times in {API_5XX_MINUTES} minutes: Slack saw errors.",
        )
        alarm(
            "ApiRequests",
            http_api.metric_count(period=PERIOD, statistic="Sum"),
            request_alarm_per_minute,
            f"More than {request_alarm_per_minute} requests a minute for {REQUEST_ALARM_MINUTES} minutes: more than "
            "Slack delivers from a workspace (someone may be running the bill up; see the access logs' source IPs).",
            minutes=REQUEST_ALARM_MINUTES,
        )
        for name in always_on_queues:
            self._no_live_worker_alarm(name, queues[name], metrics_namespace, action)

        self.budget = self._budget(monthly_budget_usd, alarm_email) if monthly_budget_usd and alarm_email else None
        self.dashboard: cloudwatch.Dashboard | None = None
        self.dashboard_url: str | None = None
        if not dashboard:
            return
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
        self.dashboard.add_widgets(*self._task_widgets(metrics_namespace, list(queues), task_log_groups))
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

    def _budget(self, amount_usd: int, email: str) -> budgets.CfnBudget:
        """A monthly cost budget that mails ``email`` at 80% of actual and 100% of forecast spend.

        It watches the whole account's cost (a budget filtered to this stack would need the
        ``project`` cost allocation tag activated first): deploy in an account of its own.
        """
        subscribers = [budgets.CfnBudget.SubscriberProperty(address=email, subscription_type="EMAIL")]
        return budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=amount_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind, comparison_operator="GREATER_THAN", threshold=percent
                    ),
                    subscribers=subscribers,
                )
                for kind, percent in (("ACTUAL", 80), ("FORECASTED", 100))
            ],
        )

    @staticmethod
    def _task_widgets(
        namespace: str, queue_names: Sequence[QueueName], task_log_groups: Sequence[logs.ILogGroup]
    ) -> list[cloudwatch.IWidget]:
        """Outcomes, run time and queue wait per queue, the same per task name (Logs Insights over
        the EMF lines: the task name is a property, not a billed dimension), and heartbeats."""

        def per_queue(metric_name: str, statistic: str, label: str) -> list[cloudwatch.IMetric]:
            return [
                cloudwatch.Metric(
                    namespace=namespace,
                    metric_name=metric_name,
                    dimensions_map={task_metrics.QUEUE_DIMENSION: name.value},
                    statistic=statistic,
                    period=PERIOD,
                    label=f"{name} {label}",
                )
                for name in queue_names
            ]

        outcomes = [
            m for outcome, metric in task_metrics.OUTCOME_METRICS.items() for m in per_queue(metric, "Sum", outcome)
        ]
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
            cloudwatch.GraphWidget(title="Task outcomes per queue", left=outcomes, width=12),
            cloudwatch.GraphWidget(
                title="Task run time and queue wait (p99, ms)",
                left=per_queue(task_metrics.RUN_TIME, "p99", "run time"),
                right=per_queue(task_metrics.QUEUE_WAIT, "p99", "queue wait"),
                width=12,
            ),
            cloudwatch.GraphWidget(title="Worker heartbeats per minute", left=heartbeats, width=12),
            *(
                [
                    cloudwatch.LogQueryWidget(
                        title="Task outcomes per task",
                        log_group_names=[group.log_group_name for group in task_log_groups],
                        query_lines=[
                            f"filter ispresent({task_metrics.TASK_PROPERTY})",
                            f"stats count(*) as attempts, avg({task_metrics.RUN_TIME}) as avg_run_ms "
                            f"by {task_metrics.TASK_PROPERTY}, outcome",
                            "sort attempts desc",
                        ],
                        width=12,
                    )
                ]
                if task_log_groups
                else []
            ),
        ]
