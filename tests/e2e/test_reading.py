"""People write as they do in Slack, in Spanish and in English (issue #23): every defect of the
issue as a conversation through the whole local stack (signed request -> uvicorn ingress -> SQS on
moto -> executor -> DynamoDB on moto -> Slack stand-in), on a celery worker and on the Lambda
executor. The workspace default language here is Spanish (``default_language``), so answers
that fall back to it are told apart from the English ones that come from a Slack locale.
"""

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from contract import environment as env
from contract.queues import QueueName
from scripts.slack_requests import (
    app_mention,
    block_action,
    member_joined,
    next_ts,
    signed_block_action,
    signed_slash_command,
)
from scripts.stack import DevStack
from tests.e2e.test_commands import SAMPLE, _reply, dm, expected_next, fire_schedule, mention, mention_record, slash

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WELCOME_CHANNEL = "C0HOLA"
WELCOME = "¡Bienvenida a {channel}, {user}!"
LOCALES = {"U0LUCIA": "es-ES", "U0MATEO": "es-LA", "U0LIAM": "en-US", "U0JOAO": "pt-BR", "U0ANA": "pt-PT"}
PYTHON_TITLES = [item["title"] for item in SAMPLE if "python" in item["title"].lower()]


@pytest.fixture(scope="module", params=["celery", "lambda"])
def stack(request: pytest.FixtureRequest) -> Iterator[DevStack]:
    lambda_queues = [QueueName.REPLIES] if request.param == "lambda" else []
    extra = {env.DEFAULT_LANGUAGE: "es", env.WELCOME_TEXTS: json.dumps({WELCOME_CHANNEL: WELCOME})}
    with DevStack(extra_env=extra, lambda_queues=lambda_queues) as running:
        running.set_slack_locales(LOCALES)
        fire_schedule(running)  # the sample agenda
        yield running


def said(stack: DevStack, text: str, *, user: str = "U0LUCIA", channel: str = "C0READ") -> dict[str, Any]:
    """A channel message mentioning the bot, exactly as Slack writes it (``<@UCHARLABOT>`` anywhere)."""
    ts = next_ts()
    event = app_mention("", channel=channel, user=user, ts=ts)
    event["text"] = text
    assert stack.post_event(event).status == 200
    return _reply(stack, lambda r: r.get("thread_ts") == ts, repr(text))


def said_and_archived(stack: DevStack, text: str, *, user: str) -> dict[str, Any]:
    """A mention as Slack delivers it: ``app_mention`` and, for the archive, ``message``."""
    ts = next_ts()
    event = app_mention("", channel="C0READ", user=user, ts=ts)
    event["text"] = text
    assert stack.post_event(event).status == 200
    assert stack.post_event({**event, "type": "message", "channel_type": "channel"}).status == 200
    reply = _reply(stack, lambda r: r.get("thread_ts") == ts, repr(text))
    stack.wait_until_drained(QueueName.BULK)
    return reply


SPANISH_HELP = "Comandos (mencióname"
ENGLISH_HELP = "Commands (mention me"


# -- 1. punctuation and position ------------------------------------------------------------------


def test_punctuation_after_the_mention_and_around_the_word_is_ignored(stack: DevStack) -> None:
    item = expected_next()
    assert str(said(stack, "<@UCHARLABOT>: ayuda")["text"]).startswith(SPANISH_HELP)
    assert str(said(stack, "<@UCHARLABOT>, siguiente")["text"]).startswith(f"El siguiente evento es *{item['title']}*")
    assert str(said(stack, "<@UCHARLABOT> Ve!")["text"]).startswith("Por lo pronto vas bien")
    assert str(said(stack, "<@UCHARLABOT> next?", user="U0LIAM")["text"]).startswith(f"Next up: *{item['title']}*")
    found = str(said(stack, "<@UCHARLABOT> search: python", user="U0LIAM")["text"])
    assert found.startswith(f"{len(PYTHON_TITLES)} items on the agenda match “python”:")
    assert str(said(stack, "oye <@UCHARLABOT> siguiente")["text"]).startswith("El siguiente evento es *")
    assert str(said(stack, "hey <@UCHARLABOT>, help!", user="U0LIAM")["text"]).startswith(ENGLISH_HELP)


# -- 2. typos -----------------------------------------------------------------------------------


def test_a_typo_gets_a_suggestion_in_the_language_of_the_word_meant(stack: DevStack) -> None:
    assert mention(stack, "sigiente", user="U0LIAM") == "¿Quisiste decir `siguiente`?"
    assert mention(stack, "bsuca python", user="U0LIAM") == "¿Quisiste decir `busca python`?"
    assert str(slash(stack, "bsuca python", user="U0LIAM")["text"]) == "¿Quisiste decir `busca python`?"
    assert mention(stack, "serch python", user="U0LUCIA") == "Did you mean `search python`?"


# -- 3. questions and small talk -------------------------------------------------------------------


def test_questions_for_the_next_item_and_small_talk_get_a_short_answer(stack: DevStack) -> None:
    title = expected_next()["title"]
    assert mention(stack, "¿qué sigue?").startswith(f"El siguiente evento es *{title}*")
    assert mention(stack, "¿cuál es el próximo curso?").startswith(f"El siguiente evento es *{title}*")
    assert mention(stack, "what's next?", user="U0LUCIA").startswith(f"Next up: *{title}*")
    assert mention(stack, "hola") == "¡Hola! Soy charla: escribe `ayuda` para ver qué sé hacer."
    assert mention(stack, "gracias 🙏", user="U0LIAM") == "¡De nada!"
    assert mention(stack, "thanks!", user="U0LUCIA") == "You're welcome!"
    # An emoji shows no language: the person's Slack locale answers it.
    assert mention(stack, "👋", user="U0MATEO") == "¡Hola! Soy charla: escribe `ayuda` para ver qué sé hacer."
    assert mention(stack, "👋", user="U0LIAM") == "Hi! I'm charla: say `help` to see what I can do."
    assert mention(stack, "¿bailamos?", user="U0LUCIA").startswith("No te entiendo (`bailamos`).")


# -- 4. "my messages" and several people --------------------------------------------------------------


def test_my_messages_counts_the_asker_and_every_mentioned_person_is_counted(stack: DevStack) -> None:
    channel = "C0MINE"
    for user, how_many in (("U0BOB", 2), ("U0DAVE", 1)):
        for n in range(how_many):
            event = {"type": "message", "channel": channel, "channel_type": "channel", "user": user}
            stamp = next_ts()
            stack.post_event({**event, "text": f"mensaje {n}", "ts": stamp, "event_ts": stamp})
    stack.wait_until_drained(QueueName.BULK)
    assert mention(stack, "cuenta mis mensajes", user="U0BOB", channel=channel).startswith("Has escrito 3 mensajes")
    assert mention(stack, "count my messages", user="U0DAVE", channel=channel).startswith("You have written 2 ")
    both = mention(stack, "cuenta <@U0BOB> <@U0DAVE|dave>", channel=channel)
    assert both.splitlines() == ["<@U0BOB> ha escrito 2 mensajes aquí.", "<@U0DAVE> ha escrito 1 mensaje aquí."]


def test_the_first_count_includes_the_message_that_asked(stack: DevStack) -> None:
    """Slack sends the mention twice (app_mention and message); the count must not depend on which
    task runs first. Here the answer is made before the archive write, as a busy bulk queue does."""
    channel, user = "C0FIRST", f"U0NEW{uuid.uuid4().hex[:6].upper()}"
    ts = next_ts()
    event = app_mention("cuenta", channel=channel, user=user, ts=ts)
    assert stack.post_event(event).status == 200
    first = _reply(stack, lambda r: r.get("thread_ts") == ts, "the first cuenta")
    assert first["text"] == "Has escrito 1 mensaje aquí."
    # Then its archive write arrives (the message event of the same mention): counted once.
    stack.post_event({**event, "type": "message", "channel_type": "channel"})
    stack.wait_until_drained(QueueName.BULK)
    assert mention(stack, "cuenta", user=user, channel=channel) == "Has escrito 2 mensajes aquí."


# -- 5. Spanish answers are Spanish all through ----------------------------------------------------


def test_spanish_answers_name_spanish_commands_and_spanish_dates(stack: DevStack) -> None:
    mention(stack, "search python", user="U0LIAM")
    ranking = mention(stack, "estadisticas").splitlines()
    assert ranking[0] == "Comandos más usados:"
    names = [re.search(r"`([^`]+)`", line).group(1) for line in ranking[1:]]  # type: ignore[union-attr]
    assert len(names) >= 2 and set(names) <= {"ayuda", "ve", "siguiente", "busca", "cuenta", "estadísticas"}

    record = mention_record(stack, "siguiente")
    english_days = ("Mon ", "Tue ", "Wed ", "Thu ", "Fri ", "Sat ", "Sun ")
    spanish_days = ("lun ", "mar ", "mié ", "jue ", "vie ", "sáb ", "dom ")
    fallback = re.search(r"<!date\^[^|]+\|([^>]+)>", record["blocks"][1]["text"]["text"]).group(1)  # type: ignore[union-attr]
    assert fallback.startswith(spanish_days)
    assert any(day in str(record["text"]) for day in spanish_days)
    assert not any(day in str(record["text"]) or day in fallback for day in english_days)


# -- 6. long input --------------------------------------------------------------------------------


def test_long_input_is_quoted_short(stack: DevStack) -> None:
    help_answer = mention(stack, "ayuda " + "x" * 3500)
    assert help_answer.startswith("No tengo ningún comando `" + "x" * 39 + "…`.")
    assert len(help_answer) < 1200
    count_answer = mention(stack, "cuenta " + "bob" * 1000)
    assert len(count_answer) < 400 and count_answer.count("bob") <= 2 * 8
    english = mention(stack, "help " + "y" * 3500, user="U0LIAM")
    assert english.startswith("I have no command `" + "y" * 39 + "…`.") and len(english) < 1200
    assert len(mention(stack, "count " + "bob" * 1000, user="U0LIAM")) < 400


# -- 7. paging -----------------------------------------------------------------------------------------


def _buttons(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    actions = [b for b in answer.get("blocks") or [] if b["type"] == "actions"]
    return {e["text"]["text"]: e for block in actions for e in block["elements"]}


def _press(stack: DevStack, answer: dict[str, Any], label: str, *, channel: str = "C0E2E") -> dict[str, Any]:
    """Press a button of ``answer``; an ephemeral answer (posted to a response_url) is pressed as
    Slack reports those: ``is_ephemeral``, and no thread in the payload."""
    button = _buttons(answer)[label]
    key = f"page-{uuid.uuid4().hex[:8]}"
    ephemeral = "path" in answer
    payload = block_action(
        {"type": "button", "block_id": "b", "action_id": button["action_id"], "value": button["value"]},
        response_url=stack.response_url(key),
        channel=channel,
        message_ts=None if ephemeral else str(answer["ts"]),
        thread_ts=None if ephemeral else answer.get("thread_ts"),
        user="U0LUCIA",
        ephemeral=ephemeral,
    )
    assert stack.post(signed_block_action(payload, stack.signing_secret)).status == 200
    return _reply(stack, lambda r: r.get("path") == f"/response/{key}", f"the press of {label}")


def _share(stack: DevStack, answer: dict[str, Any], thread_ts: str | None) -> dict[str, Any]:
    before = {r.get("ts") for r in stack.recorded() if r.get("kind") == "chat.postMessage"}
    button = _buttons(answer)["Compartir" if "Compartir" in _buttons(answer) else "Share"]
    payload = block_action(
        {"type": "button", "block_id": "b", "action_id": button["action_id"], "value": button["value"]},
        response_url=stack.response_url(),
        channel="C0E2E",
        user="U0LUCIA",
        ephemeral=True,
    )
    assert stack.post(signed_block_action(payload, stack.signing_secret)).status == 200
    return _reply(
        stack,
        lambda r: r.get("kind") == "chat.postMessage" and r.get("thread_ts") == thread_ts and r.get("ts") not in before,
        "the shared page",
    )


def test_pages_turn_in_place_both_ways_and_can_be_shared(stack: DevStack) -> None:
    public = mention_record(stack, "busca python")
    assert set(_buttons(public)) == {"Siguientes"}  # page 1 in the thread: only forward

    second = _press(stack, public, "Siguientes")
    assert second["response_type"] == "ephemeral" and second["replace_original"] is False
    assert set(_buttons(second)) == {"Anteriores", "Compartir"}  # the last page: back, and share
    assert f"Mostrando 6-{len(PYTHON_TITLES)} de {len(PYTHON_TITLES)}." in json.dumps(
        second["blocks"], ensure_ascii=False
    )

    back = _press(stack, second, "Anteriores")
    assert back["replace_original"] is True  # the ephemeral page turns in place
    assert set(_buttons(back)) == {"Siguientes", "Compartir"}
    assert "Mostrando 1-5 de" in json.dumps(back["blocks"], ensure_ascii=False)

    shared = _share(stack, back, public["thread_ts"])  # for everyone, in the search's thread
    assert str(shared["text"]).splitlines()[:2] == str(public["text"]).splitlines()[:2]
    assert set(_buttons(shared)) == {"Siguientes"}  # public again: only forward

    private = slash(stack, "search python", user="U0LIAM")
    assert set(_buttons(private)) == {"Next", "Share"}
    turned = _press(stack, private, "Next")
    assert turned["replace_original"] is True and set(_buttons(turned)) == {"Previous", "Share"}


# -- 8. the smaller ones ---------------------------------------------------------------------------------


def test_the_smaller_defects(stack: DevStack) -> None:
    one = mention(stack, "search celery", user="U0LIAM").splitlines()
    assert one[0] == "1 item on the agenda matches “celery”:"
    assert one[1].startswith("• *Introducción a Celery con SQS* (past), Thu 12 Feb 2026")  # past items marked
    record = mention_record(stack, "busca celery")
    lines = str(record["text"]).splitlines()
    assert lines[0] == "1 evento de la agenda coincide con “celery”:"
    assert lines[1].startswith("• *Introducción a Celery con SQS* (pasado), jue 12 feb 2026")
    notes = [b for b in record["blocks"] if b["type"] == "context"]
    assert notes[-1]["elements"][0]["text"] == "Las horas se muestran en tu zona horaria."  # no "Mostrando 1-1 de 1."

    pong = mention(stack, "ve")
    assert "@" not in pong  # no host name

    assert "`estadísticas` (`stats`)" in mention(stack, "ayuda")
    assert "curso" not in mention(stack, "busca karaoke") + mention(stack, "siguiente")

    # /charla with no words: the person's language (locale, else last written, else the workspace's).
    assert str(slash(stack, "", user="U0LUCIA")["text"]).startswith(SPANISH_HELP)
    assert str(slash(stack, "", user="U0LIAM")["text"]).startswith(ENGLISH_HELP)
    assert str(slash(stack, "", user="U0ANA")["text"]).startswith(SPANISH_HELP)  # pt: the workspace default (es)
    said_and_archived(stack, "<@UCHARLABOT> help", user="U0JOAO")  # pt-BR: no catalogue; writes English
    assert str(slash(stack, "", user="U0JOAO")["text"]).startswith(ENGLISH_HELP)  # the language last written


def test_the_locale_is_read_from_slack_once_and_cached(stack: DevStack) -> None:
    before = stack.slack_state()["users_info_calls"]
    for _ in range(3):
        assert str(slash(stack, "", user="U0CACHED")["text"]).startswith(ENGLISH_HELP)  # en-US by default
    assert stack.slack_state()["users_info_calls"] == before + 1


def test_a_newcomer_is_welcomed_in_a_direct_message_not_in_the_channel(stack: DevStack) -> None:
    assert stack.post_event(member_joined(channel=WELCOME_CHANNEL, user="U0NUEVA")).status == 200
    welcome = _reply(stack, lambda r: r.get("channel") == "DU0NUEVA", "the welcome DM")
    assert welcome["text"] == f"¡Bienvenida a <#{WELCOME_CHANNEL}>, <@U0NUEVA>!"
    stack.wait_until_drained(QueueName.REPLIES)
    assert not [r for r in stack.recorded() if r.get("channel") == WELCOME_CHANNEL]


def test_signed_slash_commands_reach_the_same_reading(stack: DevStack) -> None:
    key = f"slash-{uuid.uuid4().hex[:6]}"
    request = signed_slash_command("¿qué sigue?", stack.signing_secret, response_url=stack.response_url(key))
    assert stack.post(request).status == 200
    answer = _reply(stack, lambda r: r.get("path") == f"/response/{key}", "/charla ¿qué sigue?")
    assert str(answer["text"]).startswith("El siguiente evento es *")
    assert dm(stack, "next?").startswith("Next up: *")
