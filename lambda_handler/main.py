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

from lambda_handler.errors import IngressError, http_status
from lambda_handler.guard import check_request
from lambda_handler.listeners import commands, events
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
    return app


@cache
def _verifier() -> SignatureVerifier:
    return SignatureVerifier(signing_secret=get_settings().signing_secret)


def _error_response(error: Exception) -> Response:
    status, message = http_status(error)
    return JSONResponse({"ok": False, "error": message}, status_code=status)


async def slack_events(request: Request) -> Response:
    """``POST /slack/events``: checks first, then Bolt (signature again, routing, ack)."""
    body = await request.body()
    try:
        check_request(headers=request.headers, body=body, verifier=_verifier())
    except IngressError as error:
        logger.info("rejected status=%s reason=%s", error.status, error)
        return _error_response(error)
    bolt_response = await run_in_threadpool(bolt_app().dispatch, to_bolt_request(request, body))
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
    """Lambda entry point for API Gateway HTTP API (payload v2) and REST API (v1) events."""
    return _http_handler(event, context)
