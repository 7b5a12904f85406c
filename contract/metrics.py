"""CloudWatch metric names the workers emit (as EMF log lines) and the dashboard and alarms read."""

# The worker's namespace comes from this variable (the stack sets ``charla/<env>``).
NAMESPACE_VARIABLE = "CHARLA_METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "charla"

# Per task attempt, dimension ``Queue`` (the task's queue), the task name a property (``Task``):
# each dimension value is a custom metric billed by the month, so the name (a dozen tasks x six
# metrics) is not one; Logs Insights breaks the lines down by ``Task`` (docs/OPERATIONS.md).
TASK_PROPERTY = "Task"
UNROUTED_QUEUE = "unrouted"  # the Queue dimension of a refused message whose task is not in the contract
OUTCOME_METRICS = {
    "succeeded": "TaskSucceeded",
    "failed": "TaskFailed",
    "retried": "TaskRetried",
    "refused": "TaskRefused",
}
RUN_TIME = "TaskRunTime"  # milliseconds
QUEUE_WAIT = "TaskQueueWait"  # milliseconds, from SQS SentTimestamp to the task's start

# One per heartbeat per consumed queue, dimension ``Queue``: "a worker for this queue is alive".
QUEUE_DIMENSION = "Queue"
HEARTBEAT = "WorkerHeartbeat"


def namespace_for(env_name: str) -> str:
    """The namespace of one deployment (several can share an account)."""
    return f"{DEFAULT_NAMESPACE}/{env_name}"
