"""Environment variable names read by the ingress and the workers (and set by the infra)."""

from contract.queues import QueueName

SLACK_SIGNING_SECRET = "SLACK_SIGNING_SECRET"
SLACK_BOT_TOKEN = "SLACK_BOT_TOKEN"
# The app-level token (xapp-..., scope connections:write) that opens a Socket Mode connection:
# read only by lambda_handler.socket_mode (`make chat-slack`), never by the Lambda or the workers.
SLACK_APP_TOKEN = "SLACK_APP_TOKEN"
# In AWS each Slack value lives in a Secrets Manager secret of its own (JSON with the key below),
# named to each process by ARN instead of a plain environment value, and read again after a
# rotation. Two secrets, not one: the internet-facing ingress can read the signing secret only,
# never the bot token (which reads private-channel and DM history); workers read only the token.
SLACK_SIGNING_SECRET_ARN = "CHARLA_SLACK_SIGNING_SECRET_ARN"  # the ingress
SLACK_BOT_TOKEN_SECRET_ARN = "CHARLA_SLACK_BOT_TOKEN_SECRET_ARN"  # workers and the Lambda executor
SECRET_KEY_SIGNING_SECRET = "signing_secret"
SECRET_KEY_BOT_TOKEN = "bot_token"
# Which Slack workspaces (team or Enterprise Grid org ids, comma-separated) and which app the
# ingress serves; requests from any other are acked and dropped. Unset: any (local use).
SLACK_TEAM_IDS = "CHARLA_SLACK_TEAM_IDS"
SLACK_APP_ID = "CHARLA_SLACK_APP_ID"

SLACK_API_URL = "CHARLA_SLACK_API_URL"
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"  # boto3 honours it natively; set locally to moto
WORKER_QUEUES = "CHARLA_WORKER_QUEUES"
WORKER_CONCURRENCY = "CHARLA_WORKER_CONCURRENCY"  # read by workers/celery_worker/docker-entrypoint.sh
WORKER_POOL = "CHARLA_WORKER_POOL"  # read by workers/celery_worker/docker-entrypoint.sh
# What the worker's entrypoint runs when neither is set, and the deploy's defaults (infra/config.py):
# a thread pool sized for I/O. A reply holds its slot for DynamoDB round trips, a Slack post and
# the channel's turn while using ~11 ms of CPU; measured on a 0.25 vCPU quota in docs/OPERATIONS.md.
DEFAULT_WORKER_POOL = "threads"
DEFAULT_WORKER_CONCURRENCY = 16
AGENDA_SOURCE = "CHARLA_AGENDA_SOURCE"  # https:// URL or s3://bucket/key; unset: the sample agenda
ARCHIVE_RETENTION_DAYS = "CHARLA_ARCHIVE_RETENTION_DAYS"  # archived messages expire (TTL) after this
WELCOME_TEXT = "CHARLA_WELCOME_TEXT"  # greeting for newcomers in any channel; unset: no welcome
DEFAULT_LANGUAGE = "CHARLA_DEFAULT_LANGUAGE"  # "en" or "es": for people whose words and locale say none
WELCOME_TEXTS = "CHARLA_WELCOME_TEXTS"  # JSON {"<channel id>": "greeting"}: per channel, beats the global one


def queue_url_variable(queue: QueueName) -> str:
    """The variable holding the SQS URL of ``queue``, e.g. ``CHARLA_QUEUE_URL_REPLIES``."""
    return f"CHARLA_QUEUE_URL_{queue.name}"
