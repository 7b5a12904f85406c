"""One queue's tasks on Lambda: the executor function (``workers/lambda_executor/main.py``) subscribed to
the queue by an SQS event source mapping that reports partial batch failures.

The numbers that must agree are derived from the contract (``contract/queues.py``):

- batch size: ``replies`` takes one record per invocation (an answer never waits behind another
  in the same batch, and a timeout returns one message, not ten); ``bulk`` takes up to
  ``WORKER_PREFETCH_MULTIPLIER + 1`` (what a Celery worker process holds at once, so the queue's
  visibility timeout, derived for exactly that many, still covers a whole batch);
- batching window: 0 for ``replies`` (a window would delay the first answer by its length); a few
  seconds for ``bulk`` (archive writes gather into fewer invocations; nobody waits on them);
- function timeout: batch size x the queue's hard ``time_limit_s`` (the limit Celery enforces per
  task). AWS refuses a mapping whose queue's visibility timeout is shorter than the function's
  timeout; ``function_timeout_s`` checks that at synth, and ``replies`` (180 s vs 30 s) also meets
  AWS's advice of six times;
- concurrency: the mapping's ``max_concurrency`` (at least 2, AWS's floor), not a reserved
  concurrency: when reserved concurrency throttles an SQS invocation, the message returns to the
  queue and the receive counts toward ``maxReceiveCount``, so a burst could dead-letter valid
  messages; ``max_concurrency`` makes the poller hold back instead. It is ``max_tasks x
  LAMBDA_RUNS_PER_TASK`` (2): what the Fargate service ran at the old prefork default, not the
  thread pool's size (16 threads waiting on I/O cost one Fargate task; 16 Lambdas bill 16).
"""

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contract.queues import QUEUE_SPECS, WORKER_PREFETCH_MULTIPLIER, QueueName
from infra.bundling import ROOT, lambda_code

HANDLER = "workers.lambda_executor.main.handler"
PACKAGES = ("workers", "contract", "commands", "jobs")
# The Celery executor is not carried: it needs Celery, which the bundle leaves out, and nothing
# the Lambda executor runs imports it (tests/unit/test_layout.py).
EXCLUDE = ("workers/celery_worker",)
# The worker's requirements minus Celery, kombu and pycurl (tests/infra checks the two agree).
REQUIREMENTS = ROOT / "requirements-executor.txt"
MEMORY_MB = 512  # CPU scales with memory: the cold start's imports (pydantic, boto3) take half as long as at 256
MIN_MAX_CONCURRENCY = 2  # the least AWS accepts for an SQS event source's maximum concurrency
# Concurrent executions per ``max_tasks`` of the queue's scaling: a Fargate task of the old
# prefork default (two processes). Not the thread pool's size: its threads wait on I/O for free
# in one task, where a Lambda bills every waiting millisecond and a new account has 10
# concurrent executions in all.
LAMBDA_RUNS_PER_TASK = 2

BATCH_SIZE: Mapping[QueueName, int] = {QueueName.REPLIES: 1, QueueName.BULK: WORKER_PREFETCH_MULTIPLIER + 1}
BATCH_WINDOW_S: Mapping[QueueName, int] = {QueueName.REPLIES: 0, QueueName.BULK: 5}


def batch_size(queue: QueueName) -> int:
    return BATCH_SIZE.get(queue, 1)


def function_timeout_s(queue: QueueName) -> int:
    """Long enough for a full batch, each task at its hard limit; never past the visibility timeout.

    Raises:
        ValueError: The queue's visibility timeout is shorter (AWS would refuse the mapping).
    """
    spec = QUEUE_SPECS[queue]
    timeout = batch_size(queue) * spec.time_limit_s
    if timeout > spec.visibility_timeout_s:
        raise ValueError(
            f"{queue}: a {timeout} s function timeout exceeds the {spec.visibility_timeout_s} s visibility"
        )
    return timeout


class LambdaExecutor(Construct):
    """The executor function for ``queue_name`` and its event source mapping.

    The function has its own role with logging rights on its own log group only, and the SQS
    consume rights the mapping needs on its queue; the stack grants the rest (sending copies,
    the dead-letter queue, the tables, the secret), as for a Fargate worker's task role.

    Attributes:
        function: The executor function.
        role: Its execution role.
        event_source: The SQS event source (batch size, window, ReportBatchItemFailures).
        log_group: The function's log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue_name: QueueName,
        queue: sqs.IQueue,
        environment: Mapping[str, str],
        max_concurrency: int,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "FunctionLogs", retention=log_retention)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"charla {queue_name} executor Lambda",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_code(packages=PACKAGES, requirements=REQUIREMENTS, exclude=EXCLUDE),
            memory_size=MEMORY_MB,
            timeout=Duration.seconds(function_timeout_s(queue_name)),
            environment=dict(environment),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            description=f"charla {queue_name} executor: runs the task registry for the {queue_name} queue",
        )
        self.event_source = event_sources.SqsEventSource(
            queue,
            batch_size=batch_size(queue_name),
            max_batching_window=Duration.seconds(window) if (window := BATCH_WINDOW_S.get(queue_name, 0)) else None,
            report_batch_item_failures=True,
            max_concurrency=max(MIN_MAX_CONCURRENCY, max_concurrency),
        )
        self.function.add_event_source(self.event_source)
