"""``app_home_opened``: the Home tab queues a view for its person; the Messages tab queues nothing."""

from typing import Any

import pytest

from contract.tasks import HomeOpened, TaskName
from lambda_handler.errors import RequestRejected
from lambda_handler.listeners import home
from scripts.slack_requests import app_home_opened


def _open(monkeypatch: pytest.MonkeyPatch, event: dict[str, Any]) -> list[tuple[TaskName, Any, str]]:
    sent: list[tuple[TaskName, Any, str]] = []
    monkeypatch.setattr(
        home, "enqueue", lambda task, payload, *, idempotency_key: sent.append((task, payload, idempotency_key))
    )
    acks: list[bool] = []
    home.on_home_opened({"event_id": "EvH1", "team_id": "T1", "event": event}, event, lambda: acks.append(True))  # type: ignore[arg-type]
    assert acks == [True]
    return sent


def test_the_home_tab_queues_a_view_keyed_by_the_event(monkeypatch: pytest.MonkeyPatch) -> None:
    ((task, payload, key),) = _open(monkeypatch, app_home_opened(user="U0LUCIA"))
    assert task is TaskName.PUBLISH_HOME and key == "EvH1"
    assert isinstance(payload, HomeOpened) and (payload.user, payload.team_id) == ("U0LUCIA", "T1")


def test_the_messages_tab_needs_no_view_and_a_userless_event_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _open(monkeypatch, app_home_opened(user="U0LUCIA", tab="messages")) == []
    with pytest.raises(RequestRejected):
        _open(monkeypatch, {"type": "app_home_opened", "tab": "home"})
