"""Interactivity (``block_actions``): the Next, Previous and Share buttons under a search answer.

Signed and checked like every request (``guard``), acked at once; the worker posts the page
through the action's ``response_url``: in place of the pressed message when it was ephemeral
(Slack lets an app replace those), as a new ephemeral page under a public one; Share posts the
page in the channel. The task id derives from the press (trigger id and action
ts), so a re-delivered press posts the page once. Nothing heavy is imported here: the ingress
stays light.
"""

import time
from typing import Any

from slack_bolt import Ack, App

from contract.commands import SEARCH_ACTIONS, SEARCH_SHARE_ACTION, button_thread, read_more_button_value
from contract.tasks import SearchPage, TaskName
from lambda_handler.enqueue import enqueue
from lambda_handler.errors import RequestRejected


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def search_page(body: dict[str, Any], action: dict[str, Any]) -> tuple[SearchPage, str]:
    """The task payload and idempotency key of one press of a search button.

    Raises:
        RequestRejected: The press lacks a field we need, or its value is not one we wrote.
    """
    try:
        query, offset, lang = read_more_button_value(_text(action.get("value")))
    except ValueError as error:
        raise RequestRejected("button value is not a search page") from error
    container, message = _object(body.get("container")), _object(body.get("message"))
    channel = _text(_object(body.get("channel")).get("id")) or _text(container.get("channel_id"))
    user = _text(_object(body.get("user")).get("id"))
    press = f"{_text(body.get('trigger_id'))}:{_text(action.get('action_ts'))}"
    if not channel or not user or press == ":":
        raise RequestRejected("block_actions without channel, user or trigger")
    thread_ts = (
        _text(container.get("thread_ts"))
        or _text(message.get("thread_ts"))
        or button_thread(_text(action.get("value")))
        or None
    )
    page = SearchPage(
        correlation_id=_text(body.get("trigger_id")) or press,
        team_id=_text(_object(body.get("team")).get("id")),
        channel=channel,
        user=user,
        query=query,
        offset=offset,
        lang=lang,
        response_url=_text(body.get("response_url")) or None,
        thread_ts=thread_ts,
        requested_at=time.time(),
        in_place=container.get("is_ephemeral") is True,
        share=action.get("action_id") == SEARCH_SHARE_ACTION,
    )
    return page, press


def on_search_more(body: dict[str, Any], action: dict[str, Any], ack: Ack) -> None:
    """Queue the page, then ack (an enqueue failure answers non-2xx)."""
    try:
        page, press = search_page(body, action)
    except (AttributeError, TypeError) as error:
        raise RequestRejected("block_actions payload malformed") from error
    enqueue(TaskName.SEARCH_MORE, page, idempotency_key=press)
    ack()


def register(app: App) -> None:
    """Attach the interactivity listeners to ``app``."""
    for action_id in SEARCH_ACTIONS:
        app.action(action_id)(on_search_more)
