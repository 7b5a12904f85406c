"""How many HTTP connections each AWS client of a worker process keeps: one per pool thread.

botocore keeps 10 connections per client (``max_pool_connections``) and does not block past them:
a thread pool of 16 sharing the process's DynamoDB client opens the 11th to 16th connections,
then throws each away ("Connection pool is full, discarding connection") and pays a new TCP and
TLS handshake next time. Every client that the pool's threads share is sized to the pool here:
the state table's (``workers/store.py``), the copies' SQS client (``workers/redelivery.py``) and
kombu's own SQS client (the transport's ``client-config``, ``workers/celery_worker/app.py``). Slack's clients
(slack_sdk's ``WebClient``) open a connection per call (``urllib.request.urlopen``): they keep
no pool to size, and are safe to share between threads.

The size is the worker's real concurrency, as the worker resolved it (``--concurrency`` on the
command line wins over ``CHARLA_WORKER_CONCURRENCY``): ``workers/celery_worker/app.py`` records it when the
worker starts (``worker_init``), before any client is built. A prefork child runs one task at a
time and needs botocore's default; sizing to the pool costs nothing (the pool is a cap, not an
allocation).
"""

import os

from contract import environment as env

BOTOCORE_DEFAULT_POOL = 10  # botocore.endpoint.MAX_POOL_CONNECTIONS
# Beside the pool's threads: the batched-ack flusher (workers/celery_worker/sqs_batch_ack.py) and the
# consumer's own blocking calls share the SQS client; a rejection or a late ack may overlap them.
EXTRA_CONNECTIONS = 2

# The worker's concurrency once ``record_concurrency`` saw it (one worker per process).
_worker: dict[str, int] = {}


def record_concurrency(concurrency: object) -> None:
    """The worker's resolved concurrency (``WorkController.concurrency``); ignored if not a number."""
    if isinstance(concurrency, int) and concurrency > 0:
        _worker["concurrency"] = concurrency


def concurrency() -> int:
    """Tasks this process may run at once: as recorded, else ``CHARLA_WORKER_CONCURRENCY``, else the default."""
    if "concurrency" in _worker:
        return _worker["concurrency"]
    try:
        return max(1, int(os.environ.get(env.WORKER_CONCURRENCY, env.DEFAULT_WORKER_CONCURRENCY)))
    except ValueError:
        return env.DEFAULT_WORKER_CONCURRENCY


def max_pool_connections() -> int:
    """botocore's ``max_pool_connections`` for a client the pool's threads share."""
    return max(BOTOCORE_DEFAULT_POOL, concurrency() + EXTRA_CONNECTIONS)
