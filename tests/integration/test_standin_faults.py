"""The fault harness itself, over real sockets: the Slack stand-in's faults and paging, and the
fault proxy's slow mode. The fault suite's verdicts are only as good as these."""

import json
import threading
import time
from collections.abc import Iterator
from http.client import HTTPConnection, RemoteDisconnected
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from scripts.fault_proxy import FaultProxy
from scripts.processes import wait_until
from scripts.slack_standin import SlackStandIn
from scripts.stack import http

TOKEN = "xoxb-harness"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    server = SlackStandIn(0, TOKEN)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def faults(standin: SlackStandIn, **settings: Any) -> None:
    body = json.dumps(settings).encode()
    response = http("POST", standin.url + "/_faults", body=body, headers={"Content-Type": "application/json"})
    assert response.status == 200


def recorded(standin: SlackStandIn) -> dict[str, Any]:
    state: dict[str, Any] = http("GET", standin.url + "/_recorded").json()
    return state


def web(standin: SlackStandIn, **kwargs: Any) -> WebClient:
    """A slack_sdk client; no retry handlers unless given, so each call is one HTTP request."""
    kwargs.setdefault("retry_handlers", [])
    return WebClient(token=TOKEN, base_url=standin.url + "/api/", timeout=10, **kwargs)


# -- Slack stand-in ------------------------------------------------------------------------------


def test_reset_after_post_posts_then_cuts_the_connection(standin: SlackStandIn) -> None:
    client = web(standin)
    faults(standin, reset_after_posts=2)

    for text in ("first", "second"):
        with pytest.raises(ConnectionResetError):
            client.chat_postMessage(channel="C1", text=text)
    client.chat_postMessage(channel="C1", text="third")  # the fault is used up

    history = client.conversations_history(channel="C1")
    assert [m["text"] for m in history["messages"]] == ["third", "second", "first"]  # Slack had acted
    assert recorded(standin)["posts_reset"] == 2


def test_a_client_that_retries_connection_errors_posts_twice_after_a_reset(standin: SlackStandIn) -> None:
    """Why the worker must not let slack_sdk retry chat.postMessage: the reset came after the post."""
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

    faults(standin, reset_after_posts=1)
    web(standin, retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)]).chat_postMessage(
        channel="C1", text="once, I hoped"
    )

    assert [r["text"] for r in recorded(standin)["records"]] == ["once, I hoped", "once, I hoped"]


def test_history_is_paged_newest_first_and_a_first_page_reader_misses_older_posts(standin: SlackStandIn) -> None:
    client = web(standin)
    for index in range(5):
        client.chat_postMessage(
            channel="C1", text=f"m{index}", metadata={"event_type": "t", "event_payload": {"n": index}}
        )

    pages: list[list[str]] = []
    cursor = ""
    while True:
        page = client.conversations_history(channel="C1", limit=2, cursor=cursor, include_all_metadata=True)
        pages.append([m["text"] for m in page["messages"]])
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] is bool(cursor)
        if not cursor:
            break

    assert pages == [["m4", "m3"], ["m2", "m1"], ["m0"]]
    assert "m0" not in pages[0]  # what a client reading one page would miss
    first = client.conversations_history(channel="C1", limit=2, include_all_metadata=True)["messages"][0]
    assert first["metadata"] == {"event_type": "t", "event_payload": {"n": 4}}


def test_replies_are_paged_oldest_first_and_the_page_size_can_be_capped(standin: SlackStandIn) -> None:
    client = web(standin)
    for index in range(3):
        client.chat_postMessage(channel="C1", text=f"r{index}", thread_ts="100.000001")
    client.chat_postMessage(channel="C1", text="top level")
    faults(standin, history_page_size=1)  # Slack may return fewer than ``limit`` asks

    texts, cursor, calls = [], "", 0
    while True:
        page = client.conversations_replies(channel="C1", ts="100.000001", limit=200, cursor=cursor)
        calls += 1
        texts += [m["text"] for m in page["messages"]]
        if not (cursor := page["response_metadata"]["next_cursor"]):
            break

    assert texts == ["r0", "r1", "r2"]
    assert calls == 3
    faults(standin, history_page_size=0)
    assert len(client.conversations_replies(channel="C1", ts="100.000001")["messages"]) == 3


def test_history_honours_oldest_and_latest_and_refuses_a_foreign_cursor(standin: SlackStandIn) -> None:
    client = web(standin)
    stamps = [client.chat_postMessage(channel="C1", text=f"m{i}")["ts"] for i in range(3)]

    window = client.conversations_history(channel="C1", oldest=stamps[1], latest=stamps[2])
    assert [m["text"] for m in window["messages"]] == ["m1"]
    with pytest.raises(SlackApiError) as refused:
        client.conversations_history(channel="C1", cursor="bm90LW91cnM=")
    assert refused.value.response["error"] == "invalid_cursor"


def test_a_channel_rate_limit_answers_429_there_only_and_counts_it(standin: SlackStandIn) -> None:
    client = web(standin)
    faults(standin, rate_limited_for_s=30, retry_after_s=30, rate_limited_channels=["CBUSY"])

    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="CBUSY", text="too soon")
    client.chat_postMessage(channel="CQUIET", text="fine")
    client.conversations_history(channel="CBUSY")  # reading is another method's budget
    http("POST", standin.url + "/_faults/clear")
    client.chat_postMessage(channel="CBUSY", text="later")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "30"
    state = recorded(standin)
    assert state["rejected_429"] == 1
    assert state["rejected_429_by_channel"] == {"CBUSY": 1}
    assert [entry["channel"] for entry in state["rate_limited_at"]] == ["CBUSY"]
    assert [r["text"] for r in state["records"]] == ["fine", "later"]


def test_a_global_rate_limit_still_answers_every_method(standin: SlackStandIn) -> None:
    faults(standin, rate_limited_for_s=30, retry_after_s=2)
    for call in (lambda c: c.auth_test(), lambda c: c.chat_postMessage(channel="C1", text="x")):
        with pytest.raises(SlackApiError) as limited:
            call(web(standin))
        assert limited.value.response.status_code == 429
    assert recorded(standin)["rejected_429"] == 2


def test_delayed_posts_are_visible_before_they_are_answered(standin: SlackStandIn) -> None:
    faults(standin, delay_posts_s=1.5)
    answered = threading.Event()
    thread = threading.Thread(
        target=lambda: (web(standin).chat_postMessage(channel="C1", text="slow"), answered.set()), daemon=True
    )
    started = time.monotonic()
    thread.start()

    wait_until(lambda: recorded(standin)["records"], timeout=10, message="the post recorded")
    assert not answered.is_set()  # Slack has it; the poster does not know yet
    thread.join(timeout=10)
    assert answered.is_set()
    assert time.monotonic() - started >= 1.5


def test_posts_faster_than_the_channel_pace_are_marked(standin: SlackStandIn) -> None:
    client = web(standin)
    for index in range(3):
        client.chat_postMessage(channel="C1", text=f"burst {index}")
    client.chat_postMessage(channel="C2", text="elsewhere")

    state = recorded(standin)
    assert [r["over_pace"] for r in state["records"]] == [False, False, True, False]
    assert state["pace_violations"] == 1


# -- fault proxy ---------------------------------------------------------------------------------


class _Upstream(ThreadingHTTPServer):
    """An HTTP server that notes each request it receives."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)
        self.received: list[str] = []


class _UpstreamHandler(BaseHTTPRequestHandler):
    server: _Upstream
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.received.append(self.path)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxied() -> Iterator[tuple[FaultProxy, _Upstream]]:
    upstream = _Upstream()
    thread = threading.Thread(target=upstream.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with FaultProxy(target_port=upstream.server_address[1]) as proxy:
            yield proxy, upstream
    finally:
        upstream.shutdown()
        upstream.server_close()
        thread.join(timeout=5)


def get(connection: HTTPConnection, path: str) -> str:
    connection.request("GET", path)
    return connection.getresponse().read().decode()


def connect(proxy: FaultProxy) -> HTTPConnection:
    return HTTPConnection("127.0.0.1", proxy.port, timeout=10)


def get_once(proxy: FaultProxy, path: str) -> str:
    """One request on a new connection, closed after."""
    connection = connect(proxy)
    try:
        return get(connection, path)
    finally:
        connection.close()


def test_slow_then_fail_never_reaches_the_upstream_and_resets_after_the_delay(
    proxied: tuple[FaultProxy, _Upstream],
) -> None:
    proxy, upstream = proxied
    proxy.slow_down(1.0, then="fail")

    started = time.monotonic()
    with pytest.raises((ConnectionResetError, RemoteDisconnected)):
        get_once(proxy, "/hangs")
    assert time.monotonic() - started >= 1.0
    assert upstream.received == []
    assert proxy.requests_slowed == 1

    proxy.normal()
    assert get_once(proxy, "/after") == "/after"


def test_slow_then_pass_reaches_the_upstream_at_once_and_answers_late(
    proxied: tuple[FaultProxy, _Upstream],
) -> None:
    proxy, upstream = proxied
    proxy.slow_down(2.0, then="pass")
    answer: list[str] = []
    started = time.monotonic()
    client = threading.Thread(target=lambda: answer.append(get_once(proxy, "/late")), daemon=True)
    client.start()

    wait_until(lambda: upstream.received, timeout=10, message="the upstream to receive the request")
    assert not answer  # acted upon, not yet answered
    client.join(timeout=10)
    assert answer == ["/late"]
    assert time.monotonic() - started >= 2.0


def test_slow_then_lost_answer_reaches_the_upstream_but_the_client_never_hears(
    proxied: tuple[FaultProxy, _Upstream],
) -> None:
    proxy, upstream = proxied
    proxy.slow_down(0.5, then="lost_answer")

    with pytest.raises((ConnectionResetError, RemoteDisconnected)):
        get_once(proxy, "/done-but-unheard")
    assert upstream.received == ["/done-but-unheard"]


def test_slow_mode_applies_to_new_requests_on_a_kept_alive_connection(proxied: tuple[FaultProxy, _Upstream]) -> None:
    proxy, upstream = proxied
    connection = connect(proxy)
    try:
        assert get(connection, "/before") == "/before"
        proxy.slow_down(0.5, then="fail")
        with pytest.raises((ConnectionResetError, RemoteDisconnected)):
            get(connection, "/same-connection")
    finally:
        connection.close()
    assert upstream.received == ["/before"]


def test_go_down_and_come_back_still_work(proxied: tuple[FaultProxy, _Upstream]) -> None:
    proxy, _ = proxied
    proxy.go_down()
    with pytest.raises(ConnectionRefusedError):
        get_once(proxy, "/down")
    proxy.come_back()
    assert get_once(proxy, "/up") == "/up"
