"""Property: no correctly signed body, however odd, makes the ingress answer 5xx.

Bodies cover Events API envelopes, any JSON, slash command forms (``/charla`` with fields
missing, empty, repeated or holding the word "payload") and interactive payloads.

Bolt answers 500 to several malformed-but-signed bodies (measured with Bolt 1.x); the guard and the
listeners must turn every such body into a 4xx or an ignored 200. Runs in process through
``handler(event, context)`` against the moto server, so hypothesis can try hundreds of bodies.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.slack_requests import sign, to_api_gateway_event
from scripts.stack import DevStack
from tests.conftest import configured_like_the_lambda, load_event

pytestmark = pytest.mark.slow

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
event_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["app_mention", "message", "reaction_added", "app_home_opened"]) | scalars,
        "channel": st.sampled_from(["C1", "D1"]) | scalars,
        "channel_type": st.sampled_from(["im", "channel"]) | scalars,
        "user": st.just("U1") | scalars,
        "text": st.text(max_size=40) | scalars,
        "ts": st.just("1700000000.000100") | scalars,
        "thread_ts": st.just("1700000000.000100") | scalars,
        "subtype": st.sampled_from(["message_changed", "message_deleted", "bot_message"]) | scalars,
        "bot_id": st.just("B1") | scalars,
        "message": json_values,
        "previous_message": json_values,
        "deleted_ts": scalars,
        "event_ts": scalars,
    },
)
envelopes = st.fixed_dictionaries(
    {"type": st.just("event_callback"), "event": event_fields},
    optional={
        "event_id": st.text(min_size=1, max_size=12),
        "team_id": st.text(max_size=6),
        "authorizations": json_values,
    },
)
forms = st.dictionaries(
    st.sampled_from(["command", "text", "channel_id", "user_id", "team_id", "response_url", "trigger_id", "payload"]),
    st.text(max_size=30),
    max_size=8,
)


# Slash command forms as Slack sends them, each field possibly missing, empty or odd; a field may
# repeat (a list of pairs, not a dict) and text often holds the word Bolt used to trip on.
command_fields = st.sampled_from(
    [
        "token",
        "team_id",
        "team_domain",
        "enterprise_id",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
)
command_values = st.sampled_from(
    ["", "C1", "U1", "T1", "payload", "ping payload", "{", "/charla", "%", "1.5"]
) | st.text(max_size=20)
command_forms = st.tuples(
    st.sampled_from(["/charla", "/charla", "/other", "charla", ""]),
    st.lists(st.tuples(command_fields, command_values), max_size=10),
).map(lambda command_and_pairs: [("command", command_and_pairs[0]), *command_and_pairs[1]])
interaction_types = st.sampled_from(
    ["block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"]
)
interactions = st.fixed_dictionaries(
    {"type": interaction_types | scalars},
    optional={
        "team": st.fixed_dictionaries({"id": st.just("T1") | scalars}) | json_values,
        "user": st.fixed_dictionaries({"id": st.just("U1") | scalars}) | json_values,
        "enterprise": st.none() | json_values,
        "api_app_id": st.just("A1") | scalars,
        "trigger_id": st.text(max_size=12) | scalars,
        "actions": st.lists(st.fixed_dictionaries({"action_id": st.text(max_size=8) | scalars}), max_size=2)
        | json_values,
        "view": json_values,
        "channel": json_values,
        "message": json_values,
        "response_url": scalars,
    },
)


@pytest.fixture(scope="module")
def ingress_env(stack_without_worker: DevStack) -> Iterator[DevStack]:
    with configured_like_the_lambda(stack_without_worker) as stack:
        yield stack


def _status(stack: DevStack, body: bytes, content_type: str) -> int:
    from lambda_handler.main import handler

    event = to_api_gateway_event(
        load_event("apigw_v2_post.json"), sign(body, stack.signing_secret, content_type=content_type)
    )
    result: dict[str, Any] = handler(event, None)
    return int(result["statusCode"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(envelope=envelopes)
def test_signed_event_envelopes_never_get_a_5xx(ingress_env: DevStack, envelope: dict[str, Any]) -> None:
    assert _status(ingress_env, json.dumps(envelope).encode(), "application/json") in (200, 400)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values)
def test_signed_json_of_any_shape_never_gets_a_5xx(ingress_env: DevStack, body: Any) -> None:
    assert _status(ingress_env, json.dumps(body).encode(), "application/json") in (200, 400)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=forms)
def test_signed_forms_never_get_a_5xx(ingress_env: DevStack, form: dict[str, str]) -> None:
    from urllib.parse import urlencode

    assert _status(ingress_env, urlencode(form).encode(), "application/x-www-form-urlencoded") in (200, 400)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=command_forms)
def test_signed_slash_commands_never_get_a_5xx(ingress_env: DevStack, pairs: list[tuple[str, str]]) -> None:
    from urllib.parse import urlencode

    assert _status(ingress_env, urlencode(pairs).encode(), "application/x-www-form-urlencoded") in (200, 400)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=interactions | json_values)
def test_signed_interactive_payloads_never_get_a_5xx(ingress_env: DevStack, payload: Any) -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert _status(ingress_env, body, "application/x-www-form-urlencoded") in (200, 400)
