"""The agenda refresh schedule: an EventBridge rule that invokes the ingress Lambda."""

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct


class AgendaSchedule(Construct):
    """Invokes ``target`` with EventBridge's "Scheduled Event" every ``rate_minutes``.

    The ingress recognises the scheduled event (``source: aws.events``) and enqueues the agenda
    refresh on the bulk queue; the schedule itself carries no payload.

    Attributes:
        rule: The EventBridge rule.
    """

    def __init__(self, scope: Construct, construct_id: str, *, target: lambda_.IFunction, rate_minutes: int) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Rule",
            description="charla: refresh the agenda",
            schedule=events.Schedule.rate(Duration.minutes(rate_minutes)),
            targets=[targets.LambdaFunction(target, retry_attempts=2, max_event_age=Duration.minutes(10))],
        )
