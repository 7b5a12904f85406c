"""kombu's curl client under the worker's transport: a request to an endpoint that accepts and then
says nothing ends at its deadline (curl error 28, a 599 answer) instead of waiting forever."""

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kombu.asynchronous import hub as kombu_hub
from kombu.asynchronous.http import base as kombu_http
from kombu.asynchronous.http import curl as kombu_curl

from scripts.processes import Timeout, wait_until
from workers.celery_worker.sqs_transport import DeadlineCurlClient

# kombu's curl client calls pycurl APIs that pycurl 7.49 deprecates (IOCTLFUNCTION, socket_all); not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:kombu.asynchronous.http.curl")

DEADLINE_S = 1.0
# kombu is untyped: its event loop, request and curl client, as the worker uses them.
Hub: Any = kombu_hub.Hub
Request: Any = kombu_http.Request
CurlClient: Any = kombu_curl.CurlClient


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A listening socket that never reads or answers: a flow lost in a middlebox."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


def send_and_wait(client: Any, hub: Any, url: str, *, timeout: float) -> list[Any]:
    answers: list[Any] = []
    client.add_request(Request(url, method="POST", body=b"Action=ReceiveMessage", on_ready=answers.append))
    loop = hub.create_loop()

    def answered() -> bool:
        next(loop)
        return bool(answers)

    wait_until(answered, timeout=timeout, interval=0)
    return answers


def test_a_request_to_a_silent_endpoint_fails_at_its_deadline(silent_endpoint: str) -> None:
    hub = Hub()
    client: Any = DeadlineCurlClient(hub, request_timeout_s=DEADLINE_S)
    try:
        started = time.monotonic()
        (response,) = send_and_wait(client, hub, silent_endpoint, timeout=DEADLINE_S + 10)
        took = time.monotonic() - started
    finally:
        client.close()
        hub.close()
    assert response.code == 599
    assert response.error.errno == 28  # CURLE_OPERATION_TIMEDOUT
    assert took >= DEADLINE_S


def test_without_the_deadline_kombus_client_is_still_waiting(silent_endpoint: str) -> None:
    """Why the deadline is ours to set: kombu 5.7's own client gives no answer at all (celery/kombu#2488)."""
    hub = Hub()
    client = CurlClient(hub)
    try:
        with pytest.raises(Timeout):
            send_and_wait(client, hub, silent_endpoint, timeout=DEADLINE_S + 3)
    finally:
        client.close()
        hub.close()
