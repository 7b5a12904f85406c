"""Shared fixtures: the local stack as real processes, started once per module and always stopped."""

import json
from collections.abc import Iterator
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
