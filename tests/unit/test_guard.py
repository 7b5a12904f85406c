"""The checks every request passes before Bolt: each failure has its own status."""

import json
import time

import pytest
from slack_sdk.signature import SignatureVerifier

from lambda_handler.errors import (
    NotAuthenticated,
    PayloadTooLarge,
    RequestRejected,
    UnsupportedContentType,
    http_status,
)
from lambda_handler.guard import MAX_BODY_BYTES, check_request
from scripts.slack_requests import sign

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
