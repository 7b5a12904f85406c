"""``make chat``: start the local stack and talk to the bot at a prompt.

Type a message to mention the bot in #general; ``/charla <command>`` for the slash command;
``/dm <text>`` for a direct message; ``/quit`` (or Ctrl-D / Ctrl-C) to stop everything.
"""

import sys

from scripts.console import AGENDA_REFRESH_INTERVAL_S, Conversation, running_stack, say, show

PROMPT = "you     "


def main() -> int:
    with running_stack(agenda_refresh_interval_s=AGENDA_REFRESH_INTERVAL_S) as stack:
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
