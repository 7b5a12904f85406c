"""Wiring only: guard -> Bolt app -> listeners -> Starlette routes -> ``handler`` for API Gateway.

Everything a request needs that does not depend on a secret is built at import: the imports,
the Bolt app and the AWS clients. With SnapStart, import runs once before the snapshot, so every
restored environment starts with them ready; the signing secret is read after restore, on the
first request (``signing``).
"""

import contextlib
import logging
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError
from mangum import Mangum
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contract import environment as env
from lambda_handler import enqueue, signing
from lambda_handler.errors import IngressError, MissingSettingError, RequestRejected, http_status
from lambda_handler.guard import CheckedRequest, RequestKind, check_request
from lambda_handler.listeners import register_all, schedule
from lambda_handler.settings import get_settings

logger = logging.getLogger("charla.ingress")
# The "enqueued task=... task_id=... correlation_id=..." line is the first step `charla trace`
# follows (docs/OPERATIONS.md): INFO for the ingress's own loggers, as the Lambda executor does
# (Lambda's runtime passes WARNING and up by default). Under uvicorn locally nothing handles the
# root logger, so one handler on stderr (the process log, .stack/logs/ingress.log).
for _name in ("charla", "lambda_handler"):
    logging.getLogger(_name).setLevel(logging.INFO)
if not logging.getLogger().handlers and not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
    # The ingress never calls the Web API (workers answer), so it needs no token and makes no
    # auth.test call: a cold start costs no round trip to Slack.
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)


def _on_listener_error(error: Exception) -> BoltResponse:
    status, message = http_status(error)
    if not isinstance(error, IngressError):
        logger.exception("listener failed")
    return BoltResponse(status=status, body=message)


@cache
def bolt_app() -> App:
    """The Bolt app: routing to listeners and acks. It needs no secret and makes no network call."""
    app = App(
        # The guard has verified the signature over the raw body, and Bolt is handed the parsed
        # body (no raw text to verify again), so Bolt's own check is off and needs no secret.
        signing_secret="",
        request_verification_enabled=False,
        authorize=_authorize,
        process_before_response=True,
        url_verification_enabled=True,
        ssl_check_enabled=False,  # answered before Bolt (RequestKind.SSL_CHECK)
        raise_error_for_unhandled_request=False,
    )
    app.error(_on_listener_error)
    register_all(app)
    return app


def _error_response(error: Exception) -> Response:
    status, message = http_status(error)
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def _ack() -> BoltResponse:
    return BoltResponse(status=200, body="")


def _dispatch(checked: CheckedRequest, headers: Mapping[str, str]) -> BoltResponse:
    # Bolt takes an already-parsed body only in "socket_mode" (in "http" mode it insists on the
    # raw text and parses it again, by its own rules); the mode changes nothing else Bolt does
    # with a request once its signature check is off.
    try:
        request = BoltRequest(body=checked.payload, headers=dict(headers), mode="socket_mode")
        response = bolt_app().dispatch(request)
    except (TypeError, KeyError, AttributeError, ValueError, IndexError) as error:
        # Listener errors are caught by Bolt (see _on_listener_error); what escapes here is Bolt
        # failing to read a signed body of an unexpected shape (building its context, routing):
        # a malformed request.
        logger.warning("Bolt could not read the request: %s", type(error).__name__)
        raise RequestRejected("unexpected payload shape") from error
    if response.status == 404:
        # Nothing listens for it (an event type, an interaction or a command we do not handle):
        # ack it, or Slack retries an event and may disable the subscription, or shows the user
        # an error for a button.
        logger.info("no listener; acked kind=%s", checked.kind)
        return _ack()
    return response


def _serve(headers: Mapping[str, str], body: bytes) -> BoltResponse:
    """Check, then answer what needs no listener, then refuse foreign workspaces, then dispatch.

    Nothing is remembered here: a Slack retry is queued again under the same task id, and the
    worker's effect records settle the copies (docs/RELIABILITY.md). So an ack always means the
    task is on its queue, and a failed send always answers non-2xx so that Slack retries.
    """
    checked = check_request(headers=headers, body=body, verifier=signing.signing_key())
    return serve_checked(checked, headers)


def serve_checked(checked: CheckedRequest, headers: Mapping[str, str]) -> BoltResponse:
    """Everything after the transport's own check: short answers, the workspace filter, Bolt.

    The HTTP door calls it after ``check_request``; the Socket Mode door
    (``lambda_handler.socket_mode``) after ``check_envelope``. Either transport acks only a 200.

    Raises:
        IngressError: The request is malformed (400) or its task could not be queued (503).
    """
    if checked.kind == RequestKind.SSL_CHECK:
        return _ack()
    if checked.kind == RequestKind.RATE_LIMITED:
        logger.warning("Slack reports this app is rate limited on events")
        return _ack()
    settings = get_settings()
    if checked.kind != RequestKind.URL_VERIFICATION and not settings.serves(
        team_id=checked.team_id, enterprise_id=checked.enterprise_id, app_id=checked.app_id
    ):
        # Installed somewhere it should not answer (a second workspace, another app's URL):
        # acked so Slack does not retry, and nothing is queued.
        logger.warning(
            "request from a workspace or app not served; acked and dropped kind=%s team=%s enterprise=%s app=%s",
            checked.kind,
            checked.team_id,
            checked.enterprise_id,
            checked.app_id,
        )
        return _ack()
    return _dispatch(checked, headers)


async def slack_events(request: Request) -> Response:
    """``POST /slack/events``: checks, then Bolt (routing, listeners, ack), in a worker thread.

    The thread keeps a Secrets Manager read (first request, or after a rotation) off the event loop.
    """
    body = await request.body()
    try:
        bolt_response = await run_in_threadpool(_serve, request.headers, body)
    except IngressError as error:
        logger.debug("rejected status=%s reason=%s", error.status, error)
        return _error_response(error)
    return to_starlette_response(bolt_response)


async def healthz(_: Request) -> Response:
    """``GET /healthz``: the process is up (it does not touch AWS)."""
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)

_http_handler = Mangum(app, lifespan="off")


def _prepare_for_snapshot() -> None:
    """Build the Bolt app, the settings and the AWS clients now, at init, so a SnapStart snapshot
    holds them (and the warning about serving any workspace is logged once, at start).

    Without configuration or a region (an import outside AWS with an empty environment, as the
    bundle test does) they are built on first use instead, where a missing value is reported.
    """
    bolt_app()
    with contextlib.suppress(MissingSettingError):
        get_settings()
    try:
        enqueue.sqs_client()
        if os.environ.get(env.SLACK_SIGNING_SECRET_ARN):
            signing.secrets_client()
    except BotoCoreError as error:
        logger.info("AWS clients will be built on first use: %s", type(error).__name__)


_prepare_for_snapshot()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for API Gateway HTTP API (payload v2) and REST API (v1) events.

    A scheduled event (EventBridge) is recognised first: Mangum would reject it as an unknown
    event shape.
    """
    if schedule.is_scheduled_event(event):
        return schedule.on_scheduled_event(event)
    return _http_handler(event, context)
