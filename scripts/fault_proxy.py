"""A TCP proxy on 127.0.0.1 that can drop or slow its target on command: an AWS endpoint "going away".

with FaultProxy(target_port=moto_port) as proxy:
    ...                     # clients talk to proxy.url
    proxy.go_down()         # open connections are cut, new ones refused
    proxy.come_back()
    proxy.slow_down(3.5, then="fail")   # each new request hangs 3.5 s, then its connection is reset
    proxy.normal()          # new requests pass at once again (ones already slowed keep their fate)

A "request" is what a client sends after the previous answer began (HTTP/1.1 keep-alive sends
several on one connection); the proxy does not parse HTTP, it only watches who speaks when.
"""

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from scripts.processes import free_port

# What a slowed request does once its delay is over:
#   "fail":        the upstream never sees the request; the client's connection is reset
#                  (the endpoint hung, then failed: nothing was done)
#   "lost_answer": the upstream acts at once; the client's connection is reset instead of answered
#                  (the endpoint did it, the client cannot know)
#   "pass":        the upstream acts at once; its answer reaches the client after the delay
SlowOutcome = Literal["fail", "lost_answer", "pass"]


@dataclass(frozen=True)
class _Slowed:
    """The fate of one request, fixed when its first bytes arrive."""

    until: float  # time.monotonic() at which it is answered or cut
    then: SlowOutcome


class FaultProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port`` until told to go down."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self._up = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._slow: tuple[float, SlowOutcome] | None = None
        self.connections_accepted = 0
        self.requests_slowed = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "FaultProxy":
        self.come_back()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def come_back(self) -> None:
        """Listen again (same port) and forward new connections."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            listener.settimeout(0.1)
            self._listener = listener
        self._up.set()
        self._thread = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self._thread.start()

    def go_down(self) -> None:
        """Stop listening and cut every open connection: clients see refused/reset connections."""
        self._up.clear()
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def slow_down(self, delay_s: float, then: SlowOutcome = "fail") -> None:
        """From now on each new request waits ``delay_s`` before its fate ``then`` (see ``SlowOutcome``).

        Requests already under way are not affected; open connections stay open.
        """
        if then not in ("fail", "lost_answer", "pass"):
            raise ValueError(f"unknown outcome {then!r}")
        with self._lock:
            self._slow = (delay_s, then)

    def normal(self) -> None:
        """New requests pass at once again; requests slowed before keep the fate they were given."""
        with self._lock:
            self._slow = None

    def close(self) -> None:
        self._stopped.set()
        self.go_down()

    def _fate_of_new_request(self) -> _Slowed | None:
        with self._lock:
            if self._slow is None:
                return None
            self.requests_slowed += 1
            delay_s, then = self._slow
        return _Slowed(until=time.monotonic() + delay_s, then=then)

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._up.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections_accepted += 1
                self._connections.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        peers = {client: upstream, upstream: client}
        for sock in peers:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        exchange = _Exchange(self._fate_of_new_request)
        try:
            while True:
                for key, _ in selector.select(timeout=exchange.select_timeout()):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    forward = exchange.from_client() if source is client else exchange.from_upstream()
                    if forward is None:
                        _reset(client)
                        return
                    if forward:
                        _send_all(peers[source], data)
                if exchange.failed():
                    _reset(client)
                    return
                if self._stopped.is_set():
                    return
        except OSError:
            return
        finally:
            selector.close()
            for sock in peers:
                with self._lock:
                    self._connections.discard(sock)
                sock.close()


class _Exchange:
    """Who spoke last on one connection, and the fate of the request under way (if slowed)."""

    def __init__(self, fate_of_new_request: Callable[[], _Slowed | None]) -> None:
        self._fate_of_new_request = fate_of_new_request
        self._slowed: _Slowed | None = None
        self._awaiting_answer = False

    def select_timeout(self) -> float:
        if self._slowed is None:
            return 0.5
        return max(0.0, min(0.5, self._slowed.until - time.monotonic()))

    def from_client(self) -> bool:
        """Client bytes: forward them? The first bytes after an answer start a new request."""
        if not self._awaiting_answer:
            self._awaiting_answer = True
            self._slowed = self._fate_of_new_request()
        return self._slowed is None or self._slowed.then != "fail"  # "fail": withheld from the upstream

    def from_upstream(self) -> bool | None:
        """Upstream bytes: forward them (after the request's delay), or ``None``: cut the client off."""
        self._awaiting_answer = False
        slowed, self._slowed = self._slowed, None
        if slowed is None:
            return True
        time.sleep(max(0.0, slowed.until - time.monotonic()))
        return True if slowed.then == "pass" else None

    def failed(self) -> bool:
        """A withheld request's time is up: its connection is to be reset."""
        return self._slowed is not None and self._slowed.then == "fail" and time.monotonic() >= self._slowed.until


def _send_all(sock: socket.socket, data: bytes) -> None:
    sock.setblocking(True)
    sock.sendall(data)
    sock.setblocking(False)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a failing endpoint or a middlebox would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
