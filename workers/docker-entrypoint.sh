#!/bin/sh
# Start a Celery worker for the queues named in CHARLA_WORKER_QUEUES (comma-separated).
# `exec` replaces this shell, so SIGTERM from ECS reaches Celery (warm shutdown), not sh.
set -eu
: "${CHARLA_WORKER_QUEUES:?set CHARLA_WORKER_QUEUES, e.g. replies or replies,bulk}"
exec celery --app workers.app worker \
    --queues "${CHARLA_WORKER_QUEUES}" \
    --concurrency "${CHARLA_WORKER_CONCURRENCY:-2}" \
    --without-gossip --without-mingle --without-heartbeat \
    "$@"
