"""A local stand-in for Slack's Web API and response URLs: a real HTTP server that records posts.

Endpoints (Slack-shaped JSON):
    POST /api/chat.postMessage   needs ``Authorization: Bearer <token>``; JSON or form body
    POST /api/auth.test
    POST /response/<key>         a slash command's response_url; ``/response/expired-*`` answers 404
    GET  /_recorded              everything recorded so far (tests and the chat simulator read it)
    GET  /_recorded?since=N      records from index N on, and the total count (benchmarks)
    GET  /_count                 how many records so far
    DELETE /_recorded            forget it
    POST /_faults                {"rate_limited_for_s": 5, "retry_after_s": 1}: answer 429 meanwhile

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
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    def record(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            entry = {"kind": kind, "ts": ts, "received_at": time.time(), **fields}
            self.records.append(entry)
            return entry

    def rate_limited(self) -> bool:
        with self.lock:
            if time.time() < self.rate_limited_until:
                self.rejected_429 += 1
                return True
            return False


class _Handler(BaseHTTPRequestHandler):
    server: "SlackStandIn"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
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
                self._send(200, {"records": list(self.server.recorder.records),
                                 "rejected_429": self.server.recorder.rejected_429})
        elif self.path.startswith("/_recorded?since="):
            # Benchmarks read only what is new: the full list grows to thousands of records.
            since = int(self.path.split("=", 1)[1] or 0)
            with self.server.recorder.lock:
                records = self.server.recorder.records
                self._send(200, {"records": records[since:], "count": len(records)})
        elif self.path == "/_count":
            with self.server.recorder.lock:
                self._send(200, {"count": len(self.server.recorder.records)})
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
                recorder.rate_limited_until = time.time() + float(body.get("rate_limited_for_s", 0))
                recorder.retry_after_s = int(body.get("retry_after_s", 1))
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
        if self.headers.get("Authorization") != f"Bearer {recorder.token}" and body.get("token") != recorder.token:
            self._send(200, {"ok": False, "error": "invalid_auth"})
            return
        if recorder.rate_limited():
            self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(recorder.retry_after_s)})
            return
        method = self.path.removeprefix("/api/").split("?", 1)[0]
        if method == "auth.test":
            self._send(200, {"ok": True, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "team_id": "TLOCAL"})
        elif method == "chat.postMessage":
            if not body.get("channel") or not (body.get("text") or body.get("blocks")):
                self._send(200, {"ok": False, "error": "no_text" if body.get("channel") else "channel_not_found"})
                return
            entry = recorder.record("chat.postMessage", {k: body.get(k) for k in ("channel", "text", "thread_ts")})
            self._send(200, {"ok": True, "channel": body["channel"], "ts": entry["ts"],
                             "message": {"text": body.get("text"), "user": BOT_USER_ID, "bot_id": BOT_ID,
                                         "ts": entry["ts"]}})
        else:
            self._send(200, {"ok": False, "error": "unknown_method"})


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
