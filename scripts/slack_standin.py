"""A local stand-in for Slack's Web API and response URLs: a real HTTP server that records posts.

Endpoints (Slack-shaped JSON):
    POST /api/chat.postMessage   needs ``Authorization: Bearer <token>``; JSON or form body
    POST /api/auth.test
    GET|POST /api/conversations.history, /api/conversations.replies   what chat.postMessage recorded
    POST /response/<key>         a slash command's or an interaction's response_url (text, blocks...
                                 recorded as sent); ``/response/expired-*`` answers 404
    GET  /_recorded              everything recorded so far (tests and the chat simulator read it)
    GET  /_recorded?since=N      records from index N on, and the total count (benchmarks)
    GET  /_count                 how many records so far
    DELETE /_recorded            forget it
    POST /_faults                {"rate_limited_for_s": 5, "retry_after_s": 1}: answer 429 meanwhile;
                                 {"failing_channels": ["C1"]}: chat.postMessage there fails
                                 (channel_not_found) until the list is emptied again;
                                 {"slow_channels": {"C1": 6}}: chat.postMessage there answers after
                                 6 s (a slow task for `charla workers` tests);
                                 {"token": "xoxb-new"}: only this token is accepted from now on
                                 (a rotated token: the old one gets invalid_auth)

Posts faster than Slack's per-channel pace (more than 2 in any 1-second window, a little burst
allowed) are counted as ``pace_violations`` in ``GET /_recorded``.

Run: ``SLACK_BOT_TOKEN=xoxb-local python -m scripts.slack_standin --port 0`` (prints the URL it serves).
"""

import argparse
import itertools
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER_ID = "UCHARLABOT"
BOT_ID = "BCHARLABOT"


@dataclass
class Recorder:
    """Thread-safe store of what the bot posted, plus injected faults."""

    token: str
    records: list[dict[str, Any]] = field(default_factory=list)
    rate_limited_until: float = 0.0
    retry_after_s: int = 1
    rejected_429: int = 0
    pace_violations: int = 0
    failing_channels: set[str] = field(default_factory=set)
    slow_channels: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    def record(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            entry = {"kind": kind, "ts": ts, "received_at": time.time(), **fields}
            self.records.append(entry)
            return entry

    def posted(self, channel: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["kind"] == "chat.postMessage" and r.get("channel") == channel]

    def check_pace(self, channel: str) -> None:
        """Count a violation if this post makes more than 2 in the channel within one second."""
        with self.lock:
            now = time.time()
            recent = [r for r in self.posted(channel) if now - r["received_at"] < 1.0]
            if len(recent) >= 2:
                self.pace_violations += 1

    def rate_limited(self) -> bool:
        with self.lock:
            if time.time() < self.rate_limited_until:
                self.rejected_429 += 1
                return True
            return False


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
            with self.server.recorder.lock:
                recorder = self.server.recorder
                self._send(
                    200,
                    {
                        "records": list(recorder.records),
                        "rejected_429": recorder.rejected_429,
                        "pace_violations": recorder.pace_violations,
                    },
                )
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
            with recorder.lock:
                if "rate_limited_for_s" in body:
                    recorder.rate_limited_until = time.time() + float(body["rate_limited_for_s"])
                    recorder.retry_after_s = int(body.get("retry_after_s", 1))
                if "failing_channels" in body:
                    recorder.failing_channels = set(body["failing_channels"])
                if "slow_channels" in body:
                    recorder.slow_channels = {str(k): float(v) for k, v in body["slow_channels"].items()}
                if "token" in body:
                    recorder.token = str(body["token"])
            self._send(200, {"ok": True})
            return
        if self.path.startswith("/response/"):
            if self.path.startswith("/response/expired"):
                self._send(404, b"expired_url")
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
        if recorder.rate_limited():
            self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(recorder.retry_after_s)})
            return
        method = path.removeprefix("/api/")
        if method == "auth.test":
            self._send(200, {"ok": True, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "team_id": "TLOCAL"})
        elif method == "chat.postMessage":
            self._post_message(body)
        elif method in ("conversations.history", "conversations.replies"):
            self._history(method, body)
        else:
            self._send(200, {"ok": False, "error": "unknown_method"})

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
        recorder.check_pace(channel)
        metadata = body.get("metadata")
        if isinstance(metadata, str):  # form posts carry it as JSON text
            metadata = json.loads(metadata)
        blocks = body.get("blocks")
        if isinstance(blocks, str):  # form posts carry it as JSON text
            blocks = json.loads(blocks)
        fields = {k: body.get(k) for k in ("channel", "text", "thread_ts")}
        entry = recorder.record("chat.postMessage", {**fields, "blocks": blocks, "metadata": metadata})
        message = {"text": body.get("text"), "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": entry["ts"]}
        self._send(200, {"ok": True, "channel": channel, "ts": entry["ts"], "message": message})

    def _history(self, method: str, body: dict[str, Any]) -> None:
        recorder = self.server.recorder
        oldest = float(body.get("oldest") or 0)
        with recorder.lock:
            posted = recorder.posted(str(body.get("channel")))
        if method == "conversations.replies":
            posted = [r for r in posted if r.get("thread_ts") == body.get("ts")]
        else:  # history shows top-level messages only
            posted = [r for r in posted if not r.get("thread_ts")]
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
            if float(r["ts"]) >= oldest
        ]
        self._send(200, {"ok": True, "messages": list(reversed(messages)), "has_more": False})


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
