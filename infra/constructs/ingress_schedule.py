"""Schedules: EventBridge rules that invoke the ingress Lambda, which queues the task they name.

The agenda refresh and every job in ``cdk.json``'s ``schedules`` (docs/EXTENDING.md) are built
here, one rule each, all targeting the ingress's live alias: the ingress turns the event into a
task message keyed by the event id (``lambda_handler/listeners/schedule.py``), so a retried
invocation queues the same task id and the workers' effect records settle the copies.
"""

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

# What the ingress recognises as a schedule firing (lambda_handler/listeners/schedule.py).
SCHEDULED_SOURCE = "aws.events"
SCHEDULED_DETAIL_TYPE = "Scheduled Event"


class IngressSchedule(Construct):
    """Invokes ``target`` with EventBridge's "Scheduled Event" on ``schedule``.

    With ``detail`` (a job's ``{"job": ..., "payload": ...}``) the event is rebuilt around it,
    keeping the event's own id and time; without, the plain event is sent (the agenda refresh).

    Attributes:
        rule: The EventBridge rule.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: lambda_.IFunction,
        schedule: events.Schedule,
        description: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        event = None
        if detail is not None:
            event = events.RuleTargetInput.from_object(
                {
                    "source": SCHEDULED_SOURCE,
                    "detail-type": SCHEDULED_DETAIL_TYPE,
                    "id": events.EventField.event_id,
                    "time": events.EventField.time,
                    "detail": dict(detail),
                }
            )
        self.rule = events.Rule(
            self,
            "Rule",
            description=description,
            schedule=schedule,
            targets=[targets.LambdaFunction(target, event=event, retry_attempts=2, max_event_age=Duration.minutes(10))],
        )
