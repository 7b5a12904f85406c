"""Config from context: documented defaults, -c strings, and cdk.json kept equal to the defaults."""

import dataclasses

import pytest

from contract.queues import QUEUE_SPECS, QueueName
from infra.config import CONTEXT_KEYS, CharlaConfig, QueueScaling
from tests.infra.conftest import cdk_json_context


def test_cdk_json_context_states_exactly_the_code_defaults() -> None:
    context = cdk_json_context()
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


def test_spot_implies_x86_64_and_explicit_arm64_with_spot_is_refused_naming_both_keys() -> None:
    assert CharlaConfig().arm64 is True  # Graviton by default
    spot = CharlaConfig.from_context({"fargate_spot": "true"}.get)
    assert spot.arm64 is False  # Fargate Spot places only X86_64 Linux tasks
    assert CharlaConfig.from_context({"fargate_spot": "true", "worker_arm64": "false"}.get).arm64 is False
    with pytest.raises(ValueError, match=r"fargate_spot=true with worker_arm64=true.*X86_64"):
        CharlaConfig.from_context({"fargate_spot": "true", "worker_arm64": "true"}.get)
    # cdk.json states no architecture, so `-c fargate_spot=true` on top of it is not a conflict.
    assert CharlaConfig.from_context({**cdk_json_context(), "fargate_spot": "true"}.get).arm64 is False


def test_every_field_has_a_context_parser() -> None:
    """A field added later (an executor per queue, a profile) fails here until -c can set it."""
    from infra.config import _FIELD_TYPES, PARSERS

    assert set(_FIELD_TYPES) == set(CONTEXT_KEYS)
    assert all(field_type in PARSERS for field_type in _FIELD_TYPES.values())
