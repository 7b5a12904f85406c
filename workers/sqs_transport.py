"""kombu's SQS transport, made to survive an SQS endpoint that goes away and comes back.

kombu 5.7 turns a failed long poll (HTTP 5xx, a timeout, or curl's 599 when the endpoint cannot
be reached) into an empty *list*, which ``Channel._on_messages_ready`` then reads as a dict
(``messages.get``): the ``AttributeError`` is "unrecoverable" and the worker exits. Measured here
with the fault suite's proxy in front of moto (tests/faults, scenario 6). This channel treats a
failed poll as "no messages" and waits a moment before polling again, so the worker rides out
the outage and resumes by itself; messages it could not delete reappear after their visibility
timeout and the effect records keep their effects single (docs/RELIABILITY.md).
"""

from typing import Any

from kombu.transport import SQS

# After a failed poll: long enough not to spin on a dead endpoint, short enough to notice it is back.
RECEIVE_RETRY_DELAY_S = 1.0


class ResilientChannel(SQS.Channel):
    """An SQS channel whose failed receives are retried after a pause instead of crashing the worker."""

    _receive_failed = False

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
    """The SQS transport with ``ResilientChannel``; selected by ``broker_transport`` in workers/app.py."""

    Channel = ResilientChannel
