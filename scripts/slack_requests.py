"""Correctly signed Slack requests, as Slack sends them: the one factory tests, demo and bench use."""

import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

TEAM_ID = "TLOCAL"
API_APP_ID = "ACHARLA"
_counter = itertools.count(1)


@dataclass(frozen=True)
class SignedRequest:
    """A body and the headers Slack would send with it."""

    body: bytes
    headers: dict[str, str]


def sign(body: bytes, signing_secret: str, *, content_type: str, timestamp: int | None = None) -> SignedRequest:
    """Sign ``body`` the way Slack does (v0 HMAC-SHA256 over ``v0:timestamp:body``)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    # Over the raw bytes, as Slack does (slack_sdk's helper insists on UTF-8 text, and tests send
    # some bodies that are not).
    digest = hmac.new(signing_secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    signature = "v0=" + digest.hexdigest()
    return SignedRequest(
        body=body,
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
        },
    )


def next_ts() -> str:
    """A Slack-style message timestamp, unique within this process."""
    return f"{int(time.time())}.{next(_counter):06d}"


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """The Events API envelope around ``event``."""
    return {
        "token": "legacy-verification-token-unused",
        "team_id": TEAM_ID,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:12].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": "UCHARLABOT", "is_bot": True}],
    }


def app_mention(
    text: str,
    *,
    channel: str = "C0GENERAL",
    user: str = "U0ALICE",
    thread_ts: str | None = None,
    ts: str | None = None,
    bot_user_id: str = "UCHARLABOT",
) -> dict[str, Any]:
    """An ``app_mention`` event whose text starts with the bot's mention."""
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{bot_user_id}> {text}",
        "ts": ts or next_ts(),
        "channel": channel,
        "event_ts": ts or next_ts(),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def direct_message(
    text: str, *, channel: str = "D0ALICE", user: str = "U0ALICE", ts: str | None = None
) -> dict[str, Any]:
    """A ``message`` event in the bot's DM channel."""
    stamp = ts or next_ts()
    return {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": stamp,
        "channel": channel,
        "event_ts": stamp,
    }


def channel_message(
    text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE", ts: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A ``message`` event in a channel (``message.channels``), as Slack sends for every post."""
    stamp = ts or next_ts()
    return {
        "type": "message",
        "channel": channel,
        "channel_type": "channel",
        "user": user,
        "text": text,
        "ts": stamp,
        "event_ts": stamp,
        **extra,
    }


def rich_text(text: str) -> list[dict[str, Any]]:
    """The ``blocks`` Slack adds to a message typed in its composer: the text again, as rich text."""
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


def message_edit(
    new_text: str, old_text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE", ts: str | None = None
) -> dict[str, Any]:
    """A ``message_changed`` event: the edited message and the previous one, each with rich text."""
    original_ts = ts or next_ts()
    edited_at = next_ts()

    def message(text: str, *, edited: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": original_ts,
            "team": TEAM_ID,
            "client_msg_id": str(uuid.uuid4()),
            "blocks": rich_text(text),
        }
        if edited:
            body["edited"] = {"user": user, "ts": edited_at}
        return body

    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": channel,
        "channel_type": "channel",
        "ts": edited_at,
        "event_ts": edited_at,
        "message": message(new_text, edited=True),
        "previous_message": message(old_text, edited=False),
    }


def longest_edit(channel: str = "C0GENERAL") -> dict[str, Any]:
    """The largest edit event Slack can send: 40,000-character messages (Slack's limit) before and
    after, every character an emoji (4 bytes of UTF-8, 12 once JSON escapes its surrogate pair)."""
    return message_edit("\U0001f389" * 40_000, "\U0001f38a" * 40_000, channel=channel)


def signed_event(
    event: dict[str, Any], signing_secret: str, *, event_id: str | None = None, timestamp: int | None = None
) -> SignedRequest:
    """A signed Events API request carrying ``event``."""
    body = json.dumps(event_callback(event, event_id=event_id)).encode()
    return sign(body, signing_secret, content_type="application/json", timestamp=timestamp)


def signed_url_verification(challenge: str, signing_secret: str) -> SignedRequest:
    body = json.dumps({"token": "unused", "challenge": challenge, "type": "url_verification"}).encode()
    return sign(body, signing_secret, content_type="application/json")


def signed_slash_command(
    text: str,
    signing_secret: str,
    *,
    response_url: str,
    channel: str = "C0GENERAL",
    user: str = "U0ALICE",
    command: str = "/charla",
) -> SignedRequest:
    """A signed slash command form post."""
    form = slash_command_form(text, response_url=response_url, channel=channel, user=user, command=command)
    return sign(urlencode(form).encode(), signing_secret, content_type="application/x-www-form-urlencoded")


def slash_command_form(
    text: str, *, response_url: str, channel: str = "C0GENERAL", user: str = "U0ALICE", command: str = "/charla"
) -> dict[str, str]:
    """The fields of a slash command (a form post over HTTP, an envelope's payload in Socket Mode)."""
    return {
        "token": "unused",
        "team_id": TEAM_ID,
        "team_domain": "local",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": "alice",
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "response_url": response_url,
        "trigger_id": f"{next(_counter)}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:16]}",
    }


def to_api_gateway_event(template: dict[str, Any], request: SignedRequest) -> dict[str, Any]:
    """Put a signed request into an API Gateway event (v2 HTTP API or v1 REST, from ``template``)."""
    event: dict[str, Any] = json.loads(json.dumps(template))
    headers = {
        name.lower() if event.get("version") == "2.0" else name: value for name, value in request.headers.items()
    }
    event["headers"] = {**event.get("headers", {}), **headers}
    event["body"] = request.body.decode()
    event["isBase64Encoded"] = False
    return event


def block_action(
    action: dict[str, Any],
    *,
    response_url: str,
    channel: str = "C0GENERAL",
    user: str = "U0ALICE",
    message_ts: str | None = None,
    thread_ts: str | None = None,
    trigger_id: str | None = None,
    ephemeral: bool = False,
) -> dict[str, Any]:
    """The ``block_actions`` payload Slack sends when someone presses a button in a message
    (``ephemeral``: a message only the presser sees, which Slack marks ``is_ephemeral``)."""
    container: dict[str, Any] = {"type": "message", "message_ts": message_ts or next_ts(), "channel_id": channel}
    if thread_ts:
        container["thread_ts"] = thread_ts
    if ephemeral:
        container["is_ephemeral"] = True
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "unused",
        "container": container,
        "trigger_id": trigger_id or f"{next(_counter)}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:16]}",
        "team": {"id": TEAM_ID, "domain": "local"},
        "channel": {"id": channel, "name": "general"},
        "message": {
            "type": "message",
            "ts": container["message_ts"],
            **({"thread_ts": thread_ts} if thread_ts else {}),
        },
        "response_url": response_url,
        "actions": [{"action_ts": f"{time.time():.6f}", **action}],
    }


def signed_block_action(payload: dict[str, Any], signing_secret: str) -> SignedRequest:
    """A signed interactivity request: the form field ``payload`` holding the JSON document."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return sign(body, signing_secret, content_type="application/x-www-form-urlencoded")


def app_home_opened(*, user: str = "U0ALICE", tab: str = "home") -> dict[str, Any]:
    """An ``app_home_opened`` event: ``user`` opened the app's Home (or Messages) tab."""
    return {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab, "event_ts": next_ts()}


def member_joined(*, channel: str = "C0GENERAL", user: str = "U0NEWBIE") -> dict[str, Any]:
    """A ``member_joined_channel`` event."""
    return {
        "type": "member_joined_channel",
        "user": user,
        "channel": channel,
        "channel_type": "C",
        "team": TEAM_ID,
        "event_ts": next_ts(),
    }
