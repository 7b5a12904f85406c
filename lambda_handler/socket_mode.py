"""The ingress over Socket Mode: the same door as ``main``, reached by WebSocket instead of HTTP.

Slack opens no connection to us: this process asks ``apps.connections.open`` (with the app-level
``xapp-`` token) for a WebSocket URL, connects, and Slack sends each event, slash command and
interaction down it as an envelope that must be acknowledged by its ``envelope_id``. Bolt's
Socket Mode adapter (slack_sdk's built-in client) does the connecting, the pings and the
reconnects (after a ``disconnect`` message or a dropped connection). What it hands us goes
through the HTTP door's own path: ``guard.check_envelope`` (the same parse and shape checks,
minus the signature: the connection is the authentication), then ``main.serve_checked`` (the
workspace filter, the same Bolt app, the same listeners, the same ``enqueue``).

So the ingress's guarantees hold on both transports:

- an envelope is acked only once its task is on its queue (listeners enqueue, then ack; Bolt
  runs them before answering, ``process_before_response``);
- anything but a 200 is not acked (an SQS outage, a payload we cannot read: where the HTTP door
  answers non-2xx), so Slack retries an event, and shows the person an error for a slash
  command or a button, as it does over HTTP;
- a re-sent envelope (new ``envelope_id``, same event or trigger) is queued under the same task
  id, and the workers' effect records settle the copies: the answer is posted once.

Never imported by the Lambda (``tests/unit/forbidden_ingress_modules.txt``): run it as
``python -m lambda_handler.socket_mode`` (``make chat-slack`` does). It reads the app-level
token from ``SLACK_APP_TOKEN`` and never logs it; it needs no bot token (workers answer).
"""

import argparse
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

from slack_bolt import BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from contract import environment as env
from lambda_handler.errors import IngressError, http_status
from lambda_handler.guard import check_envelope

logger = logging.getLogger("charla.socket_mode")

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
APP_TOKEN_PREFIX = "xapp-"  # noqa: S105 - the kind of token, not one
# Seconds between the client's pings. slack_sdk's builtin client takes a connection as dropped
# when no pong came for four intervals (or five pings failed to send) and opens a new one, so a
# laptop back from sleep resumes within about 25 s at 5 s (slack_sdk's own default) rather than
# about 50 s at Bolt's 10; a ping is a few bytes.
DEFAULT_PING_INTERVAL_S = 5.0
CONNECTED_LINE = "socket mode connected"


class MissingAppToken(RuntimeError):
    """``SLACK_APP_TOKEN`` is unset or is not an app-level token."""


def serve_envelope(request: SocketModeRequest) -> BoltResponse:
    """The door's answer to one envelope: 200 (ack it) or the status the HTTP door would give."""
    from lambda_handler.main import serve_checked  # see build_handler

    headers = {name: str(value) for name, value in (build_headers(request) or {}).items()}
    try:
        checked = check_envelope(request.type, request.payload)
        return serve_checked(checked, headers)
    except IngressError as error:
        status, message = http_status(error)
        return BoltResponse(status=status, body=message)


def answer(client: BaseSocketModeClient, req: SocketModeRequest) -> BoltResponse:
    """Serve one envelope and ack it if, and only if, the door answered 200; returns the answer."""
    start = time.time()
    response = serve_envelope(req)
    # Bolt's own sender: it acks a 200 (with its body as the response payload, if any) and
    # sends nothing for any other status (Slack then retries an event, or reports a failed command).
    send_response(client, req, response, start)
    if response.status == 200:
        logger.info("acked envelope type=%s envelope_id=%s", req.type, req.envelope_id)
    else:
        logger.warning(
            "not acked envelope type=%s envelope_id=%s status=%s",
            req.type,
            req.envelope_id,
            response.status,
        )
    return response


class DoorSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, dispatching through the ingress door instead of straight to Bolt."""

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        answer(client, req)


def app_token(environ: dict[str, str]) -> str:
    """The app-level token from the environment.

    Raises:
        MissingAppToken: Unset, or not an ``xapp-`` token (a bot token cannot open a socket).
    """
    token = environ.get(env.SLACK_APP_TOKEN, "").strip()
    if not token.startswith(APP_TOKEN_PREFIX):
        raise MissingAppToken(
            f"{env.SLACK_APP_TOKEN} must hold the app-level token (it starts with {APP_TOKEN_PREFIX}, "
            "and has the connections:write scope); see docs/SLACK_LOCAL.md"
        )
    return token


def build_handler(token: str, *, api_url: str, ping_interval_s: float) -> DoorSocketModeHandler:
    """A handler on the ingress's Bolt app whose client opens connections at ``api_url``."""
    # Imported here, not at the top: importing main builds the ingress (Bolt app, settings, SQS
    # client), which ``make chat-slack`` must not do in its own process just to read constants.
    from lambda_handler.main import bolt_app

    # Only apps.connections.open goes through this client, with the app-level token.
    web_client = WebClient(base_url=api_url)
    return DoorSocketModeHandler(bolt_app(), token, web_client=web_client, ping_interval=ping_interval_s)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lambda_handler.socket_mode", description=__doc__.split("\n")[0])
    parser.add_argument("--ping-interval", type=float, default=DEFAULT_PING_INTERVAL_S, help="seconds between pings")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Connect and serve until SIGTERM or Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        token = app_token(dict(os.environ))
    except MissingAppToken as error:
        logger.error("%s", error)
        return 2
    api_url = os.environ.get(env.SLACK_API_URL) or DEFAULT_SLACK_API_URL
    handler = build_handler(token, api_url=api_url, ping_interval_s=args.ping_interval)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        handler.client.connect()
    except (SlackApiError, OSError) as error:
        # SlackApiError: apps.connections.open refused the token (its error code says why);
        # OSError: Slack unreachable. The token itself is never logged.
        reason = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
        logger.error("apps.connections.open failed via %s: %s", api_url, reason)
        handler.client.close()
        return 1
    if not handler.client.is_connected():
        logger.error("could not open a Socket Mode connection via %s (see the errors above)", api_url)
        handler.client.close()
        return 1
    logger.info("%s via %s", CONNECTED_LINE, api_url)
    stop.wait()
    logger.info("closing the Socket Mode connection")
    handler.client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
