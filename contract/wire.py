"""The Celery message protocol v2 as it travels on SQS, built and read without Celery.

The ingress sends tasks with one ``SendMessage`` and no Celery import (a lighter cold start);
other languages can produce the same bytes. ``tests/integration/test_wire.py`` checks that the
body equals what ``Celery.send_task`` puts on the queue, and the end-to-end tests check that a
real ``celery worker`` runs it.

On SQS, kombu's message is JSON, base64-encoded as a whole; inside it, the task body
``[args, kwargs, embed]`` is JSON, base64-encoded again (``body_encoding: base64``).
"""

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
_EMBED: dict[str, None] = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def task_id_for(key: str) -> str:
    """A task id derived from a stable key (e.g. a Slack event id), so a re-sent task keeps its id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"charla:{key}"))


def encode_task_message(
    *,
    task: str,
    kwargs: Mapping[str, Any],
    queue: str,
    task_id: str | None = None,
    origin: str = "charla-ingress",
    ignore_result: bool = True,
    retries: int = 0,
    extra_headers: Mapping[str, Any] | None = None,
) -> str:
    """The SQS ``MessageBody`` that a Celery worker consuming ``queue`` runs as ``task(**kwargs)``.

    Args:
        task: Registered task name.
        kwargs: JSON-serializable keyword arguments.
        queue: Celery queue name (routing key); the caller sends to that queue's URL.
        task_id: Task id; a random one when omitted.
        origin: Shown by Celery as the sender.
        ignore_result: ``False`` asks the worker to store the result (waitable tasks only, see
            ``contract.registry.RESULT_TASKS``); hot-path tasks store nothing either way.
        retries: How many times this task was sent again (Celery's ``retries`` header).
        extra_headers: More headers; Celery hands each to the task as ``request.<name>``.

    Raises:
        ValueError: ``kwargs`` holds NaN or infinity, which JSON (and the Node client) cannot read.
    """
    task_id = task_id or str(uuid.uuid4())
    body = json.dumps([[], dict(kwargs), _EMBED], allow_nan=False).encode(CONTENT_ENCODING)
    message = {
        "body": _b64(body),
        "content-encoding": CONTENT_ENCODING,
        "content-type": CONTENT_TYPE,
        "headers": {
            "lang": "py",
            "task": task,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": retries,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": "()",
            "kwargsrepr": "{...}",  # payloads may hold user text; keep it out of worker logs
            "origin": origin,
            "ignore_result": ignore_result,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
            **(extra_headers or {}),
        },
        "properties": {
            "correlation_id": task_id,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return _b64(json.dumps(message).encode(CONTENT_ENCODING))


@dataclass(frozen=True, slots=True)
class DecodedTask:
    """What a worker would run for one SQS message body."""

    task: str
    task_id: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    content_type: str
    retries: int
    ignore_result: bool = True
    # Every header, for executors that read more than the above (e.g. a failure count).
    headers: Mapping[str, Any] = field(default_factory=dict)


def decode_task_message(message_body: str) -> DecodedTask:
    """Read a Celery-on-SQS message body (ours or Celery's own) without Celery.

    Raises:
        ValueError: The body is not a JSON Celery protocol v2 message.
    """
    try:
        message = json.loads(base64.b64decode(message_body, validate=True))
        headers = message["headers"]
        content_type = message.get("content-type", "")
        if content_type != CONTENT_TYPE:
            raise ValueError(f"content type {content_type!r} is not {CONTENT_TYPE}")
        raw = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            raw = base64.b64decode(raw)
        args, kwargs, _embed = json.loads(raw)
        return DecodedTask(
            task=headers["task"],
            task_id=headers["id"],
            queue=message["properties"]["delivery_info"]["routing_key"],
            args=list(args),
            kwargs=dict(kwargs),
            content_type=content_type,
            retries=int(headers.get("retries") or 0),
            ignore_result=bool(headers.get("ignore_result", True)),
            headers=dict(headers),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a JSON Celery task message: {error}") from error
