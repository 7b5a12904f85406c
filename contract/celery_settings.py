"""Celery message settings that producers (ours and other languages') and workers must share."""

from typing import Any

# JSON only: pickle and YAML can execute code on load, so workers refuse them outright.
MESSAGE_SETTINGS: dict[str, Any] = {
    "task_protocol": 2,
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "result_accept_content": ["json"],
}
