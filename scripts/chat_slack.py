"""``make chat-slack``: the local stack answering in your own Slack workspace, over Socket Mode.

No AWS account and no public URL: the queues and tables are moto's, the workers are real
``celery worker`` processes on this machine, and Slack reaches the bot through a WebSocket that
this machine opens (``lambda_handler.socket_mode``, the ingress's Socket Mode door) instead of
API Gateway. The workers answer through the real Slack Web API.

Needs, in the environment (never printed):
    SLACK_APP_TOKEN   the app-level token, ``xapp-...``, with the ``connections:write`` scope
    SLACK_BOT_TOKEN   the bot token, ``xoxb-...``, from installing the app in the workspace
Setup, from "create the app from slack/manifest.socket.yaml" on: docs/SLACK_LOCAL.md.
Ctrl-C stops everything.
"""

import os
import sys
import time
from collections.abc import Mapping

from contract import environment as env
from lambda_handler.socket_mode import CONNECTED_LINE, DEFAULT_PING_INTERVAL_S, DEFAULT_SLACK_API_URL
from scripts.console import AGENDA_REFRESH_INTERVAL_S, running_stack, say
from scripts.processes import ManagedProcess, Timeout, python_module, wait_until
from scripts.stack import ROOT, STARTUP_TIMEOUT_S, DevStack

SOCKET_PROCESS = "socket-mode"
# Lines of the door's log worth showing as they come: connections and envelopes.
_SHOWN = ("acked envelope", "not acked envelope", "socket mode connected", "session has been established", "ERROR")


class MissingToken(RuntimeError):
    """A token ``make chat-slack`` needs is unset or of the wrong kind."""


def slack_tokens(environ: Mapping[str, str]) -> tuple[str, str]:
    """The app-level and bot tokens from the environment.

    Raises:
        MissingToken: Naming each variable that is unset or does not hold its kind of token
            (never the value).
    """
    app_token = environ.get(env.SLACK_APP_TOKEN, "").strip()
    bot_token = environ.get(env.SLACK_BOT_TOKEN, "").strip()
    problems = []
    if not app_token.startswith("xapp-"):
        problems.append(f"{env.SLACK_APP_TOKEN} (the app-level token, xapp-..., scope connections:write)")
    if not bot_token.startswith("xoxb-"):
        problems.append(f"{env.SLACK_BOT_TOKEN} (the bot token, xoxb-..., from installing the app)")
    if problems:
        raise MissingToken("set " + " and ".join(problems) + "; see docs/SLACK_LOCAL.md")
    return app_token, bot_token


def start_socket_door(
    stack: DevStack,
    *,
    app_token: str,
    api_url: str,
    ping_interval_s: float = DEFAULT_PING_INTERVAL_S,
    extra_env: Mapping[str, str] | None = None,
    name: str = SOCKET_PROCESS,
) -> ManagedProcess:
    """Start the Socket Mode door beside ``stack`` (stopped with it) and wait until it is connected.

    It gets the stack's queues and settings, the app-level token, and not the bot token: the
    door only queues (workers answer). ``extra_env`` is added last (tests: SQS behind a proxy);
    ``name`` names the process and its log.

    Raises:
        RuntimeError: It exited while connecting (its log says why: a refused token, no network).
        scripts.processes.Timeout: It was not connected within the startup timeout.
    """
    environ = {k: v for k, v in stack.env.items() if k != env.SLACK_BOT_TOKEN}
    environ.update({env.SLACK_APP_TOKEN: app_token, env.SLACK_API_URL: api_url, **(extra_env or {})})
    argv = python_module("lambda_handler.socket_mode", "--ping-interval", str(ping_interval_s))
    process = ManagedProcess(name, argv, env=environ, log_dir=stack.log_dir, cwd=ROOT)
    stack.processes[name] = process

    def connected() -> bool:
        if not process.alive():
            raise RuntimeError(f"the Socket Mode door exited; log:\n{process.log_tail()}")
        return CONNECTED_LINE in process.log_text()

    wait_until(
        connected, timeout=STARTUP_TIMEOUT_S, message=lambda: f"a Socket Mode connection; log:\n{process.log_tail()}"
    )
    return process


def _follow(process: ManagedProcess, shown: int) -> int:
    """Print the door's new log lines worth showing; returns how many lines were read."""
    lines = process.log_text().splitlines()
    for line in lines[shown:]:
        if any(marker in line for marker in _SHOWN):
            say(f"  {line}")
    return len(lines)


def main() -> int:
    try:
        app_token, bot_token = slack_tokens(os.environ)
    except MissingToken as error:
        say(f"make chat-slack: {error}")
        return 2
    # The workers post with the real bot token to the real Web API (and to Slack's response URLs).
    answers_in_slack = {env.SLACK_BOT_TOKEN: bot_token, env.SLACK_API_URL: DEFAULT_SLACK_API_URL}
    with running_stack(agenda_refresh_interval_s=AGENDA_REFRESH_INTERVAL_S, extra_env=answers_in_slack) as stack:
        say("Opening a Socket Mode connection to Slack with the app-level token…")
        try:
            door = start_socket_door(stack, app_token=app_token, api_url=DEFAULT_SLACK_API_URL)
        except (RuntimeError, Timeout) as error:
            say(f"Could not connect to Slack: {error}")
            say("Check the tokens (docs/SLACK_LOCAL.md, 'When it does not answer').")
            return 1
        say(f"  socket mode    connected (log: {door.log_path})")
        say()
        say("In Slack: mention the bot in a channel it is in (@charla ping), DM it (help), or /charla ayuda.")
        say("Ctrl-C stops everything.")
        shown = _follow(door, 0)
        while door.alive():
            time.sleep(0.5)  # a console loop, not a test: it only paces the log follower
            shown = _follow(door, shown)
        say(f"The Socket Mode door stopped; log:\n{door.log_tail()}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
