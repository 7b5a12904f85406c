"""One SQS queue per contract queue, each with its own dead-letter queue."""

from collections.abc import Iterable

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contract.queues import DLQ_RETENTION_S, QUEUE_RETENTION_S, QueueName, QueueSpec

# SQS maximum: an idle worker makes ~3 receives a minute instead of 60.
LONG_POLL_S = 20
# Dead letters wait for a human (as long as SQS allows). The effect records that keep a redriven
# task from acting twice live longer than both retentions (workers/store.py EFFECT_TTL_S).
DLQ_RETENTION = Duration.seconds(DLQ_RETENTION_S)
QUEUE_RETENTION = Duration.seconds(QUEUE_RETENTION_S)


class TaskQueues(Construct):
    """Queues with redrive, SSE-SQS, TLS-only policies and long polling, derived from ``specs``.

    Attributes:
        queues: The main queue of each contract queue.
        dead_letter_queues: The DLQ of each contract queue.
    """

    def __init__(self, scope: Construct, construct_id: str, *, specs: Iterable[QueueSpec]) -> None:
        super().__init__(scope, construct_id)
        self.queues: dict[QueueName, sqs.Queue] = {}
        self.dead_letter_queues: dict[QueueName, sqs.Queue] = {}
        for spec in specs:
            label = spec.name.name.title()
            dlq = sqs.Queue(
                self,
                f"{label}DeadLetters",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=DLQ_RETENTION,
            )
            self.dead_letter_queues[spec.name] = dlq
            self.queues[spec.name] = sqs.Queue(
                self,
                label,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
                retention_period=QUEUE_RETENTION,
                receive_message_wait_time=Duration.seconds(LONG_POLL_S),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
            )
