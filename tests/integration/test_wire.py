"""The ingress's hand-built message equals what ``Celery.send_task`` puts on SQS.

Both are sent to the same queue on the moto server and read back raw; everything a worker reads
must match (ids, origin and the repr fields differ by design).
"""

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from celery import Celery

from contract.celery_settings import MESSAGE_SETTINGS
from contract.queues import QueueName
from contract.tasks import TaskName
from contract.wire import decode_task_message, encode_task_message
from scripts.provision import LOCAL_CREDENTIALS
from scripts.stack import DevStack

pytestmark = pytest.mark.slow

# Differ per message or per sender, or only describe the message for humans.
PER_MESSAGE = {"id", "root_id", "origin", "argsrepr", "kwargsrepr", "ignore_result"}
PER_MESSAGE_PROPERTIES = {"correlation_id", "delivery_tag", "reply_to"}


def envelope(raw_body: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(base64.b64decode(raw_body))
    return message


def test_our_message_matches_celerys_own(stack_without_worker: DevStack) -> None:
    stack = stack_without_worker
    stack.empty_queues()
    endpoint = urlsplit(stack.moto_url)
    celery = Celery(
        "probe",
        broker=f"sqs://{LOCAL_CREDENTIALS['AWS_ACCESS_KEY_ID']}:{LOCAL_CREDENTIALS['AWS_SECRET_ACCESS_KEY']}"
        f"@{endpoint.hostname}:{endpoint.port}",
    )
    celery.conf.update(
        broker_transport_options={
            "is_secure": False,
            "region": "us-east-1",
            "predefined_queues": {QueueName.REPLIES.value: {"url": stack.queue_url(QueueName.REPLIES)}},
        },
        **MESSAGE_SETTINGS,
    )
    kwargs = {"correlation_id": "Ev1", "channel": "C1", "text": "héllo ✓", "n": 3, "nested": {"a": [1, None]}}

    celery.send_task(TaskName.PING, kwargs=kwargs, queue=QueueName.REPLIES.value, task_id="celery-made")
    stack.sqs().send_message(
        QueueUrl=stack.queue_url(QueueName.REPLIES),
        MessageBody=encode_task_message(task=TaskName.PING, kwargs=kwargs, queue=QueueName.REPLIES, task_id="ours"),
    )
    bodies = [m["Body"] for m in stack.receive_raw(QueueName.REPLIES)]
    while len(bodies) < 2:
        bodies += [m["Body"] for m in stack.receive_raw(QueueName.REPLIES)]
    by_id = {decode_task_message(b).task_id: envelope(b) for b in bodies}
    theirs, ours = by_id["celery-made"], by_id["ours"]

    assert json.loads(base64.b64decode(ours["body"])) == json.loads(base64.b64decode(theirs["body"]))
    assert {k: v for k, v in ours.items() if k not in ("body", "headers", "properties")} == {
        k: v for k, v in theirs.items() if k not in ("body", "headers", "properties")
    }
    assert set(ours["headers"]) == set(theirs["headers"])
    assert {k: v for k, v in ours["headers"].items() if k not in PER_MESSAGE} == {
        k: v for k, v in theirs["headers"].items() if k not in PER_MESSAGE
    }
    assert set(ours["properties"]) <= set(theirs["properties"])
    assert {k: v for k, v in ours["properties"].items() if k not in PER_MESSAGE_PROPERTIES} == {
        k: v for k, v in theirs["properties"].items() if k not in PER_MESSAGE_PROPERTIES
    }
