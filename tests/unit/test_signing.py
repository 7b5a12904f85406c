"""A rotated signing secret is picked up on a mismatch, at most once per interval, and never leaks."""

from lambda_handler.signing import REREAD_INTERVAL_S, SigningKey
from scripts.slack_requests import sign


class Secrets:
    """What Secrets Manager would return now, and how often it was asked."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    def read(self) -> str:
        self.reads += 1
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _valid(key: SigningKey, secret: str) -> bool:
    signed = sign(b'{"type": "url_verification"}', secret, content_type="application/json")
    return key.is_valid(
        body=signed.body.decode(),
        timestamp=signed.headers["X-Slack-Request-Timestamp"],
        signature=signed.headers["X-Slack-Signature"],
    )


def test_the_secret_is_read_on_first_use_not_before() -> None:
    secrets = Secrets("real")
    key = SigningKey(secrets.read)

    assert secrets.reads == 0
    assert _valid(key, "real")
    assert _valid(key, "real")
    assert secrets.reads == 1


def test_a_rotated_secret_is_read_again_once_the_interval_has_passed() -> None:
    secrets, clock = Secrets("placeholder"), Clock()
    key = SigningKey(secrets.read, clock=clock)
    assert not _valid(key, "real")  # Slack already signs with the real one; we hold the placeholder
    secrets.value = "real"  # the operator runs put-secret-value

    clock.now += REREAD_INTERVAL_S / 2
    assert not _valid(key, "real")  # too soon after the last read
    clock.now += REREAD_INTERVAL_S
    assert _valid(key, "real")
    assert not _valid(key, "placeholder")
    assert secrets.reads == 2  # first use, then the one re-read that found the new value


def test_forged_requests_cost_one_read_per_interval() -> None:
    secrets, clock = Secrets("real"), Clock()
    key = SigningKey(secrets.read, clock=clock)
    for _ in range(100):
        assert not _valid(key, "forged")
        clock.now += 0.5  # 100 forged requests over 50 s

    assert secrets.reads <= 1 + 50 / REREAD_INTERVAL_S + 1


def test_the_key_never_shows_its_secret() -> None:
    key = SigningKey(Secrets("s3cr3t").read)
    _valid(key, "s3cr3t")

    assert "s3cr3t" not in repr(key)
