"""The checks every request passes before Bolt: each failure has its own status."""

import json
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from lambda_handler.errors import (
    NotAuthenticated,
    PayloadTooLarge,
    RequestRejected,
    UnsupportedContentType,
    http_status,
)
from lambda_handler.guard import MAX_BODY_BYTES, RequestKind, check_request
from scripts.slack_requests import event_callback, longest_edit, sign

SECRET = "unit-test-secret"
VERIFIER = SignatureVerifier(SECRET)


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def check(body: bytes, content_type: str = "application/json", **overrides: str) -> object:
    signed = sign(body, SECRET, content_type=content_type)
    return check_request(headers={**lower(signed.headers), **overrides}, body=body, verifier=VERIFIER)


def test_a_signed_event_passes_with_its_payload_parsed() -> None:
    checked = check(json.dumps({"type": "event_callback", "event": {"type": "app_mention"}}).encode())

    assert checked.payload["type"] == "event_callback"  # type: ignore[attr-defined]


def test_a_signed_slash_command_passes() -> None:
    checked = check(b"command=%2Fcharla&text=ping&channel_id=C1&user_id=U1", "application/x-www-form-urlencoded")

    assert checked.payload["command"] == "/charla"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "content_type", "overrides", "error", "status"),
    [
        (b"x" * (MAX_BODY_BYTES + 1), "application/json", {}, PayloadTooLarge, 413),
        (b"{}", "text/html", {}, UnsupportedContentType, 415),
        (b'{"type": "x"}', "application/json", {"x-slack-signature": "v0=nothex"}, NotAuthenticated, 401),
        (b'{"type": "x"}', "application/json", {"x-slack-request-timestamp": "soon"}, NotAuthenticated, 401),
        (
            b'{"type": "x"}',
            "application/json",
            {"x-slack-request-timestamp": str(int(time.time()) - 301)},
            NotAuthenticated,
            401,
        ),
        (b'{"type": "x"}', "application/json", {"x-slack-signature": "v0=" + "0" * 64}, NotAuthenticated, 401),
        (b'{"type": 1}', "application/json", {}, RequestRejected, 400),
        (b"text=ping", "application/x-www-form-urlencoded", {}, RequestRejected, 400),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded", {}, RequestRejected, 400),
        (b"\xc3\x28", "application/json", {}, RequestRejected, 400),
        (b'{"type": "event_callback"}', "application/json", {}, RequestRejected, 400),
        (b'{"type": "event_callback", "event": []}', "application/json", {}, RequestRejected, 400),
        (b'{"type": "event_callback", "event": {"type": 7}}', "application/json", {}, RequestRejected, 400),
        (
            b'{"type": "event_callback", "event": {"type": "x"}, "event_id": 1}',
            "application/json",
            {},
            RequestRejected,
            400,
        ),
        (b'{"type": "url_verification"}', "application/json", {}, RequestRejected, 400),
        (b'{"type": "block_actions"}', "application/json", {}, RequestRejected, 400),
    ],
)
def test_each_bad_request_gets_its_own_error(
    body: bytes, content_type: str, overrides: dict[str, str], error: type[Exception], status: int
) -> None:
    with pytest.raises(error) as raised:
        check(body, content_type, **overrides)

    assert http_status(raised.value)[0] == status


def test_unexpected_errors_map_to_500_without_details() -> None:
    assert http_status(KeyError("internal detail")) == (500, "internal error")


# -- one parse, by content type, handed to Bolt as is --------------------------------------------

FORM = "application/x-www-form-urlencoded"


def test_a_command_mentioning_payload_is_still_a_command() -> None:
    body = urlencode({"command": "/charla", "text": "search payload", "channel_id": "C1", "channel_name": "payload"})

    checked = check(body.encode(), FORM)

    assert checked.kind == RequestKind.COMMAND  # type: ignore[attr-defined]
    assert checked.payload["text"] == "search payload"  # type: ignore[attr-defined]


def test_a_form_that_starts_like_json_is_read_as_the_form_it_is() -> None:
    body = b'{"a=":1,"type":"event_callback","event":{"type":"message"},"pad":"&command=/charla&text=ping&z="}'

    checked = check(body, FORM)

    assert checked.kind == RequestKind.COMMAND  # type: ignore[attr-defined]
    assert checked.payload["command"] == "/charla"  # type: ignore[attr-defined]
    assert "event" not in checked.payload  # type: ignore[attr-defined]


def test_an_interaction_hands_on_its_payload_document_and_names_its_workspace() -> None:
    inner = {"type": "block_actions", "team": {"id": "T1"}, "enterprise": None, "api_app_id": "A1", "actions": []}

    checked = check(urlencode({"payload": json.dumps(inner)}).encode(), FORM)

    assert checked.kind == RequestKind.INTERACTION  # type: ignore[attr-defined]
    assert checked.payload == inner  # type: ignore[attr-defined]
    assert (checked.team_id, checked.enterprise_id, checked.app_id) == ("T1", None, "A1")  # type: ignore[attr-defined]


def test_ssl_check_is_recognised() -> None:
    checked = check(b"ssl_check=1&token=legacy", FORM)

    assert checked.kind == RequestKind.SSL_CHECK  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"command=%2Fcharla&channel_id=C1&channel_id=C2&user_id=U1", FORM),  # which channel?
        (b"command=%2Fcharla&command=%2Fother&channel_id=C1", FORM),
        (b"payload=%7B%22type%22%3A%22block_actions%22%7D&command=%2Fcharla", FORM),  # both at once
        (b"ssl_check=2", FORM),
        (b'{"type": "event_callback", "event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json"),
        (b'{"type": "event_callback", "event": {"type": "message", "ts": NaN}}', "application/json"),
        (b'{"type": "event_callback", "event": {"type": "message", "ts": Infinity}}', "application/json"),
    ],
)
def test_ambiguous_or_non_json_bodies_are_400(body: bytes, content_type: str) -> None:
    with pytest.raises(RequestRejected):
        check(body, content_type)


def test_the_longest_legitimate_edit_fits_under_the_body_limit() -> None:
    body = json.dumps(event_callback(longest_edit())).encode()  # ensure_ascii: every emoji escaped

    assert len(body) > 1_900_000  # the test builds what it claims: four 40,000-emoji copies
    checked = check(body)

    assert checked.payload["event"]["subtype"] == "message_changed"  # type: ignore[attr-defined]
