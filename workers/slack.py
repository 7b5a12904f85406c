"""The Slack Web API client: base URL from settings, retries on rate limits and connection errors."""

from functools import cache

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from workers.settings import get_settings

# slack_sdk sleeps for Retry-After on 429 and retries; a few tries cover Slack's usual windows.
_RETRY_HANDLERS = [RateLimitErrorRetryHandler(max_retry_count=5), ConnectionErrorRetryHandler(max_retry_count=2)]


@cache
def web_client() -> WebClient:
    """One client per worker process (connection reuse)."""
    settings = get_settings()
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base_url,
        timeout=10,
        retry_handlers=list(_RETRY_HANDLERS),
    )


def webhook_client(response_url: str) -> WebhookClient:
    """A client for one slash command's ``response_url``."""
    return WebhookClient(response_url, timeout=10, retry_handlers=list(_RETRY_HANDLERS))
