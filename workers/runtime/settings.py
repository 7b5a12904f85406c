"""Worker settings from the environment (pydantic-settings), with one clear error for what is missing."""

import json
import os
from functools import cache
from typing import Literal
from urllib.parse import quote, urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract import environment as env
from contract.queues import QueueName
from contract.results import RESULT_TTL_S
from contract.tables import TABLE_SPECS, TableName


class SettingsError(RuntimeError):
    """The environment is missing or has invalid values; the message names each variable."""


class WorkerSettings(BaseSettings):
    """Everything a worker process reads from its environment."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    slack_bot_token: SecretStr = Field(validation_alias=env.SLACK_BOT_TOKEN)
    # Where the token can be read again after a rotation (workers/runtime/slack_token.py); unset locally.
    slack_secret_arn: str | None = Field(None, validation_alias=env.SLACK_BOT_TOKEN_SECRET_ARN)
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=env.SLACK_API_URL)
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    aws_endpoint_url: str | None = Field(None, validation_alias=env.AWS_ENDPOINT_URL)
    # boto3's service-specific override; the fault suite puts a proxy in front of SQS only.
    aws_endpoint_url_sqs: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL_SQS")
    queue_url_replies: str = Field(validation_alias=env.queue_url_variable(QueueName.REPLIES))
    queue_url_bulk: str = Field(validation_alias=env.queue_url_variable(QueueName.BULK))
    worker_queues: str = Field(",".join(QueueName), validation_alias=env.WORKER_QUEUES)
    # SQS long polling: one request may wait this long for a message. 20 s (the SQS maximum)
    # keeps an idle worker at ~3 receives a minute per queue; tests use a short wait.
    sqs_wait_time_seconds: int = Field(20, ge=0, le=20, validation_alias="CHARLA_SQS_WAIT_TIME_SECONDS")
    sqs_polling_interval: float = Field(0.0, ge=0, validation_alias="CHARLA_SQS_POLLING_INTERVAL")
    # The single-table state (archive, counters, agenda): see docs/DATA.md.
    table_state: str = Field(validation_alias=TABLE_SPECS[TableName.STATE].variable)
    # Where refresh_agenda loads from: https://..., s3://bucket/key; unset = the embedded sample.
    agenda_source: str | None = Field(None, validation_alias=env.AGENDA_SOURCE)
    # Results of waitable tasks (contract/registry.py RESULT_TASKS); unset: no result backend.
    table_results: str | None = Field(None, validation_alias=TABLE_SPECS[TableName.RESULTS].variable)
    # Archived messages expire this many days after they were written (DynamoDB TTL); 0 keeps them.
    archive_retention_days: int = Field(365, ge=0, validation_alias=env.ARCHIVE_RETENTION_DAYS)
    # Welcome newcomers: a greeting per channel (JSON object) or for every channel; neither: off.
    welcome_text: str | None = Field(None, validation_alias=env.WELCOME_TEXT)
    welcome_texts: dict[str, str] = Field(default_factory=dict, validation_alias=env.WELCOME_TEXTS)
    # The workspace's language for people whose words, Slack locale and last message show none.
    default_language: Literal["en", "es"] = Field("en", validation_alias=env.DEFAULT_LANGUAGE)

    @field_validator("welcome_texts", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    def welcome_text_for(self, channel: str) -> str | None:
        """The greeting for newcomers to ``channel``: its own, else the global one, else ``None``."""
        return self.welcome_texts.get(channel) or self.welcome_text or None

    @property
    def queue_urls(self) -> dict[QueueName, str]:
        return {QueueName.REPLIES: self.queue_url_replies, QueueName.BULK: self.queue_url_bulk}

    @property
    def consumed_queues(self) -> list[QueueName]:
        """Queues this worker consumes (``CHARLA_WORKER_QUEUES``, comma-separated)."""
        return [QueueName(name.strip()) for name in self.worker_queues.split(",") if name.strip()]

    @property
    def broker_url(self) -> str:
        """``sqs://`` for AWS; locally the endpoint's host and port, which kombu turns into its endpoint."""
        if not self.sqs_endpoint_url:
            return "sqs://"
        endpoint = urlsplit(self.sqs_endpoint_url)
        # kombu signs with the URL's credentials when given; locally these are moto's dummies.

        key = quote(os.environ.get("AWS_ACCESS_KEY_ID", "testing"), safe="")
        secret = quote(os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"), safe="")
        return f"sqs://{key}:{secret}@{endpoint.hostname}:{endpoint.port}"

    @property
    def sqs_is_secure(self) -> bool:
        return not self.sqs_endpoint_url or self.sqs_endpoint_url.startswith("https://")

    @property
    def sqs_endpoint_url(self) -> str | None:
        """Where SQS is: the SQS-specific endpoint if set, else the general one (None: real AWS)."""
        return self.aws_endpoint_url_sqs or self.aws_endpoint_url

    @property
    def result_backend_url(self) -> str | None:
        """Celery's DynamoDB result backend on the results table; ``None`` (no backend) when unset.

        In AWS the client takes the task role's credentials (no keys in the URL); locally the
        endpoint's host and port, which Celery turns into an http endpoint for an IP host
        (``dynamodb_endpoint_url`` in ``workers/celery_worker/app.py`` covers any other host).
        """
        if not self.table_results:
            return None
        query = f"?ttl_seconds={RESULT_TTL_S}"
        if not self.aws_endpoint_url:
            return f"dynamodb://{self.aws_region}/{self.table_results}{query}"
        endpoint = urlsplit(self.aws_endpoint_url)
        key = quote(os.environ.get("AWS_ACCESS_KEY_ID", "testing"), safe="")
        secret = quote(os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"), safe="")
        return f"dynamodb://{key}:{secret}@{endpoint.hostname}:{endpoint.port}/{self.table_results}{query}"


@cache
def get_settings() -> WorkerSettings:
    """Settings for this process.

    Raises:
        SettingsError: Naming every missing or invalid environment variable.
    """
    try:
        return WorkerSettings()  # type: ignore[call-arg]  # fields come from the environment
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "?"
            alias = (
                WorkerSettings.model_fields[field].validation_alias if field in WorkerSettings.model_fields else None
            )
            name = alias if isinstance(alias, str) else field.upper()
            problems.append(f"{name} ({'missing' if item['type'] == 'missing' else item['msg']})")
        raise SettingsError("worker configuration error: " + ", ".join(problems)) from None
