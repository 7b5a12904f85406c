"""``charla``: the console script for a charla deployment, the same locally (moto) and in AWS.

Celery's ``inspect``/``control`` and Flower need a broadcast exchange that SQS lacks; this
tool reads what the workers write (heartbeats, failure notes) and the queues themselves.
Subcommands: send, status, workers, dlq show, dlq redrive, purge, env (see ``charla --help``
and docs/OPERATIONS.md; exit statuses in ``charla_cli/errors.py``).
"""
