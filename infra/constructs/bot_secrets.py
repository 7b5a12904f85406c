"""The Slack credentials: two Secrets Manager secrets, each JSON with one contract key, each
readable by the roles that need it and denied to every other principal.

Two secrets because the two values reach different rooms: the internet-facing ingress verifies
requests with the signing secret and must never hold the bot token (which reads private-channel
and DM history); the workers and the Lambda executor post with the token and never verify.
"""

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import environment as env

# What a principal needs to read a value; the deny names these so admins may still put values.
READ_ACTIONS = ["secretsmanager:GetSecretValue"]


def signing_secret_name(env_name: str) -> str:
    return f"charla/{env_name}/slack-signing-secret"


def bot_token_secret_name(env_name: str) -> str:
    return f"charla/{env_name}/slack-bot-token"


class BotSecrets(Construct):
    """Two secrets created with placeholder values only; the operator puts the real ones.

    The template never holds a Slack value: the signing secret starts as a random string (so no
    request verifies until the real one is set) and the bot token as an obvious placeholder.
    Both are retained on ``cdk destroy`` under their fixed names (CloudFormation would delete a
    secret with no recovery window); a redeploy of the same ``env_name`` fails on the name until
    the retained one is deleted or reattached (docs/DEPLOY.md, "Tear down").

    Attributes:
        signing_secret: ``{"signing_secret": ...}``, for the ingress only.
        bot_token: ``{"bot_token": ...}``, for the workers and the Lambda executor only.
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str) -> None:
        super().__init__(scope, construct_id)
        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            secret_name=signing_secret_name(env_name),
            description="charla Slack signing secret (ingress only): put with put-secret-value (docs/DEPLOY.md)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({}),
                generate_string_key=env.SECRET_KEY_SIGNING_SECRET,
                exclude_punctuation=True,
                password_length=32,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bot_token = secretsmanager.Secret(
            self,
            "BotToken",
            secret_name=bot_token_secret_name(env_name),
            description="charla Slack bot token (workers only): put with put-secret-value (docs/DEPLOY.md)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({env.SECRET_KEY_BOT_TOKEN: "set-me"}),
                # Secrets Manager needs a key to generate; this one is ignored by every reader.
                generate_string_key="placeholder",
                exclude_punctuation=True,
                password_length=8,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )

    @staticmethod
    def allow_only(secret: secretsmanager.ISecret, readers: list[iam.IRole]) -> None:
        """Grant ``readers`` read access and deny reading to every other principal.

        The deny is on the secret itself (a resource policy), so an identity policy elsewhere in
        the account (an over-broad role, ``SecretsManagerReadWrite``) cannot read it either. It
        names the read action only: an administrator may still put a new value and describe it.
        """
        for reader in readers:
            secret.grant_read(reader)
        secret.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheNamedRolesReadTheValue",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=READ_ACTIONS,
                resources=["*"],
                conditions={"StringNotEquals": {"aws:PrincipalArn": [reader.role_arn for reader in readers]}},
            )
        )
