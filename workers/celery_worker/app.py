"""The Celery app: SQS transport, queues and routes from the contract, at-least-once delivery."""

from typing import Any

from celery import Celery, signals

from contract.celery_settings import MESSAGE_SETTINGS
from contract.queues import QUEUE_SPECS, WORKER_PREFETCH_MULTIPLIER, QueueName
from contract.registry import RESULT_TASKS, TASK_QUEUES
from workers.celery_worker.heartbeat import Heartbeat
from workers.celery_worker.results import BACKEND_CLASS as RESULT_BACKEND_CLASS
from workers.celery_worker.sqs_transport import SYNC_CLIENT_CONFIG
from workers.runtime.connection_pools import max_pool_connections, record_concurrency
from workers.runtime.settings import WorkerSettings, get_settings


def transport_options(settings: WorkerSettings) -> dict[str, object]:
    """kombu SQS options: only the queues we own (no ListQueues/CreateQueue calls), long polling."""
    return {
        "region": settings.aws_region,
        "is_secure": settings.sqs_is_secure,
        "predefined_queues": {queue.value: {"url": url} for queue, url in settings.queue_urls.items()},
        "wait_time_seconds": settings.sqs_wait_time_seconds,
        "polling_interval": settings.sqs_polling_interval,
        # SentTimestamp comes with each received message (no extra request): the task metrics'
        # queue wait (workers/celery_worker/activity.py). ApproximateReceiveCount is kombu's own default.
        "fetch_message_attributes": {"MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"]},
        # Acks and other blocking calls run on the worker's event loop: seconds, not botocore's
        # 60 s, before a stuck one is retried (workers/celery_worker/sqs_transport.py).
        "client-config": client_config(),
    }


def client_config() -> dict[str, object]:
    """botocore settings of kombu's SQS client: short timeouts, a connection per pool thread."""
    return {**SYNC_CLIENT_CONFIG, "max_pool_connections": max_pool_connections()}


def _size_connection_pools(sender: Any = None, **_: Any) -> None:
    """The worker knows its concurrency now (``--concurrency`` resolved), before any client is built.

    Every AWS client the pool's threads share is sized to it (``workers/runtime/connection_pools.py``);
    kombu builds its SQS client when the consumer connects, after this.
    """
    record_concurrency(getattr(sender, "concurrency", None))
    app = getattr(sender, "app", None)
    if app is not None:
        options = dict(app.conf.broker_transport_options or {})
        app.conf.broker_transport_options = {**options, "client-config": client_config()}


signals.worker_init.connect(_size_connection_pools)


def build_app(settings: WorkerSettings) -> Celery:
    """A Celery app configured from ``settings`` and the contract."""
    # ContractTask/ContractConsumer: a message the contract refuses is rejected to the DLQ, never
    # run and never silently acked (workers/celery_worker/consumer.py).
    # The tasks themselves are plain functions (workers/registry.py); workers.celery_worker.celery_tasks makes
    # one Celery task of each.
    celery = Celery(
        "charla", include=["workers.celery_worker.celery_tasks"], task_cls="workers.celery_worker.consumer:ContractTask"
    )
    celery.conf.update(
        broker_url=settings.broker_url,
        # kombu's SQS transport with a fix for endpoint outages (workers/celery_worker/sqs_transport.py) and
        # finished tasks deleted in batches of up to 10 (workers/celery_worker/sqs_batch_ack.py).
        broker_transport="workers.celery_worker.sqs_batch_ack:Transport",
        broker_transport_options=transport_options(settings),
        broker_connection_retry_on_startup=True,
        task_default_queue=QueueName.REPLIES.value,
        task_routes={str(task): {"queue": queue.value} for task, queue in TASK_QUEUES.items()},
        # At least once: a message is deleted only after its task finished; a worker that dies
        # mid-task leaves it to reappear after the visibility timeout.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Every way a task run ends is settled by ContractTask (workers/outcomes.py): retries and
        # deferrals are SQS-delayed copies, final failures go to the DLQ. What still escapes (the
        # copy could not be sent, a hard time limit) is not acked: SQS redelivers it, and after
        # maxReceiveCount receives moves it to the queue's DLQ for `charla dlq redrive`.
        task_acks_on_failure_or_timeout=False,
        task_ignore_result=True,
        # Waitable tasks (contract/registry.py) store their result in the results table when the
        # message asks (header ignore_result: false); the consumer forces it off for the rest.
        task_annotations={str(task): {"ignore_result": False} for task in RESULT_TASKS},
        result_backend=settings.result_backend_url and f"{RESULT_BACKEND_CLASS}+{settings.result_backend_url}",
        dynamodb_endpoint_url=settings.aws_endpoint_url,
        worker_consumer="workers.celery_worker.consumer:ContractConsumer",
        worker_prefetch_multiplier=WORKER_PREFETCH_MULTIPLIER,
        task_soft_time_limit=QUEUE_SPECS[QueueName.REPLIES].soft_time_limit_s,
        task_time_limit=QUEUE_SPECS[QueueName.REPLIES].time_limit_s,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        **MESSAGE_SETTINGS,
    )
    # One heartbeat record per worker per interval (workers/celery_worker/heartbeat.py): what `charla workers` shows.
    celery.steps["consumer"].add(Heartbeat)
    return celery


app = build_app(get_settings())
