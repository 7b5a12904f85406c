"""The Slack credentials: one Secrets Manager secret, JSON with the contract's keys."""

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import environment as env


class BotSecrets(Construct):
    """A secret created with placeholder values only; the operator puts the real ones.

    The template never holds a Slack value: the signing secret starts as a random string (so no
    request verifies until the real one is set) and the bot token as an obvious placeholder.

    Attributes:
        secret: The secret (``signing_secret`` and ``bot_token`` keys).
    """

    def __init__(self, scope: Construct, construct_id: str, *, secret_name: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Slack",
            secret_name=secret_name,
            description="charla Slack app credentials: set with aws secretsmanager put-secret-value (docs/DEPLOY.md)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({env.SECRET_KEY_BOT_TOKEN: "set-me"}),
                generate_string_key=env.SECRET_KEY_SIGNING_SECRET,
                exclude_punctuation=True,
                password_length=32,
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
