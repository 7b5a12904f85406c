"""A local stand-in for Slack's Web API and response URLs: a real HTTP server that records posts.

Endpoints (Slack-shaped JSON):
    POST /api/chat.postMessage   needs ``Authorization: Bearer <token>``; JSON or form body
    POST /api/auth.test
    POST /api/users.info         the user's ``locale`` (with ``include_locale``): ``en-US`` unless set
                                 with ``POST /_users {"U0LUCIA": "es-ES"}``
    POST /api/conversations.open the bot's DM with ``users``: ``D`` + the user id (always the same)
    POST /api/chat.postEphemeral recorded like a post (``kind`` ``chat.postEphemeral``, ``user``)
    POST /api/reactions.add, reactions.remove   kept apart from the records (``reactions``: what
                                 is on each message now; ``reaction_log``: every call)
    POST /api/views.publish      the Home view per user (``views``; ``views_published`` counts calls)
    GET|POST /api/conversations.history, /api/conversations.replies   what chat.postMessage recorded,
                                 paged like Slack: ``limit`` and ``cursor`` in,
                                 ``has_more`` and ``response_metadata.next_cursor`` out
    POST /response/<key>         a slash command's or an interaction's response_url (text, blocks...
                                 recorded as sent); ``/response/expired-*`` answers 404
                                 (Slack's expired URL), ``/response/invalid-*`` answers 400
                                 ``invalid_blocks`` (a refusal that is not an expiry)
    GET  /_recorded              everything recorded so far (tests and the chat simulator read it)
    GET  /_recorded?since=N      records from index N on, and the total count (benchmarks)
    GET  /_count                 how many records so far
    DELETE /_recorded            forget it
    POST /_faults                one or more of (each key changes only its own fault):
        {"rate_limited_for_s": 5, "retry_after_s": 1}   every Web API call answers 429 meanwhile;
            with "rate_limited_channels": ["C1"] only chat.postMessage to those channels does
        {"failing_channels": ["C1"]}   chat.postMessage and chat.postEphemeral there fail (channel_not_found) until
            the list is emptied again
        {"refusing_blocks_channels": ["C1"]}   chat.postMessage with blocks there answers
            invalid_blocks (a message Slack refuses for its content; plain text still goes through)
        {"reset_after_posts": N}   the next N chat.postMessage calls are posted (recorded, visible
            in the history) and then the connection is reset with no HTTP answer: the client
            sees a connection error after Slack acted
        {"delay_posts_s": X}   every chat.postMessage is posted at once but answered X s later
            (a slow Slack); 0 ends it
        {"history_page_size": N}   conversations.history/replies return at most N messages a
            page whatever ``limit`` asks (Slack may return fewer than asked); 0 ends it
        {"slow_channels": {"C1": 6}}   chat.postMessage there answers after 6 s (before anything
            else), a slow task for `charla workers` tests
        {"token": "xoxb-new"}   only this token is accepted from now on (a rotated token: the
            old one gets invalid_auth)
        {"error_after_posts": {"error": "internal_error", "count": N}}   the next N
            chat.postMessage calls are posted (recorded, in the history) and then answered
            ``ok: false`` with that error, as Slack documents for ``internal_error`` and
            ``fatal_error`` ("part of the operation may have succeeded")
        {"history_tier": {"calls": 1, "per_s": 60, "page_size": 15}}   conversations.history and
            .replies answer at most ``calls`` requests per ``per_s`` seconds (then 429 with the
            Retry-After left) and at most ``page_size`` messages a page: Slack's 2025 limits for
            apps outside the Marketplace; ``{}`` ends it
    POST /_faults/clear          every fault off (counters and records are kept)

``GET /_recorded`` also reports ``users_info_calls``, ``rejected_429`` (and ``rejected_429_by_channel``, with the time
of each 429 in ``rate_limited_at``), ``posts_reset`` and ``pace_violations``: posts faster than
Slack's per-channel pace (more than 2 in any 1-second window, a little burst allowed). Each post
record carries ``received_at`` (epoch seconds) and ``over_pace`` (it was one of those).

Run: ``SLACK_BOT_TOKEN=xoxb-local python -m scripts.slack_standin --port 0`` (prints the URL it serves).
"""

import argparse
import base64
import binascii
import json
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from contract.slack_text import is_escaped_as_slack_sends

BOT_USER_ID = "UCHARLABOT"
BOT_ID = "BCHARLABOT"
DEFAULT_LOCALE = "en-US"  # users.info's locale for people no test set one for


@dataclass
class Recorder:
    """Thread-safe store of what the bot posted, plus injected faults."""

    token: str
    records: list[dict[str, Any]] = field(default_factory=list)
    rate_limited_until: float = 0.0
    retry_after_s: int = 1
    rate_limited_channels: set[str] = field(default_factory=set)  # empty: every call is limited
    rejected_429: int = 0
    rejected_429_by_channel: dict[str, int] = field(default_factory=dict)
    rate_limited_at: list[dict[str, Any]] = field(default_factory=list)
    pace_violations: int = 0
    unescaped_posts: int = 0
    failing_channels: set[str] = field(default_factory=set)
    refusing_blocks_channels: set[str] = field(default_factory=set)
    reset_after_posts: int = 0
    posts_reset: int = 0
    delay_posts_s: float = 0.0
    history_page_size: int = 0
    slow_channels: dict[str, float] = field(default_factory=dict)
    error_after_posts: tuple[str, int] = ("", 0)
    posts_errored: int = 0
    history_tier: tuple[int, float, int] = (0, 0.0, 0)  # calls, per seconds, page size (0: no tier)
    history_calls_at: list[float] = field(default_factory=list)
    history_rejected_429: int = 0
    locales: dict[str, str] = field(default_factory=dict)  # user id -> Slack locale (users.info)
    users_info_calls: int = 0  # how often the bot asked (its locale cache keeps this low)
    reactions: dict[str, list[str]] = field(default_factory=dict)  # "channel/ts" -> names on it now
    reaction_log: list[dict[str, Any]] = field(default_factory=list)
    views: dict[str, Any] = field(default_factory=dict)  # user -> the Home view published last
    views_published: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _last_ts_us: int = 0

    def record(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self._append(kind, fields)

    def _append(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        # Like Slack's: the post's time to the microsecond, unique and increasing (a reader that
        # asks for messages ``oldest`` a moment before it posted must find them).
        now = time.time()
        self._last_ts_us = max(int(now * 1_000_000), self._last_ts_us + 1)
        ts = f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"
        entry = {"kind": kind, "ts": ts, "received_at": now, **fields}
        self.records.append(entry)
        return entry

    def posted(self, channel: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["kind"] == "chat.postMessage" and r.get("channel") == channel]

    def record_post(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Record a chat.postMessage, marking it ``over_pace`` if it makes more than 2 in its channel within 1 s."""
        with self.lock:
            now = time.time()
            recent = [r for r in self.posted(str(fields.get("channel"))) if now - r["received_at"] < 1.0]
            over_pace = len(recent) >= 2
            self.pace_violations += over_pace
            unescaped = not posted_text_is_escaped(fields)
            self.unescaped_posts += unescaped
            return self._append("chat.postMessage", {**fields, "over_pace": over_pace, "unescaped": unescaped})

    def rate_limited(self, method: str, channel: str | None) -> bool:
        """Whether this call gets a 429 now (and count it, per channel)."""
        with self.lock:
            now = time.time()
            if now >= self.rate_limited_until:
                return False
            limited = self.rate_limited_channels
            if limited and (method != "chat.postMessage" or channel not in limited):
                return False  # a channel's limit is chat.postMessage's alone, as Slack's per-channel pace
            self.rejected_429 += 1
            key = channel or "-"
            self.rejected_429_by_channel[key] = self.rejected_429_by_channel.get(key, 0) + 1
            self.rate_limited_at.append({"channel": key, "method": method, "at": now})
            return True

    def take_reset(self) -> bool:
        """Whether this post's connection is to be reset (and count it)."""
        with self.lock:
            if self.reset_after_posts <= 0:
                return False
            self.reset_after_posts -= 1
            self.posts_reset += 1
            return True

    def set_faults(self, body: dict[str, Any]) -> None:
        with self.lock:
            if "rate_limited_for_s" in body:
                self.rate_limited_until = time.time() + float(body["rate_limited_for_s"])
                self.retry_after_s = int(body.get("retry_after_s", 1))
                self.rate_limited_channels = set(body.get("rate_limited_channels") or ())
            if "failing_channels" in body:
                self.failing_channels = set(body["failing_channels"])
            if "refusing_blocks_channels" in body:
                self.refusing_blocks_channels = set(body["refusing_blocks_channels"])
            if "reset_after_posts" in body:
                self.reset_after_posts = int(body["reset_after_posts"])
            if "delay_posts_s" in body:
                self.delay_posts_s = float(body["delay_posts_s"])
            if "history_page_size" in body:
                self.history_page_size = int(body["history_page_size"])
            if "slow_channels" in body:
                self.slow_channels = {str(k): float(v) for k, v in body["slow_channels"].items()}
            if "token" in body:
                self.token = str(body["token"])
            self._set_uncertainty_faults(body)

    def _set_uncertainty_faults(self, body: dict[str, Any]) -> None:
        """Faults the exactly-once holes need (Slack errors after posting, the history tier)."""
        if "error_after_posts" in body:
            spec = body["error_after_posts"] or {}
            self.error_after_posts = (str(spec.get("error", "internal_error")), int(spec.get("count", 0)))
        if "history_tier" in body:
            tier = body["history_tier"] or {}
            self.history_tier = (int(tier.get("calls", 0)), float(tier.get("per_s", 60)), int(tier.get("page_size", 0)))
            self.history_calls_at = []

    def take_error_after_post(self) -> str | None:
        """The error this (already recorded) post is answered with, if any (and count it)."""
        with self.lock:
            error, left = self.error_after_posts
            if left <= 0:
                return None
            self.error_after_posts = (error, left - 1)
            self.posts_errored += 1
            return error

    def history_retry_after(self) -> int | None:
        """Seconds until the history tier allows another call, or ``None`` if this one may go (counted)."""
        with self.lock:
            calls, per_s, _ = self.history_tier
            if calls <= 0:
                return None
            now = time.time()
            self.history_calls_at = [at for at in self.history_calls_at if now - at < per_s]
            if len(self.history_calls_at) >= calls:
                self.history_rejected_429 += 1
                return max(1, int(per_s - (now - self.history_calls_at[0]) + 0.999))
            self.history_calls_at.append(now)
            return None

    def clear_faults(self) -> None:
        with self.lock:
            self.rate_limited_until = 0.0
            self.rate_limited_channels = set()
            self.failing_channels = set()
            self.refusing_blocks_channels = set()
            self.reset_after_posts = 0
            self.delay_posts_s = 0.0
            self.history_page_size = 0
            self.slow_channels = {}
            self.error_after_posts = ("", 0)
            self.history_tier = (0, 0.0, 0)
            self.history_calls_at = []

    def state(self) -> dict[str, Any]:
        """What ``GET /_recorded`` answers."""
        with self.lock:
            return {
                "records": list(self.records),
                "rejected_429": self.rejected_429,
                "rejected_429_by_channel": dict(self.rejected_429_by_channel),
                "rate_limited_at": list(self.rate_limited_at),
                "pace_violations": self.pace_violations,
                "unescaped_posts": self.unescaped_posts,
                "posts_reset": self.posts_reset,
                "posts_errored": self.posts_errored,
                "history_rejected_429": self.history_rejected_429,
                "users_info_calls": self.users_info_calls,
                "reactions": {key: list(names) for key, names in self.reactions.items()},
                "reaction_log": list(self.reaction_log),
                "views": dict(self.views),
                "views_published": self.views_published,
            }


def posted_text_is_escaped(fields: dict[str, Any]) -> bool:
    """Whether a post's ``text`` and its blocks' mrkdwn texts are escaped as Slack requires."""
    texts = [str(fields.get("text") or "")]
    for block in fields.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        texts.append(str((block.get("text") or {}).get("text", "")))
        texts += [str(e.get("text", "")) for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return all(is_escaped_as_slack_sends(text) for text in texts)


class _Handler(BaseHTTPRequestHandler):
    server: "SlackStandIn"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> dict[str, Any]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Type", "").startswith("application/json"):
            parsed = json.loads(raw or b"{}")
            return parsed if isinstance(parsed, dict) else {}
        return dict(parse_qsl(raw.decode()))

    def do_GET(self) -> None:
        if self.path == "/_recorded":
            self._send(200, self.server.recorder.state())
        elif self.path.startswith("/_recorded?since="):
            # Benchmarks read only what is new: the full list grows to thousands of records.
            since = int(self.path.split("=", 1)[1] or 0)
            with self.server.recorder.lock:
                records = self.server.recorder.records
                self._send(200, {"records": records[since:], "count": len(records)})
        elif self.path == "/_count":
            with self.server.recorder.lock:
                self._send(200, {"count": len(self.server.recorder.records)})
        elif self.path.startswith("/api/"):
            path, _, query = self.path.partition("?")
            self._api(path, dict(parse_qsl(query)))
        else:
            self._send(404, {"ok": False, "error": "unknown_method"})

    def do_DELETE(self) -> None:
        if self.path == "/_recorded":
            with self.server.recorder.lock:
                self.server.recorder.records.clear()
            self._send(200, {"ok": True})
        else:
            self._send(404, {"ok": False, "error": "unknown_method"})

    def do_POST(self) -> None:
        recorder = self.server.recorder
        body = self._body()
        if self.path == "/_faults":
            recorder.set_faults(body)
            self._send(200, {"ok": True})
            return
        if self.path == "/_users":
            recorder.locales.update({str(user): str(locale) for user, locale in body.items()})
            self._send(200, {"ok": True})
            return
        if self.path == "/_faults/clear":
            recorder.clear_faults()
            self._send(200, {"ok": True})
            return
        if self.path.startswith("/response/"):
            if self.path.startswith("/response/expired"):
                self._send(404, b"expired_url")
                return
            if self.path.startswith("/response/invalid"):
                self._send(400, b"invalid_blocks")
                return
            recorder.record("response_url", {"path": self.path, **body})
            self._send(200, b"ok")
            return
        if not self.path.startswith("/api/"):
            self._send(404, {"ok": False, "error": "unknown_method"})
            return
        self._api(self.path.split("?", 1)[0], body)

    def _api(self, path: str, body: dict[str, Any]) -> None:
        """A Web API method, for GET (query) and POST (JSON or form) alike."""
        recorder = self.server.recorder
        if self.headers.get("Authorization") != f"Bearer {recorder.token}" and body.get("token") != recorder.token:
            self._send(200, {"ok": False, "error": "invalid_auth"})
            return
        method = path.removeprefix("/api/")
        channel = body.get("channel")
        if recorder.rate_limited(method, str(channel) if channel else None):
            self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(recorder.retry_after_s)})
            return
        if method == "auth.test":
            self._send(200, {"ok": True, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "team_id": "TLOCAL"})
        elif method == "chat.postMessage":
            self._post_message(body)
        elif method in ("conversations.history", "conversations.replies"):
            self._history(method, body)
        elif method in ("users.info", "conversations.open", "chat.postEphemeral", "views.publish"):
            getattr(self, "_" + method.replace(".", "_").lower())(body)
        elif method in ("reactions.add", "reactions.remove"):
            self._reaction(method, body)
        else:
            self._send(200, {"ok": False, "error": "unknown_method"})

    def _conversations_open(self, body: dict[str, Any]) -> None:
        users = str(body.get("users") or "")
        if not users or "," in users:
            self._send(200, {"ok": False, "error": "users_not_found" if not users else "not_supported"})
        else:
            self._send(200, {"ok": True, "channel": {"id": f"D{users}"}})

    def _post_message(self, body: dict[str, Any]) -> None:
        recorder = self.server.recorder
        channel = body.get("channel")
        if not channel or not (body.get("text") or body.get("blocks")):
            self._send(200, {"ok": False, "error": "no_text" if channel else "channel_not_found"})
            return
        delay = recorder.slow_channels.get(channel)
        if delay:
            time.sleep(delay)  # this request's own thread (ThreadingHTTPServer): others go on
        if channel in recorder.failing_channels:
            self._send(200, {"ok": False, "error": "channel_not_found"})
            return
        if channel in recorder.refusing_blocks_channels and body.get("blocks"):
            self._send(200, {"ok": False, "error": "invalid_blocks"})
            return
        metadata = body.get("metadata")
        if isinstance(metadata, str):  # form posts carry it as JSON text
            metadata = json.loads(metadata)
        blocks = body.get("blocks")
        if isinstance(blocks, str):  # form posts carry it as JSON text
            blocks = json.loads(blocks)
        fields = {k: body.get(k) for k in ("channel", "text", "thread_ts")}
        entry = recorder.record_post({**fields, "blocks": blocks, "metadata": metadata})
        if recorder.take_reset():
            self._reset_connection()
            return
        error = recorder.take_error_after_post()
        if error:  # posted, and yet Slack says it failed (internal_error, fatal_error)
            self._send(200, {"ok": False, "error": error})
            return
        if recorder.delay_posts_s > 0:
            time.sleep(recorder.delay_posts_s)
        message = {"text": body.get("text"), "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": entry["ts"]}
        self._send(200, {"ok": True, "channel": channel, "ts": entry["ts"], "message": message})

    def _chat_postephemeral(self, body: dict[str, Any]) -> None:
        channel, user = body.get("channel"), body.get("user")
        if not channel or not user or not body.get("text"):
            self._send(200, {"ok": False, "error": "channel_not_found" if not channel else "no_text"})
            return
        if channel in self.server.recorder.failing_channels:  # gone for every kind of post, as in Slack
            self._send(200, {"ok": False, "error": "channel_not_found"})
            return
        fields = {k: body.get(k) for k in ("channel", "user", "text", "thread_ts")}
        self.server.recorder.record("chat.postEphemeral", fields)
        self._send(200, {"ok": True, "message_ts": f"{time.time():.6f}"})

    def _reaction(self, method: str, body: dict[str, Any]) -> None:
        recorder = self.server.recorder
        key, name = f"{body.get('channel')}/{body.get('timestamp')}", str(body.get("name") or "")
        with recorder.lock:
            names = recorder.reactions.setdefault(key, [])
            recorder.reaction_log.append({"method": method, "key": key, "name": name, "at": time.time()})
            if method == "reactions.add" and name in names:
                error = "already_reacted"
            elif method == "reactions.remove" and name not in names:
                error = "no_reaction"
            else:
                error = ""
                if method == "reactions.add":
                    names.append(name)
                else:
                    names.remove(name)
        self._send(200, {"ok": False, "error": error} if error else {"ok": True})

    def _views_publish(self, body: dict[str, Any]) -> None:
        recorder = self.server.recorder
        view = body.get("view")
        if isinstance(view, str):  # form posts carry it as JSON text
            view = json.loads(view)
        user = str(body.get("user_id") or "")
        if not user or not isinstance(view, dict) or view.get("type") != "home":
            self._send(200, {"ok": False, "error": "invalid_arguments"})
            return
        with recorder.lock:
            recorder.views[user] = view
            recorder.views_published += 1
        self._send(200, {"ok": True, "view": {"id": f"V{user}", **view}})

    def _users_info(self, body: dict[str, Any]) -> None:
        user = str(body.get("user") or "")
        if not user:
            self._send(200, {"ok": False, "error": "user_not_found"})
            return
        with self.server.recorder.lock:
            self.server.recorder.users_info_calls += 1
        profile: dict[str, Any] = {"id": user, "name": user.lower(), "is_bot": user == BOT_USER_ID}
        if str(body.get("include_locale")).lower() in ("true", "1"):
            profile["locale"] = self.server.recorder.locales.get(user, DEFAULT_LOCALE)
        self._send(200, {"ok": True, "user": profile})

    def _reset_connection(self) -> None:
        """Drop the connection with a TCP reset and no HTTP answer (Slack acted; the client never hears)."""
        # SO_LINGER 0: close() sends RST instead of FIN, so the client sees "connection reset".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _history(self, method: str, body: dict[str, Any]) -> None:
        """One page of a channel's history (newest first) or a thread's replies (oldest first), as Slack pages them."""
        recorder = self.server.recorder
        retry_after = recorder.history_retry_after()
        if retry_after is not None:
            self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
            return
        try:
            oldest = float(body.get("oldest") or 0)
            latest = float(body.get("latest") or "inf")
            limit = int(body.get("limit") or DEFAULT_PAGE_LIMIT[method])
            offset = _offset_from_cursor(str(body.get("cursor") or ""))
        except ValueError:
            self._send(200, {"ok": False, "error": "invalid_arguments"})
            return
        if offset is None:
            self._send(200, {"ok": False, "error": "invalid_cursor"})
            return
        with recorder.lock:
            posted = recorder.posted(str(body.get("channel")))
            page_size = min(max(1, limit), recorder.history_page_size or MAX_PAGE_LIMIT)
            if recorder.history_tier[2]:
                page_size = min(page_size, recorder.history_tier[2])
        if method == "conversations.replies":
            posted = [r for r in posted if r.get("thread_ts") == body.get("ts")]
        else:  # history shows top-level messages only, newest first
            posted = [r for r in reversed(posted) if not r.get("thread_ts")]
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        messages = [
            {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": r.get("text"),
                "ts": r["ts"],
                **({"thread_ts": r["thread_ts"]} if r.get("thread_ts") else {}),
                **({"metadata": r["metadata"]} if with_metadata and r.get("metadata") else {}),
            }
            for r in posted
            if oldest <= float(r["ts"]) < latest
        ]
        page = messages[offset : offset + page_size]
        has_more = offset + page_size < len(messages)
        self._send(
            200,
            {
                "ok": True,
                "messages": page,
                "has_more": has_more,
                # Slack sends an empty next_cursor on the last page.
                "response_metadata": {"next_cursor": _cursor_for(offset + page_size) if has_more else ""},
            },
        )


# Slack's defaults when ``limit`` is not given; the stand-in never returns more than MAX_PAGE_LIMIT.
DEFAULT_PAGE_LIMIT = {"conversations.history": 100, "conversations.replies": 1000}
MAX_PAGE_LIMIT = 1000


def _cursor_for(offset: int) -> str:
    """An opaque cursor, base64 like Slack's (``bmV4dF90czox...`` is ``next_ts:1...``)."""
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _offset_from_cursor(cursor: str) -> int | None:
    """The offset a cursor names (0 for none), or ``None`` if it is not one of ours."""
    if not cursor:
        return 0
    try:
        kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return offset if kind == "offset" and offset >= 0 else None


class SlackStandIn(ThreadingHTTPServer):
    """The server; ``recorder`` holds what it received."""

    daemon_threads = True

    def __init__(self, port: int, token: str) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.recorder = Recorder(token=token)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    # The token it expects comes from the environment, like the worker's: never on a command line.
    server = SlackStandIn(args.port, os.environ["SLACK_BOT_TOKEN"])
    print(f"slack stand-in listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
