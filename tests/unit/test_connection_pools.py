"""Every AWS client a worker's pool threads share keeps a connection per thread (workers/runtime/connection_pools.py).

The size is the worker's resolved concurrency, recorded from Celery's own ``worker_init`` signal
(so ``--concurrency`` on the command line wins over ``CHARLA_WORKER_CONCURRENCY``).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from celery import signals

from contract import environment as env
from workers.runtime import connection_pools

WORKER_ENV = {
    env.SLACK_BOT_TOKEN: "xoxb-test",
    "CHARLA_QUEUE_URL_REPLIES": "http://127.0.0.1:1/123/replies",
    "CHARLA_QUEUE_URL_BULK": "http://127.0.0.1:1/123/bulk",
    "CHARLA_TABLE_STATE": "state",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(eq=False)
class Worker:
    """What ``worker_init`` hands its receivers: Celery's WorkController, as far as they read it."""

    concurrency: object
    app: Any


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from workers.runtime.settings import get_settings

    for name, value in WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(env.WORKER_CONCURRENCY, raising=False)
    monkeypatch.setattr(connection_pools, "_worker", {})
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_without_a_worker_the_size_follows_the_environment_then_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert connection_pools.concurrency() == env.DEFAULT_WORKER_CONCURRENCY
    monkeypatch.setenv(env.WORKER_CONCURRENCY, "32")
    assert connection_pools.max_pool_connections() == 32 + connection_pools.EXTRA_CONNECTIONS
    monkeypatch.setenv(env.WORKER_CONCURRENCY, "2")  # a prefork child: botocore's default is plenty
    assert connection_pools.max_pool_connections() == connection_pools.BOTOCORE_DEFAULT_POOL


def test_the_worker_s_own_concurrency_sizes_dynamodb_sqs_and_kombu_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers import redelivery, store
    from workers.celery_worker.app import app

    monkeypatch.setenv(env.WORKER_CONCURRENCY, "4")  # what the environment says; the command line said 24
    signals.worker_init.send(sender=Worker(concurrency=24, app=app))
    wanted = 24 + connection_pools.EXTRA_CONNECTIONS

    assert store.dynamodb_client(None, "us-east-1").meta.config.max_pool_connections == wanted
    assert redelivery.sqs_client.__wrapped__().meta.config.max_pool_connections == wanted
    client_config = app.conf.broker_transport_options["client-config"]
    assert client_config["max_pool_connections"] == wanted
    assert client_config["read_timeout"] < 60  # the transport's short timeouts are kept beside it


def test_an_unresolved_concurrency_is_not_recorded() -> None:
    connection_pools.record_concurrency("auto")
    connection_pools.record_concurrency(0)
    assert connection_pools.concurrency() == env.DEFAULT_WORKER_CONCURRENCY
