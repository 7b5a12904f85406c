"""The cost model reads a deploy's billable shape from a template and prices it with dated constants."""

import json
import re
from pathlib import Path

import pytest

from scripts import cost

TEMPLATE = {
    "Resources": {
        "Ingress": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "lambda_handler.main.handler",
                "MemorySize": 512,
                "Architectures": ["arm64"],
                "SnapStart": {"ApplyOn": "PublishedVersions"},
            },
        },
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {}},
        "TaskDef": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {"Cpu": "512", "Memory": "1024", "RuntimePlatform": {"CpuArchitecture": "ARM64"}},
        },
        "Workers": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "TaskDefinition": {"Ref": "TaskDef"},
                "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}],
                "NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED"}},
            },
        },
        "Scaling": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "MinCapacity": 2,
                "MaxCapacity": 5,
                "ResourceId": {
                    "Fn::Join": ["", ["service/", {"Ref": "Cluster"}, "/", {"Fn::GetAtt": ["Workers", "Name"]}]]
                },
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        "AlarmA": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
        "AlarmB": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
        "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {}},
    }
}


def test_shape_is_read_from_the_template() -> None:
    shape = cost.shape_from_template(TEMPLATE, source="test")
    assert (shape.lambda_memory_mb, shape.lambda_arm64, shape.lambda_snap_start, shape.http_api) == (
        512,
        True,
        True,
        True,
    )
    assert shape.services == (
        cost.WorkerService("Workers", 512, 1024, min_tasks=2, max_tasks=5, arm64=True, spot=True, public_ip=True),
    )
    assert (shape.queues, shape.tables, shape.secrets, shape.alarms, shape.nat_gateways) == (2, 1, 1, 2, 1)


def test_at_rest_prices_every_running_task_its_public_ip_and_the_nat_gateway() -> None:
    shape = cost.shape_from_template(TEMPLATE, source="test")
    estimate = cost.charla_estimate(shape)
    task_hour = (
        0.5 * cost.PRICES["fargate_arm_vcpu_hour"].value + 1.0 * cost.PRICES["fargate_arm_gb_hour"].value
    ) * cost.PRICES["fargate_spot_fraction"].value
    assert estimate.at_rest["fargate workers"] == pytest.approx(2 * task_hour * 730)
    assert estimate.at_rest["public IPv4 (running tasks)"] == pytest.approx(2 * 0.005 * 730)
    assert estimate.at_rest["NAT gateways"] == pytest.approx(0.045 * 730)
    assert estimate.at_rest["alarms"] == pytest.approx(0.20)


def test_scaling_workers_to_zero_removes_fargate_and_ip_costs_only() -> None:
    shape = cost.shape_from_template(TEMPLATE, source="test")
    default, zero = cost.charla_estimate(shape), cost.charla_estimate(shape.scaled_to_zero())
    assert zero.at_rest["fargate workers"] == 0 == zero.at_rest["public IPv4 (running tasks)"]
    assert zero.at_rest["NAT gateways"] == default.at_rest["NAT gateways"]
    assert zero.at_rest_total < default.at_rest_total
    assert zero.per_million_events == default.per_million_events


def test_per_million_events_uses_the_measured_sqs_requests() -> None:
    shape = cost.shape_from_template(TEMPLATE, source="test")
    estimate = cost.charla_estimate(shape, cost.Usage(sqs_requests_per_task=2.5))
    assert estimate.per_million_events["SQS requests"] == pytest.approx(1.0)
    assert estimate.per_million_events["API Gateway HTTP API"] == pytest.approx(1.0)


def test_bolt_alternative_pays_two_invocations_and_nothing_at_rest_but_its_secret() -> None:
    estimate = cost.bolt_lambda_estimate(cost.Usage())
    assert estimate.per_million_events["Lambda requests (ack + lazy self-invoke)"] == pytest.approx(0.40)
    assert estimate.at_rest_total == pytest.approx(0.40)


def test_every_price_is_dated_and_sourced() -> None:
    for name, price in cost.PRICES.items():
        assert re.fullmatch(r"20\d\d-\d\d(-\d\d)?", price.as_of), name
        assert price.source.startswith("https://aws.amazon.com/"), name
        assert price.value > 0, name


def test_without_a_template_the_documented_default_is_used_and_said(tmp_path: Path) -> None:
    assert cost.find_template(tmp_path) is None
    shape = cost.default_shape()
    assert "default" in shape.source
    assert any(service.min_tasks >= 1 for service in shape.services)


def test_template_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cdk.out" / "charla-test.template.json"
    path.parent.mkdir()
    path.write_text(json.dumps(TEMPLATE))
    assert cost.find_template(tmp_path) == path
    assert cost.load_shape(path).source.startswith("template ")


def test_a_scheduled_refresh_wakes_the_service_at_zero_that_consumes_its_queue() -> None:
    from contract.tasks import TaskName, queue_for

    template = json.loads(json.dumps(TEMPLATE))
    resources = template["Resources"]
    resources["Scaling"]["Properties"]["MinCapacity"] = 0
    resources["TaskDef"]["Properties"]["ContainerDefinitions"] = [
        {"Environment": [{"Name": "CHARLA_WORKER_QUEUES", "Value": queue_for(TaskName.REFRESH_AGENDA).value}]}
    ]
    resources["Schedule"] = {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 hour)"}}
    resources["Cluster"] = {
        "Type": "AWS::ECS::Cluster",
        "Properties": {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]},
    }
    shape = cost.shape_from_template(template, source="test")
    (service,) = shape.services
    assert service.wakeups_per_month == 730
    estimate = cost.charla_estimate(shape)
    hours = 730 * cost.WAKE_MINUTES / 60
    assert estimate.at_rest["scheduled wake-ups (agenda refresh)"] == pytest.approx(hours * (service.hourly() + 0.005))
    # Woken every hour, it publishes Container Insights metrics every hour: a whole month's worth.
    metrics = cost.INSIGHTS_CLUSTER_METRICS + cost.INSIGHTS_SERVICE_METRICS + cost.INSIGHTS_TASK_FAMILY_METRICS
    assert estimate.at_rest["Container Insights metrics"] == pytest.approx(metrics * 0.30)


def test_math_alarms_are_billed_per_metric_they_read() -> None:
    template = json.loads(json.dumps(TEMPLATE))
    template["Resources"]["AlarmB"]["Properties"] = {
        "Metrics": [{"Id": "e", "Expression": "a + b"}, {"Id": "a", "MetricStat": {}}, {"Id": "b", "MetricStat": {}}]
    }
    assert cost.charla_estimate(cost.shape_from_template(template, source="t")).at_rest["alarms"] == pytest.approx(0.3)


def test_wake_minutes_wait_out_the_same_quiet_periods_as_the_scale_in_alarm() -> None:
    from infra.constructs.worker_service import SCALE_IN_PERIODS, SCALING_PERIOD

    assert SCALE_IN_PERIODS * SCALING_PERIOD.to_minutes() == cost.SCALE_IN_QUIET_MINUTES
