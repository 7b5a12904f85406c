"""Slack Web API clients: one that posts and never retries, one that reads and may.

A post that slack_sdk re-sends after a connection reset may be Slack's second copy of it (the
reset can come after Slack acted), so posting clients get no retry handlers at all: the reply
state machine (``workers/services/replies.py``) decides what a failed post means. Reads are
idempotent, so the reading client retries connection errors (a 429 defers the task instead).
Both read a rotated bot token by themselves when Slack refuses the old one (``slack_token``).
"""

from functools import cache

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from workers.runtime.settings import get_settings
from workers.runtime.slack_token import TokenRefreshingWebClient, read_bot_token

# A post gets this long; a run that times out treats the post as maybe made (see replies).
POST_TIMEOUT_S = 5


def _read_token() -> str | None:
    return read_bot_token(get_settings())


def _base_url() -> str:
    url = get_settings().slack_api_url
    return url if url.endswith("/") else url + "/"


@cache
def web_client() -> WebClient:
    """The posting client, one per worker process (connection reuse); never retries."""
    return TokenRefreshingWebClient(
        read_token=_read_token,
        token=get_settings().slack_bot_token.get_secret_value(),
        base_url=_base_url(),
        timeout=POST_TIMEOUT_S,
        retry_handlers=[],
    )


@cache
def reader_client() -> WebClient:
    """The reading client (history lookups): retries connection errors.

    Not 429s: slack_sdk's handler sleeps Retry-After inside the task with no cap; the reply state
    machine defers instead (an SQS delay).
    """
    return TokenRefreshingWebClient(
        read_token=_read_token,
        token=get_settings().slack_bot_token.get_secret_value(),
        base_url=_base_url(),
        timeout=10,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
    )


def webhook_client(response_url: str) -> WebhookClient:
    """A client for one slash command's ``response_url``; never retries (a post is not idempotent)."""
    return WebhookClient(response_url, timeout=POST_TIMEOUT_S, retry_handlers=[])
