"""The bot token, read again when Slack says it is no longer valid (rotated, or the app reinstalled).

ECS hands a worker the token from Secrets Manager once, when the task starts. After the operator
puts a new token (``put-secret-value``), running workers would keep failing with ``invalid_auth``
until someone restarted them. Instead, a call that fails with one of ``TOKEN_ERRORS`` reads the
secret again (at most once every ``REREAD_INTERVAL_S`` per process) and, if the token changed,
repeats the call once with the new token: Slack did nothing with a call it refused for its
token, so repeating it cannot post twice.
"""

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from contract import environment as env
from workers.runtime.settings import WorkerSettings

logger = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({"invalid_auth", "token_revoked", "token_expired"})
# A revoked token fails every call: this bounds the Secrets Manager reads that can cause.
REREAD_INTERVAL_S = 10.0


def read_bot_token(settings: WorkerSettings) -> str | None:
    """The bot token in Secrets Manager now, or ``None`` if there is no secret to read or it failed."""
    if not settings.slack_secret_arn:
        return None
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from workers.runtime import aws

    client = aws.client(
        "secretsmanager",
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"}),
    )
    try:
        value = json.loads(client.get_secret_value(SecretId=settings.slack_secret_arn)["SecretString"])
    except (BotoCoreError, ClientError, ValueError, TypeError) as error:
        logger.warning("could not read the bot token again: %s", type(error).__name__)
        return None
    token = value.get(env.SECRET_KEY_BOT_TOKEN) if isinstance(value, dict) else None
    return token if isinstance(token, str) and token else None


class TokenRefreshingWebClient(WebClient):
    """A ``WebClient`` that re-reads its token once when Slack refuses it, and retries the call once."""

    def __init__(
        self,
        *,
        read_token: Callable[[], str | None],
        reread_interval_s: float = REREAD_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._read_token = read_token
        self._reread_interval_s = reread_interval_s
        self._clock = clock
        self._read_at = -math.inf
        self._token_lock = threading.Lock()

    def _refreshed_token(self) -> bool:
        """Read the token again if due; True if it changed (``self.token`` then holds the new one)."""
        with self._token_lock:
            if self._clock() - self._read_at < self._reread_interval_s:
                return False
            self._read_at = self._clock()
            token = self._read_token()
            if not token or token == self.token:
                return False
            self.token = token
            return True

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            if code not in TOKEN_ERRORS or not self._refreshed_token():
                raise
            logger.info("Slack refused the bot token (%s); read a new one, calling %s again", code, api_method)
            return super().api_call(api_method, **kwargs)
