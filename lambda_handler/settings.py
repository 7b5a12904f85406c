"""Ingress settings from the environment: plain values only, no network, cached per process.

A frozen dataclass over ``os.environ`` rather than pydantic-settings: the ingress reads a handful
of values, and the cold start is the figure users feel. The signing secret is not read here:
in AWS it lives in Secrets Manager and is read after a SnapStart restore, and read again when
it may have been rotated (``lambda_handler.signing``).
"""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from contract import environment as env
from contract.queues import QueueName
from lambda_handler.errors import MissingSettingError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngressSettings:
    """Everything the ingress needs; never logged (it may hold the local signing secret).

    Attributes:
        queue_urls: SQS URL of each contract queue.
        secret_arn: The Secrets Manager secret holding the signing secret (AWS); ``None`` locally.
        local_signing_secret: The signing secret from the environment, used when there is no ARN.
        team_ids: Workspaces (or Enterprise Grid orgs) whose requests are served; empty: any.
        app_id: The Slack app whose requests are served; ``None``: any.
    """

    queue_urls: Mapping[QueueName, str]
    secret_arn: str | None = None
    local_signing_secret: str | None = None
    team_ids: frozenset[str] = frozenset()
    app_id: str | None = None

    def __repr__(self) -> str:  # keep the secret out of tracebacks and debug logs
        return f"IngressSettings(queues={sorted(self.queue_urls)}, teams={sorted(self.team_ids)}, app={self.app_id})"

    def serves(self, *, team_id: str | None, enterprise_id: str | None, app_id: str | None) -> bool:
        """Whether a request from this workspace/org and app is ours to answer.

        An org-wide install sends events whose ``team_id`` is the workspace where they happened,
        so an Enterprise Grid org id in ``team_ids`` admits every workspace of that org.
        """
        if self.team_ids and team_id not in self.team_ids and enterprise_id not in self.team_ids:
            return False
        return not self.app_id or app_id == self.app_id


def _id_list(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def load_settings(environ: Mapping[str, str]) -> IngressSettings:
    """Build settings from an environment mapping.

    Raises:
        MissingSettingError: Naming every required variable that is unset or empty.
    """
    missing: list[str] = []
    secret_arn = environ.get(env.SLACK_SIGNING_SECRET_ARN) or None
    local_secret = environ.get(env.SLACK_SIGNING_SECRET) or None
    if not secret_arn and not local_secret:
        missing.append(f"{env.SLACK_SIGNING_SECRET} (or {env.SLACK_SIGNING_SECRET_ARN})")
    queue_urls: dict[QueueName, str] = {}
    for queue in QueueName:
        url = environ.get(env.queue_url_variable(queue))
        if url:
            queue_urls[queue] = url
        else:
            missing.append(env.queue_url_variable(queue))
    if missing:
        raise MissingSettingError(missing)
    return IngressSettings(
        queue_urls=queue_urls,
        secret_arn=secret_arn,
        local_signing_secret=local_secret,
        team_ids=_id_list(environ.get(env.SLACK_TEAM_IDS, "")),
        app_id=environ.get(env.SLACK_APP_ID, "").strip() or None,
    )


@cache
def get_settings() -> IngressSettings:
    """Settings for this process, read on first use and kept for the life of the environment."""
    settings = load_settings(os.environ)
    if not settings.team_ids or not settings.app_id:
        # Locally (and before the Slack app exists) any workspace is served; in AWS the stack
        # sets both once they are configured (docs/DEPLOY.md).
        logger.warning(
            "no %s/%s configured: requests from any Slack workspace or app are served",
            env.SLACK_TEAM_IDS,
            env.SLACK_APP_ID,
        )
    return settings
