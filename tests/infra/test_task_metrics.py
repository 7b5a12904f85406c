"""The workers' heartbeat alarm and task-metric widgets in the synthesized template.

Metric names and the namespace variable come from ``contract/metrics.py``, as the workers
emit them (workers/runtime/metrics.py), so a rename on one side fails here.
"""

import json
from typing import Any

import pytest

from contract import metrics
from contract.queues import QueueName
from infra.constructs.monitoring import NO_WORKER_MINUTES
from tests.infra.conftest import Synthesized

pytestmark = [pytest.mark.infra]


def _alarm_properties(synth: Synthesized, key: str) -> dict[str, Any]:
    alarm = synth.stack.monitoring.alarms[key]
    logical_id = synth.stack.get_logical_id(alarm.node.default_child)
    properties: dict[str, Any] = synth.template_json["Resources"][logical_id]["Properties"]
    return properties


def test_no_live_worker_alarm_joins_heartbeats_and_visible_replies(synth: Synthesized) -> None:
    properties = _alarm_properties(synth, "RepliesNoLiveWorker")
    by_id = {m["Id"]: m for m in properties["Metrics"]}
    expression = next(m["Expression"] for m in properties["Metrics"] if "Expression" in m)
    beats = by_id["beats"]["MetricStat"]["Metric"]
    visible = by_id["visible"]["MetricStat"]["Metric"]

    assert expression == "IF(FILL(beats, 0) < 1 AND visible > 0, 1, 0)"
    assert beats["MetricName"] == metrics.HEARTBEAT
    assert beats["Namespace"].startswith(metrics.DEFAULT_NAMESPACE + "/")
    assert beats["Dimensions"] == [{"Name": metrics.QUEUE_DIMENSION, "Value": QueueName.REPLIES.value}]
    assert visible["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] == NO_WORKER_MINUTES
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] and properties["OKActions"]


def test_queues_scaled_to_zero_at_rest_have_no_such_alarm(synth: Synthesized) -> None:
    assert "BulkNoLiveWorker" not in synth.stack.monitoring.alarms  # bulk's min_tasks is 0 by default


def test_workers_emit_into_the_namespace_the_alarm_reads(synth: Synthesized) -> None:
    properties = _alarm_properties(synth, "RepliesNoLiveWorker")
    beats = next(m for m in properties["Metrics"] if m["Id"] == "beats")["MetricStat"]["Metric"]
    task_definitions = synth.resources("AWS::ECS::TaskDefinition").values()
    environments = [
        {item["Name"]: item.get("Value") for item in container.get("Environment", [])}
        for definition in task_definitions
        for container in definition["Properties"]["ContainerDefinitions"]
    ]

    assert environments
    assert all(environment[metrics.NAMESPACE_VARIABLE] == beats["Namespace"] for environment in environments)


def test_the_dashboard_graphs_task_outcomes_run_time_queue_wait_and_heartbeats(synth: Synthesized) -> None:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])

    for title in ("Task outcomes per task", "Task run time and queue wait", "Worker heartbeats per minute"):
        assert title in body
    for name in [*metrics.OUTCOME_METRICS.values(), metrics.RUN_TIME, metrics.QUEUE_WAIT, metrics.HEARTBEAT]:
        assert name in body
