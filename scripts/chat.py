"""``make chat``: start the local stack and talk to the bot at a prompt.

Type a message to mention the bot in #general; ``/charla <command>`` for the slash command;
``/dm <text>`` for a direct message; ``/quit`` (or Ctrl-D / Ctrl-C) to stop everything.

After ``make deploy-local``, chat talks to the queues and tables that CloudFormation created in
that moto server (and leaves them up); otherwise it provisions its own.
"""

import sys
from typing import Any

from scripts.console import AGENDA_REFRESH_INTERVAL_S, Conversation, running_stack, say, show
from scripts.deploy_local import deployed_stack

PROMPT = "you     "


def main() -> int:
    deployed = deployed_stack()
    options: dict[str, Any] = {"moto_url": deployed[0], "resources": deployed[1]} if deployed else {}
    with running_stack(agenda_refresh_interval_s=AGENDA_REFRESH_INTERVAL_S, **options) as stack:
        if deployed:
            say(f"Using the stack deployed by `make deploy-local` in {deployed[0]}.")
        conversation = Conversation(stack)
        say("Talk to charla. Try: help, ping, /charla ping, /dm ayuda. /quit to stop.")
        while True:
            try:
                text = input(PROMPT).strip()
            except EOFError:
                break
            if text in ("/quit", "/exit"):
                break
            if text:
                show(conversation.send(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
