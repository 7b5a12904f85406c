"""Rehearsal of Slack setup and of a rotation, with the Slack secrets in (moto's) Secrets Manager:
the signing secret in one (the ingress's), the bot token in another (the workers'), as deployed.

Creating the Slack app from the manifest makes Slack send ``url_verification`` before the operator
has stored the real signing secret; the ingress answers 401 with the placeholder it holds. After
``put-secret-value``, pressing "Retry" in Slack's settings must succeed within a minute, with no
redeploy and no restart of the warm ingress. Likewise a worker whose bot token was rotated must
pick up the new token by itself.
"""

import json
import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from contract import environment as env
from scripts.processes import wait_until
from scripts.provision import aws_client_kwargs
from scripts.slack_requests import app_mention, signed_event, signed_url_verification
from scripts.stack import DevStack, HttpResult, http

pytestmark = pytest.mark.slow

# Longer than lambda_handler.signing.REREAD_INTERVAL_S: the operator's retries, at most a minute.
RETRY_FOR_S = 60.0


class RotatingSecretStack:
    """A whole stack whose ingress and workers read their Slack secret from Secrets Manager."""

    def __init__(self, stack: DevStack, arns: dict[str, str], client: Any) -> None:
        self.stack, self.arns, self.client = stack, arns, client

    def put_signing_secret(self, value: str) -> None:
        """What ``aws secretsmanager put-secret-value`` does in docs/DEPLOY.md, step 5."""
        self.client.put_secret_value(
            SecretId=self.arns[env.SLACK_SIGNING_SECRET_ARN],
            SecretString=json.dumps({env.SECRET_KEY_SIGNING_SECRET: value}),
        )

    def put_bot_token(self, value: str) -> None:
        self.client.put_secret_value(
            SecretId=self.arns[env.SLACK_BOT_TOKEN_SECRET_ARN],
            SecretString=json.dumps({env.SECRET_KEY_BOT_TOKEN: value}),
        )


@pytest.fixture(scope="module")
def rotating(moto_url: str) -> Iterator[RotatingSecretStack]:
    client = boto3.client("secretsmanager", **aws_client_kwargs(moto_url))
    prefix = f"charla/{secrets.token_hex(3)}"
    placeholders = {
        env.SLACK_SIGNING_SECRET_ARN: ("slack-signing-secret", {env.SECRET_KEY_SIGNING_SECRET: secrets.token_hex(16)}),
        env.SLACK_BOT_TOKEN_SECRET_ARN: ("slack-bot-token", {env.SECRET_KEY_BOT_TOKEN: "set-me"}),
    }
    arns = {
        variable: client.create_secret(Name=f"{prefix}/{name}", SecretString=json.dumps(value))["ARN"]
        for variable, (name, value) in placeholders.items()
    }
    with DevStack(moto_url=moto_url, extra_env=arns) as stack:
        yield RotatingSecretStack(stack, arns, client)


def _retry_until_accepted(send: Any) -> HttpResult:
    """Slack's "Retry" (or its own redelivery), pressed until the ingress accepts, for a minute."""
    return wait_until(
        lambda: response if (response := send()).status == 200 else None,
        timeout=RETRY_FOR_S,
        interval=1.0,
        message="the ingress to accept the request signed with the stored secret",
    )


def test_url_verification_succeeds_after_the_real_secret_is_stored_without_a_restart(
    rotating: RotatingSecretStack,
) -> None:
    stack = rotating.stack
    ingress_pid = stack.processes["ingress"].pid

    before = stack.post(signed_url_verification("challenge-before", stack.signing_secret))
    rotating.put_signing_secret(stack.signing_secret)
    rotating.put_bot_token(stack.bot_token)
    after = _retry_until_accepted(lambda: stack.post(signed_url_verification("challenge-2", stack.signing_secret)))

    assert before.status == 401
    assert after.json() == {"challenge": "challenge-2"}
    assert stack.processes["ingress"].pid == ingress_pid and stack.processes["ingress"].alive()


def test_a_worker_picks_up_a_rotated_bot_token_without_a_restart(rotating: RotatingSecretStack) -> None:
    stack = rotating.stack
    worker_pid = stack.processes["worker"].pid
    new_token = f"xoxb-rotated-{secrets.token_hex(8)}"
    rotating.put_bot_token(new_token)
    http(
        "POST",
        stack.slack_url + "/_faults",
        body=json.dumps({"token": new_token}).encode(),
        headers={"Content-Type": "application/json"},
    )  # Slack now refuses the old token: invalid_auth

    mention = signed_event(app_mention("ping", channel="C0ROTATED"), stack.signing_secret)
    _retry_until_accepted(lambda: stack.post(mention))

    replies = wait_until(
        lambda: [r for r in stack.recorded() if r.get("channel") == "C0ROTATED"],
        timeout=30,
        message=lambda: f"the answer posted with the new token; logs:\n{stack.logs()}",
    )
    assert len(replies) == 1
    assert stack.processes["worker"].pid == worker_pid and stack.processes["worker"].alive()
    assert new_token not in stack.logs() and stack.bot_token not in stack.logs()
