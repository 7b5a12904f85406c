"""``make demo``: the whole bot on this machine, one signed "ping" mention, the reply, then stop."""

import sys
from typing import Any

from scripts.console import AGENDA_REFRESH_INTERVAL_S, Conversation, running_stack, say, show


def main() -> int:
    answers: list[dict[str, Any]] = []
    with running_stack(agenda_refresh_interval_s=AGENDA_REFRESH_INTERVAL_S) as stack:
        conversation = Conversation(stack)
        say("alice   @charla ping            (in #general)")
        answers = conversation.send("ping")
        show(answers)
        say()
    if not answers:
        say("demo failed: the bot did not answer")
        return 1
    say("demo ok: a signed mention went ingress -> SQS -> celery worker -> Slack, and back in its thread.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
