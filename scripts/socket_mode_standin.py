"""A local stand-in for Slack's Socket Mode: ``apps.connections.open`` and the WebSocket it hands out.

    with SocketModeStandIn() as slack:
        # start the door with SLACK_APP_TOKEN=slack.app_token, CHARLA_SLACK_API_URL=slack.api_url
        slack.wait_for_connection()
        envelope_id = slack.events_api(event_callback(app_mention("ping")))
        slack.wait_for_ack(envelope_id)

What it does as Slack does (docs.slack.dev, "Using Socket Mode"; slack_sdk's clients):
    POST /api/apps.connections.open   the app-level token in ``Authorization: Bearer``; answers
        ``{"ok": true, "url": "ws://127.0.0.1:PORT/link/?ticket=...&app_id=..."}``; a bot token
        gets ``not_allowed_token_type``, anything else ``invalid_auth``. Each ticket opens one
        connection.
    the WebSocket                      sends ``hello`` on connect, then whatever the test sends:
        envelopes (``events_api``, ``slash_commands``, ``interactive``, each with an
        ``envelope_id``), ``disconnect`` (``refresh_requested``: the client must open a new
        connection), or a dropped connection (no close frame: the client must notice and
        reconnect). Every acknowledgement (``{"envelope_id": ...}``) is recorded, with the
        connection it came on; one naming no envelope we sent is recorded as unexpected.

A test thread drives it; it runs in the test's own process (one HTTP server thread, one
WebSocket server thread, a thread per connection).
"""

import json
import secrets
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from scripts.processes import wait_until

APP_ID = "ACHARLALOCAL"
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Ack:
    """One acknowledgement the app sent."""

    envelope_id: str
    payload: dict[str, Any] | None
    connection: int  # 1 for the first connection accepted, 2 for the next...


@dataclass
class _State:
    tickets: set[str] = field(default_factory=set)
    connections_opened: int = 0  # apps.connections.open answered ok
    connections_accepted: int = 0  # WebSocket handshakes with a valid ticket
    current: ServerConnection | None = None
    current_number: int = 0
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # envelope id -> envelope
    acks: list[Ack] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # raw messages that were not a valid ack
    lock: threading.Lock = field(default_factory=threading.Lock)


class SocketModeStandIn:
    """Slack's side of Socket Mode on 127.0.0.1; use as a context manager.

    Args:
        app_token: The app-level token it accepts (a fresh ``xapp-`` one if not given).
    """

    def __init__(self, app_token: str | None = None) -> None:
        self.app_token = app_token or f"xapp-1-{APP_ID}-local-{secrets.token_hex(8)}"
        self._state = _State()
        self._http: ThreadingHTTPServer | None = None
        self._ws: Server | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "SocketModeStandIn":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._ws = serve(self._serve_connection, "127.0.0.1", 0)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _ConnectionsOpenHandler)
        self._http.standin = self  # type: ignore[attr-defined]
        for name, target in (("socket-ws", self._ws.serve_forever), ("socket-http", self._http.serve_forever)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._ws is not None:
            self._ws.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)

    @property
    def api_url(self) -> str:
        """The Web API base to give the app's client (it calls ``apps.connections.open`` there)."""
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}/api/"

    @property
    def _ws_url(self) -> str:
        assert self._ws is not None
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/link/"

    # -- what the app sees -------------------------------------------------------------------

    def open_connection(self, authorization: str) -> dict[str, Any]:
        """``apps.connections.open``: a one-use WebSocket URL for the app-level token."""
        token = authorization.removeprefix("Bearer ").strip()
        if token.startswith("xoxb-") or token.startswith("xoxp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        ticket = uuid.uuid4().hex
        with self._state.lock:
            self._state.tickets.add(ticket)
            self._state.connections_opened += 1
        return {"ok": True, "url": f"{self._ws_url}?ticket={ticket}&app_id={APP_ID}"}

    def _serve_connection(self, connection: ServerConnection) -> None:
        request = connection.request
        ticket = parse_qs(urlsplit(request.path).query).get("ticket", [""])[0] if request else ""
        with self._state.lock:
            if ticket not in self._state.tickets:
                connection.close(code=1008, reason="invalid ticket")
                return
            self._state.tickets.discard(ticket)
            self._state.connections_accepted += 1
            number = self._state.connections_accepted
            self._state.current, self._state.current_number = connection, number
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "applink-local", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": APP_ID},
                }
            )
        )
        try:
            for message in connection:
                self._record_ack(message, number)
        except ConnectionClosed:
            pass
        finally:
            with self._state.lock:
                if self._state.current is connection:
                    self._state.current = None

    def _record_ack(self, message: str | bytes, connection: int) -> None:
        text = message.decode() if isinstance(message, bytes) else message
        try:
            ack = json.loads(text)
        except ValueError:
            ack = None
        with self._state.lock:
            if not isinstance(ack, dict) or ack.get("envelope_id") not in self._state.sent:
                self._state.unexpected.append(text)
                return
            payload = ack.get("payload")
            self._state.acks.append(Ack(ack["envelope_id"], payload if isinstance(payload, dict) else None, connection))

    # -- what a test does --------------------------------------------------------------------

    @property
    def connections_opened(self) -> int:
        with self._state.lock:
            return self._state.connections_opened

    @property
    def connections_accepted(self) -> int:
        with self._state.lock:
            return self._state.connections_accepted

    def wait_for_connection(self, number: int = 1, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Wait until the ``number``-th connection (counting from the first) is the open one."""

        def open_now() -> bool:
            with self._state.lock:
                return self._state.current is not None and self._state.current_number >= number

        wait_until(open_now, timeout=timeout, message=f"Socket Mode connection #{number}")

    def send_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> str:
        """Send one envelope on the open connection (waiting for one); returns its ``envelope_id``."""
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or ""
        connection = wait_until(self._current, timeout=timeout, message="an open Socket Mode connection")
        with self._state.lock:
            self._state.sent[envelope_id] = envelope
        connection.send(json.dumps(envelope))
        return envelope_id

    def _current(self) -> ServerConnection | None:
        with self._state.lock:
            return self._state.current

    def events_api(self, body: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = "") -> str:
        """An Events API delivery (``body`` is the ``event_callback`` envelope); a retry counts up."""
        return self.send_envelope("events_api", body, retry_attempt=retry_attempt, retry_reason=retry_reason)

    def slash_command(self, form: dict[str, str]) -> str:
        """A slash command (``form`` holds the fields Slack would have POSTed)."""
        return self.send_envelope("slash_commands", form, accepts_response_payload=True)

    def interactive(self, payload: dict[str, Any]) -> str:
        """An interaction (``block_actions``...): the JSON document of the HTTP form's ``payload``."""
        return self.send_envelope("interactive", payload)

    def ask_to_refresh(self) -> None:
        """Send ``disconnect`` (``refresh_requested``), as Slack does every few hours: the app must
        open a new connection. This one stays open until the app closes it, as Slack's does."""
        connection = wait_until(self._current, timeout=DEFAULT_TIMEOUT_S, message="an open connection")
        connection.send(json.dumps({"type": "disconnect", "reason": "refresh_requested", "debug_info": {}}))

    def drop_connection(self) -> None:
        """Cut the open connection with no close frame (a network drop)."""
        connection = wait_until(self._current, timeout=DEFAULT_TIMEOUT_S, message="an open connection")
        with self._state.lock:
            if self._state.current is connection:
                self._state.current = None
        connection.socket.shutdown(socket.SHUT_RDWR)

    def acks(self) -> list[Ack]:
        with self._state.lock:
            return list(self._state.acks)

    def acks_of(self, envelope_id: str) -> list[Ack]:
        return [ack for ack in self.acks() if ack.envelope_id == envelope_id]

    def unexpected(self) -> list[str]:
        """Messages from the app that were not an ack of an envelope we sent."""
        with self._state.lock:
            return list(self._state.unexpected)

    def wait_for_ack(self, envelope_id: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> Ack:
        """Wait for the app to acknowledge ``envelope_id``; returns the (first) ack."""
        return wait_until(
            lambda: next(iter(self.acks_of(envelope_id)), None), timeout=timeout, message=f"an ack of {envelope_id}"
        )


class _ConnectionsOpenHandler(BaseHTTPRequestHandler):
    """``POST /api/apps.connections.open``, the only Web API method Socket Mode needs."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?", 1)[0] != "/api/apps.connections.open":
            answer: dict[str, Any] = {"ok": False, "error": "unknown_method"}
        else:
            standin: SocketModeStandIn = self.server.standin  # type: ignore[attr-defined]
            answer = standin.open_connection(self.headers.get("Authorization", ""))
        raw = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
