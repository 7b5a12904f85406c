"""``Job.delay``: a job's message built without Celery and sent to its queue with boto3.

The body is the one the ingress and ``charla send`` send (``contract/wire.py``), so either
executor runs it. The queue URL comes from ``CHARLA_QUEUE_URL_<QUEUE>`` (set in every worker and
Lambda, so a job may queue another), else from the deployment ``charla`` would talk to here
(``charla_cli/endpoints.py``: the local stack's endpoints file, ``CHARLA_STACK``...).
"""

import dataclasses
import os
import time
import uuid
from typing import Any

from contract import environment as env
from contract.checks import check_payload
from contract.queues import QueueName
from contract.wire import encode_task_message
from jobs import Job


def payload_of(job: Job[Any], fields: dict[str, Any], *, now: float) -> Any:
    """``job``'s payload from ``fields``, with ``correlation_id`` and ``requested_at`` filled in.

    Raises:
        TypeError: A field the payload does not have, or a required one missing.
        contract.checks.PayloadInvalid: A field has the wrong type.
    """
    names = {item.name for item in dataclasses.fields(job.payload)}
    filled = dict(fields)
    if "correlation_id" in names:
        filled.setdefault("correlation_id", f"job-{uuid.uuid4()}")
    if "requested_at" in names:
        filled.setdefault("requested_at", now)
    payload = job.payload(**filled)
    check_payload(payload)
    return payload


def _sqs_and_url(queue: QueueName) -> tuple[Any, str]:
    import boto3

    url = os.environ.get(env.queue_url_variable(queue))
    if url:
        return boto3.client("sqs"), url
    from charla_cli.endpoints import resolve

    endpoints = resolve()
    return endpoints.client("sqs"), endpoints.queue_url(queue)


def send(job: Job[Any], **fields: Any) -> str:
    """Queue ``job`` with ``fields``; returns the task id (``Job.delay``'s body)."""
    payload = payload_of(job, fields, now=time.time())
    task_id = str(uuid.uuid4())
    body = encode_task_message(
        task=job.task,
        kwargs=dataclasses.asdict(payload),
        queue=job.queue.value,
        task_id=task_id,
        origin="charla-job-producer",
    )
    sqs, url = _sqs_and_url(job.queue)
    sqs.send_message(QueueUrl=url, MessageBody=body)
    return task_id
