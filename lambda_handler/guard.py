"""Checks every request passes before Bolt sees it, and the one parse of its body.

Bolt answers 500 to several malformed-but-signed requests, and its own body parser guesses
(JSON whenever the text starts with ``{``, "interactive" whenever the text contains
``payload``, the last of repeated form keys). So the body is parsed here, once, by its
Content-Type, and Bolt is handed the parsed dict: there is no second parser to disagree with.
Size, content type, signature, timestamp and body shape are settled cheapest check first, each
failure with its own exception (mapped to a status in ``errors``).
"""

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from lambda_handler.errors import NotAuthenticated, PayloadTooLarge, RequestRejected, UnsupportedContentType

# The largest legitimate Slack request is an edit of the longest message: a ``message_changed``
# event carries the new and the previous message, each as text (up to 40,000 characters) and
# again as rich-text blocks. Slack's JSON may escape every non-ASCII character, and a character
# outside the BMP (an emoji) is then a surrogate pair, two ``\ud83d\ude00``-style escapes: 12 bytes. Four
# copies of 40,000 such characters are 1.92 MB; half as much again covers block structure,
# attachments and the envelope. Still well below Lambda's 6 MB invocation payload, and parsed
# in tens of milliseconds.
SLACK_MAX_MESSAGE_CHARS = 40_000
MAX_ESCAPED_BYTES_PER_CHAR = 12
MESSAGE_COPIES_IN_AN_EDIT = 4
MAX_BODY_BYTES = SLACK_MAX_MESSAGE_CHARS * MAX_ESCAPED_BYTES_PER_CHAR * MESSAGE_COPIES_IN_AN_EDIT * 3 // 2
# Slack's replay window: a request older (or newer) than this is refused whatever its signature.
MAX_CLOCK_SKEW_S = 5 * 60
# A slash command has about 14 fields; anything near this is not Slack.
MAX_FORM_FIELDS = 64

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")

# Events API envelope types Slack sends to the request URL.
EVENT_CALLBACK = "event_callback"
URL_VERIFICATION = "url_verification"
APP_RATE_LIMITED = "app_rate_limited"


class RequestKind(StrEnum):
    """What a checked request is; decides what the ingress does with it."""

    EVENT = "event"  # Events API event_callback
    URL_VERIFICATION = "url_verification"  # answered with the challenge
    RATE_LIMITED = "app_rate_limited"  # Slack telling us it dropped events: acked, logged
    COMMAND = "command"  # slash command form
    INTERACTION = "interaction"  # block_actions, view_submission, shortcut... (form with ``payload``)
    SSL_CHECK = "ssl_check"  # Slack probing the certificate of a slash command URL: acked


_ENVELOPES = {
    EVENT_CALLBACK: RequestKind.EVENT,
    URL_VERIFICATION: RequestKind.URL_VERIFICATION,
    APP_RATE_LIMITED: RequestKind.RATE_LIMITED,
}


class Verifier(Protocol):
    """``slack_sdk.signature.SignatureVerifier.is_valid`` (or ``signing.SigningKey``)."""

    def is_valid(self, body: str, timestamp: str, signature: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    """A request that passed every check.

    Attributes:
        body: The raw body (as signed).
        content_type: Its media type.
        kind: What the request is.
        payload: The parsed body as Bolt reads it: the event envelope, the command form, or an
            interaction's ``payload`` document.
        team_id: The workspace it comes from, when the request names one.
        enterprise_id: The Enterprise Grid org, when the request names one.
        app_id: The Slack app it is addressed to, when the request names one.
    """

    body: bytes
    content_type: str
    kind: RequestKind
    payload: dict[str, Any]
    team_id: str | None = None
    enterprise_id: str | None = None
    app_id: str | None = None


def _media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json_object(text: str | bytes) -> dict[str, Any]:
    """A JSON object with a string ``type``; NaN/Infinity and absurd nesting are refused."""
    try:
        payload = json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        # RecursionError: a body nested thousands of levels deep; not a ValueError, but as malformed.
        raise RequestRejected("body is not valid JSON") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise RequestRejected("JSON body must be an object with a string 'type'")
    return payload


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _check_envelope(payload: dict[str, Any]) -> RequestKind:
    """The Events API envelope has the shape our listeners rely on."""
    kind = _ENVELOPES.get(payload["type"])
    if kind is None:
        raise RequestRejected(f"unknown request type {payload['type'][:40]!r}")
    if kind == RequestKind.URL_VERIFICATION and not isinstance(payload.get("challenge"), str):
        raise RequestRejected("url_verification without a string challenge")
    for name in ("event_id", "team_id", "api_app_id", "enterprise_id"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise RequestRejected(f"{name} is not a string")
    if kind == RequestKind.EVENT:
        event = payload.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise RequestRejected("event_callback without an event object with a string type")
        authorizations = payload.get("authorizations", [])
        if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
            raise RequestRejected("authorizations is not a list of objects")
    return kind


def _parse_form(text: str) -> dict[str, str]:
    """Form fields; a repeated field is ambiguous (which value is meant?) and refused."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as error:
        raise RequestRejected("body is not a valid form") from error
    form = dict(pairs)
    if len(form) != len(pairs):
        raise RequestRejected("form repeats a field")
    return form


# Fields of an interaction payload that Slack always sends as objects (or null) and Bolt reads as
# such, routing included: any other type made Bolt raise inside its dispatch (a 500).
_INTERACTION_OBJECTS = ("team", "user", "enterprise", "view", "channel", "message", "container", "state")


def _interaction(body: bytes, form: dict[str, str]) -> CheckedRequest:
    if set(form) - {"payload"}:
        raise RequestRejected("an interaction form carries only 'payload'")
    inner = _parse_json_object(form["payload"])
    for name in _INTERACTION_OBJECTS:
        if inner.get(name) is not None and not isinstance(inner[name], dict):
            raise RequestRejected(f"interaction {name} is not an object")
    if "view" in inner and not isinstance(inner["view"], dict):  # Bolt reads any "view" key present
        raise RequestRejected("interaction view is not an object")
    actions = inner.get("actions", [])
    if not isinstance(actions, list) or not all(isinstance(action, dict) for action in actions):
        raise RequestRejected("interaction actions is not a list of objects")
    team = inner.get("team")
    enterprise = inner.get("enterprise")
    return CheckedRequest(
        body=body,
        content_type=FORM,
        kind=RequestKind.INTERACTION,
        payload=inner,
        team_id=_string(team.get("id")) if isinstance(team, dict) else None,
        enterprise_id=_string(enterprise.get("id")) if isinstance(enterprise, dict) else None,
        app_id=_string(inner.get("api_app_id")),
    )


def _parse(body: bytes, text: str, content_type: str) -> CheckedRequest:
    if content_type == JSON:
        payload = _parse_json_object(text)
        kind = _check_envelope(payload)
        return CheckedRequest(
            body=body,
            content_type=content_type,
            kind=kind,
            payload=payload,
            team_id=_string(payload.get("team_id")),
            enterprise_id=_string(payload.get("enterprise_id")),
            app_id=_string(payload.get("api_app_id")),
        )
    form = _parse_form(text)
    if "payload" in form:
        return _interaction(body, form)
    if form.get("ssl_check") == "1" and "command" not in form:
        return CheckedRequest(body=body, content_type=content_type, kind=RequestKind.SSL_CHECK, payload=dict(form))
    if not form.get("command", "").startswith("/"):
        raise RequestRejected("form body is neither a slash command nor an interaction")
    return CheckedRequest(
        body=body,
        content_type=content_type,
        kind=RequestKind.COMMAND,
        payload=dict(form),
        team_id=form.get("team_id") or None,
        enterprise_id=form.get("enterprise_id") or None,
        app_id=form.get("api_app_id") or None,
    )


def check_request(
    *, headers: Mapping[str, str], body: bytes, verifier: Verifier, now: float | None = None
) -> CheckedRequest:
    """Validate a Slack request and parse its body; ``headers`` must have lower-case keys.

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
    # Checked before the signature, so a replayed request never makes the secret be re-read.
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_CLOCK_SKEW_S:
        raise NotAuthenticated("timestamp outside the replay window")
    try:
        text = body.decode("utf-8")  # Slack signs UTF-8 text; slack_sdk's verifier needs it decoded
    except UnicodeDecodeError as error:
        raise RequestRejected("body is not UTF-8") from error
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        raise NotAuthenticated("signature mismatch")
    return _parse(body, text, content_type)


# Socket Mode envelope types that carry a request, and the HTTP body each stands for.
SOCKET_EVENTS_API = "events_api"
SOCKET_SLASH_COMMANDS = "slash_commands"
SOCKET_INTERACTIVE = "interactive"


def check_envelope(envelope_type: str, payload: dict[str, Any]) -> CheckedRequest:
    """Check a Socket Mode envelope's payload as the HTTP door checks a request body.

    Socket Mode carries no signature: the WebSocket was opened with the app-level token, and
    that connection is the authentication. Everything else is the same: the payload is turned
    into the body Slack would have POSTed (JSON for events, a form for commands and
    interactions) and goes through the same parse and shape checks, so both transports hand
    Bolt the same dict and refuse the same malformed payloads.

    Raises:
        PayloadTooLarge: The payload exceeds ``MAX_BODY_BYTES``.
        RequestRejected: An envelope type we do not serve, or a payload that is not a Slack one.
    """
    if envelope_type == SOCKET_EVENTS_API:
        text, content_type = json.dumps(payload), JSON
    elif envelope_type == SOCKET_SLASH_COMMANDS:
        if not all(isinstance(value, str) for value in payload.values()):
            raise RequestRejected("slash command fields are not all strings")
        text, content_type = urlencode(payload), FORM
    elif envelope_type == SOCKET_INTERACTIVE:
        text, content_type = urlencode({"payload": json.dumps(payload)}), FORM
    else:
        raise RequestRejected(f"unknown Socket Mode envelope type {envelope_type[:40]!r}")
    body = text.encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"{len(body)} bytes > {MAX_BODY_BYTES}")
    return _parse(body, text, content_type)
