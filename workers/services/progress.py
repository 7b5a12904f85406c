"""👀 on the message that asked, while its answer is late; taken off once the answer is out.

An answer that goes out at once (the fast path) never touches this module. Only a run that must
wait a while (the channel's line is long, Slack paused the channel) reacts, once per task id;
the run that finally posts removes it, once. Both are effects (``effects.once``), so a copy of
the task, a retry or a redelivery adds and removes the reaction at most once each.
"""

import logging

from slack_sdk import WebClient

from contract.tasks import CommandRequest
from workers.services import effects
from workers.store import EffectState, StateStore

logger = logging.getLogger(__name__)

REACTION = "eyes"
# An answer due later than this shows 👀 meanwhile ("a few seconds": less would flicker).
SHOW_AFTER_S = 5.0


def _key(task_id: str, what: str) -> str:
    return f"{what}:{task_id}"


def show_waiting(
    request: CommandRequest, *, delay_s: float, task_id: str, store: StateStore, slack: WebClient, lease_s: float
) -> None:
    """React 👀 to the asking message if its answer is ``delay_s`` away or more (best effort: never raises)."""
    if request.message_ts is None or delay_s < SHOW_AFTER_S:
        return
    message_ts = request.message_ts

    def react() -> None:
        effects.slack_call(
            "reactions.add", lambda: slack.reactions_add(channel=request.channel, timestamp=message_ts, name=REACTION)
        )

    try:
        effects.once(store, _key(task_id, "eyes"), react, lease_s=lease_s)
    except Exception as error:  # a missing reaction must never cost the answer its turn
        logger.info("no 👀 for task_id=%s: %s", task_id, error)


def answered(request: CommandRequest, *, task_id: str, store: StateStore, slack: WebClient, lease_s: float) -> None:
    """Take 👀 off the asking message if this task put it there (best effort: never raises)."""
    if request.message_ts is None:
        return
    message_ts = request.message_ts

    def unreact() -> None:
        effects.slack_call(
            "reactions.remove",
            lambda: slack.reactions_remove(channel=request.channel, timestamp=message_ts, name=REACTION),
        )

    try:
        if effects.state_of(store, _key(task_id, "eyes")) is EffectState.DONE:
            effects.once(store, _key(task_id, "eyes-off"), unreact, lease_s=lease_s)
    except Exception as error:
        logger.info("👀 left on task_id=%s: %s", task_id, error)
