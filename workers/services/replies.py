"""Delivering an answer where the user asked: the thread, the DM, or a slash command's response_url.

Each answer is posted once even if its task runs twice (SQS redelivers after a worker dies; a
Celery retry re-runs the task). The reply ledger in DynamoDB records an answer as pending before
posting and done after. A run that finds it done does nothing; a run that finds it pending (an
earlier run died between the two) first looks in Slack for a message carrying this answer's id in
its metadata, and posts only if there is none. Ephemeral answers through ``response_url`` leave no
trace to look for: there a crash in that window may repeat the answer (at least once) rather
than lose it.

Every worker posts to a channel no faster than Slack's per-channel pace, through a slot reserved
in DynamoDB, so a burst waits its turn instead of failing with 429s.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from contract.tasks import CommandRequest
from workers.services.answers import Answer
from workers.slack import CHANNEL_POST_INTERVAL_S
from workers.store import ReplyState, StateStore

logger = logging.getLogger(__name__)

REPLY_EVENT_TYPE = "charla_reply"
# Wait in the task for a slot this far ahead at most; beyond it the task is deferred (SQS delay).
MAX_PACE_WAIT_S = 10.0
# Slack errors that will not go away by retrying the same call.
_RETRYABLE_SLACK_ERRORS = frozenset(
    {"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)


class SlackUnavailable(RuntimeError):
    """Slack is rate limiting or failing now (after slack_sdk's own retries): retry the task later."""


class ReplyRefused(RuntimeError):
    """Slack refused the answer for good (channel gone, bot not in it, bad token): do not retry."""


class PaceDeferred(RuntimeError):
    """The channel's next free slot is far off: run the task again in ``wait_s`` seconds."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"channel busy for {wait_s:.1f} s")
        self.wait_s = wait_s


def _classify(error: SlackApiError, what: str) -> RuntimeError:
    code = str(error.response.get("error", "")) if error.response is not None else ""
    status = error.response.status_code if error.response is not None else 0
    if code in _RETRYABLE_SLACK_ERRORS or status == 429 or status >= 500:
        return SlackUnavailable(f"{what}: {code or status}")
    return ReplyRefused(f"{what}: {code or status}")


def find_posted(web: WebClient, request: CommandRequest, reply_id: str) -> str | None:
    """The ts of an answer to ``request`` carrying ``reply_id`` in its metadata, if Slack has one."""
    oldest = str(max(0.0, request.requested_at - 5))
    try:
        if request.thread_ts:
            response = web.conversations_replies(
                channel=request.channel, ts=request.thread_ts, oldest=oldest, include_all_metadata=True, limit=200
            )
        else:
            response = web.conversations_history(
                channel=request.channel, oldest=oldest, include_all_metadata=True, limit=200
            )
    except SlackApiError as error:
        raise _classify(error, "look for an earlier answer") from error
    except OSError as error:
        raise SlackUnavailable(f"look for an earlier answer: {type(error).__name__}") from error
    for message in response.get("messages") or []:
        payload: dict[str, Any] = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("reply_id") == reply_id:
            return str(message.get("ts"))
    return None


def _wait_for_slot(store: StateStore, channel: str, *, sleep: Callable[[float], None]) -> None:
    slot = store.reserve_post_slot(channel, interval_s=CHANNEL_POST_INTERVAL_S)
    wait = slot - time.time()
    if wait > MAX_PACE_WAIT_S:
        raise PaceDeferred(wait)
    if wait > 0:
        sleep(wait)


def deliver(
    request: CommandRequest,
    answer: Answer,
    *,
    reply_id: str,
    web: WebClient,
    webhook_for: Callable[[str], WebhookClient],
    store: StateStore,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Post ``answer`` (its text and blocks, unchanged) as the answer to ``request``, once per ``reply_id``.

    Slash commands answer ephemerally through ``response_url``; if that URL has expired (it
    lives 30 minutes) or fails, the answer goes to the channel with ``chat.postMessage``.

    Returns:
        ``True`` if posted now; ``False`` if an earlier run had already posted it.

    Raises:
        SlackUnavailable: Retry later (429s beyond slack_sdk's retries, Slack 5xx, network).
        ReplyRefused: Slack will never take this answer.
        PaceDeferred: The channel is busy; retry after ``wait_s``.
        workers.store.StoreUnavailableError: The ledger could not be read or written.
    """
    state = store.begin_reply(reply_id)
    if state is ReplyState.DONE:
        logger.info("answer already posted reply_id=%s correlation_id=%s", reply_id, request.correlation_id)
        return False
    if request.response_url:
        response = webhook_for(request.response_url).send(
            text=answer.text, blocks=answer.blocks, response_type="ephemeral", replace_original=False
        )
        if response.status_code == 200:
            store.finish_reply(reply_id, message_ts=None)
            return True
        logger.warning(
            "response_url failed status=%s correlation_id=%s; posting to the channel instead",
            response.status_code,
            request.correlation_id,
        )
    if state is ReplyState.UNFINISHED:
        posted_ts = find_posted(web, request, reply_id)
        if posted_ts:
            logger.info("earlier run had posted reply_id=%s correlation_id=%s", reply_id, request.correlation_id)
            store.finish_reply(reply_id, message_ts=posted_ts)
            return False
    _wait_for_slot(store, request.channel, sleep=sleep)
    try:
        posted = web.chat_postMessage(
            channel=request.channel,
            text=answer.text,
            blocks=answer.blocks,
            thread_ts=request.thread_ts,
            metadata={"event_type": REPLY_EVENT_TYPE, "event_payload": {"reply_id": reply_id}},
        )
    except SlackApiError as error:
        raise _classify(error, "chat.postMessage") from error
    except OSError as error:
        raise SlackUnavailable(f"chat.postMessage: {type(error).__name__}") from error
    store.finish_reply(reply_id, message_ts=str(posted.get("ts") or ""))
    return True
