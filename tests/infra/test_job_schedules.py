"""A ``schedules`` entry in cdk.json becomes an EventBridge rule that fires the job through the ingress."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match

from tests.infra.conftest import Synthesized, cdk_json_context, synthesize

pytestmark = [pytest.mark.infra, pytest.mark.slow]

SCHEDULE = {"expression": "cron(0 7 ? * MON *)", "payload": {"team_id": "T0123", "channel": "C0123"}}


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield synthesize(
        tmp_path_factory.mktemp("cdk-out"), {**cdk_json_context(), "schedules": {"usage_report": SCHEDULE}}
    )


def _job_rule(synth: Synthesized) -> dict[str, Any]:
    (rule,) = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if r["Properties"]["Description"] == "charla: run the job usage_report"
    ]
    return rule


def test_the_schedule_invokes_the_ingress_alias_with_the_job_and_its_payload(scheduled: Synthesized) -> None:
    rule = _job_rule(scheduled)
    assert rule["ScheduleExpression"] == "cron(0 7 ? * MON *)"
    (target,) = rule["Targets"]
    alias = scheduled.stack.get_logical_id(scheduled.stack.ingress.alias.node.default_child)
    assert target["Arn"] == {"Ref": alias}
    transformer = target["InputTransformer"]
    # The event keeps EventBridge's own id (the task id's key) and names the job and its payload.
    assert transformer["InputPathsMap"] == {"id": "$.id", "time": "$.time"}
    detail = json.loads(transformer["InputTemplate"].replace("<id>", '"x"').replace("<time>", '"t"'))
    assert (detail["id"], detail["time"]) == ("x", "t")
    assert detail["source"] == "aws.events" and detail["detail-type"] == "Scheduled Event"
    assert detail["detail"] == {"job": "usage_report", "payload": SCHEDULE["payload"]}


def test_the_schedule_may_invoke_the_ingress_and_nothing_else_and_cdk_nag_is_clean(scheduled: Synthesized) -> None:
    rule_ids = [
        logical_id
        for logical_id, r in scheduled.resources("AWS::Events::Rule").items()
        if r["Properties"]["Description"] == "charla: run the job usage_report"
    ]
    permissions = [
        p["Properties"]
        for p in scheduled.resources("AWS::Lambda::Permission").values()
        if p["Properties"].get("SourceArn") == {"Fn::GetAtt": [rule_ids[0], "Arn"]}
    ]
    assert [(p["Action"], p["Principal"]) for p in permissions] == [("lambda:InvokeFunction", "events.amazonaws.com")]
    errors = Annotations.from_stack(scheduled.stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [(e.id, e.entry.data) for e in errors] == []
