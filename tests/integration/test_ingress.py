"""The ingress over real HTTP (uvicorn) and through ``handler(event, context)``, with SQS on a moto
server and no worker, so every enqueued message can be inspected on its queue."""

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from contract.queues import QueueName
from contract.tasks import TaskName
from contract.wire import decode_task_message, task_id_for
from scripts.slack_requests import app_mention, sign, signed_event, signed_url_verification, to_api_gateway_event
from scripts.stack import DevStack
from tests.conftest import configured_like_the_lambda, load_event

pytestmark = pytest.mark.slow


def assert_nothing_enqueued(stack: DevStack) -> None:
    for queue in QueueName:
        assert stack.queue_depth(queue) == 0, f"something was enqueued on {queue}"


@pytest.fixture
def empty_queues(stack_without_worker: DevStack) -> Iterator[DevStack]:
    stack_without_worker.empty_queues()
    yield stack_without_worker


def test_url_verification_echoes_the_challenge(empty_queues: DevStack) -> None:
    response = empty_queues.post(
        signed_url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", empty_queues.signing_secret)
    )

    assert response.status == 200
    assert b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in response.body
    assert_nothing_enqueued(empty_queues)


def test_a_wrong_signature_is_401_and_enqueues_nothing(empty_queues: DevStack) -> None:
    forged = signed_event(app_mention("ping"), "not-the-signing-secret")

    response = empty_queues.post(forged)

    assert response.status == 401
    assert_nothing_enqueued(empty_queues)


def test_a_stale_timestamp_is_401_and_enqueues_nothing(empty_queues: DevStack) -> None:
    replayed = signed_event(app_mention("ping"), empty_queues.signing_secret, timestamp=int(time.time()) - 6 * 60)

    response = empty_queues.post(replayed)

    assert response.status == 401
    assert_nothing_enqueued(empty_queues)


def test_missing_signature_headers_are_401(empty_queues: DevStack) -> None:
    request = signed_event(app_mention("ping"), empty_queues.signing_secret)
    headers = {"Content-Type": "application/json"}

    response = empty_queues.post(type(request)(body=request.body, headers=headers))

    assert response.status == 401
    assert_nothing_enqueued(empty_queues)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"no_type": true}', b"\xff\xfe"])
def test_signed_but_malformed_json_is_400(empty_queues: DevStack, body: bytes) -> None:
    response = empty_queues.post(sign(body, empty_queues.signing_secret, content_type="application/json"))

    assert response.status == 400
    assert json.loads(response.body)["error"] == "malformed request"
    assert_nothing_enqueued(empty_queues)


def test_an_unsupported_content_type_is_415(empty_queues: DevStack) -> None:
    response = empty_queues.post(sign(b"ping", empty_queues.signing_secret, content_type="text/plain"))

    assert response.status == 415
    assert_nothing_enqueued(empty_queues)


def test_healthz_answers(empty_queues: DevStack) -> None:
    from scripts.stack import http

    response = http("GET", empty_queues.ingress_url + "/healthz")

    assert response.status == 200
    assert response.json() == {"ok": True}


def test_a_mention_over_http_enqueues_one_ping_task_on_the_replies_queue(empty_queues: DevStack) -> None:
    mention = app_mention("ping", channel="C0HTTP", user="U0BOB")

    response = empty_queues.post_event(mention, event_id="Ev0HTTP")

    assert response.status == 200
    (message,) = empty_queues.receive_raw(QueueName.REPLIES)
    task = decode_task_message(message["Body"])
    assert task.task == TaskName.PING
    assert task.queue == QueueName.REPLIES
    assert task.kwargs["channel"] == "C0HTTP"
    assert task.kwargs["user"] == "U0BOB"
    assert task.kwargs["thread_ts"] == mention["ts"]
    assert task.kwargs["correlation_id"] == "Ev0HTTP"


# -- the Lambda entry point, in process ---------------------------------------------------------


@pytest.fixture
def lambda_environment(empty_queues: DevStack) -> Iterator[DevStack]:
    """This process configured like the Lambda: env from the stack, caches cleared before and after."""
    with configured_like_the_lambda(empty_queues) as stack:
        yield stack


@pytest.mark.parametrize("template", ["apigw_v2_post.json", "apigw_v1_post.json"])
def test_handler_enqueues_the_same_task_as_the_http_app(lambda_environment: DevStack, template: str) -> None:
    from lambda_handler.main import handler

    stack = lambda_environment
    mention = app_mention("ping", channel="C0LAMBDA", user="U0CAROL")
    http_response = stack.post_event(mention, event_id=f"Ev0HTTP{template[6:8]}")
    (via_http,) = [decode_task_message(m["Body"]) for m in stack.receive_raw(QueueName.REPLIES)]

    event = to_api_gateway_event(
        load_event(template), signed_event(mention, stack.signing_secret, event_id=f"Ev0LAMBDA{template[6:8]}")
    )
    result: dict[str, Any] = handler(event, None)

    assert http_response.status == 200
    assert result["statusCode"] == 200
    (via_lambda,) = [decode_task_message(m["Body"]) for m in stack.receive_raw(QueueName.REPLIES)]
    assert via_lambda.task == via_http.task == TaskName.PING
    assert via_lambda.queue == via_http.queue == QueueName.REPLIES
    differ = {"requested_at", "correlation_id"}
    assert {k: v for k, v in via_lambda.kwargs.items() if k not in differ} == {
        k: v for k, v in via_http.kwargs.items() if k not in differ
    }
    assert via_lambda.kwargs["correlation_id"] == f"Ev0LAMBDA{template[6:8]}"


def test_every_copy_of_a_redelivered_event_is_queued_under_one_task_id(lambda_environment: DevStack) -> None:
    """The door remembers nothing: each delivery is one SendMessage; the worker settles the copies."""
    from lambda_handler.main import handler

    stack = lambda_environment
    request = signed_event(app_mention("ping", channel="C0TWICE"), stack.signing_secret, event_id="Ev0TWICE")
    event = to_api_gateway_event(load_event("apigw_v2_post.json"), request)
    retry = {**event, "headers": {**event["headers"], "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}}

    statuses = [handler(event, None)["statusCode"], handler(retry, None)["statusCode"], stack.post(request).status]

    assert statuses == [200, 200, 200]
    copies = [decode_task_message(m["Body"]) for m in stack.receive_raw(QueueName.REPLIES)]
    while len(copies) < 3 and (more := stack.receive_raw(QueueName.REPLIES)):
        copies += [decode_task_message(m["Body"]) for m in more]
    assert len(copies) == 3
    assert len({copy.task_id for copy in copies}) == 1
    assert copies[0].task_id == task_id_for(f"{copies[0].task}:Ev0TWICE")


def test_handler_rejects_a_forged_request_with_401(lambda_environment: DevStack) -> None:
    from lambda_handler.main import handler

    event = to_api_gateway_event(load_event("apigw_v2_post.json"), signed_event(app_mention("ping"), "forged"))

    assert handler(event, None)["statusCode"] == 401
    assert_nothing_enqueued(lambda_environment)


def test_sqs_outage_answers_503_and_the_retry_is_enqueued_once(
    lambda_environment: DevStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_handler import enqueue
    from lambda_handler.main import handler
    from scripts.processes import free_port

    stack = lambda_environment
    request = signed_event(app_mention("ping", channel="C0OUTAGE"), stack.signing_secret, event_id="Ev0OUTAGE")
    event = to_api_gateway_event(load_event("apigw_v2_post.json"), request)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", f"http://127.0.0.1:{free_port()}")  # SQS down, DynamoDB up
    enqueue.sqs_client.cache_clear()

    during_outage = handler(event, None)["statusCode"]
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS")
    enqueue.sqs_client.cache_clear()
    slack_retry = handler(event, None)["statusCode"]

    assert during_outage == 503
    assert slack_retry == 200
    (message,) = stack.receive_raw(QueueName.REPLIES)
    assert decode_task_message(message["Body"]).kwargs["channel"] == "C0OUTAGE"


def test_the_ingress_needs_no_dynamodb_a_dynamodb_outage_changes_nothing(
    lambda_environment: DevStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_handler.main import handler
    from scripts.processes import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    event = to_api_gateway_event(
        load_event("apigw_v2_post.json"),
        signed_event(app_mention("ping", channel="C0NODDB"), lambda_environment.signing_secret),
    )

    assert handler(event, None)["statusCode"] == 200
    (message,) = lambda_environment.receive_raw(QueueName.REPLIES)
    assert decode_task_message(message["Body"]).kwargs["channel"] == "C0NODDB"
