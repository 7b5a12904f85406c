"""The Celery executor: the ECS Fargate worker and everything only it needs.

``app`` (``celery --app workers.celery_worker.app worker``) builds the Celery app; ``celery_tasks``
makes one Celery task per registry entry; ``consumer`` refuses what must not run and settles each
outcome; ``sqs_transport`` and ``sqs_batch_ack`` are kombu's SQS transport with charla's fixes;
``activity``, ``heartbeat`` and ``healthcheck`` are what the worker tells about itself; ``results``
is Celery's DynamoDB result backend with text keys. The container image is built from the
``Dockerfile`` here and started by ``docker-entrypoint.sh``.

Nothing outside this package imports it (tests/unit/test_layout.py): the Lambda executor and the
task code run without Celery.
"""
