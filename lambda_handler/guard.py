"""Checks every request passes before Bolt sees it.

Bolt answers 500 to several malformed-but-signed requests (see shared FINDINGS), so size,
content type, signature, timestamp and body shape are settled here first, cheapest check first,
each failure with its own exception (mapped to a status in ``errors``).
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from lambda_handler.errors import NotAuthenticated, PayloadTooLarge, RequestRejected, UnsupportedContentType

# Slack event payloads are a few KiB; generous room for blocks and attachments, far below
# what would let a caller make the Lambda parse megabytes.
MAX_BODY_BYTES = 256 * 1024
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    """A request that passed every check; ``payload`` is its parsed body."""

    body: bytes
    content_type: str
    payload: Mapping[str, Any]


def _media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


# Events API envelope types Slack sends to the request URL.
EVENT_CALLBACK = "event_callback"
URL_VERIFICATION = "url_verification"
APP_RATE_LIMITED = "app_rate_limited"
_ENVELOPE_TYPES = frozenset({EVENT_CALLBACK, URL_VERIFICATION, APP_RATE_LIMITED})


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise RequestRejected("body is not valid JSON") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise RequestRejected("JSON body must be an object with a string 'type'")
    return payload


def _check_envelope(payload: dict[str, Any]) -> None:
    """The Events API envelope has the shape Bolt and our listeners rely on."""
    kind = payload["type"]
    if kind not in _ENVELOPE_TYPES:
        raise RequestRejected(f"unknown request type {kind[:40]!r}")
    if kind == URL_VERIFICATION and not isinstance(payload.get("challenge"), str):
        raise RequestRejected("url_verification without a string challenge")
    if kind == EVENT_CALLBACK:
        event = payload.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise RequestRejected("event_callback without an event object with a string type")
        for name in ("event_id", "team_id", "api_app_id", "enterprise_id"):
            if payload.get(name) is not None and not isinstance(payload[name], str):
                raise RequestRejected(f"{name} is not a string")
        authorizations = payload.get("authorizations", [])
        if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
            raise RequestRejected("authorizations is not a list of objects")


def _parse_form(body: bytes) -> dict[str, Any]:
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as error:
        raise RequestRejected("body is not a valid form") from error
    form = {key: values[0] for key, values in fields.items()}
    if "payload" in form:  # interactivity: a JSON document inside the form
        inner = _parse_json(form["payload"].encode("utf-8"))
        return {"payload": inner}
    if not isinstance(form.get("command"), str) or not form["command"].startswith("/"):
        raise RequestRejected("form body is neither a slash command nor an interaction")
    return form


def check_request(*, headers: Mapping[str, str], body: bytes, verifier: SignatureVerifier) -> CheckedRequest:
    """Validate a Slack request; ``headers`` must be case-insensitive (lower-case keys).

    Raises:
        PayloadTooLarge: The body exceeds ``MAX_BODY_BYTES``.
        UnsupportedContentType: Neither JSON nor a form.
        NotAuthenticated: Signature headers missing or malformed, timestamp stale, or signature wrong.
        RequestRejected: The signed body is not a Slack payload.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"{len(body)} bytes > {MAX_BODY_BYTES}")
    content_type = _media_type(headers)
    if content_type not in (JSON, FORM):
        raise UnsupportedContentType(content_type or "(none)")
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        raise NotAuthenticated("signature headers missing or malformed")
    try:
        text = body.decode("utf-8")  # Slack signs UTF-8 text; slack_sdk's verifier needs it decoded
    except UnicodeDecodeError as error:
        raise RequestRejected("body is not UTF-8") from error
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        raise NotAuthenticated("signature mismatch or stale timestamp")
    if content_type == JSON:
        payload = _parse_json(body)
        _check_envelope(payload)
    else:
        payload = _parse_form(body)
    return CheckedRequest(body=body, content_type=content_type, payload=payload)
