"""Ingress settings, read once per cold start.

A frozen dataclass over ``os.environ`` rather than pydantic-settings: the ingress reads three
values, and the cold start is the figure users feel. Locally the Slack signing secret comes from
the environment; in AWS from Secrets Manager (``CHARLA_SLACK_SECRET_ARN``), read once and cached.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from contract import environment as env
from contract.queues import QueueName
from lambda_handler.errors import MissingSettingError


@dataclass(frozen=True, slots=True)
class IngressSettings:
    """Everything the ingress needs; never logged (it holds the signing secret)."""

    signing_secret: str
    queue_urls: Mapping[QueueName, str]

    def __repr__(self) -> str:  # keep the secret out of tracebacks and debug logs
        return f"IngressSettings(queues={sorted(self.queue_urls)})"


def _read_signing_secret(environ: Mapping[str, str]) -> str | None:
    secret_arn = environ.get(env.SLACK_SECRET_ARN)
    if not secret_arn:
        return environ.get(env.SLACK_SIGNING_SECRET) or None
    import boto3  # only in AWS: the secret lives in Secrets Manager

    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    signing_secret = json.loads(value).get(env.SECRET_KEY_SIGNING_SECRET)
    return str(signing_secret) if signing_secret else None


def load_settings(environ: Mapping[str, str]) -> IngressSettings:
    """Build settings from an environment mapping.

    Raises:
        MissingSettingError: Naming every required variable that is unset or empty.
    """
    missing: list[str] = []
    signing_secret = _read_signing_secret(environ)
    if not signing_secret:
        missing.append(f"{env.SLACK_SIGNING_SECRET} (or {env.SLACK_SECRET_ARN})")
    queue_urls: dict[QueueName, str] = {}
    for queue in QueueName:
        url = environ.get(env.queue_url_variable(queue))
        if url:
            queue_urls[queue] = url
        else:
            missing.append(env.queue_url_variable(queue))
    if missing:
        raise MissingSettingError(missing)
    assert signing_secret is not None
    return IngressSettings(signing_secret=signing_secret, queue_urls=queue_urls)


@cache
def get_settings() -> IngressSettings:
    """Settings for this process, read on first use (once per Lambda cold start)."""
    return load_settings(os.environ)
