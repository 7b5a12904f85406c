"""``make chat``: start the local stack and talk to the bot at a prompt.

Type a message to mention the bot in #general; ``/charla <command>`` for the slash command;
``/dm <text>`` for a direct message; ``/say <text>`` for a plain message in #general;
``/press more`` to press the last answer's button; ``/home`` to open the app's Home tab;
``@bob`` becomes a mention of bob;
``/quit`` (or Ctrl-D / Ctrl-C) to stop everything. Each answer says where it went (in the
thread, ephemeral, in the DM). With stdin piped (``make chat < script.txt``) each input line
is echoed, so the output reads as a conversation.

After ``make deploy-local``, chat talks to the queues and tables that CloudFormation created in
that moto server (and leaves them up); otherwise it provisions its own. ``make chat
EXECUTOR=lambda`` answers on the Lambda executor (the replies queue through the local event source
mapping, as the small profile deploys it) instead of the celery worker.
"""

import argparse
import sys
from typing import Any

from contract.queues import QueueName
from scripts.console import AGENDA_REFRESH_INTERVAL_S, Conversation, running_stack, say, show
from scripts.deploy_local import deployed_stack

PROMPT = "you     "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make chat",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Type at the `you` prompt; README.md, 'Talking to the bot locally', lists what it understands.",
    )
    parser.add_argument(
        "--executor",
        choices=("celery", "lambda"),
        default="celery",
        help="who runs the answers: the celery worker, or the Lambda executor (make chat EXECUTOR=lambda)",
    )
    options_given = parser.parse_args(argv)  # --help answers here, before anything starts
    if sys.stdin.isatty():
        import readline  # noqa: F401 - line editing and history (up arrow) for input()
    deployed = deployed_stack()
    options: dict[str, Any] = {"moto_url": deployed[0], "resources": deployed[1]} if deployed else {}
    if options_given.executor == "lambda":
        options["lambda_queues"] = [QueueName.REPLIES]
    with running_stack(agenda_refresh_interval_s=AGENDA_REFRESH_INTERVAL_S, **options) as stack:
        if deployed:
            say(f"Using the stack deployed by `make deploy-local` in {deployed[0]}.")
        conversation = Conversation(stack)
        say(
            "Talk to charla. Try: help, busca python, /press more, count @bob, /charla ve, /dm ayuda, /home. "
            "/quit to stop."
        )
        piped = not sys.stdin.isatty()
        while True:
            if piped:
                line = sys.stdin.readline()
                if not line:
                    break
                text = line.strip()
                say(f"{PROMPT}{text}")
            else:
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
