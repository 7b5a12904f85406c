"""The ingress door over real HTTP (uvicorn) and through ``handler``, with SQS on moto and no worker:
every body is parsed once, signed input never gets a 5xx, only well-typed payloads are queued, and
only the configured workspaces and app are served."""

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from contract.queues import QueueName
from contract.tasks import MessageKind, TaskName
from contract.wire import decode_task_message
from lambda_handler.guard import MAX_BODY_BYTES
from scripts.slack_requests import (
    API_APP_ID,
    TEAM_ID,
    app_mention,
    channel_message,
    event_callback,
    longest_edit,
    sign,
    signed_event,
    signed_slash_command,
    to_api_gateway_event,
)
from scripts.stack import DevStack
from tests.conftest import configured_like_the_lambda, load_event

pytestmark = pytest.mark.slow

FORM = "application/x-www-form-urlencoded"


def queued(stack: DevStack) -> list[Any]:
    """Every task waiting on any queue, taken off it."""
    tasks = []
    for queue in QueueName:
        while messages := stack.receive_raw(queue, wait_s=0):
            tasks += [decode_task_message(m["Body"]) for m in messages]
    return tasks


@pytest.fixture
def door(stack_without_worker: DevStack) -> Iterator[DevStack]:
    stack_without_worker.empty_queues()
    yield stack_without_worker


def command_form(stack: DevStack, **fields: str) -> dict[str, str]:
    form = {
        "token": "unused",
        "team_id": TEAM_ID,
        "team_domain": "local",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": "U0ALICE",
        "user_name": "alice",
        "command": "/charla",
        "text": "ping",
        "api_app_id": API_APP_ID,
        "response_url": stack.response_url(),
        "trigger_id": f"1.2.{uuid.uuid4().hex}",
    }
    return {**form, **fields}


# -- defect 1: "payload" anywhere in a command ----------------------------------------------------


@pytest.mark.parametrize("field", ["text", "channel_name", "user_name", "team_domain"])
def test_a_slash_command_containing_the_word_payload_is_queued(door: DevStack, field: str) -> None:
    form = command_form(door, text="search payload", **({field: "payload-team"} if field != "text" else {}))

    response = door.post(sign(urlencode(form).encode(), door.signing_secret, content_type=FORM))

    assert response.status == 200
    (task,) = queued(door)
    assert task.task == TaskName.SEARCH_AGENDA
    assert task.kwargs["args"] == "payload"


# -- defect 2: the guard and Bolt read the same body the same way ---------------------------------


def test_a_form_that_starts_like_json_runs_as_the_form_not_as_a_dm_event(door: DevStack) -> None:
    dm = {"type": "message", "channel_type": "im", "channel": "D0EVE", "user": "U0EVE", "text": "stats", "ts": "1.2"}
    smuggled = {"a=": 1, **event_callback(dm), "pad": "&command=/charla&text=ping&channel_id=C0FORM&user_id=U0F&z="}

    response = door.post(sign(json.dumps(smuggled).encode(), door.signing_secret, content_type=FORM))

    assert response.status == 200
    (task,) = queued(door)  # one command from the form; no archive task, no DM command
    assert (task.task, task.kwargs["channel"]) == (TaskName.PING, "C0FORM")


def test_a_form_repeating_a_field_is_400_and_queues_nothing(door: DevStack) -> None:
    body = urlencode(command_form(door)) + "&channel_id=C0OTHER"

    response = door.post(sign(body.encode(), door.signing_secret, content_type=FORM))

    assert response.status == 400
    assert queued(door) == []


# -- defect 3: signed input never gets a 5xx -------------------------------------------------------


def test_a_deeply_nested_signed_body_is_400(door: DevStack) -> None:
    body = b'{"type": "event_callback", "event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    response = door.post(sign(body, door.signing_secret, content_type="application/json"))

    assert response.status == 400


@pytest.mark.parametrize("missing", ["channel_id", "user_id"])
def test_a_charla_command_without_its_channel_or_user_is_400(door: DevStack, missing: str) -> None:
    form = command_form(door)
    del form[missing]

    response = door.post(sign(urlencode(form).encode(), door.signing_secret, content_type=FORM))

    assert response.status == 400
    assert queued(door) == []


# -- defect 4: only well-typed payloads reach a queue ---------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        app_mention("ping") | {"thread_ts": {"evil": [1, 2]}},
        channel_message("hola") | {"channel_type": 7},
        channel_message("hola") | {"thread_ts": 1.5},
        channel_message("hola", channel="C0X") | {"channel": ["C0X"]},
    ],
    ids=["thread_ts-object", "channel_type-number", "thread_ts-number", "channel-list"],
)
def test_event_fields_of_the_wrong_type_are_400_and_queue_nothing(door: DevStack, event: dict[str, Any]) -> None:
    response = door.post_event(event)

    assert response.status == 400
    assert queued(door) == []


def test_nan_in_a_signed_event_is_400(door: DevStack) -> None:
    body = json.dumps(event_callback(channel_message("hola") | {"subtype": float("nan")})).encode()
    assert b"NaN" in body

    response = door.post(sign(body, door.signing_secret, content_type="application/json"))

    assert response.status == 400
    assert queued(door) == []


# -- defect 5: ssl_check ---------------------------------------------------------------------------


def test_ssl_check_is_answered_200(door: DevStack) -> None:
    response = door.post(sign(b"ssl_check=1&token=legacy-token", door.signing_secret, content_type=FORM))

    assert response.status == 200
    assert queued(door) == []


# -- defect 6: the largest legitimate edit ---------------------------------------------------------


def test_the_longest_possible_edit_is_accepted_and_archived(door: DevStack) -> None:
    request = signed_event(longest_edit(channel="C0LONG"), door.signing_secret)
    assert len(request.body) > 1_900_000  # four copies of 40,000 emoji, each escaped to 12 bytes

    response = door.post(request)

    assert response.status == 200
    assert len(request.body) < MAX_BODY_BYTES
    (task,) = queued(door)
    assert task.task == TaskName.ARCHIVE_MESSAGE
    assert (task.kwargs["kind"], task.kwargs["channel"]) == (MessageKind.EDITED, "C0LONG")
    assert task.kwargs["text"].startswith("\U0001f389" * 100)


# -- defect 7: only the configured workspaces and app ----------------------------------------------


@pytest.fixture
def serving_one_workspace(door: DevStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[DevStack]:
    """This process configured like a Lambda that serves TEAM_ID's workspace, org E0ORG and API_APP_ID."""
    with configured_like_the_lambda(door) as stack:
        monkeypatch.setenv("CHARLA_SLACK_TEAM_IDS", f"{TEAM_ID}, E0ORG")
        monkeypatch.setenv("CHARLA_SLACK_APP_ID", API_APP_ID)
        yield stack


def _via_lambda(stack: DevStack, body: bytes, content_type: str) -> int:
    from lambda_handler.main import handler

    event = to_api_gateway_event(
        load_event("apigw_v2_post.json"), sign(body, stack.signing_secret, content_type=content_type)
    )
    return int(handler(event, None)["statusCode"])


def _event_from(team_id: str, app_id: str = API_APP_ID, enterprise_id: str | None = None) -> bytes:
    envelope = event_callback(app_mention("ping", channel="C0ELSEWHERE"))
    envelope.update({"team_id": team_id, "api_app_id": app_id})
    if enterprise_id:
        envelope["enterprise_id"] = enterprise_id
    return json.dumps(envelope).encode()


def _interaction_from(team_id: str) -> bytes:
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "elsewhere"},
        "user": {"id": "U0ELSE", "team_id": team_id},
        "api_app_id": API_APP_ID,
        "trigger_id": f"1.2.{uuid.uuid4().hex}",
        "actions": [{"type": "button", "action_id": "more", "value": "1", "action_ts": "1.2"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_event_from("T0ELSEWHERE"), "application/json"),
        (_event_from(TEAM_ID, app_id="A0OTHERAPP"), "application/json"),
        (
            urlencode(
                {
                    "command": "/charla",
                    "text": "ping",
                    "team_id": "T0ELSEWHERE",
                    "channel_id": "C1",
                    "user_id": "U1",
                    "api_app_id": API_APP_ID,
                }
            ).encode(),
            FORM,
        ),
        (_interaction_from("T0ELSEWHERE"), FORM),
    ],
    ids=["event-other-team", "event-other-app", "command-other-team", "interaction-other-team"],
)
def test_a_request_from_another_workspace_or_app_is_acked_logged_once_and_dropped(
    serving_one_workspace: DevStack, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="charla.ingress"):
        status = _via_lambda(serving_one_workspace, body, content_type)

    assert status == 200
    assert queued(serving_one_workspace) == []
    dropped = [r for r in caplog.records if "not served" in r.getMessage()]
    assert len(dropped) == 1


def test_the_configured_workspace_and_an_org_install_are_served(serving_one_workspace: DevStack) -> None:
    statuses = [
        _via_lambda(serving_one_workspace, _event_from(TEAM_ID), "application/json"),
        _via_lambda(serving_one_workspace, _event_from("T0ORGMEMBER", enterprise_id="E0ORG"), "application/json"),
    ]

    assert statuses == [200, 200]
    assert [t.task for t in queued(serving_one_workspace)] == [TaskName.PING, TaskName.PING]


def test_url_verification_is_answered_before_any_workspace_is_known(serving_one_workspace: DevStack) -> None:
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"}).encode()

    assert _via_lambda(serving_one_workspace, body, "application/json") == 200


def test_slash_command_request_factory_still_round_trips(door: DevStack) -> None:
    response = door.post(signed_slash_command("ping", door.signing_secret, response_url=door.response_url()))

    assert response.status == 200
    assert [t.task for t in queued(door)] == [TaskName.PING]


# -- Secrets Manager unreachable: Slack must retry, so never a 2xx and never a 500 ---------------


def test_an_unreachable_secrets_manager_answers_503_and_queues_nothing(
    door: DevStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts.processes import free_port

    with configured_like_the_lambda(door) as stack:
        monkeypatch.setenv(
            "CHARLA_SLACK_SIGNING_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf"
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{free_port()}")
        body = json.dumps(event_callback(app_mention("ping", channel="C0NOSECRET"))).encode()

        status = _via_lambda(stack, body, "application/json")

    assert status == 503
    assert queued(door) == []
