"""The alternative most people deploy: slack_bolt's ``aws_lambda`` adapter with a lazy listener.

``SlackRequestHandler`` acks, and its lazy listener would re-invoke the same Lambda function with
``lambda.invoke(InvocationType="Event")`` to do the slow part (here: the reply via slack_sdk).
That self-invocation needs AWS Lambda, which the local stack does not have. So the runner below
does everything the adapter's ``LambdaLazyListenerRunner`` does up to the network call (it builds
the boto3 Lambda client and the invoke payload) and then runs the lazy function in a thread of the
same process, as the second invocation would. The alternative measured here is therefore a lower
bound on the real thing: it skips one Invoke round trip and a second (possibly cold) invocation.

Only the standard library is imported at module level: the cold-start child imports this module.
"""

import json
import threading
from dataclasses import dataclass
from typing import Any

# Fresh interpreter: imports Bolt + the adapter, builds the app, handles one API Gateway v2 event.
# Reads {"event", "slack_api_url"} on stdin; prints one JSON line.
COLD_START_CODE = """
import json, os, sys, time
request = json.loads(sys.stdin.read())
started = time.perf_counter()
from bench.alternative import bolt_lambda_handler, LambdaContext
import slack_bolt.adapter.aws_lambda, slack_sdk
imported = time.perf_counter() - started
handler, runner = bolt_lambda_handler(signing_secret=os.environ["SLACK_SIGNING_SECRET"],
                                      bot_token=os.environ["SLACK_BOT_TOKEN"],
                                      slack_api_url=request["slack_api_url"])
response = handler.handle(request["event"], LambdaContext())
elapsed = time.perf_counter() - started
runner.join()
print(json.dumps({"status": response["statusCode"], "in_process_s": elapsed, "imported_s": imported,
                  "peak_rss_kib": _peak_rss_kib(),
                  "modules": len(sys.modules)}))
"""


@dataclass(frozen=True)
class LambdaContext:
    """The two attributes of the Lambda context object the adapter reads."""

    function_name: str = "bolt-app"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bolt-app"
    aws_request_id: str = "local"


def bolt_lambda_handler(*, signing_secret: str, bot_token: str, slack_api_url: str) -> tuple[Any, Any]:
    """A Bolt app behind ``SlackRequestHandler``, answering mentions with a lazy listener.

    Returns the handler and the lazy runner (``runner.join()`` waits for the replies in flight).
    """
    from slack_bolt import App
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler
    from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner
    from slack_bolt.authorization import AuthorizeResult
    from slack_bolt.lazy_listener.internals import build_runnable_function
    from slack_sdk import WebClient

    class InProcessLambdaRunner(LambdaLazyListenerRunner):
        """The adapter's runner up to ``invoke``; then the lazy function runs here, in a thread."""

        def __init__(self, logger: Any) -> None:
            super().__init__(logger)
            self.threads: list[threading.Thread] = []

        def start(self, function: Any, request: Any) -> None:
            if self.lambda_client is None:
                import boto3

                self.lambda_client = boto3.client("lambda")
            event = request.context["lambda_request"]
            json.dumps(event)  # the invoke payload the adapter would send
            thread = threading.Thread(
                target=build_runnable_function(func=function, logger=self.logger, request=request)
            )
            thread.start()
            self.threads.append(thread)

        def join(self) -> None:
            for thread in self.threads:
                thread.join()
            self.threads.clear()

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        # Same as charla's ingress: no auth.test round trip at cold start.
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=bot_token, bot_user_id="UCHARLABOT"
        )

    app = App(
        signing_secret=signing_secret,
        authorize=authorize,
        process_before_response=True,
        client=WebClient(base_url=slack_api_url),
    )

    def ack_mention(ack: Any) -> None:
        ack()

    def reply(event: dict[str, Any], client: Any) -> None:
        client.chat_postMessage(channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"], text="pong")

    app.event("app_mention")(ack=ack_mention, lazy=[reply])
    handler = SlackRequestHandler(app)
    runner = InProcessLambdaRunner(handler.logger)
    app.listener_runner.lazy_listener_runner = runner
    return handler, runner
