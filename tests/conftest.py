"""Shared fixtures: the local stack as real processes, started once per module and always stopped."""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scripts.processes import start_moto_server
from scripts.provision import LOCAL_CREDENTIALS, REGION
from scripts.stack import DevStack

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A JSON fixture from tests/events."""
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bare moto server (no charla resources) for this module, with the local dummy credentials."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_"))}
    environ.update({**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": REGION})
    process, url = start_moto_server(env=environ, log_dir=tmp_path_factory.mktemp("moto"))
    try:
        yield url
    finally:
        process.stop()


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
    from lambda_handler import enqueue, settings, signing

    for cached in (
        settings.get_settings,
        enqueue.sqs_client,
        signing.secrets_client,
        signing.signing_key,
    ):
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
