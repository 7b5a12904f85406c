"""The synthesized template: every resource the deploy needs, with the properties that matter.

Numbers are compared with the contract, never with literals: a change to a time limit must
move the visibility timeout and the stop timeout with it.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk.assertions import Annotations, Match
from botocore import xform_name

from contract import environment as env
from contract import metrics as task_metrics
from contract.heartbeats import DEFAULT_INTERVAL_S
from contract.queues import MAX_SOFT_TIME_LIMIT_S, QUEUE_SPECS, QueueName
from contract.registry import RESULT_TASKS
from contract.tables import TABLE_SPECS, TableName
from contract.tasks import TaskName, queue_for
from infra.constructs.monitoring import OLDEST_MESSAGE_MINUTES, WAKE_ALLOWANCE_S
from infra.constructs.task_queues import LONG_POLL_S
from infra.constructs.worker_service import BEATS_PER_TASK_MINUTE, FARGATE_MAX_STOP_TIMEOUT_S
from infra.stacks.charla_stack import AGENDA_SOURCE_VARIABLE
from tests.infra.bytecode import compiled_from_source, missing_or_wrong_bytecode, read_only_copy
from tests.infra.conftest import ROOT, Synthesized, cdk_json_context, synthesize

pytestmark = [pytest.mark.infra]


def _logical_id(synth: Synthesized, construct: Any) -> str:
    return str(synth.stack.get_logical_id(construct.node.default_child))


def _arn_of(synth: Synthesized, construct: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [_logical_id(synth, construct), "Arn"]}


def _statements(synth: Synthesized, role: Any) -> list[dict[str, Any]]:
    role_id = _logical_id(synth, role)
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _resources_of(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


# -- queues -----------------------------------------------------------------------------------


@pytest.mark.parametrize("queue_name", list(QUEUE_SPECS))
def test_each_contract_queue_has_its_dlq_visibility_timeout_and_long_polling(
    synth: Synthesized, queue_name: QueueName
) -> None:
    spec = QUEUE_SPECS[queue_name]
    queue = synth.stack.queues.queues[queue_name]
    dlq = synth.stack.queues.dead_letter_queues[queue_name]
    properties = synth.template_json["Resources"][_logical_id(synth, queue)]["Properties"]
    assert properties["VisibilityTimeout"] == spec.visibility_timeout_s
    assert properties["ReceiveMessageWaitTimeSeconds"] == LONG_POLL_S == 20
    assert properties["SqsManagedSseEnabled"] is True
    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": _arn_of(synth, dlq),
        "maxReceiveCount": spec.max_receive_count,
    }
    dlq_properties = synth.template_json["Resources"][_logical_id(synth, dlq)]["Properties"]
    assert dlq_properties["SqsManagedSseEnabled"] is True
    assert "RedrivePolicy" not in dlq_properties


def test_every_queue_policy_denies_requests_without_tls(synth: Synthesized) -> None:
    all_queues = [*synth.stack.queues.queues.values(), *synth.stack.queues.dead_letter_queues.values()]
    policies = synth.resources("AWS::SQS::QueuePolicy").values()
    denied: list[Any] = []
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                denied.extend(policy["Properties"]["Queues"])
    assert sorted(json.dumps(q) for q in denied) == sorted(
        json.dumps({"Ref": _logical_id(synth, q)}) for q in all_queues
    )
    assert len(synth.resources("AWS::SQS::Queue")) == 2 * len(QUEUE_SPECS)


# -- tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize("table_name", list(TABLE_SPECS))
def test_each_contract_table_is_on_demand_with_pitr_ttl_and_its_keys(synth: Synthesized, table_name: Any) -> None:
    spec = TABLE_SPECS[table_name]
    table = synth.stack.tables.tables[table_name]
    resource = synth.template_json["Resources"][_logical_id(synth, table)]
    properties = resource["Properties"]
    keys = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    if spec.sort_key:
        keys.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
    assert properties["KeySchema"] == keys
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    if spec.ttl_attribute:
        assert properties["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    assert resource["DeletionPolicy"] == "Retain"  # `cdk destroy` never deletes the bot's memory
    assert len(synth.resources("AWS::DynamoDB::Table")) == len(TABLE_SPECS)


# -- secret -----------------------------------------------------------------------------------


def test_secrets_are_generated_and_no_slack_value_is_in_the_template(synth: Synthesized) -> None:
    secrets = synth.stack.secrets
    resources = synth.template_json["Resources"]
    signing = resources[_logical_id(synth, secrets.signing_secret)]["Properties"]
    token = resources[_logical_id(synth, secrets.bot_token)]["Properties"]
    assert signing["GenerateSecretString"]["GenerateStringKey"] == env.SECRET_KEY_SIGNING_SECRET
    assert json.loads(token["GenerateSecretString"]["SecretStringTemplate"]) == {env.SECRET_KEY_BOT_TOKEN: "set-me"}
    # Each secret holds one credential: the token is nowhere in the signing secret, and vice versa.
    assert env.SECRET_KEY_BOT_TOKEN not in json.dumps(signing)
    assert env.SECRET_KEY_SIGNING_SECRET not in json.dumps(token)
    assert "SecretString" not in signing and "SecretString" not in token
    text = json.dumps(synth.template_json)
    assert "xoxb-" not in text and "xapp-" not in text
    for name in (env.SLACK_SIGNING_SECRET, env.SLACK_BOT_TOKEN):
        assert f'"Name": "{name}", "Value"' not in text  # only ever injected as a secret


def _readers_allowed_by_resource_policy(synth: Synthesized, secret: Any) -> list[Any]:
    """The principals a secret's resource policy does not deny reading (its one Deny's exceptions)."""
    secret_ref = {"Ref": _logical_id(synth, secret)}
    (policy,) = [
        r["Properties"]["ResourcePolicy"]
        for r in synth.resources("AWS::SecretsManager::ResourcePolicy").values()
        if r["Properties"]["SecretId"] == secret_ref
    ]
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == {"AWS": "*"} and "secretsmanager:GetSecretValue" in json.dumps(deny["Action"])
    readers: list[Any] = deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"]
    return readers


def _roles_granted(synth: Synthesized, secret: Any) -> set[str]:
    """Logical ids of the roles whose identity policies allow reading ``secret``."""
    secret_ref = {"Ref": _logical_id(synth, secret)}
    granted: set[str] = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = json.dumps(statement["Action"])
            if "secretsmanager:GetSecretValue" in actions and secret_ref in _resources_of(statement):
                granted |= {role["Ref"] for role in policy["Properties"]["Roles"]}
    return granted


def test_the_ingress_reads_only_the_signing_secret_and_nobody_else_may(synth: Synthesized) -> None:
    """The internet-facing ingress cannot read the bot token (private channels, DMs), and the
    signing secret's own policy denies every principal but the ingress role."""
    stack = synth.stack
    ingress_role = _logical_id(synth, stack.ingress.role)
    assert _roles_granted(synth, stack.secrets.signing_secret) == {ingress_role}
    assert _readers_allowed_by_resource_policy(synth, stack.secrets.signing_secret) == [
        {"Fn::GetAtt": [ingress_role, "Arn"]}
    ]
    assert ingress_role not in _roles_granted(synth, stack.secrets.bot_token)


def test_the_bot_token_is_read_by_the_workers_only_and_denied_to_everyone_else(synth: Synthesized) -> None:
    stack = synth.stack
    worker_roles = {
        _logical_id(synth, role)
        for worker in stack.workers.values()
        for role in (worker.task_definition.task_role, worker.task_definition.execution_role)
    } | {_logical_id(synth, executor.role) for executor in stack.lambda_executors.values()}
    assert _roles_granted(synth, stack.secrets.bot_token) == worker_roles
    allowed = _readers_allowed_by_resource_policy(synth, stack.secrets.bot_token)
    assert sorted(item["Fn::GetAtt"][0] for item in allowed) == sorted(worker_roles)


def test_tables_are_retained_under_fixed_names_as_docs_deploy_md_says(synth: Synthesized) -> None:
    teardown = (ROOT / "docs" / "DEPLOY.md").read_text().split("## Tear down", 1)[1].split("\n## ", 1)[0]
    for name, table in synth.stack.tables.tables.items():
        resource = synth.template_json["Resources"][_logical_id(synth, table)]
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["Properties"]["TableName"] == f"{synth.stack.stack_name}-{name.value}"
        assert f"charla-<env>-{name.value}" in teardown


def test_secrets_are_retained_under_fixed_names_as_docs_deploy_md_says(synth: Synthesized) -> None:
    """``cdk destroy`` would otherwise force-delete them with no recovery window."""
    names = []
    for secret in synth.resources("AWS::SecretsManager::Secret").values():
        assert secret["DeletionPolicy"] == "Retain" and secret["UpdateReplacePolicy"] == "Retain"
        names.append(secret["Properties"]["Name"])
    env_name = synth.stack.config.env_name
    assert sorted(names) == [f"charla/{env_name}/slack-bot-token", f"charla/{env_name}/slack-signing-secret"]
    teardown = (ROOT / "docs" / "DEPLOY.md").read_text().split("## Tear down", 1)[1].split("\n## ", 1)[0]
    assert "deleted at once" not in teardown
    for name in names:
        assert name.replace(env_name, "<env>") in teardown  # how to reattach or remove each


# -- ingress ----------------------------------------------------------------------------------


def test_ingress_lambda_is_python312_arm64_snapstart_with_short_timeout(synth: Synthesized) -> None:
    config = synth.stack.config
    synth.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "Handler": "lambda_handler.main.handler",
            "MemorySize": config.lambda_memory_mb,
            "Timeout": config.lambda_timeout_s,
            "ReservedConcurrentExecutions": config.lambda_reserved_concurrency or Match.absent(),
            "SnapStart": {"ApplyOn": "PublishedVersions"},
            "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
        },
    )
    synth.template.resource_count_is("AWS::Lambda::Alias", 1)
    # Old versions are deleted on update: a SnapStart version costs snapshot cache while it exists.
    (version,) = synth.resources("AWS::Lambda::Version").values()
    assert version["DeletionPolicy"] == "Delete"
    assert config.lambda_timeout_s <= 10


def test_ingress_environment_names_come_from_the_contract(synth: Synthesized) -> None:
    function = next(iter(synth.resources("AWS::Lambda::Function").values()))
    variables = function["Properties"]["Environment"]["Variables"]
    expected = {env.queue_url_variable(q) for q in QUEUE_SPECS} | {env.SLACK_SIGNING_SECRET_ARN}
    assert set(variables) == expected
    assert variables[env.SLACK_SIGNING_SECRET_ARN] == {"Ref": _logical_id(synth, synth.stack.secrets.signing_secret)}
    assert env.SLACK_SIGNING_SECRET not in variables and env.SLACK_BOT_TOKEN not in variables


def test_ingress_bundle_holds_handler_contract_and_linux_arm64_dependencies(synth: Synthesized) -> None:
    function = next(iter(synth.resources("AWS::Lambda::Function").values()))
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset = synth.outdir / f"asset.{asset_hash}"
    assert (asset / "lambda_handler" / "main.py").is_file()
    assert (asset / "contract" / "queues.py").is_file()
    assert (asset / "slack_bolt").is_dir() and (asset / "mangum").is_dir()
    assert not (asset / "workers").exists() and not (asset / "celery").exists()
    assert not (asset / "boto3").exists() and not (asset / "s3transfer").exists()  # botocore does
    # Any compiled extension must be built for the Lambda (aarch64, CPython 3.12).
    for extension in asset.rglob("*.so"):
        assert "aarch64" in extension.name or "cpython-312" not in extension.name, extension
    # The bundle alone is enough: the handler imports with nothing but the bundle on the path
    # (isolated mode, empty environment), and without any worker-side package.
    probe = (
        "import sys; sys.path.insert(0, '.'); import lambda_handler.main as m; "
        "assert callable(m.handler); "
        "print(sorted({k.split('.')[0] for k in sys.modules} & {'workers', 'celery', 'pydantic', 'kombu'}))"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", probe], cwd=asset, env={}, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_http_api_routes_throttling_and_access_logs(synth: Synthesized) -> None:
    routes = {r["Properties"]["RouteKey"] for r in synth.resources("AWS::ApiGatewayV2::Route").values()}
    assert routes == {"POST /slack/events", "GET /healthz"}
    config = synth.stack.config
    synth.template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingRateLimit": config.api_throttle_rate,
                "ThrottlingBurstLimit": config.api_throttle_burst,
            },
            "AccessLogSettings": Match.object_like({"DestinationArn": Match.any_value()}),
        },
    )
    integration = next(iter(synth.resources("AWS::ApiGatewayV2::Integration").values()))["Properties"]
    assert integration["IntegrationUri"] == {"Ref": _logical_id(synth, synth.stack.ingress.alias)}


def test_ingress_role_may_only_send_to_its_queues_and_read_its_secret(synth: Synthesized) -> None:
    stack = synth.stack
    statements = _statements(synth, stack.ingress.role)
    by_action: dict[str, list[Any]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            by_action.setdefault(action, []).extend(_resources_of(statement))
    assert set(by_action) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert _ingress_dynamodb_actions() == set()  # one SendMessage per request, no table
    queue_arns = [_arn_of(synth, q) for q in stack.queues.queues.values()]
    assert sorted(map(json.dumps, by_action["sqs:SendMessage"])) == sorted(map(json.dumps, queue_arns))
    assert by_action["secretsmanager:GetSecretValue"] == [{"Ref": _logical_id(synth, stack.secrets.signing_secret)}]
    assert all(resource != "*" for resources in by_action.values() for resource in resources)
    role = synth.template_json["Resources"][_logical_id(synth, stack.ingress.role)]["Properties"]
    assert "ManagedPolicyArns" not in role  # no AWSLambdaBasicExecutionRole (logs:* on *)


def _ingress_dynamodb_actions() -> set[str]:
    """DynamoDB mentioned anywhere in the ingress's code (it makes one SendMessage and nothing else)."""
    return {
        str(path.relative_to(ROOT))
        for path in (ROOT / "lambda_handler").rglob("*.py")
        if "dynamodb" in path.read_text().lower()
    }


def test_ingress_neither_calls_nor_may_call_dynamodb(synth: Synthesized) -> None:
    actions = {
        action
        for statement in _statements(synth, synth.stack.ingress.role)
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith("dynamodb:")
    }
    assert actions == set()
    assert _ingress_dynamodb_actions() == set()


def test_schedule_invokes_the_live_alias_at_the_configured_rate(synth: Synthesized) -> None:
    minutes = synth.stack.config.agenda_refresh_minutes
    rule = next(iter(synth.resources("AWS::Events::Rule").values()))["Properties"]
    expected = events.Schedule.rate(Duration.minutes(minutes)).expression_string  # e.g. rate(1 hour)
    assert rule["ScheduleExpression"] == expected
    assert rule["Targets"][0]["Arn"] == {"Ref": _logical_id(synth, synth.stack.ingress.alias)}


# -- workers ----------------------------------------------------------------------------------


def test_one_service_per_queue_with_the_contract_environment_and_stop_timeout(synth: Synthesized) -> None:
    stack = synth.stack
    assert set(stack.workers) == set(QUEUE_SPECS)
    expected_env = {env.queue_url_variable(q) for q in QUEUE_SPECS} | {TABLE_SPECS[TableName.STATE].variable}
    for queue_name, worker in stack.workers.items():
        task = synth.template_json["Resources"][_logical_id(synth, worker.task_definition)]["Properties"]
        (container,) = task["ContainerDefinitions"]
        variables = {item["Name"]: item["Value"] for item in container["Environment"]}
        assert expected_env <= set(variables)
        waitable = any(queue_for(task) == queue_name for task in RESULT_TASKS)
        assert (TABLE_SPECS[TableName.RESULTS].variable in variables) == waitable
        assert variables[env.WORKER_QUEUES] == queue_name.value
        assert variables[env.DEFAULT_LANGUAGE] == "en"  # cdk.json's default_language
        # cdk.json's worker_pool and worker_concurrency: the measured thread pool (docs/OPERATIONS.md)
        assert (variables[env.WORKER_POOL], variables[env.WORKER_CONCURRENCY]) == ("threads", "16")
        assert [s["Name"] for s in container["Secrets"]] == [env.SLACK_BOT_TOKEN]
        assert container["Secrets"][0]["ValueFrom"] == {
            "Fn::Join": ["", [{"Ref": _logical_id(synth, stack.secrets.bot_token)}, f":{env.SECRET_KEY_BOT_TOKEN}::"]]
        }
        # Scale-in sends SIGTERM; Celery's warm shutdown needs the longest task's time to finish.
        assert MAX_SOFT_TIME_LIMIT_S < container["StopTimeout"] <= FARGATE_MAX_STOP_TIMEOUT_S
        assert container["StopTimeout"] > max(spec.time_limit_s for spec in QUEUE_SPECS.values())
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
        # ECS replaces a task whose Celery pool cannot stay up (workers/celery_worker/healthcheck.py).
        assert container["HealthCheck"]["Command"] == ["CMD", "python", "-m", "workers.celery_worker.healthcheck"]
        assert container["HealthCheck"]["Retries"] >= 2
        assert task["RuntimePlatform"]["CpuArchitecture"] == ("ARM64" if stack.config.arm64 else "X86_64")


def test_workers_run_in_public_subnets_without_nat_or_inbound_rules(synth: Synthesized) -> None:
    synth.template.resource_count_is("AWS::EC2::NatGateway", 0)
    synth.template.resource_count_is("AWS::EC2::EIP", 0)
    for subnet in synth.resources("AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is True
    (group,) = synth.resources("AWS::EC2::SecurityGroup").values()
    assert "SecurityGroupIngress" not in group["Properties"]
    synth.template.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)
    # A compromised worker reaches HTTPS endpoints only: no other port, no other protocol.
    assert group["Properties"]["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to AWS APIs and Slack",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    synth.template.resource_count_is("AWS::EC2::SecurityGroupEgress", 0)
    for service in synth.resources("AWS::ECS::Service").values():
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "ENABLED"
        assert service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"]["Rollback"] is True


@pytest.mark.parametrize("queue_name", list(QUEUE_SPECS))
def test_scaling_is_step_scaling_on_backlog_per_task_with_configured_bounds(
    synth: Synthesized, queue_name: QueueName
) -> None:
    stack = synth.stack
    bounds = stack.config.scaling_for(queue_name)
    worker = stack.workers[queue_name]
    service_id = _logical_id(synth, worker.service)
    targets = {
        k: v
        for k, v in synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").items()
        if service_id in json.dumps(v["Properties"]["ResourceId"])
    }
    ((target_id, target),) = targets.items()
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (
        bounds.min_tasks,
        bounds.max_tasks,
    )
    policy_resources = {
        k: p
        for k, p in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if p["Properties"]["ScalingTargetId"] == {"Ref": target_id}
    }
    policies = [p["Properties"] for p in policy_resources.values()]
    assert [p["PolicyType"] for p in policies] == ["StepScaling"] * 3  # out, in, wake
    cooldowns = sorted(p["StepScalingPolicyConfiguration"]["Cooldown"] for p in policies)
    assert cooldowns == sorted([bounds.scale_out_cooldown_s, bounds.scale_in_cooldown_s, bounds.scale_out_cooldown_s])
    queue_id = _logical_id(synth, stack.queues.queues[queue_name])
    alarms = {
        policy_id: a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        for policy_id in policy_resources
        if {"Ref": policy_id} in a["Properties"].get("AlarmActions", [])
    }
    assert len(alarms) == 3
    for policy_id, alarm in alarms.items():
        names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
        # Every alarm counts what workers hold (in flight) as well as what waits (visible).
        assert {"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible"} <= names
        assert queue_id in json.dumps(alarm)
        if "WakeOnWaitingWork" in policy_id or "ScaleInWhenIdle" in policy_id:
            # Queue metrics only: a service at zero has no Container Insights data.
            assert names == {"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible"}
        else:
            # Running tasks counted from the workers' heartbeats (no Container Insights), and a
            # missing heartbeat datapoint is no datapoint: never filled with 0 (zero tasks).
            assert names == {
                "ApproximateNumberOfMessagesVisible",
                "ApproximateNumberOfMessagesNotVisible",
                task_metrics.HEARTBEAT,
            }
            assert "RunningTaskCount" not in json.dumps(alarm)
            expression = next(m["Expression"] for m in alarm["Metrics"] if "Expression" in m)
            assert f"/ CEIL(beats_{queue_name.value} / {BEATS_PER_TASK_MINUTE})" in expression
            assert "FILL" not in expression
            assert BEATS_PER_TASK_MINUTE == 60 / DEFAULT_INTERVAL_S


def test_the_warm_task_runs_arm64_on_fargate_spot_after_the_cluster_association(synth: Synthesized) -> None:
    """Spot places Linux ARM64 tasks (platform 1.4.0+): the cheapest warm task is both."""
    (association_id,) = synth.resources("AWS::ECS::ClusterCapacityProviderAssociations")
    for service in synth.resources("AWS::ECS::Service").values():
        assert service["Properties"]["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
        assert service["Properties"]["PlatformVersion"] == "LATEST"  # 1.4.0 or later
        assert association_id in service["DependsOn"]
    for task in synth.resources("AWS::ECS::TaskDefinition").values():
        assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "ARM64"


def test_no_cpu_or_target_tracking_policy_fights_the_backlog_policy(synth: Synthesized) -> None:
    text = json.dumps(synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy"))
    assert "TargetTracking" not in text and "CPUUtilization" not in text
    alarms = json.dumps(synth.resources("AWS::CloudWatch::Alarm"))
    assert "CPUUtilization" not in alarms and "MemoryUtilization" not in alarms


def test_container_insights_is_off_and_nothing_reads_it(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "disabled"}]}
    )
    assert "ContainerInsights" not in json.dumps(synth.resources("AWS::CloudWatch::Alarm"))


def _dynamodb_operations_called(*packages: str) -> set[str]:
    """The DynamoDB API operations the code of ``packages`` calls (``client.update_item(`` ...)."""
    import re

    import botocore.session

    model = botocore.session.get_session().get_service_model("dynamodb")
    by_method = {xform_name(name): name for name in model.operation_names}
    called: set[str] = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            called |= {by_method[m] for m in re.findall(r"\.(\w+)\(", path.read_text()) if m in by_method}
    return called


# TransactWriteItems has no IAM action: each item's action is authorised on its table.
_IAM_ACTIONS_OF = {"TransactWriteItems": {"PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"}}


def test_worker_dynamodb_grants_are_exactly_what_the_workers_call(synth: Synthesized) -> None:
    """Least privilege read from the template and the code: every DynamoDB call in workers/ (and
    Celery's result backend) is granted, and nothing else is (no Scan, no BatchGetItem)."""
    from infra.stacks.charla_stack import RESULTS_TABLE_ACTIONS, STATE_TABLE_ACTIONS

    called = _dynamodb_operations_called("workers")
    needed = {f"dynamodb:{a}" for op in called for a in _IAM_ACTIONS_OF.get(op, {op})}
    assert needed == set(STATE_TABLE_ACTIONS), (needed, STATE_TABLE_ACTIONS)
    assert "dynamodb:Scan" not in needed and "dynamodb:BatchGetItem" not in needed
    stack = synth.stack
    roles = [w.task_definition.task_role for w in stack.workers.values()] + [
        e.role for e in stack.lambda_executors.values()
    ]
    state_arn = json.dumps(_arn_of(synth, stack.tables.tables[TableName.STATE]))
    results_arn = json.dumps(_arn_of(synth, stack.tables.tables[TableName.RESULTS]))
    for role in roles:
        granted: dict[str, set[str]] = {}
        for statement in _statements(synth, role):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for resource in _resources_of(statement):
                granted.setdefault(json.dumps(resource), set()).update(a for a in actions if a.startswith("dynamodb:"))
        assert granted[state_arn] == set(STATE_TABLE_ACTIONS)
        assert granted.get(results_arn, set(RESULTS_TABLE_ACTIONS)) == set(RESULTS_TABLE_ACTIONS)


def test_worker_role_consumes_only_its_queue_and_uses_only_its_tables(synth: Synthesized) -> None:
    stack = synth.stack
    for queue_name, worker in stack.workers.items():
        tables = [TableName.STATE]
        if any(queue_for(task) == queue_name for task in RESULT_TASKS):
            tables.append(TableName.RESULTS)
        table_arns = {json.dumps(_arn_of(synth, stack.tables.tables[t])) for t in tables}
        statements = _statements(synth, worker.task_definition.task_role)
        receive = [s for s in statements if "sqs:ReceiveMessage" in s["Action"]]
        assert [_resources_of(s) for s in receive] == [[_arn_of(synth, stack.queues.queues[queue_name])]]
        # Sends go to its own queue (retries, deferrals) and its own DLQ, never to the other queue.
        sent_to = {json.dumps(r) for s in statements if "sqs:SendMessage" in s["Action"] for r in _resources_of(s)}
        own = [stack.queues.queues[queue_name], stack.queues.dead_letter_queues[queue_name]]
        assert sent_to == {json.dumps(_arn_of(synth, q)) for q in own}
        dynamo = {
            json.dumps(r)
            for s in statements
            if any(a.startswith("dynamodb:") for a in s["Action"])
            for r in _resources_of(s)
        }
        assert dynamo == table_arns
        for statement in statements:
            assert all(r != "*" for r in _resources_of(statement))
            assert not any(a.endswith(":*") for a in statement["Action"])


# -- monitoring and outputs -------------------------------------------------------------------


def test_alarms_cover_dlqs_oldest_message_lambda_and_api(synth: Synthesized) -> None:
    alarms = synth.stack.monitoring.alarms
    for queue_name in QUEUE_SPECS:
        label = queue_name.name.title()
        assert f"{label}DeadLetters" in alarms and f"{label}OldestMessage" in alarms
    assert {"LambdaErrors", "LambdaThrottles", "Api5xx", "ApiRequests"} <= set(alarms)
    resources = synth.template_json["Resources"]
    topic = {"Ref": _logical_id(synth, synth.stack.monitoring.topic)}
    for key, alarm in alarms.items():
        properties = resources[_logical_id(synth, alarm)]["Properties"]
        assert properties["AlarmActions"] == [topic], key
    synth.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def _alarm(synth: Synthesized, key: str) -> dict[str, Any]:
    properties: dict[str, Any] = synth.template_json["Resources"][
        _logical_id(synth, synth.stack.monitoring.alarms[key])
    ]["Properties"]
    return properties


def test_a_slow_wake_from_zero_does_not_page_but_a_stuck_queue_does(synth: Synthesized) -> None:
    """The bulk queue sleeps at zero tasks: its oldest message may wait out a wake-up (alarm,
    SQS metric delay, task start) before anyone is paged; an always-warm queue may not."""
    for queue_name in QUEUE_SPECS:
        properties = _alarm(synth, f"{queue_name.name.title()}OldestMessage")
        sleeps = synth.stack.config.scaling_for(queue_name).min_tasks == 0
        visibility = QUEUE_SPECS[queue_name].visibility_timeout_s
        assert properties["Threshold"] == visibility + (WAKE_ALLOWANCE_S if sleeps else 0)
        assert properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] == OLDEST_MESSAGE_MINUTES
    bulk = _alarm(synth, "BulkOldestMessage")
    # A wake-up: 1 minute of wake alarm, SQS's metric delay, a task start of a few minutes.
    assert bulk["Threshold"] >= QUEUE_SPECS[QueueName.BULK].visibility_timeout_s + 5 * 60


def test_a_request_flood_pages_and_the_throttle_is_sized_for_one_workspace(synth: Synthesized) -> None:
    config = synth.stack.config
    # Slack sends at most 30,000 events per hour per workspace and app (Events API rate limit).
    assert 30_000 / 3600 <= config.api_throttle_rate <= 20
    requests = _alarm(synth, "ApiRequests")
    assert requests["MetricName"] == "Count" and requests["Namespace"] == "AWS/ApiGateway"
    # More than Slack delivers (30,000 events an hour), and below the throttle so it can fire.
    assert requests["Threshold"] == min(30_000 / 60, config.api_throttle_rate * 60 * 0.8)
    assert requests["Threshold"] < config.api_throttle_rate * 60
    assert requests["EvaluationPeriods"] == requests["DatapointsToAlarm"] > 1
    # A single 5xx (a probe's oversized body) does not page; Slack's retries of an outage do.
    api_5xx = _alarm(synth, "Api5xx")
    assert api_5xx["Threshold"] >= 1 and api_5xx["Period"] >= 300


def test_rejected_requests_cost_little_to_log(synth: Synthesized) -> None:
    """Anyone can send requests: a rejected one leaves no Lambda log line (no START/END/REPORT,
    its own line at DEBUG), and the access log keeps one short line per request without headers
    or bodies. Accepted requests keep their INFO "enqueued" line for `charla trace`."""
    function = synth.template_json["Resources"][_logical_id(synth, synth.stack.ingress.function)]["Properties"]
    assert function["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    assert function["LoggingConfig"]["SystemLogLevel"] == "WARN"
    main = (ROOT / "lambda_handler" / "main.py").read_text()
    assert 'logger.debug("rejected status=' in main
    assert 'logger.info("rejected' not in main


def test_without_alarm_email_the_synth_says_no_alarm_reaches_a_person(synth: Synthesized) -> None:
    assert synth.stack.config.env_name == "dev" and synth.stack.config.alarm_subscriber is None
    warnings = Annotations.from_stack(synth.stack).find_warning("*", Match.string_like_regexp(".*AlarmsReachNobody.*"))
    assert warnings and "no alarm reaches a person" in json.dumps([w.entry.data for w in warnings])
    synth.template.resource_count_is("AWS::SNS::Subscription", 0)
    synth.template.resource_count_is("AWS::Budgets::Budget", 0)


def test_outputs_give_the_slack_url_dashboard_secret_cluster_and_service_names(synth: Synthesized) -> None:
    outputs = synth.template_json["Outputs"]
    secret_outputs = {"SlackSigningSecretName", "SlackBotTokenSecretName"}
    assert {"SlackRequestUrl", "DashboardUrl", "ResourceEnvironment"} | secret_outputs <= set(outputs)
    # What `aws ecs update-service --force-new-deployment` needs after a secret change.
    assert outputs["ClusterName"]["Value"] == {"Ref": _logical_id(synth, synth.stack.cluster)}
    for queue_name, worker in synth.stack.workers.items():
        service_output = outputs[f"{queue_name.name.title()}ServiceName"]["Value"]
        assert service_output == {"Fn::GetAtt": [_logical_id(synth, worker.service), "Name"]}
    assert json.dumps(outputs["SlackRequestUrl"]["Value"]).endswith('/slack/events"]]}')
    env_name = synth.stack.config.env_name
    assert outputs["SlackSigningSecretName"]["Value"] == f"charla/{env_name}/slack-signing-secret"
    assert outputs["SlackBotTokenSecretName"]["Value"] == f"charla/{env_name}/slack-bot-token"


def test_no_custom_resources_or_nat_in_the_template(synth: Synthesized) -> None:
    # Custom resources need a Lambda at deploy time (and break the moto deploy); none are used.
    types = {r["Type"] for r in synth.template_json["Resources"].values()}
    assert not {t for t in types if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource"}
    assert "AWS::Logs::LogRetention" not in json.dumps(synth.template_json)


# -- the options, in one more synthesis -------------------------------------------------------


@pytest.fixture(scope="module")
def options_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = {
        **cdk_json_context(),
        "env_name": "prod",
        "fargate_spot": "true",
        "worker_arm64": "false",
        "lambda_snap_start": "false",
        "lambda_reserved_concurrency": "15",
        "worker_image": "public.ecr.aws/example/charla-worker:1.0",
        "agenda_source": "s3://charla-agenda/team/agenda.json",
        "alarm_email": "ops@example.com",
        "archive_retention_days": "30",
        "welcome_text": "¡Hola, {user}!",
        "welcome_texts": '{"C0EVENTS": "Welcome to #events, {user}"}',
        "slack_team_ids": ["T0ONE", "E0ORG"],
        "slack_app_id": "A0CHARLA",
        "dashboard": "false",
    }
    return synthesize(tmp_path_factory.mktemp("cdk-out-options"), context)


@pytest.mark.slow
def test_context_options_reach_the_template(options_synth: Synthesized) -> None:
    synth = options_synth
    assert synth.stack.stack_name == "charla-prod"
    (association_id,) = synth.resources("AWS::ECS::ClusterCapacityProviderAssociations")
    for service in synth.resources("AWS::ECS::Service").values():
        assert service["Properties"]["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
        # Created after, and deleted before, the association the strategy needs.
        assert association_id in service["DependsOn"]
    for task in synth.resources("AWS::ECS::TaskDefinition").values():
        assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "X86_64"
        (container,) = task["Properties"]["ContainerDefinitions"]
        assert container["Image"] == "public.ecr.aws/example/charla-worker:1.0"
    # alarm_email: the topic mails a person, and a monthly budget mails the same address.
    (budget,) = synth.resources("AWS::Budgets::Budget").values()
    limit = budget["Properties"]["Budget"]["BudgetLimit"]
    assert limit == {"Amount": synth.stack.config.monthly_budget_usd, "Unit": "USD"}
    notified = budget["Properties"]["NotificationsWithSubscribers"]
    assert {n["Notification"]["NotificationType"] for n in notified} == {"ACTUAL", "FORECASTED"}
    assert all(n["Subscribers"] == [{"Address": "ops@example.com", "SubscriptionType": "EMAIL"}] for n in notified)
    unheard = Annotations.from_stack(synth.stack).find_warning("*", Match.string_like_regexp(".*AlarmsReachNobody.*"))
    assert unheard == []
    # dashboard=false: no dashboard (beyond an account's three free ones it is $3/month), alarms stay.
    synth.template.resource_count_is("AWS::CloudWatch::Dashboard", 0)
    assert "DashboardUrl" not in synth.template_json["Outputs"] and synth.stack.monitoring.alarms
    function = next(iter(synth.resources("AWS::Lambda::Function").values()))["Properties"]
    assert "SnapStart" not in function
    assert function["ReservedConcurrentExecutions"] == 15
    variables = function["Environment"]["Variables"]
    assert (variables["CHARLA_SLACK_TEAM_IDS"], variables["CHARLA_SLACK_APP_ID"]) == ("T0ONE,E0ORG", "A0CHARLA")
    synth.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    nag_errors = Annotations.from_stack(synth.stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert nag_errors == []


def test_without_configured_workspaces_the_ingress_serves_any(synth: Synthesized) -> None:
    function = next(iter(synth.resources("AWS::Lambda::Function").values()))["Properties"]
    assert not {"CHARLA_SLACK_TEAM_IDS", "CHARLA_SLACK_APP_ID"} & set(function["Environment"]["Variables"])


@pytest.mark.slow
def test_an_s3_agenda_source_is_readable_by_the_agenda_worker_only(options_synth: Synthesized) -> None:
    synth = options_synth
    agenda_queue = queue_for(TaskName.REFRESH_AGENDA)
    for queue_name, worker in synth.stack.workers.items():
        statements = _statements(synth, worker.task_definition.task_role)
        s3 = [s for s in statements if "s3:GetObject" in json.dumps(s["Action"])]
        if queue_name == agenda_queue:
            (statement,) = s3
            assert statement["Action"] == "s3:GetObject"
            assert statement["Resource"] == {
                "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::charla-agenda/team/agenda.json"]]
            }
        else:
            assert s3 == []
        task = synth.template_json["Resources"][_logical_id(synth, worker.task_definition)]["Properties"]
        variables = {e["Name"]: e["Value"] for e in task["ContainerDefinitions"][0]["Environment"]}
        assert variables[AGENDA_SOURCE_VARIABLE] == "s3://charla-agenda/team/agenda.json"
        assert variables["CHARLA_ARCHIVE_RETENTION_DAYS"] == "30"
        assert variables["CHARLA_WELCOME_TEXT"] == "¡Hola, {user}!"
        assert json.loads(variables["CHARLA_WELCOME_TEXTS"]) == {"C0EVENTS": "Welcome to #events, {user}"}


@pytest.fixture(scope="module")
def asleep_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The replies service allowed to sleep at zero tasks (no Lambda executor)."""
    context = {**cdk_json_context(), "scaling": '{"replies": {"min_tasks": 0}}'}
    return synthesize(tmp_path_factory.mktemp("cdk-out-asleep"), context)


@pytest.mark.slow
def test_a_sleeping_replies_service_wakes_on_the_apis_requests_not_only_on_sqs_metrics(
    asleep_synth: Synthesized,
) -> None:
    """SQS stops publishing metrics for a queue idle six hours and resumes minutes after the next
    message: the first mention after a quiet night must not wait for them. The wake alarm also
    reads the HTTP API's request count (published whenever requests arrive), with no worker beating."""
    synth = asleep_synth
    wake_policy = next(
        logical_id
        for logical_id, policy in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if "WakeOnWaitingWork" in logical_id and logical_id.startswith("RepliesWorkers")
    )
    (alarm,) = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if {"Ref": wake_policy} in a["Properties"].get("AlarmActions", [])
    ]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    requests = metrics["requests_replies"]["MetricStat"]["Metric"]
    assert (requests["Namespace"], requests["MetricName"]) == ("AWS/ApiGateway", "Count")
    assert metrics["beats_replies"]["MetricStat"]["Metric"]["MetricName"] == task_metrics.HEARTBEAT
    expression = next(m["Expression"] for m in alarm["Metrics"] if "Expression" in m)
    assert "FILL(requests_replies, 0) >= 1" in expression and "FILL(beats_replies, 0) == 0" in expression
    # Its oldest-message alarm allows a wake-up, and nothing expects a live replies worker.
    alarms = synth.stack.monitoring.alarms
    oldest = synth.template_json["Resources"][_logical_id(synth, alarms["RepliesOldestMessage"])]["Properties"]
    assert oldest["Threshold"] == QUEUE_SPECS[QueueName.REPLIES].visibility_timeout_s + WAKE_ALLOWANCE_S
    assert "RepliesNoLiveWorker" not in alarms


def test_ingress_bundle_carries_unchecked_bytecode_for_the_runtime_and_imports_with_it(
    synth: Synthesized, tmp_path: Path
) -> None:
    function = next(iter(synth.resources("AWS::Lambda::Function").values()))
    asset = synth.outdir / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    assert missing_or_wrong_bytecode(asset) == []
    # A cold start: read-only code, nothing written, Python 3.12: no module of the bundle is
    # compiled from source (without the bytecode, every one is).
    code = read_only_copy(asset, tmp_path / "task")
    compiled, report = compiled_from_source(code, ["lambda_handler.main"])
    assert compiled == 0, report
