"""The executor choice per queue, and ``-c profile=small``: replies on the Lambda executor, bulk on
Fargate Spot (arm64) from zero. Numbers are compared with the contract, never with literals.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match

from contract import environment as env
from contract.queues import QUEUE_SPECS, WORKER_PREFETCH_MULTIPLIER, QueueName
from infra.config import CharlaConfig
from infra.constructs import lambda_executor
from infra.constructs.lambda_executor import LAMBDA_RUNS_PER_TASK, function_timeout_s
from infra.profiles import PROFILES, executors
from tests.infra.bytecode import compiled_from_source, missing_or_wrong_bytecode, read_only_copy
from tests.infra.conftest import ROOT, Synthesized, cdk_json_context, synthesize
from tests.infra.test_stack import _arn_of, _logical_id, _resources_of, _statements

pytestmark = [pytest.mark.infra]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-out-small"), {**cdk_json_context(), "profile": "small"})


def _executor_function(synth: Synthesized) -> dict[str, Any]:
    executor = synth.stack.lambda_executors[QueueName.REPLIES]
    props: dict[str, Any] = synth.template_json["Resources"][_logical_id(synth, executor.function)]["Properties"]
    return props


def _queue_props(synth: Synthesized, queue: QueueName) -> dict[str, Any]:
    props: dict[str, Any] = synth.template_json["Resources"][_logical_id(synth, synth.stack.queues.queues[queue])][
        "Properties"
    ]
    return props


# -- the default: every queue on Fargate ------------------------------------------------------


def test_by_default_every_queue_runs_on_fargate_and_no_executor_exists(synth: Synthesized) -> None:
    assert synth.stack.config.executor == dict.fromkeys(QueueName, "fargate")
    assert set(synth.stack.workers) == set(QueueName)
    assert synth.resources("AWS::Lambda::EventSourceMapping") == {}
    functions = synth.resources("AWS::Lambda::Function").values()
    assert all(f["Properties"]["Handler"] != lambda_executor.HANDLER for f in functions)


# -- profile=small ----------------------------------------------------------------------------


@pytest.mark.slow
def test_small_puts_replies_on_lambda_and_bulk_on_fargate_spot_arm64_from_zero(small: Synthesized) -> None:
    assert set(small.stack.lambda_executors) == {QueueName.REPLIES}
    assert set(small.stack.workers) == {QueueName.BULK}
    (service,) = small.resources("AWS::ECS::Service").values()
    assert service["Properties"]["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert service["Properties"]["DesiredCount"] == 0
    (task,) = small.resources("AWS::ECS::TaskDefinition").values()
    assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "ARM64"  # Spot runs arm64 (platform 1.4.0+)
    (target,) = small.resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["MinCapacity"] == 0


@pytest.mark.slow
def test_event_source_mapping_batch_window_partial_failures_and_concurrency(small: Synthesized) -> None:
    (mapping,) = small.resources("AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    executor = small.stack.lambda_executors[QueueName.REPLIES]
    assert props["EventSourceArn"] == _arn_of(small, small.stack.queues.queues[QueueName.REPLIES])
    assert props["FunctionName"] == {"Ref": _logical_id(small, executor.function)}
    assert props["BatchSize"] == 1  # an answer never waits behind another in its batch
    assert props.get("MaximumBatchingWindowInSeconds", 0) == 0  # nor for a window to fill
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    scaling = small.stack.config.scaling_for(QueueName.REPLIES)
    # Not the thread pool's size: a waiting thread is free in a Fargate task, a waiting Lambda is billed.
    assert props["ScalingConfig"] == {"MaximumConcurrency": scaling.max_tasks * LAMBDA_RUNS_PER_TASK}
    # A new account may have 10 concurrent executions in all: the executor leaves 8 to the ingress.
    assert props["ScalingConfig"]["MaximumConcurrency"] == 2
    # Concurrency is bounded by the mapping, not by a reservation that would throttle (and count receives).
    assert "ReservedConcurrentExecutions" not in _executor_function(small)


@pytest.mark.slow
def test_function_timeout_is_the_task_limit_and_within_the_visibility_timeout(small: Synthesized) -> None:
    spec = QUEUE_SPECS[QueueName.REPLIES]
    function = _executor_function(small)
    visibility = _queue_props(small, QueueName.REPLIES)["VisibilityTimeout"]
    assert function["Timeout"] == spec.time_limit_s
    assert visibility == spec.visibility_timeout_s
    assert visibility >= function["Timeout"]  # AWS refuses the mapping otherwise
    assert visibility >= 6 * function["Timeout"]  # and advises six times for retries of a throttled batch


def test_every_queue_fits_its_batch_in_its_visibility_timeout() -> None:
    for queue, spec in QUEUE_SPECS.items():
        assert function_timeout_s(queue) <= spec.visibility_timeout_s
    assert (
        function_timeout_s(QueueName.BULK)
        == (WORKER_PREFETCH_MULTIPLIER + 1) * QUEUE_SPECS[QueueName.BULK].time_limit_s
    )


def test_a_batch_that_outlasts_the_visibility_timeout_fails_the_synth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(lambda_executor.BATCH_SIZE, QueueName.REPLIES, 10)  # 10 x 30 s > 180 s
    with pytest.raises(ValueError, match="visibility"):
        function_timeout_s(QueueName.REPLIES)


@pytest.mark.slow
def test_executor_runs_the_registry_on_python312_arm64_with_the_token_left_in_secrets_manager(
    small: Synthesized,
) -> None:
    function = _executor_function(small)
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "workers.lambda_executor.main.handler"
    variables = function["Environment"]["Variables"]
    assert env.SLACK_BOT_TOKEN not in variables and env.SLACK_SIGNING_SECRET not in variables
    assert variables[env.SLACK_BOT_TOKEN_SECRET_ARN] == {"Ref": _logical_id(small, small.stack.secrets.bot_token)}
    assert set(small.stack.resource_environment) <= set(variables)
    assert "AWS_REGION" not in variables  # reserved: Lambda sets it


@pytest.mark.slow
def test_executor_role_consumes_only_replies_and_names_every_resource(small: Synthesized) -> None:
    stack = small.stack
    executor = stack.lambda_executors[QueueName.REPLIES]
    statements = _statements(small, executor.role)
    receive = [s for s in statements if "sqs:ReceiveMessage" in s["Action"]]
    assert [_resources_of(s) for s in receive] == [[_arn_of(small, stack.queues.queues[QueueName.REPLIES])]]
    sends = {json.dumps(r) for s in statements if "sqs:SendMessage" in s["Action"] for r in _resources_of(s)}
    expected_sends = [stack.queues.queues[QueueName.REPLIES], stack.queues.dead_letter_queues[QueueName.REPLIES]]
    assert sends == {json.dumps(_arn_of(small, q)) for q in expected_sends}  # never the bulk queue or DLQ
    dynamo = {
        json.dumps(r)
        for s in statements
        if any(a.startswith("dynamodb:") for a in s["Action"])
        for r in _resources_of(s)
    }
    assert dynamo == {json.dumps(_arn_of(small, t)) for t in stack.tables.tables.values()}
    secret_reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    assert [_resources_of(s) for s in secret_reads] == [[{"Ref": _logical_id(small, stack.secrets.bot_token)}]]
    for statement in statements:
        assert all(r != "*" for r in _resources_of(statement))
        assert not any(a.endswith(":*") for a in statement["Action"])


@pytest.mark.slow
def test_small_profile_is_cdk_nag_clean(small: Synthesized) -> None:
    annotations = Annotations.from_stack(small.stack)
    errors = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    warnings = annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [(e.id, e.entry.data) for e in errors] == []
    assert [(w.id, w.entry.data) for w in warnings] == []


def test_the_executor_bundle_hashes_and_copies_no_celery_worker_module() -> None:
    from infra.bundling import _source_files, bundle_hash

    sources = _source_files(lambda_executor.PACKAGES, lambda_executor.EXCLUDE)
    assert ROOT / "workers" / "lambda_executor" / "main.py" in sources
    assert not [path for path in sources if "celery_worker" in path.parts]
    everything = bundle_hash(lambda_executor.PACKAGES, lambda_executor.REQUIREMENTS)
    assert bundle_hash(lambda_executor.PACKAGES, lambda_executor.REQUIREMENTS, lambda_executor.EXCLUDE) != everything


@pytest.mark.slow
def test_executor_bundle_holds_the_tasks_and_their_clients_but_not_celery(small: Synthesized) -> None:
    asset_hash = _executor_function(small)["Code"]["S3Key"].removesuffix(".zip")
    asset = small.outdir / f"asset.{asset_hash}"
    for module in ("workers/lambda_executor/main.py", "workers/tasks.py", "workers/registry.py", "contract/wire.py"):
        assert (asset / module).is_file(), module
    assert (asset / "slack_sdk").is_dir() and (asset / "botocore").is_dir() and (asset / "pydantic").is_dir()
    not_carried = ("celery", "kombu", "pycurl.py", "lambda_handler", "boto3", "s3transfer")  # botocore does
    not_carried += ("workers/celery_worker",)  # the other executor (infra/constructs/lambda_executor.py EXCLUDE)
    assert not any((asset / name).exists() for name in not_carried)
    for extension in asset.rglob("*.so"):
        assert "aarch64" in extension.name or "cpython-312" not in extension.name, extension


@pytest.mark.slow
def test_executor_bundle_carries_unchecked_bytecode_for_the_runtime(small: Synthesized, tmp_path: Path) -> None:
    asset = small.outdir / f"asset.{_executor_function(small)['Code']['S3Key'].removesuffix('.zip')}"
    assert missing_or_wrong_bytecode(asset) == []
    # The bundle's compiled extensions are for Linux arm64, so this machine imports only its pure
    # Python clients from it; those load from bytecode, read-only and with nothing written.
    code = read_only_copy(asset, tmp_path / "task")
    compiled, report = compiled_from_source(code, ["botocore.session", "slack_sdk.web", "workers.outcomes"])
    assert compiled == 0, report


@pytest.mark.slow
def test_the_cost_model_prices_the_small_template_as_the_profile_says(small: Synthesized) -> None:
    from scripts import cost

    shape = cost.shape_from_template(small.template_json, source="small")
    assert shape.profile == "small" and shape.event_sources == 1  # labelled by the template itself
    assert cost.design_name(shape) == "charla profile=small deploy"
    from_template = cost.charla_estimate(shape)
    from_config = cost.small_profile_estimate(cost.small_shape())
    assert from_template.at_rest == pytest.approx(from_config.at_rest, abs=0.01)
    assert from_template.per_million_events == pytest.approx(from_config.per_million_events, abs=0.01)
    assert from_template.at_rest_total <= 2.0


@pytest.mark.slow
def test_the_executor_lambda_has_alarms_that_reach_the_topic(small: Synthesized) -> None:
    """Errors and throttles of the executor function page; its queue's age is the replies
    queue's oldest-message alarm, as for a Fargate service."""
    alarms = small.stack.monitoring.alarms
    executor = small.stack.lambda_executors[QueueName.REPLIES].function
    function_id = _logical_id(small, executor)
    topic = {"Ref": _logical_id(small, small.stack.monitoring.topic)}
    for key, metric in (("RepliesExecutorErrors", "Errors"), ("RepliesExecutorThrottles", "Throttles")):
        properties = small.template_json["Resources"][_logical_id(small, alarms[key])]["Properties"]
        assert properties["MetricName"] == metric and properties["Namespace"] == "AWS/Lambda"
        assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
        assert properties["AlarmActions"] == [topic]
    assert "RepliesOldestMessage" in alarms and "RepliesNoLiveWorker" not in alarms


# -- config -----------------------------------------------------------------------------------


def _requirements(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_executor_requirements_are_the_workers_minus_celery() -> None:
    worker = _requirements(ROOT / "requirements-worker.txt")
    executor = _requirements(ROOT / "requirements-executor.txt")
    # boto3 only for kombu's SQS transport: the task code's clients are botocore's (workers/runtime/aws.py).
    celery_only = {r for r in worker if r.split("==")[0].split("[")[0] in {"celery", "kombu", "pycurl", "boto3"}}
    assert executor == worker - celery_only


def test_executor_choice_is_per_queue_and_checked() -> None:
    assert executors({"replies": "lambda"}) == {QueueName.REPLIES: "lambda", QueueName.BULK: "fargate"}
    assert executors('{"bulk": "lambda"}')[QueueName.BULK] == "lambda"
    with pytest.raises(ValueError, match="one of fargate, lambda"):
        executors({"replies": "ec2"})
    with pytest.raises(ValueError):
        executors({"nope": "lambda"})


def test_the_small_profile_wins_over_cdk_json_and_an_unknown_profile_is_an_error() -> None:
    context = {**cdk_json_context(), "profile": "small"}
    config = CharlaConfig.from_context(context.get)
    assert config.executor_for(QueueName.REPLIES) == "lambda"
    assert config.executor_for(QueueName.BULK) == "fargate"
    assert config.fargate_spot and config.arm64
    assert not config.lambda_snap_start and not config.container_insights
    assert config.agenda_refresh_minutes == 24 * 60
    assert config.scaling_for(QueueName.BULK).min_tasks == 0
    assert config.scaling_for(QueueName.BULK).max_tasks == context["scaling"]["bulk"]["max_tasks"]  # merged
    assert set(PROFILES) == {"small"}
    with pytest.raises(ValueError, match="profile=huge cannot be used; expected one of small"):
        CharlaConfig.from_context({**cdk_json_context(), "profile": "huge"}.get)
