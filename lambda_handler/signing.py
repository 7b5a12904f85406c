"""The Slack signing secret and its verifier: read after start, read again after a rotation.

In AWS the secret lives in Secrets Manager. Slack's first request (``url_verification``, sent
when the app is created from the manifest) often arrives before the operator has stored the real
secret, and a warm Lambda environment would otherwise keep the placeholder until it is recycled:
every "Retry" in Slack's settings lands on the same warm environment and fails again. So a
signature that does not verify makes the secret be read again, at most once every
``REREAD_INTERVAL_S`` per environment (a flood of forged requests costs a few reads a minute),
and the verifier is rebuilt only when the value changed.

The secret is never read at import: with SnapStart, import runs once before the snapshot, and a
secret read then would be shared by every restored environment and never refreshed.
"""

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from slack_sdk.signature import SignatureVerifier

from contract import environment as env
from lambda_handler import aws
from lambda_handler.errors import MissingSettingError, SecretUnavailable
from lambda_handler.settings import IngressSettings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = logging.getLogger(__name__)

# Short enough that an operator pressing "Retry" in Slack after storing the secret succeeds
# within seconds; long enough that forged requests cannot turn into a Secrets Manager bill.
REREAD_INTERVAL_S = 10.0


@cache
def secrets_client() -> "SecretsManagerClient":
    """The Secrets Manager client, built at init (before a snapshot) and kept.

    botocore's defaults (60 s timeouts, several retries) would outlast Slack's 3 s window many
    times over; here one retry, a second each for connect and read. A read that still fails is a
    503, and Slack retries.
    """
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 2, "mode": "standard"})
    built: SecretsManagerClient = aws.client("secretsmanager", config)
    return built


def read_signing_secret(settings: IngressSettings) -> str:
    """The signing secret now: from Secrets Manager when an ARN is configured, else the environment.

    Raises:
        SecretUnavailable: Secrets Manager did not answer.
        MissingSettingError: The secret holds no ``signing_secret`` string.
    """
    if not settings.secret_arn:
        if not settings.local_signing_secret:
            raise MissingSettingError([env.SLACK_SIGNING_SECRET])
        return settings.local_signing_secret
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = secrets_client().get_secret_value(SecretId=settings.secret_arn)["SecretString"]
    except (BotoCoreError, ClientError) as error:
        logger.warning("could not read the signing secret: %s", type(error).__name__)
        raise SecretUnavailable(type(error).__name__) from error
    try:
        secret = json.loads(value).get(env.SECRET_KEY_SIGNING_SECRET)
    except (ValueError, AttributeError):
        secret = None
    if not isinstance(secret, str) or not secret:
        raise MissingSettingError(
            [f"{env.SECRET_KEY_SIGNING_SECRET} in the secret named by {env.SLACK_SIGNING_SECRET_ARN}"]
        )
    return secret


class SigningKey:
    """Checks Slack signatures with the current secret; a mismatch may re-read it (see module doc).

    Has ``SignatureVerifier.is_valid``'s signature, so the guard takes either.
    """

    def __init__(
        self,
        read: Callable[[], str],
        *,
        reread_interval_s: float = REREAD_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._interval = reread_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._secret: str | None = None
        self._verifier: SignatureVerifier | None = None
        self._read_at = -math.inf

    def __repr__(self) -> str:  # never show the secret
        return "SigningKey()"

    def _load(self) -> bool:
        """Read the secret; rebuild the verifier if it changed. True if it changed."""
        secret = self._read()
        self._read_at = self._clock()
        if secret == self._secret and self._verifier is not None:
            return False
        self._secret = secret
        self._verifier = SignatureVerifier(signing_secret=secret)
        return True

    def _current(self) -> SignatureVerifier:
        with self._lock:
            if self._verifier is None:
                self._load()
            assert self._verifier is not None
            return self._verifier

    def _reread_if_due(self) -> SignatureVerifier | None:
        """A verifier over a newly read secret, or ``None`` if not due or unchanged."""
        with self._lock:
            if self._clock() - self._read_at < self._interval or not self._load():
                return None
            logger.info("the signing secret changed; requests are verified with the new value")
            return self._verifier

    def is_valid(self, body: str, timestamp: str, signature: str) -> bool:
        """Whether ``signature`` signs ``timestamp`` and ``body`` under the current secret.

        Raises:
            SecretUnavailable: The secret had to be read and Secrets Manager did not answer.
            MissingSettingError: The secret holds no signing secret.
        """
        if self._current().is_valid(body=body, timestamp=timestamp, signature=signature):
            return True
        refreshed = self._reread_if_due()
        return refreshed is not None and refreshed.is_valid(body=body, timestamp=timestamp, signature=signature)


@cache
def signing_key() -> SigningKey:
    """This environment's signing key (the secret itself is read on first use)."""
    return SigningKey(lambda: read_signing_secret(get_settings()))
