"""Acks in batches: finished tasks are deleted from SQS by ``DeleteMessageBatch``, up to 10 a request.

kombu 5.7's SQS channel deletes each acked message with its own synchronous ``DeleteMessage``,
inside the consumer's loop: one request per task on top of the receives (3.0 SQS requests per
task in the bench). ``BatchedAcksChannel`` changes only *how* an ack reaches SQS, never *when*
a message may be acked:

- ``basic_ack`` (Celery calls it once the task has finished: ``task_acks_late``) releases the
  delivery at once, as kombu does, and queues the message's receipt handle for its queue;
- a flusher thread sends a queue's handles as one ``DeleteMessageBatch`` as soon as 10 wait
  (SQS's most per request), and whatever waits at the latest ``ack_flush_interval`` (1 s) after
  the oldest of them was acked;
- ``close`` (a warm shutdown closes the connection after the running tasks finished) sends what
  is left before the worker exits.

Nothing else changes: a task that fails or is rejected goes through kombu's ``basic_reject`` and
is never queued here, so it is never deleted by this class. What a batch risks is the same as a
single delete's: if the request or the worker is lost before it reaches SQS, the messages
reappear after their visibility timeout and their copies meet the DONE records of the effects
they made (docs/RELIABILITY.md), so they post nothing twice. The delay added to a delete (≤ 1 s)
is far below every queue's visibility timeout.

Written as a ``kombu.transport.SQS.Channel`` subclass whose only seams are ``basic_ack`` and
``close``, with its two knobs read from the transport options (``ack_batch_size``,
``ack_flush_interval``), so it can be offered to kombu as it is. It is thread-safe: Celery's
thread pool acks from its worker threads, prefork from the main process.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kombu.transport import SQS, virtual

from workers.celery_worker.sqs_transport import ResilientChannel, ResilientTransport

logger = logging.getLogger(__name__)

# SQS takes at most 10 entries per DeleteMessageBatch.
MAX_BATCH = 10
DEFAULT_FLUSH_INTERVAL_S = 1.0
# How long close() waits for the flusher before sending what is left itself.
CLOSE_JOIN_TIMEOUT_S = 10.0


@dataclass
class _PendingDeletes:
    """Receipt handles acked and not yet sent for one queue, and the client to send them with."""

    client: Any
    handles: list[str] = field(default_factory=list)
    since: float = 0.0  # time.monotonic() of the oldest handle


class BatchedAcksChannel(SQS.Channel):
    """An SQS channel that deletes acked messages in batches (``DeleteMessageBatch``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        options = self.transport_options
        self.ack_batch_size = max(1, min(MAX_BATCH, int(options.get("ack_batch_size", MAX_BATCH))))
        self.ack_flush_interval = float(options.get("ack_flush_interval", DEFAULT_FLUSH_INTERVAL_S))
        self._acks = threading.Condition()
        self._pending: dict[str, _PendingDeletes] = {}
        self._flusher: threading.Thread | None = None
        self._closing = False

    # -- the seams ------------------------------------------------------------------------------

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        """Queue the finished message's delete and release its delivery now."""
        try:
            info = self.qos.get(delivery_tag).delivery_info
            receipt_handle = str(info["sqs_message"]["ReceiptHandle"])
            queue_url = str(info["sqs_queue"])
        except KeyError:
            virtual.Channel.basic_ack(self, delivery_tag, multiple)  # type: ignore[no-untyped-call]
            return
        queue = None
        if "routing_key" in info:
            queue = self.canonical_queue_name(info["routing_key"])  # type: ignore[no-untyped-call]
        # Built here, on the caller's thread, once per queue; boto3 clients are thread-safe.
        client = self.sqs(queue=queue)  # type: ignore[no-untyped-call]
        with self._acks:
            pending = self._pending.get(queue_url)
            if pending is None:
                pending = self._pending[queue_url] = _PendingDeletes(client, since=time.monotonic())
            pending.handles.append(receipt_handle)
            self._start_flusher()
            self._acks.notify()
        # The task is done: its prefetch slot is free whether or not the delete was sent yet.
        virtual.Channel.basic_ack(self, delivery_tag, multiple)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Send every queued delete, then close the channel."""
        with self._acks:
            self._closing = True
            self._acks.notify()
            flusher = self._flusher
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join(CLOSE_JOIN_TIMEOUT_S)
        self._send(self._take(everything=True))  # whatever the flusher left (or never started for)
        super().close()  # type: ignore[no-untyped-call]

    # -- the flusher ----------------------------------------------------------------------------

    def _start_flusher(self) -> None:
        if self._flusher is None and not self._closing:
            self._flusher = threading.Thread(target=self._flush_loop, name="sqs-batch-acks", daemon=True)
            self._flusher.start()

    def _due_in(self) -> float | None:
        """Seconds until some batch must go (0: now); None: nothing waits. Caller holds the lock."""
        if not self._pending:
            return None
        if self._closing or any(len(p.handles) >= self.ack_batch_size for p in self._pending.values()):
            return 0.0
        oldest = min(p.since for p in self._pending.values())
        return max(0.0, oldest + self.ack_flush_interval - time.monotonic())

    def _take(self, *, everything: bool) -> list[tuple[str, Any, list[str]]]:
        """Remove and return the batches due (all of them if ``everything``)."""
        batches: list[tuple[str, Any, list[str]]] = []
        with self._acks:
            now = time.monotonic()
            for url, pending in list(self._pending.items()):
                if not (everything or self._closing or now - pending.since >= self.ack_flush_interval):
                    # Not yet due by age: send only its full batches.
                    while len(pending.handles) >= self.ack_batch_size:
                        batches.append((url, pending.client, pending.handles[: self.ack_batch_size]))
                        del pending.handles[: self.ack_batch_size]
                    if not pending.handles:
                        del self._pending[url]
                    continue
                handles = pending.handles
                for start in range(0, len(handles), self.ack_batch_size):
                    batches.append((url, pending.client, handles[start : start + self.ack_batch_size]))
                del self._pending[url]
        return batches

    def _flush_loop(self) -> None:
        while True:
            with self._acks:
                while (due := self._due_in()) != 0.0:
                    if due is None and self._closing:
                        return
                    self._acks.wait(due)
            self._send(self._take(everything=False))

    def _send(self, batches: list[tuple[str, Any, list[str]]]) -> None:
        for url, client, handles in batches:
            entries = [{"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(handles)]
            try:
                response = client.delete_message_batch(QueueUrl=url, Entries=entries)
            except Exception as error:  # a lost batch means only redeliveries, which meet DONE
                logger.warning("could not delete %d finished messages from %s: %s", len(handles), url, error)
                continue
            for failed in response.get("Failed") or []:
                logger.warning(
                    "could not delete a finished message from %s: %s %s",
                    url,
                    failed.get("Code"),
                    failed.get("Message"),
                )


class Channel(BatchedAcksChannel, ResilientChannel):
    """charla's channel: batched acks (this module) over the outage-proof receive (sqs_transport.py)."""


class Transport(ResilientTransport):
    """The SQS transport with batched acks; selected by ``broker_transport`` in workers/celery_worker/app.py."""

    Channel = Channel
