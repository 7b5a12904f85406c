"""Config from context: documented defaults, -c strings, and cdk.json kept equal to the defaults."""

import dataclasses
from pathlib import Path

import pytest

from contract.queues import QUEUE_SPECS, QueueName
from infra.config import CONTEXT_KEYS, CharlaConfig, QueueScaling, SettingError
from tests.infra.conftest import cdk_json_context


def test_cdk_json_context_states_exactly_the_code_defaults() -> None:
    context = {key: value for key, value in cdk_json_context().items() if not key.startswith("@")}  # feature flags
    defaults = CharlaConfig()
    assert set(context) <= set(CONTEXT_KEYS)
    assert CharlaConfig.from_context(context.get) == defaults
    documented = {k for k in CONTEXT_KEYS if getattr(defaults, k) is not None}
    assert documented <= set(context), "every default with a value is visible in cdk.json"


def test_every_contract_queue_has_scaling_bounds() -> None:
    config = CharlaConfig()
    for queue in QUEUE_SPECS:
        bounds = config.scaling_for(queue)
        assert 0 <= bounds.min_tasks <= bounds.max_tasks


def test_values_from_the_command_line_arrive_as_strings_and_are_parsed() -> None:
    given = {
        "env_name": "prod",
        "alarm_email": "oncall@example.com",
        "fargate_spot": "true",
        "worker_arm64": "false",
        "lambda_reserved_concurrency": "25",
        "worker_cpu": "512",
        "worker_image": "public.ecr.aws/example/charla-worker:1",
        "scaling": '{"bulk": {"min_tasks": 1, "max_tasks": 5}}',
    }
    config = CharlaConfig.from_context(given.get)
    assert config.stack_name == "charla-prod"
    assert config.fargate_spot is True and config.worker_arm64 is False
    assert config.lambda_reserved_concurrency == 25
    assert config.worker_cpu == 512
    assert config.worker_image == "public.ecr.aws/example/charla-worker:1"
    assert config.scaling_for(QueueName.BULK) == dataclasses.replace(
        CharlaConfig().scaling_for(QueueName.BULK), min_tasks=1, max_tasks=5
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"fargate_spot": "maybe"}, "fargate_spot"),
        ({"scaling": '{"nosuchqueue": {}}'}, "nosuchqueue"),
        ({"scaling": '{"bulk": {"min_tasks": 3, "max_tasks": 2}}'}, "min_tasks"),
    ],
)
def test_bad_values_fail_naming_the_problem(given: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CharlaConfig.from_context(given.get)


def test_queue_scaling_rejects_a_zero_maximum() -> None:
    with pytest.raises(ValueError):
        QueueScaling(min_tasks=0, max_tasks=0)


def test_slack_manifest_points_slack_at_the_routes_the_stack_creates() -> None:
    import yaml

    from infra.constructs.slack_ingress import SLACK_EVENTS_PATH
    from lambda_handler.listeners.commands import SLASH_COMMAND
    from tests.infra.conftest import ROOT

    manifest = yaml.safe_load((ROOT / "slack" / "manifest.yaml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "chat:write",
        "im:history",
        "channels:history",
        "groups:history",  # private channels: archive, and finding an answer a dead worker posted
        "mpim:history",
        "commands",
        "channels:read",  # member_joined_channel in public channels (welcome)
        "groups:read",  # ... and in private ones
        "users:read",  # users.info with include_locale: the language a person reads
        "im:write",  # conversations.open: the welcome goes to the newcomer's DM
        "reactions:write",  # 👀 on a message whose answer is late
    }
    events = manifest["settings"]["event_subscriptions"]
    assert set(events["bot_events"]) == {
        "app_mention",
        "message.im",
        "message.channels",
        "message.groups",
        "message.mpim",
        "member_joined_channel",
        "app_home_opened",
    }
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == SLASH_COMMAND
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    # replaced by the SlackRequestUrl output
    assert events["request_url"] == command["url"] == interactivity["request_url"] == "REQUEST_URL"
    assert SLACK_EVENTS_PATH == "/slack/events"


def test_spot_runs_arm64_the_cheapest_combination() -> None:
    """Fargate Spot places Linux ARM64 tasks (platform 1.4.0+, the ECS API reference); an earlier
    rule refused the combination and forced x86_64 on Spot."""
    assert CharlaConfig().arm64 is True  # Graviton by default
    assert CharlaConfig.from_context({"fargate_spot": "true"}.get).arm64 is True
    assert CharlaConfig.from_context({"fargate_spot": "true", "worker_arm64": "true"}.get).arm64 is True
    assert CharlaConfig.from_context({"fargate_spot": "true", "worker_arm64": "false"}.get).arm64 is False


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ({"lambda_memory_mb": "abc"}, ["lambda_memory_mb=abc", "128 to 10240"]),
        ({"lambda_memory_mb": "64"}, ["lambda_memory_mb=64", "128 to 10240"]),
        ({"executor": "lambda"}, ["executor=lambda", "replies", "bulk", "fargate, lambda"]),
        ({"executor": '{"replies": "ec2"}'}, ["executor=", "fargate, lambda"]),
        ({"profile": "tiny"}, ["profile=tiny", "small"]),
        ({"worker_cpu": "lots"}, ["worker_cpu=lots", "whole number"]),
        ({"scaling": "[1]"}, ["scaling=[1]", "min_tasks"]),
        ({"worker_pool": "gevent"}, ["worker_pool=gevent", "threads, prefork, solo"]),
        ({"worker_concurrency": "0"}, ["worker_concurrency=0", "1 to 64"]),
        ({"worker_concurrency": "many"}, ["worker_concurrency=many", "1 to 64"]),
        ({"schedules": '{"weather": "rate(1 day)"}'}, ["schedules=", "no job 'weather'", "usage_report"]),
        ({"schedules": '{"usage_report": "daily"}'}, ["schedules=", "'daily' is not rate(", "cron("]),
        ({"schedules": '{"usage_report": "rate(1 days)"}'}, ["schedules=", "'rate(1 days)' is not rate("]),
        (
            {"schedules": '{"usage_report": {"expression": "rate(7 days)", "payload": {"team_id": "T1"}}}'},
            ["schedules=", "payload does not fit UsageReport", "channel"],
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_what_it_accepts(given: dict[str, str], names: list[str]) -> None:
    with pytest.raises(SettingError) as raised:
        CharlaConfig.from_context(given.get)
    message = str(raised.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_cdk_synth_with_a_bad_setting_prints_one_line_and_no_traceback() -> None:
    """What `npx cdk synth -c lambda_memory_mb=abc` shows: the app's stderr, then its exit code."""
    import json
    import os
    import subprocess
    import sys

    from tests.infra.conftest import ROOT

    context = {**cdk_json_context(), "executor": "lambda"}
    result = subprocess.run(
        [sys.executable, "-m", "infra.app"],
        cwd=ROOT,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": "/nonexistent-never-written"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("charla: setting executor=lambda cannot be used")
    assert "Traceback" not in result.stderr


def test_outside_dev_a_deploy_without_alarm_email_is_refused() -> None:
    with pytest.raises(SettingError, match=r"alarm_email is unset \(env_name=prod is not dev"):
        CharlaConfig.from_context({"env_name": "prod"}.get)
    knowingly = CharlaConfig.from_context({"env_name": "prod", "alarm_email": "none"}.get)
    assert knowingly.alarm_subscriber is None
    assert CharlaConfig.from_context({"alarm_email": "me@example.com"}.get).alarm_subscriber == "me@example.com"
    assert CharlaConfig().alarm_subscriber is None  # dev: allowed, with a warning at synth


def test_every_field_has_a_context_parser() -> None:
    """A field added later (an executor per queue, a profile) fails here until -c can set it."""
    from infra.config import _FIELD_TYPES, PARSERS

    assert set(_FIELD_TYPES) == set(CONTEXT_KEYS)
    assert all(field_type in PARSERS for field_type in _FIELD_TYPES.values())


def test_cdk_json_sets_the_feature_flags_a_new_cdk_app_gets() -> None:
    """`cdk init` writes aws-cdk-lib's recommended flags into cdk.json; without them the app runs
    on the library's old behaviours (kept only for apps that predate each flag)."""
    import json
    import tarfile
    from pathlib import Path

    import aws_cdk

    (bundle,) = (Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(bundle) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        recommended = json.load(member)
    context = cdk_json_context()
    assert {key: context.get(key) for key in recommended} == recommended


def test_a_setting_given_with_c_only_is_named_before_the_deploy_with_what_the_next_one_undoes() -> None:
    """Settings live in cdk.json; `-c profile=small` alone would be undone by the next plain
    `npx cdk deploy`, and `-c alarm_email=...` alone would drop the alarm subscriber then."""
    from infra.settings import not_kept, saved_settings

    saved = saved_settings()
    assert not_kept(saved.get, CONTEXT_KEYS, saved) == []  # a plain `npx cdk deploy`
    assert not_kept({**saved, "fargate_spot": "true", "worker_cpu": "256"}.get, CONTEXT_KEYS, saved) == []
    warnings = not_kept({**saved, "profile": "small", "alarm_email": "me@example.com"}.get, CONTEXT_KEYS, saved)
    assert len(warnings) == 2
    profile, email = sorted(warnings, key=lambda w: not w.startswith("profile"))
    assert "profile=small is given on the command line only" in profile
    assert "switches the stack back to the default deploy" in profile and "cdk.json" in profile
    assert "alarm_email=me@example.com" in email and "removes the alarm subscription" in email


def test_cdk_synth_prints_the_warning_for_a_profile_given_with_c(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk.assertions import Annotations, Match

    from infra.app import build_app

    _, stack = build_app(cdk.App(outdir=str(tmp_path), context={**cdk_json_context(), "profile": "small"}))
    found = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp(".*SettingNotKept.*"))
    assert [w for w in found if "profile=small" in str(w.entry.data)]


def test_a_schedule_is_an_expression_or_an_expression_with_the_jobs_payload() -> None:
    given = {
        "schedules": {
            "usage_report": {"expression": "cron(0 7 ? * MON *)", "payload": {"team_id": "T1", "channel": "C1"}}
        }
    }
    (entry,) = CharlaConfig.from_context(given.get).schedules.values()
    assert (entry.job, entry.expression, dict(entry.payload)) == (
        "usage_report",
        "cron(0 7 ? * MON *)",
        {"team_id": "T1", "channel": "C1"},
    )
