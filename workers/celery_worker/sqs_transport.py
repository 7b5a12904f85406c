"""kombu's SQS transport, made to survive an SQS endpoint that goes away and comes back.

Three faults of kombu 5.7, each measured with the fault suite's proxy in front of moto (tests/faults):

1. A failed long poll (HTTP 5xx, a timeout, or curl's 599 when the endpoint cannot be reached)
   becomes an empty *list*, which ``Channel._on_messages_ready`` then reads as a dict
   (``messages.get``): the ``AttributeError`` is "unrecoverable" and the worker exits (scenario 6).
   This channel treats a failed poll as "no messages" and waits a moment before polling again.
2. kombu's curl client (the worker's receives) never gives a request a deadline:
   ``Request.connect_timeout`` and ``request_timeout`` exist but ``CurlClient._setup_request``
   never hands them to curl (celery/kombu#2488, closed unmerged). A receive whose connection stays open while nothing
   comes back (a middlebox that lost the flow, a half-dead endpoint: no reset, no close) waits
   forever, its callback never runs, and the queue is never polled again: the worker stays up
   and consumes nothing (scenario 19). Here every receive has a deadline of the long-poll wait
   plus ``RECEIVE_DEADLINE_MARGIN_S``; a poll past it fails as above and is tried again.
3. The worker's other SQS calls (the delete that acks a task, reading a redrive policy) go
   through a blocking boto3 client on the event loop, with botocore's defaults: 60 s to connect,
   60 s to read. One delete caught the same way freezes the whole worker, receives, acks and
   pool results alike, for a minute (scenario 20). ``SYNC_CLIENT_CONFIG`` (the transport's
   ``client-config``, workers/celery_worker/app.py) bounds each attempt to seconds; the retry takes a new
   connection. The worker never long-polls with this client: its receives go through the hub.

Messages a dying poll took (SQS went on with a receive whose answer never arrived) and messages
whose delete failed reappear after their visibility timeout, as in AWS; the effect records keep
their effects single (docs/RELIABILITY.md, "SQS outages").
"""

from typing import Any

import pycurl
from kombu.asynchronous.http.curl import CurlClient
from kombu.transport import SQS

# After a failed poll: long enough not to spin on a dead endpoint, short enough to notice it is back.
RECEIVE_RETRY_DELAY_S = 1.0
# A receive may take the long-poll wait plus this before it is abandoned. Not less: SQS answers a
# long poll at the end of its wait, and a receive abandoned after SQS took messages hides them
# for the visibility timeout. A slow local moto can take seconds to answer a deep queue.
RECEIVE_DEADLINE_MARGIN_S = 10.0
# Connecting is quick when the endpoint is there; an unanswered connect is a dead endpoint.
CONNECT_TIMEOUT_S = 5.0
# A delete or an attribute read answers in milliseconds; the longest a stuck one holds the loop.
SYNC_CALL_READ_TIMEOUT_S = 5.0
# botocore Config keywords for kombu's blocking SQS client (transport option ``client-config``).
SYNC_CLIENT_CONFIG: dict[str, object] = {
    "connect_timeout": CONNECT_TIMEOUT_S,
    "read_timeout": SYNC_CALL_READ_TIMEOUT_S,
    "retries": {"max_attempts": 3, "mode": "standard"},
}


class DeadlineCurlClient(CurlClient):
    """kombu's curl client, with a connect timeout and a deadline on every request."""

    def __init__(self, hub: Any, *, request_timeout_s: float, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        super().__init__(hub)
        self.request_timeout_s = request_timeout_s
        self.connect_timeout_s = connect_timeout_s

    def _setup_request(self, curl: Any, request: Any, buffer: Any, headers: Any, *args: Any) -> None:
        super()._setup_request(curl, request, buffer, headers, *args)  # type: ignore[no-untyped-call]
        # Past either, curl fails the transfer (error 28): a 599 response, a failed poll.
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, int(self.connect_timeout_s * 1000))
        curl.setopt(pycurl.TIMEOUT_MS, int(self.request_timeout_s * 1000))


class ResilientChannel(SQS.Channel):
    """An SQS channel whose receives have a deadline and whose failed receives are retried after a pause."""

    _receive_failed = False

    def asynsqs(self, queue: str | None = None) -> Any:
        # kombu's async connections take the hub's current HTTP client (kombu.asynchronous.http
        # get_client); make that one ours before the first connection is built. Closing the hub
        # closes it and removes it, so a restarted consumer gets a fresh one here. A client
        # already there is left alone (not closed): a request it still runs would never answer.
        hub: Any = self.hub
        if hub is not None and not isinstance(getattr(hub, "_current_http_client", None), DeadlineCurlClient):
            hub._current_http_client = DeadlineCurlClient(
                hub, request_timeout_s=self.wait_time_seconds + RECEIVE_DEADLINE_MARGIN_S
            )
        return super().asynsqs(queue)  # type: ignore[no-untyped-call]

    def _on_messages_ready(self, queue: str, qname: str, messages: Any) -> int:
        if not isinstance(messages, dict):
            self._receive_failed = True
            return 0
        received: int = super()._on_messages_ready(queue, qname, messages)  # type: ignore[no-untyped-call]
        return received

    def _loop1(self, queue: str, messages_fetched: int | None = None) -> None:
        if self._receive_failed:
            self._receive_failed = False
            hub: Any = self.hub
            hub.call_later(RECEIVE_RETRY_DELAY_S, self._schedule_queue, queue)
            return
        super()._loop1(queue, messages_fetched)  # type: ignore[no-untyped-call]


class ResilientTransport(SQS.Transport):
    """The SQS transport with ``ResilientChannel``; selected by ``broker_transport`` in workers/celery_worker/app.py."""

    Channel = ResilientChannel
