"""Wiring only: Bolt app -> listeners -> Starlette routes -> ``handler`` for API Gateway.

Nothing slow happens at import: settings, the Bolt app and AWS clients are built on first use
and cached for the life of the Lambda environment.
"""

import logging
from functools import cache
from typing import Any

from mangum import Mangum
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lambda_handler.errors import IngressError, RequestRejected, http_status
from lambda_handler.guard import APP_RATE_LIMITED, EVENT_CALLBACK, CheckedRequest, check_request
from lambda_handler.listeners import commands, events, interactions, members, schedule
from lambda_handler.settings import get_settings

logger = logging.getLogger("charla.ingress")


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
    """The Bolt app, built on first request (after settings are readable)."""
    app = App(
        signing_secret=get_settings().signing_secret,
        authorize=_authorize,
        process_before_response=True,
        url_verification_enabled=True,
        raise_error_for_unhandled_request=False,
    )
    app.error(_on_listener_error)
    events.register(app)
    commands.register(app)
    interactions.register(app)
    members.register(app)
    return app


@cache
def _verifier() -> SignatureVerifier:
    return SignatureVerifier(signing_secret=get_settings().signing_secret)


def _error_response(error: Exception) -> Response:
    status, message = http_status(error)
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def _dispatch(checked: CheckedRequest, request: Request) -> BoltResponse:
    try:
        response = bolt_app().dispatch(to_bolt_request(request, checked.body))
    except (TypeError, KeyError, AttributeError, ValueError, IndexError) as error:
        # Listener errors are caught by Bolt (see _on_listener_error); what escapes dispatch is
        # Bolt failing to read a signed body of an unexpected shape: a malformed request.
        logger.warning("Bolt could not read the request: %s", type(error).__name__)
        raise RequestRejected("unexpected payload shape") from error
    if response.status == 404 and checked.payload.get("type") == EVENT_CALLBACK:
        # An event no listener wants: ack it, or Slack retries it and may disable the subscription.
        return BoltResponse(status=200, body="")
    return response


def _dispatch_checked(checked: CheckedRequest, request: Request) -> BoltResponse:
    """Hand a checked request to Bolt; its listeners enqueue with one ``SendMessage`` and ack.

    Nothing is remembered here: a Slack retry is queued again under the same task id, and the
    worker's effect records settle the copies (docs/RELIABILITY.md). So an ack always means the
    task is on its queue, and a failed send always answers non-2xx so that Slack retries.
    """
    if checked.payload.get("type") == APP_RATE_LIMITED:
        logger.warning("Slack reports this app is rate limited on events")
        return BoltResponse(status=200, body="")
    return _dispatch(checked, request)


async def slack_events(request: Request) -> Response:
    """``POST /slack/events``: checks first, then Bolt (signature again, routing, enqueue, ack)."""
    body = await request.body()
    try:
        checked = check_request(headers=request.headers, body=body, verifier=_verifier())
        bolt_response = await run_in_threadpool(_dispatch_checked, checked, request)
    except IngressError as error:
        logger.info("rejected status=%s reason=%s", error.status, error)
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


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for API Gateway HTTP API (payload v2) and REST API (v1) events.

    A scheduled event (EventBridge) is recognised first: Mangum would reject it as an unknown
    event shape.
    """
    if schedule.is_scheduled_event(event):
        return schedule.on_scheduled_event(event)
    return _http_handler(event, context)
