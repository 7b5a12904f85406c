"""The one seam that turns a validated request into a queued Celery task on SQS."""

import dataclasses
import logging
from functools import cache
from typing import TYPE_CHECKING, Any

from contract.checks import PayloadInvalid, check_payload
from contract.tasks import queue_for
from contract.wire import encode_task_message, task_id_for
from lambda_handler import aws
from lambda_handler.errors import QueueUnavailable, RequestRejected
from lambda_handler.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)


@cache
def sqs_client() -> "SQSClient":
    """The SQS client, built at init (so a SnapStart snapshot holds it) and kept."""
    from botocore.config import Config

    # Fail fast and let Slack retry rather than hold its 3 s window on a sick endpoint: two
    # attempts of at most 0.5 s to connect and 1 s to answer. A send that outlives the window
    # is harmless: Slack's retry sends the same task id again, and workers settle the copies.
    config = Config(connect_timeout=0.5, read_timeout=1, retries={"max_attempts": 2, "mode": "standard"})
    built: SQSClient = aws.client("sqs", config)
    return built


def enqueue(task: str, payload: Any, *, idempotency_key: str) -> str:
    """Queue ``task(**payload)`` on the task's queue and return the task id.

    Args:
        task: Task name on the wire (a built-in task, a command's, or a job's
            ``charla.jobs.<name>``); its queue comes from the contract's routes.
        payload: A contract payload dataclass.
        idempotency_key: Stable for one Slack delivery (event id, trigger id): a redelivered
            request produces the same task id, so its effects happen once (docs/RELIABILITY.md).

    Raises:
        RequestRejected: A payload field has the wrong type (from a signed but odd request):
            refused here, so nothing the worker would refuse ever reaches a queue.
        QueueUnavailable: SQS did not accept the message; the caller must answer non-2xx.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        check_payload(payload)
    except PayloadInvalid as error:
        logger.info("payload refused task=%s reason=%s", task, error)
        raise RequestRejected("request fields of the wrong type") from error
    queue = queue_for(task)
    task_id = task_id_for(f"{task}:{idempotency_key}")
    body = encode_task_message(task=task, kwargs=dataclasses.asdict(payload), queue=queue, task_id=task_id)
    try:
        sqs_client().send_message(QueueUrl=get_settings().queue_urls[queue], MessageBody=body)
    except (BotoCoreError, ClientError) as error:
        logger.warning("enqueue failed task=%s queue=%s error=%s", task, queue, type(error).__name__)
        raise QueueUnavailable(str(type(error).__name__)) from error
    logger.info(
        "enqueued task=%s queue=%s task_id=%s correlation_id=%s",
        task,
        queue,
        task_id,
        getattr(payload, "correlation_id", "-"),
    )
    return task_id
