"""Shared fixtures: the local stack as real processes, started once per module and always stopped."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scripts.stack import DevStack

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A JSON fixture from tests/events."""
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    """The whole stack with one worker consuming every queue."""
    with DevStack() as running:
        yield running


@pytest.fixture(scope="module")
def stack_without_worker() -> Iterator[DevStack]:
    """moto, the stand-in and the ingress, but no worker: whatever is enqueued stays visible."""
    with DevStack(worker_queues=[]) as running:
        yield running


def clear_ingress_caches() -> None:
    """Forget the ingress's per-process settings and clients (read again on next use)."""
    from lambda_handler import dedupe, enqueue, main, settings

    for cached in (settings.get_settings, enqueue.sqs_client, dedupe.dynamodb_client, main.bolt_app, main._verifier):
        cached.cache_clear()


@contextmanager
def configured_like_the_lambda(stack: DevStack) -> Iterator[DevStack]:
    """This test process configured as the Lambda would be, against ``stack``; undone on exit."""
    patch = pytest.MonkeyPatch()
    for name, value in stack.env.items():
        if name.startswith(("AWS_", "CHARLA_", "SLACK_")):
            patch.setenv(name, value)
    clear_ingress_caches()
    try:
        yield stack
    finally:
        patch.undo()
        clear_ingress_caches()
