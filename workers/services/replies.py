"""Delivering an answer where the user asked: the thread, the DM, or a slash command's response_url."""

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from contract.tasks import CommandRequest

logger = logging.getLogger(__name__)


def deliver(
    request: CommandRequest,
    text: str,
    *,
    web: WebClient,
    webhook_for: Callable[[str], WebhookClient],
) -> None:
    """Post ``text`` as the answer to ``request``.

    Slash commands answer ephemerally through ``response_url``; if that URL has expired (it
    lives 30 minutes) or fails, the answer goes to the channel with ``chat.postMessage``.

    Raises:
        slack_sdk.errors.SlackApiError: ``chat.postMessage`` failed after its retries.
    """
    if request.response_url:
        response = webhook_for(request.response_url).send(text=text, response_type="ephemeral")
        if response.status_code == 200:
            return
        logger.warning(
            "response_url failed status=%s correlation_id=%s; posting to the channel instead",
            response.status_code,
            request.correlation_id,
        )
    web.chat_postMessage(channel=request.channel, text=text, thread_ts=request.thread_ts)
