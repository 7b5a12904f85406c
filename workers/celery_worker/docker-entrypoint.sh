#!/bin/sh
# Start a Celery worker for the queues named in CHARLA_WORKER_QUEUES (comma-separated), with the
# pool kind and size of CHARLA_WORKER_POOL (threads unless set) and CHARLA_WORKER_CONCURRENCY (16):
# contract/environment.py's defaults, measured in docs/OPERATIONS.md ("Which pool the worker runs").
# Arguments given to the container come last, so `--pool`/`--concurrency` there still win.
# `exec` replaces this shell, so SIGTERM from ECS reaches Celery (warm shutdown), not sh.
set -eu
: "${CHARLA_WORKER_QUEUES:?set CHARLA_WORKER_QUEUES, e.g. replies or replies,bulk}"
exec celery --app workers.celery_worker.app worker \
    --queues "${CHARLA_WORKER_QUEUES}" \
    --pool "${CHARLA_WORKER_POOL:-threads}" \
    --concurrency "${CHARLA_WORKER_CONCURRENCY:-16}" \
    --without-gossip --without-mingle --without-heartbeat \
    "$@"
