"""The Slack Web API client: base URL from settings, retries on rate limits and connection errors."""

import json
import time
from functools import cache

from slack_sdk import WebClient
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from workers.settings import get_settings
from workers.store import get_store

CHANNEL_POST_INTERVAL_S = 1.0  # Slack allows about one message per second per channel


class PacedRateLimitHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, except that a rate-limited post takes a new channel slot.

    The stock handler sleeps Retry-After and tries again; workers that were all told to wait
    would then post at the same instant, over the channel's pace. Here the retry reserves the
    channel's next slot at or after Retry-After (``StateStore.reserve_post_slot``), so retries
    line up one per interval like every other post.
    """

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        channel = _posted_channel(request)
        if response is None or channel is None:
            super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)
            return
        retry_after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
        not_before = time.time() + float(retry_after[0] if isinstance(retry_after, list) else retry_after)
        slot = get_store().reserve_post_slot(channel, interval_s=CHANNEL_POST_INTERVAL_S, not_before=not_before)
        state.next_attempt_requested = True
        time.sleep(max(0.0, slot - time.time()))
        state.increment_current_attempt()


def _posted_channel(request: HttpRequest) -> str | None:
    if not request.url.endswith("chat.postMessage"):
        return None
    try:
        body = json.loads(request.data or b"{}") if request.data else dict(request.body_params or {})
    except ValueError:
        return None
    channel = body.get("channel") if isinstance(body, dict) else None
    return str(channel) if channel else None


_RETRY_HANDLERS = [PacedRateLimitHandler(max_retry_count=5), ConnectionErrorRetryHandler(max_retry_count=2)]


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
