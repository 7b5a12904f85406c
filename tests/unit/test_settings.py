"""Settings fail with one clear message naming every missing variable."""

import pytest

from lambda_handler.errors import MissingSettingError
from lambda_handler.settings import load_settings


def test_ingress_names_every_missing_variable() -> None:
    with pytest.raises(MissingSettingError) as raised:
        load_settings({})

    message = str(raised.value)
    assert "SLACK_SIGNING_SECRET" in message
    assert "CHARLA_QUEUE_URL_REPLIES" in message
    assert "CHARLA_QUEUE_URL_BULK" in message


def test_ingress_settings_never_show_the_secret() -> None:
    settings = load_settings(
        {
            "SLACK_SIGNING_SECRET": "s3cr3t-value",
            "CHARLA_QUEUE_URL_REPLIES": "http://q/replies",
            "CHARLA_QUEUE_URL_BULK": "http://q/bulk",
        }
    )

    assert "s3cr3t-value" not in repr(settings)
    assert settings.local_signing_secret == "s3cr3t-value"


def test_worker_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.runtime.settings import SettingsError, get_settings

    for name in ("SLACK_BOT_TOKEN", "CHARLA_QUEUE_URL_REPLIES", "CHARLA_QUEUE_URL_BULK"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as raised:
            get_settings()
    finally:
        get_settings.cache_clear()

    message = str(raised.value)
    for name in ("SLACK_BOT_TOKEN", "CHARLA_QUEUE_URL_REPLIES", "CHARLA_QUEUE_URL_BULK"):
        assert name in message


def test_worker_settings_build_a_local_broker_url_from_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.runtime.settings import WorkerSettings

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = WorkerSettings(
        **{  # type: ignore[arg-type]
            "SLACK_BOT_TOKEN": "xoxb-1",
            "CHARLA_QUEUE_URL_REPLIES": "r",
            "CHARLA_QUEUE_URL_BULK": "b",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "CHARLA_TABLE_STATE": "state",
        }
    )

    assert settings.broker_url == "sqs://testing:testing@127.0.0.1:4566"
    assert settings.sqs_is_secure is False
    assert "xoxb-1" not in repr(settings)
