"""Sending a task's message again: later on its own queue, or now to its dead-letter queue.

Both build the message with ``contract.wire`` (the same bytes the ingress sends) and keep the
task id, so every copy of a task meets the same effect records. The caller acks the message in
hand only after the copy was sent: a crash in between leaves two copies, never none.
"""

import dataclasses
import logging
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contract.queues import DEAD_LETTER_REASON_ATTRIBUTE, NEVER_RUNNABLE_ATTRIBUTE, QueueName
from contract.tasks import TaskName, queue_for
from contract.wire import encode_task_message, task_id_for
from workers.outcomes import Observed
from workers.runtime import aws
from workers.runtime.connection_pools import max_pool_connections
from workers.runtime.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)

# Headers of ours that travel with a task's copies (Celery hands them to the task as
# ``request.<name>``): how often it failed, how long its copies deferred in all, the effect
# record version a deferred run saw (and for how long, in delays gone by), and why it was
# dead-lettered.
FAILURES_HEADER = "charla_failures"
DEFERRED_S_HEADER = "charla_deferred_s"
SEEN_VERSION_HEADER = "charla_seen_version"
SEEN_FOR_S_HEADER = "charla_seen_for_s"
# A reason is cut short: an exception's text may quote user input.
REASON_MAX_CHARS = 300
DEAD_LETTER_REASON_HEADER = "charla_dead_letter_reason"


def carried(header: Callable[[str], Any]) -> tuple[float, Observed | None]:
    """What a copy carries from the runs before it: seconds deferred so far, and what they observed.

    ``header(name)`` reads one header of the message in hand (``None`` when absent).
    """
    try:
        deferred_s = float(header(DEFERRED_S_HEADER) or 0.0)
        version = header(SEEN_VERSION_HEADER)
        observed = Observed(str(version), float(header(SEEN_FOR_S_HEADER) or 0.0)) if version else None
    except (TypeError, ValueError):  # a header we did not write: start counting again
        return 0.0, None
    return deferred_s, observed


class RedeliveryError(RuntimeError):
    """The copy could not be sent: the message in hand must not be acked."""


@cache
def sqs_client() -> "SQSClient":
    settings = get_settings()
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=max_pool_connections(),  # pool threads send their copies at once
    )
    client: SQSClient = aws.client(
        "sqs", region=settings.aws_region, endpoint_url=settings.sqs_endpoint_url, config=config
    )
    return client


@cache
def dead_letter_queue_url(queue_url: str) -> str:
    """The URL of ``queue_url``'s dead-letter queue, from its redrive policy (read once per process).

    Raises:
        RedeliveryError: The queue has no redrive policy or it cannot be read.
    """
    import json

    client = sqs_client()
    try:
        attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
        target_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
        return client.get_queue_url(QueueName=target_arn.rsplit(":", 1)[-1])["QueueUrl"]
    except (KeyError, ValueError, BotoCoreError, ClientError) as error:
        raise RedeliveryError(f"no dead-letter queue found for {queue_url}: {type(error).__name__}") from error


def _send(queue_url: str, body: str, *, delay_s: int = 0, attributes: Mapping[str, str] | None = None) -> None:
    extra: dict[str, Any] = {}
    if attributes:
        extra["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
    try:
        sqs_client().send_message(QueueUrl=queue_url, MessageBody=body, DelaySeconds=delay_s, **extra)
    except (BotoCoreError, ClientError) as error:
        raise RedeliveryError(f"send failed: {type(error).__name__}") from error


def _copy(
    *,
    task: str,
    task_id: str,
    queue: QueueName,
    kwargs: Mapping[str, Any],
    ignore_result: bool,
    retries: int,
    headers: Mapping[str, Any],
) -> str:
    """The task's message again, same id, as the ingress builds it, with our headers added."""
    return encode_task_message(
        task=task,
        kwargs=kwargs,
        queue=queue,
        task_id=task_id,
        origin="charla-worker",
        ignore_result=ignore_result,
        retries=retries,
        extra_headers=headers,
    )


def send_later(
    *,
    task: str,
    task_id: str,
    queue: QueueName,
    kwargs: Mapping[str, Any],
    delay_s: int,
    retries: int,
    failures: int,
    ignore_result: bool,
    deferred_s: float = 0.0,
    observed: Observed | None = None,
) -> None:
    """Put a copy of the task on its queue, receivable after ``delay_s`` seconds (at most 900).

    Raises:
        RedeliveryError: SQS did not take it.
    """
    headers: dict[str, Any] = {FAILURES_HEADER: failures}
    if deferred_s:
        headers[DEFERRED_S_HEADER] = round(deferred_s, 3)
    if observed is not None:
        headers[SEEN_VERSION_HEADER] = observed.version
        headers[SEEN_FOR_S_HEADER] = round(observed.for_s, 3)
    body = _copy(
        task=task,
        task_id=task_id,
        queue=queue,
        kwargs=kwargs,
        ignore_result=ignore_result,
        retries=retries,
        headers=headers,
    )
    _send(get_settings().queue_urls[queue], body, delay_s=delay_s)


def _dead_letter_attributes(reason: str, *, never_runnable: bool) -> dict[str, str]:
    attributes = {DEAD_LETTER_REASON_ATTRIBUTE: reason[:REASON_MAX_CHARS] or "?"}
    if never_runnable:
        attributes[NEVER_RUNNABLE_ATTRIBUTE] = "true"
    return attributes


def dead_letter(
    *,
    task: str,
    task_id: str,
    queue: QueueName,
    kwargs: Mapping[str, Any],
    reason: str,
    ignore_result: bool,
    never_runnable: bool = False,
) -> None:
    """Put a copy of the task in its queue's dead-letter queue, with the reason in a header.

    The copy starts with no failures counted, so a redrive after the fix gets every retry again.
    ``never_runnable``: the contract refused the payload; ``charla dlq redrive`` leaves it be.

    Raises:
        RedeliveryError: SQS did not take it.
    """
    headers = {DEAD_LETTER_REASON_HEADER: reason}
    body = _copy(
        task=task, task_id=task_id, queue=queue, kwargs=kwargs, ignore_result=ignore_result, retries=0, headers=headers
    )
    _send(
        dead_letter_queue_url(get_settings().queue_urls[queue]),
        body,
        attributes=_dead_letter_attributes(reason, never_runnable=never_runnable),
    )
    _tell_the_asker(task, task_id, kwargs)


def refuse(queue_url: str, body: str, reason: str) -> None:
    """Move a message the contract refuses to ``queue_url``'s dead-letter queue now, as it came.

    It can never run (not JSON, no such task, a payload that does not validate), so waiting for
    SQS to redeliver it ``maxReceiveCount`` times would only hide it for that many visibility
    timeouts. The body is kept byte for byte (it may not even decode); the reason travels as a
    message attribute, with ``NEVER_RUNNABLE_ATTRIBUTE`` so a redrive leaves it be.

    Raises:
        RedeliveryError: The dead-letter queue is unknown or SQS did not take the message.
    """
    _send(dead_letter_queue_url(queue_url), body, attributes=_dead_letter_attributes(reason, never_runnable=True))


def _tell_the_asker(task: str, task_id: str, kwargs: Mapping[str, Any]) -> None:
    """Queue one ephemeral line for whoever asked for a dead-lettered answer (issue #23).

    Best effort: the dead-letter copy is already sent, so a failure here is logged, never raised
    (raising would leave the message in hand to be dead-lettered twice). The notice's task id
    derives from the failed one: a second dead-lettering of the same task notifies once.
    """
    from workers.services.notices import failure_notice_for

    notice = failure_notice_for(task, task_id, kwargs)
    if notice is None:
        return
    try:
        _send(
            get_settings().queue_urls[queue_for(TaskName.NOTIFY_FAILURE)],
            _copy(
                task=TaskName.NOTIFY_FAILURE,
                task_id=task_id_for(f"{TaskName.NOTIFY_FAILURE}:{task_id}"),
                queue=queue_for(TaskName.NOTIFY_FAILURE),
                kwargs=dataclasses.asdict(notice),
                ignore_result=True,
                retries=0,
                headers={},
            ),
        )
    except RedeliveryError as error:
        logger.warning("no failure notice for task id=%s: %s", task_id, error)
