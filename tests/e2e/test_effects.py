"""The effects beside answers (issue #23) through the whole local stack, on a celery worker and on
the Lambda executor: the App Home view, 👀 while an answer is late, and a one-line notice when an
answer ends in the dead-letter queue. Each is an effect: once per key, whatever Slack redelivers.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from contract.queues import QueueName
from scripts.processes import wait_until
from scripts.slack_requests import app_home_opened, app_mention, next_ts
from scripts.stack import DevStack
from tests.e2e.test_commands import _reply, expected_next, fire_schedule, mention, slash

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module", params=["celery", "lambda"])
def stack(request: pytest.FixtureRequest) -> Iterator[DevStack]:
    lambda_queues = [QueueName.REPLIES] if request.param == "lambda" else []
    with DevStack(lambda_queues=lambda_queues) as running:
        running.set_slack_locales({"U0LUCIA": "es-ES"})
        fire_schedule(running)
        yield running


def _view_text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def _open_home(stack: DevStack, user: str, *, event_id: str | None = None) -> None:
    assert stack.post_event(app_home_opened(user=user), event_id=event_id).status == 200


def test_opening_the_home_tab_publishes_the_persons_view_in_their_language(stack: DevStack) -> None:
    mention(stack, "busca python", user="U0LUCIA")
    before = stack.slack_state()["views_published"]
    for _ in range(2):  # Slack redelivers the event: one publish
        _open_home(stack, "U0LUCIA", event_id="EvHOME1")
    view = wait_until(lambda: stack.slack_state()["views"].get("U0LUCIA"), timeout=20, message="the Home view")
    text = _view_text(view)
    assert view["type"] == "home" and "*Lo que sé hacer*" in text
    assert "`busca <texto>` (`search <text>`)" in text  # the commands, as help lists them
    assert expected_next()["title"] in text  # the agenda
    assert "Has escrito" in text and "Comandos más usados:" in text and "`busca`" in text
    stack.wait_until_drained(QueueName.REPLIES)
    assert stack.slack_state()["views_published"] == before + 1

    # Opening it again with nothing changed: no publish at all (reads only).
    _open_home(stack, "U0LUCIA")
    stack.wait_until_drained(QueueName.REPLIES)
    assert stack.slack_state()["views_published"] == before + 1

    # Something changed (a new command used): the next open publishes the new view.
    mention(stack, "estadísticas", user="U0LUCIA")
    _open_home(stack, "U0LUCIA")
    wait_until(
        lambda: stack.slack_state()["views_published"] == before + 2, timeout=20, message="the changed view published"
    )
    _open_home(stack, "U0LIAM")
    liam = wait_until(lambda: stack.slack_state()["views"].get("U0LIAM"), timeout=20, message="Liam's Home view")
    assert "*What I can do*" in _view_text(liam)  # en-US: English


def test_an_answer_held_up_by_slack_shows_eyes_until_it_is_posted(stack: DevStack) -> None:
    channel = "C0SLOWED"
    stack.set_slack_faults(rate_limited_for_s=8, retry_after_s=10, rate_limited_channels=[channel])
    try:
        ts = next_ts()
        assert stack.post_event(app_mention("ve", channel=channel, user="U0LUCIA", ts=ts)).status == 200
        key = f"{channel}/{ts}"
        wait_until(lambda: "eyes" in stack.slack_state()["reactions"].get(key, []), timeout=20, message="👀")
        answer = _reply(stack, lambda r: r.get("thread_ts") == ts, "the late answer")
        assert str(answer["text"]).startswith("Por lo pronto vas bien")
        wait_until(lambda: stack.slack_state()["reactions"].get(key) == [], timeout=20, message="👀 taken off")
        log = [entry["method"] for entry in stack.slack_state()["reaction_log"] if entry["key"] == key]
        assert log == ["reactions.add", "reactions.remove"]  # once each
    finally:
        stack.set_slack_faults(rate_limited_for_s=0, rate_limited_channels=[])

    quick = next_ts()  # a plain reply on the fast path: no reaction at all
    assert stack.post_event(app_mention("ping", channel="C0QUICK", ts=quick)).status == 200
    _reply(stack, lambda r: r.get("thread_ts") == quick, "the quick answer")
    assert not [e for e in stack.slack_state()["reaction_log"] if e["key"] == f"C0QUICK/{quick}"]


def test_an_answer_that_ends_in_the_dead_letter_queue_tells_the_asker_once(stack: DevStack) -> None:
    channel = "C0REFUSES"
    # Slack refuses the answer for its content (invalid_blocks): a permanent failure, dead-lettered;
    # the asker's plain-text ephemeral notice still goes through.
    stack.set_slack_faults(refusing_blocks_channels=[channel])
    try:
        ts = next_ts()
        assert stack.post_event(app_mention("siguiente", channel=channel, user="U0LIAM", ts=ts)).status == 200
        notice = _reply(stack, lambda r: r.get("kind") == "chat.postEphemeral" and r.get("thread_ts") == ts, "notice")
        assert notice["user"] == "U0LIAM" and notice["channel"] == channel
        assert notice["text"] == "Lo siento, esta vez no pude responderte. Prueba otra vez dentro de un rato."
        english_ts = next_ts()
        assert stack.post_event(app_mention("next", channel=channel, user="U0LIAM", ts=english_ts)).status == 200
        english = _reply(
            stack, lambda r: r.get("kind") == "chat.postEphemeral" and r.get("thread_ts") == english_ts, ""
        )
        assert english["text"] == "Sorry, I could not answer that this time. Please try again in a while."
        stack.wait_until_drained(QueueName.REPLIES)
        notices = [r for r in stack.recorded() if r.get("kind") == "chat.postEphemeral" and r.get("channel") == channel]
        assert len(notices) == 2
    finally:
        stack.set_slack_faults(refusing_blocks_channels=[])
    assert str(slash(stack, "ve", user="U0LIAM")["text"]).startswith("Por lo pronto")  # the bot still answers
