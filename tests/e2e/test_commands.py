"""Every command as a user meets it, through real processes: signed Slack request -> uvicorn ingress
-> SQS (moto server) -> celery worker -> DynamoDB (moto) -> Slack stand-in. One stack per executor
(a welcome is configured for one channel), shared by every test here to keep CI time small: every
test runs once with replies on the celery worker and once on the Lambda executor (through
``scripts.sqs_event_source``, the local event source mapping).
"""

import functools
import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from contract import environment as env
from contract.queues import QueueName
from scripts.processes import python_module, wait_until
from scripts.provision import dynamodb
from scripts.slack_requests import (
    TEAM_ID,
    app_mention,
    block_action,
    direct_message,
    member_joined,
    next_ts,
    signed_block_action,
    signed_slash_command,
)
from scripts.stack import ROOT, DevStack
from workers.store import StateStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SAMPLE = json.loads((ROOT / "workers" / "services" / "sample_agenda.json").read_text())["items"]
WELCOME_CHANNEL = "C0WELCOME"
WELCOME = "¡Bienvenida, {user}! Escribe `@charla ayuda` para ver qué sé hacer."


@pytest.fixture(scope="module", params=["celery", "lambda"])
def stack(request: pytest.FixtureRequest) -> Iterator[DevStack]:
    """The whole stack, a welcome configured for ``WELCOME_CHANNEL`` only; the replies queue runs on
    the executor named by the parameter (a celery worker, or the Lambda executor), bulk on a worker."""
    lambda_queues = [QueueName.REPLIES] if request.param == "lambda" else []
    with DevStack(
        extra_env={env.WELCOME_TEXTS: json.dumps({WELCOME_CHANNEL: WELCOME})}, lambda_queues=lambda_queues
    ) as running:
        yield running


# -- helpers -----------------------------------------------------------------------------------


def worker_prefix(stack: DevStack) -> str:
    """How ``ping`` names whoever ran it on this stack."""
    return "lambda:" if QueueName.REPLIES in stack.lambda_queues else "worker,"  # no host name


def _reply(stack: DevStack, match: Any, what: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: next((r for r in stack.recorded() if match(r)), None),
        timeout=20,
        message=lambda: f"the reply to {what}; logs:\n{stack.logs()}",
    )
    return found


def mention_record(stack: DevStack, text: str, *, user: str = "U0ALICE", channel: str = "C0E2E") -> dict[str, Any]:
    """Mention the bot in a channel; its answer (text, blocks...) as posted in the mention's thread."""
    ts = next_ts()
    assert stack.post_event(app_mention(text, channel=channel, user=user, ts=ts)).status == 200
    return _reply(stack, lambda r: r.get("thread_ts") == ts, repr(text))


def mention(stack: DevStack, text: str, *, user: str = "U0ALICE", channel: str = "C0E2E") -> str:
    """Mention the bot in a channel; the text of its answer in the mention's thread."""
    return str(mention_record(stack, text, user=user, channel=channel)["text"])


def dm(stack: DevStack, text: str, *, user: str = "U0ALICE") -> str:
    """Direct-message the bot; the text of its answer in the DM."""
    channel = f"D0{uuid.uuid4().hex[:8].upper()}"
    assert stack.post_event(direct_message(text, channel=channel, user=user)).status == 200
    reply = _reply(stack, lambda r: r.get("channel") == channel, repr(text))
    assert reply["thread_ts"] is None
    return str(reply["text"])


def slash(stack: DevStack, text: str, *, user: str = "U0ALICE") -> dict[str, Any]:
    """``/charla <text>``; the answer posted to its response_url."""
    key = f"e2e-{uuid.uuid4().hex[:8]}"
    request = signed_slash_command(text, stack.signing_secret, response_url=stack.response_url(key), user=user)
    assert stack.post(request).status == 200
    return _reply(stack, lambda r: r.get("path") == f"/response/{key}", f"/charla {text}")


def channel_message(text: str, *, user: str, channel: str, ts: str | None = None, **extra: Any) -> dict[str, Any]:
    stamp = ts or next_ts()
    event = {"type": "message", "channel": channel, "channel_type": "channel", "user": user, "text": text}
    return {**event, "ts": stamp, "event_ts": stamp, **extra}


def store_of(stack: DevStack) -> StateStore:
    assert stack.moto_url
    return StateStore(dynamodb(stack.moto_url), stack.env["CHARLA_TABLE_STATE"])


def fire_schedule(stack: DevStack, source: str | None = None) -> None:
    """What EventBridge does in AWS: invoke the Lambda handler with a scheduled event; then wait
    until the worker has run the refresh it queued."""
    argv = python_module("scripts.scheduler", "--once", *(["--source", source] if source else []))
    subprocess.run(argv, env=stack.env, cwd=ROOT, check=True, capture_output=True, timeout=60)
    stack.wait_until_drained(QueueName.BULK)


def expected_next() -> dict[str, Any]:
    now = datetime.now(UTC)
    return min(
        (item for item in SAMPLE if datetime.fromisoformat(item["start"]) > now),
        key=lambda item: datetime.fromisoformat(item["start"]),
    )


class AgendaFiles:
    """A real HTTP server (127.0.0.1) serving agenda documents written by the tests."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(_QuietFiles, directory=str(directory))
        self.directory = directory
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, name: str, content: str | dict[str, Any]) -> str:
        text = content if isinstance(content, str) else json.dumps(content)
        (self.directory / name).write_text(text, encoding="utf-8")
        return self.url(name)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def agenda_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgendaFiles]:
    files = AgendaFiles(tmp_path_factory.mktemp("agenda"))
    yield files
    files.close()


@pytest.fixture
def sample_agenda(stack: DevStack) -> DevStack:
    """The stack with the embedded sample agenda freshly loaded (by the scheduled path)."""
    store = store_of(stack)
    before = store.agenda_version()
    fire_schedule(stack)
    assert store.agenda_version() != before
    return stack


# -- help, unknown words, ping ----------------------------------------------------------------

ENGLISH_HELP = "Commands (mention me, DM me, or use `/charla <command>`):"
SPANISH_HELP = "Comandos (mencióname, escríbeme por mensaje directo o usa `/charla <comando>`):"


def test_help_lists_every_command_in_the_language_asked(stack: DevStack) -> None:
    english = mention(stack, "help")
    assert english.startswith(ENGLISH_HELP)
    for usage in (
        "`help [command]` (`ayuda [comando]`)",
        "`ping` (`ve`)",
        "`next` (`siguiente`)",
        "`search <text>` (`busca",
    ):
        assert usage in english
    assert "`count [@user]` (`cuenta" in english and "`stats` (`estadísticas`)" in english
    assert english.endswith("`help <command>` explains one, with an example.")

    for spanish in (dm(stack, "AYUDA"), str(slash(stack, "Ayúda")["text"])):
        assert spanish.startswith(SPANISH_HELP)
        for usage in (
            "`ayuda [comando]` (`help [command]`)",
            "`ve` (`ping`)",
            "`siguiente` (`next`)",
            "`busca <texto>`",
        ):
            assert usage in spanish
        assert "`cuenta [@usuario]`" in spanish and "`estadísticas` (`stats`)" in spanish


def test_help_ping_explains_one_command_with_an_example(stack: DevStack) -> None:
    assert mention(stack, "help ping") == (
        "`ping` (`ve`): answers with the worker that ran it and how long your request waited in the queue.\n"
        "Example: `ping`"
    )
    assert dm(stack, "ayuda busca").startswith("`busca <texto>` (`search <text>`): busca eventos cuyo título")
    assert dm(stack, "ayuda busca").endswith("Ejemplo: `busca python`")
    assert mention(stack, "help dance").startswith("I have no command `dance`. " + ENGLISH_HELP)


def test_an_unknown_word_gets_help_naming_it_in_the_language_it_looks_like(stack: DevStack) -> None:
    answer = mention(stack, "dance salsa")
    assert answer.startswith("Sorry, I don't know `dance`. Try one of these:")
    assert "`next` (`siguiente`)" in answer

    spanish = mention(stack, "bailamos, ¿vale?")
    assert spanish.startswith("No te entiendo (`bailamos`). Prueba uno de estos:")
    assert "`siguiente` (`next`)" in spanish


def test_ping_and_ve_answer_with_the_worker_and_the_queue_delay(stack: DevStack) -> None:
    english = mention(stack, "ping")
    assert english.startswith(f"pong (worker {worker_prefix(stack)}") and english.endswith("ms in the queue)")
    spanish = mention(stack, "VÉ")
    assert spanish.startswith(f"Por lo pronto vas bien (worker {worker_prefix(stack)}")
    assert spanish.endswith("ms en la cola)")


# -- the agenda ---------------------------------------------------------------------------------


def test_empty_agenda_nothing_upcoming_and_bad_sources_keep_the_old_agenda(
    stack: DevStack, agenda_files: AgendaFiles
) -> None:
    past = {
        "title": "Taller pasado de Python",
        "start": "2020-03-01T18:00:00+00:00",
        "end": "2020-03-01T20:00:00+00:00",
        "url": "https://charla.example/agenda/pasado",
    }
    if store_of(stack).agenda_version() is None:  # first in the module: nothing loaded yet
        assert mention(stack, "next") == "The agenda is empty right now."
        assert dm(stack, "busca python") == "La agenda está vacía por ahora."

    fire_schedule(stack, agenda_files.serve("past.json", {"items": [past]}))
    assert mention(stack, "siguiente") == "No hay ningún evento próximo en la agenda."
    assert mention(stack, "next") == "Nothing upcoming on the agenda."
    assert "*Taller pasado de Python*" in mention(stack, "search PASADO")

    bad_sources = {
        agenda_files.url("missing.json"): "reason=HTTP 404",
        agenda_files.serve("broken.json", '{"items": [ {"title": '): "reason=invalid JSON",
        agenda_files.serve("empty.json", {"items": []}): "reason=the document has no items",
        agenda_files.serve(
            "bad-items.json", {"items": [past, {**past, "start": "next tuesday"}, {**past, "url": "nope"}]}
        ): "reason=invalid agenda (2 of 3 items invalid)",
    }
    for source, reason in bad_sources.items():
        fire_schedule(stack, source)
        assert mention(stack, "next") == "Nothing upcoming on the agenda.", f"{source} replaced the agenda"
        assert reason in stack.processes["worker"].log_text()

    fire_schedule(stack)  # no source: the worker's default, the embedded sample
    assert mention(stack, "next").startswith(f"Next up: *{expected_next()['title']}*")


def test_next_and_siguiente_name_the_soonest_upcoming_item_with_slack_dates(sample_agenda: DevStack) -> None:
    item = expected_next()
    start = int(datetime.fromisoformat(item["start"]).timestamp())
    for record, prefix in (
        (mention_record(sample_agenda, "next"), "Next up: "),
        (mention_record(sample_agenda, "Siguiente"), "El siguiente evento es "),
    ):
        assert str(record["text"]).startswith(f"{prefix}*{item['title']}*, ")
        sections = [b["text"]["text"] for b in record["blocks"] if b["type"] == "section"]
        assert sections[1].startswith(
            f"*<{item['url']}|{item['title']}>*\n<!date^{start}^{{date_short_pretty}} {{time}}|"
        )
    slashed = slash(sample_agenda, "SIGUIENTE")
    assert str(slashed["text"]).startswith(f"El siguiente evento es *{item['title']}*")
    assert f"<{item['url']}|detalles>" in str(slashed["text"])
    assert slashed["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Las horas se muestran en tu zona horaria."}],
    }


def test_search_and_busca_ignore_case_and_accents_and_page_with_a_more_button(sample_agenda: DevStack) -> None:
    python_titles = [item["title"] for item in SAMPLE if "python" in item["title"].lower()]
    assert len(python_titles) > 5  # the sample is built to exceed one page

    capped = mention_record(sample_agenda, "busca PYTHON")
    lines = str(capped["text"]).splitlines()
    assert lines[0] == f"{len(python_titles)} eventos de la agenda coinciden con “PYTHON”:"
    assert sum(line.startswith("• ") for line in lines) == 5
    assert lines[-1] == f"…y {len(python_titles) - 5} más."
    (button,) = next(b for b in capped["blocks"] if b["type"] == "actions")["elements"]
    assert button["text"]["text"] == "Siguientes"
    note = f"Mostrando 1-5 de {len(python_titles)}. Las horas se muestran en tu zona horaria."
    assert {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]} in capped["blocks"]

    for query in ("search ASINCRONO", "Búsca asíncrono", "buscar Asíncrono"):
        assert "*Taller: Python asíncrono sin miedo*" in dm(sample_agenda, query)

    assert mention(sample_agenda, "search karaoke") == "Nothing on the agenda matches “karaoke”."
    assert mention(sample_agenda, "busca karaoke") == "Lo siento: no hay ningún evento con “karaoke”."
    assert mention(sample_agenda, "busca") == "¿Qué busco? Escribe `busca <texto>`, por ejemplo `busca python`."
    assert mention(sample_agenda, "search") == "Tell me what to look for: `search <text>`, e.g. `search python`."


def _press(stack: DevStack, answer: dict[str, Any], *, trigger_id: str, action_ts: str) -> str:
    """Press the answer's first button as Slack would; the response_url key the page goes to."""
    (button,) = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"]
    key = f"press-{uuid.uuid4().hex[:8]}"
    payload = block_action(
        {"type": "button", "block_id": "b1", "action_id": button["action_id"], "value": button["value"]},
        response_url=stack.response_url(key),
        channel=str(answer["channel"]),
        message_ts=str(answer["ts"]),
        thread_ts=answer.get("thread_ts"),
        trigger_id=trigger_id,
    )
    payload["actions"][0]["action_ts"] = action_ts
    for _ in range(2):  # Slack re-sends a press it thinks failed: the page is posted once
        assert stack.post(signed_block_action(payload, stack.signing_secret)).status == 200
    return key


def test_pressing_more_posts_the_next_page_through_the_response_url_once(sample_agenda: DevStack) -> None:
    python_titles = [item["title"] for item in SAMPLE if "python" in item["title"].lower()]
    first = mention_record(sample_agenda, "search python")
    shown = [title for title in python_titles if f"*{title}*" in str(first["text"])]
    assert len(shown) == 5

    key = _press(sample_agenda, first, trigger_id="T.MORE.1", action_ts=next_ts())
    page = _reply(sample_agenda, lambda r: r.get("path") == f"/response/{key}", "the next page")
    rest = sorted(set(python_titles) - set(shown))
    assert sorted(t for t in python_titles if f"*{t}*" in str(page["text"])) == rest
    assert page["response_type"] == "ephemeral" and page["replace_original"] is False
    note = f"Showing 6-7 of {len(python_titles)}. Times are shown in your time zone."
    assert {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]} in page["blocks"]
    (buttons,) = [b["elements"] for b in page["blocks"] if b["type"] == "actions"]
    assert [b["text"]["text"] for b in buttons] == ["Previous", "Share"]  # the last page has no "Next"
    sample_agenda.wait_until_drained(QueueName.REPLIES)
    assert len([r for r in sample_agenda.recorded() if r.get("path") == f"/response/{key}"]) == 1


def test_a_forged_or_malformed_press_is_refused(stack: DevStack) -> None:
    payload = block_action(
        {"type": "button", "action_id": "charla_search_more", "value": '{"q": "x", "o": 5, "l": "en"}'},
        response_url=stack.response_url(),
    )
    assert stack.post(signed_block_action(payload, "not-the-signing-secret")).status == 401
    payload["actions"][0]["value"] = "not json"
    assert stack.post(signed_block_action(payload, stack.signing_secret)).status == 400


# -- archive-backed commands -------------------------------------------------------------------


def _edit(channel: str, ts: str, text: str, *, user: str, edit_ts: str | None = None) -> dict[str, Any]:
    stamp = edit_ts or next_ts()
    return {
        "type": "message",
        "subtype": "message_changed",
        "channel": channel,
        "ts": stamp,
        "event_ts": stamp,
        "message": {"user": user, "text": text, "ts": ts},
        "previous_message": {"user": user, "text": "…", "ts": ts},
    }


def _deletion(channel: str, ts: str, *, user: str) -> dict[str, Any]:
    stamp = next_ts()
    return {
        "type": "message",
        "subtype": "message_deleted",
        "channel": channel,
        "ts": stamp,
        "event_ts": stamp,
        "deleted_ts": ts,
        "previous_message": {"user": user, "text": "…", "ts": ts},
    }


def test_count_and_cuenta_count_each_message_once(stack: DevStack) -> None:
    channel = "C0COUNT"
    first, second = next_ts(), next_ts()
    stack.post_event(channel_message("hola", user="U0BOB", channel=channel, ts=first), event_id="EvBOB1")
    # Slack retries a delivery it thinks failed: same event id, same message.
    stack.post_event(channel_message("hola", user="U0BOB", channel=channel, ts=first), event_id="EvBOB1")
    stack.post_event(channel_message("¿qué tal?", user="U0BOB", channel=channel, ts=second))
    stack.post_event(_edit(channel, second, "¿qué tal? (editado)", user="U0BOB"))
    stack.post_event(_deletion(channel, first, user="U0BOB"))
    stack.post_event(channel_message("deploy done", user="U0BOB", channel=channel, bot_id="BDEPLOY"))
    stack.wait_until_drained(QueueName.BULK)

    assert mention(stack, "count <@U0BOB>") == "<@U0BOB> has written 2 messages here."
    assert mention(stack, "cuenta <@U0BOB|bob>") == "<@U0BOB> ha escrito 2 mensajes aquí."
    # The mention that asks is a message too (counted even before its own archive write lands).
    assert mention(stack, "cuenta", user="U0NEWCOMER") == "Has escrito 1 mensaje aquí."
    assert mention(stack, "count", user="U0NEWCOMER") == "You have written 1 message here."

    stack.post_event(channel_message("primero", user="U0CAROL", channel=channel))
    stack.wait_until_drained(QueueName.BULK)
    assert str(slash(stack, "Cuénta", user="U0CAROL")["text"]) == "Has escrito 1 mensaje aquí."
    assert mention(stack, "count <@U0CAROL>", user="U0BOB") == "<@U0CAROL> has written 1 message here."


def test_count_with_a_name_that_is_not_a_mention_says_how_it_was_read(stack: DevStack) -> None:
    assert mention(stack, "cuenta bob") == (
        "Entendí `bob` como texto, no como una mención, así que no sé quién es. "
        "Menciona a la persona: `cuenta @bob` (elígela de la lista que Slack muestra al escribir)."
    )
    assert mention(stack, "count @bob").startswith("I read `bob` as plain text, not as a mention")


def test_a_deleted_message_loses_its_text_and_edits_but_keeps_its_count(stack: DevStack) -> None:
    channel, store = "C0FORGET", store_of(stack)
    ts = next_ts()
    stack.post_event(channel_message("mi teléfono es 555-0100", user="U0DANA", channel=channel, ts=ts))
    stack.post_event(_edit(channel, ts, "mi teléfono es 555-0199", user="U0DANA"))
    stack.wait_until_drained(QueueName.BULK)
    assert store.archived_message(team_id=TEAM_ID, channel=channel, ts=ts)["text"] == "mi teléfono es 555-0199"

    stack.post_event(_deletion(channel, ts, user="U0DANA"))
    stack.wait_until_drained(QueueName.BULK)
    record = store.archived_message(team_id=TEAM_ID, channel=channel, ts=ts)
    assert record is not None and "text" not in record
    assert record["user"] == "U0DANA" and record["posted_at"] == ts  # who and when stay for the counters
    assert "555" not in json.dumps(store.archived(team_id=TEAM_ID, channel=channel))
    assert mention(stack, "count <@U0DANA>") == "<@U0DANA> has written 1 message here."

    # Out of order: the deletion arrives before the message itself; the text never comes back.
    late = next_ts()
    stack.post_event(_deletion(channel, late, user="U0DANA"))
    stack.wait_until_drained(QueueName.BULK)
    stack.post_event(channel_message("borrado antes de llegar", user="U0DANA", channel=channel, ts=late))
    stack.post_event(_edit(channel, late, "editado tras borrar", user="U0DANA"))
    stack.wait_until_drained(QueueName.BULK)
    record = store.archived_message(team_id=TEAM_ID, channel=channel, ts=late)
    assert record is not None and "text" not in record
    assert mention(stack, "count <@U0DANA>") == "<@U0DANA> has written 2 messages here."


def test_an_edit_replaces_the_stored_text_and_an_older_edit_never_wins(stack: DevStack) -> None:
    channel, store = "C0EDITS", store_of(stack)
    ts, older, newer = next_ts(), next_ts(), next_ts()
    stack.post_event(channel_message("primera versión", user="U0EVA", channel=channel, ts=ts))
    stack.post_event(_edit(channel, ts, "tercera versión", user="U0EVA", edit_ts=newer))
    stack.wait_until_drained(QueueName.BULK)
    stack.post_event(_edit(channel, ts, "segunda versión", user="U0EVA", edit_ts=older))  # arrives late
    stack.wait_until_drained(QueueName.BULK)

    (record,) = [r for r in store.archived(team_id=TEAM_ID, channel=channel) if r["sk"] == f"MSG#{ts}"]
    assert record["text"] == "tercera versión"
    assert record["edited_at"] == newer
    assert mention(stack, "count <@U0EVA>") == "<@U0EVA> has written 1 message here."


def test_stats_counts_each_request_once(stack: DevStack) -> None:
    store = store_of(stack)
    before = store.command_counts(team_id=TEAM_ID).get("stats", 0)
    ts = next_ts()
    for _ in range(2):  # one mention, delivered twice by Slack
        stack.post_event(app_mention("estadísticas", ts=ts), event_id="EvSTATSTWICE")
    spanish = _reply(stack, lambda r: r.get("thread_ts") == ts, "the redelivered stats")
    assert str(spanish["text"]).startswith("Comandos más usados:\n1. `")
    stack.wait_until_drained(QueueName.REPLIES)
    assert store.command_counts(team_id=TEAM_ID)["stats"] == before + 1

    answer = mention(stack, "stats").splitlines()

    counts = store.command_counts(team_id=TEAM_ID)
    counts["stats"] -= 1  # the answer was made before its own use was counted (with its post)
    top = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:5]
    assert answer[0] == "Most used commands:"
    assert answer[1:] == [
        f"{rank}. `{name}`: {uses} use{'s' if uses != 1 else ''}" for rank, (name, uses) in enumerate(top, 1)
    ]


# -- a whole conversation in each language --------------------------------------------------------


def test_a_conversation_in_spanish(sample_agenda: DevStack) -> None:
    stack = sample_agenda
    answers = {
        word: mention(stack, word, user="U0LUCIA")
        for word in ("ayuda", "ve", "siguiente", "busca taller", "cuenta", "estadisticas", "ayuda cuenta", "busca")
    }
    assert answers["ayuda"].startswith(SPANISH_HELP)
    assert answers["ve"].startswith("Por lo pronto vas bien")
    assert answers["siguiente"].startswith("El siguiente evento es *")
    assert answers["busca taller"].startswith("1 evento de la agenda coincide con “taller”:")
    assert answers["cuenta"] == "Has escrito 1 mensaje aquí."
    assert answers["estadisticas"].startswith("Comandos más usados:")
    assert answers["ayuda cuenta"].endswith("Ejemplo: `cuenta @alicia`")
    assert answers["busca"].startswith("¿Qué busco?")


def test_a_conversation_in_english(sample_agenda: DevStack) -> None:
    stack = sample_agenda
    answers = {
        word: mention(stack, word, user="U0LIAM")
        for word in ("help", "ping", "next", "search taller", "count", "stats", "help count", "search")
    }
    assert answers["help"].startswith(ENGLISH_HELP)
    assert answers["ping"].startswith("pong (worker ")
    assert answers["next"].startswith("Next up: *")
    assert answers["search taller"].startswith("1 item on the agenda matches “taller”:")
    assert answers["count"] == "You have written 1 message here."
    assert answers["stats"].startswith("Most used commands:")
    assert answers["help count"].endswith("Example: `count @alice`")
    assert answers["search"].startswith("Tell me what to look for")


# -- welcome ---------------------------------------------------------------------------------------


def _forget_reply_ledger(stack: DevStack, reply_prefix: str) -> None:
    """Delete the effect records of answers whose id starts with ``reply_prefix`` (as their TTL would)."""
    assert stack.moto_url
    client, table = dynamodb(stack.moto_url), stack.env["CHARLA_TABLE_STATE"]
    items = client.scan(
        TableName=table,
        FilterExpression="contains(pk, :id) AND NOT begins_with(pk, :marker)",
        ExpressionAttributeValues={":id": {"S": reply_prefix}, ":marker": {"S": "WELCOME#"}},
    )["Items"]
    assert items, "no ledger entry to forget"
    for item in items:
        client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def test_a_newcomer_is_welcomed_once_where_a_welcome_is_configured(stack: DevStack) -> None:
    assert stack.post_event(member_joined(channel=WELCOME_CHANNEL, user="U0NEWBIE")).status == 200
    welcome = _reply(stack, lambda r: r.get("channel") == "DU0NEWBIE", "the welcome, in a DM")
    assert welcome["text"] == WELCOME.replace("{user}", "<@U0NEWBIE>")

    # Weeks later the effect record has expired (its TTL): the welcome marker remains.
    _forget_reply_ledger(stack, "welcome:")
    # Leaves and joins again (a new event), joins a channel with no welcome; the bot itself joins.
    assert stack.post_event(member_joined(channel=WELCOME_CHANNEL, user="U0NEWBIE")).status == 200
    assert stack.post_event(member_joined(channel="C0QUIET", user="U0NEWBIE")).status == 200
    assert stack.post_event(member_joined(channel=WELCOME_CHANNEL, user="UCHARLABOT")).status == 200
    stack.wait_until_drained(QueueName.REPLIES)
    assert [r for r in stack.recorded() if r.get("channel") in (WELCOME_CHANNEL, "C0QUIET", "DU0NEWBIE")] == [welcome]


# -- slash command delivery ----------------------------------------------------------------------


def test_a_slash_command_answers_ephemerally_or_in_the_channel_once_its_url_expired(stack: DevStack) -> None:
    answer = slash(stack, "ve")
    assert answer["response_type"] == "ephemeral"
    assert str(answer["text"]).startswith("Por lo pronto vas bien")

    expired = stack.response_url(f"expired-{uuid.uuid4().hex[:6]}")
    request = signed_slash_command("ayuda", stack.signing_secret, response_url=expired, channel="C0EXPIRED")
    assert stack.post(request).status == 200
    fallback = _reply(stack, lambda r: r.get("channel") == "C0EXPIRED", "the expired slash command")
    assert fallback["kind"] == "chat.postMessage"
    assert str(fallback["text"]).startswith("Comandos")


# -- make chat -----------------------------------------------------------------------------------


def test_the_chat_labels_where_answers_went_renders_blocks_and_presses_more(sample_agenda: DevStack) -> None:
    from scripts.console import Conversation, render

    chat = Conversation(sample_agenda, user="U0CHAT", dm_channel="D0CHAT")
    (first,) = chat.send("@charla busca python")
    assert first["where"] == "in the thread"
    lines = render(first)
    assert lines[0] == "7 eventos de la agenda coinciden con “python”:"
    assert "  Mostrando 1-5 de 7. Las horas se muestran en tu zona horaria." in lines
    assert "  [ Siguientes ]   (/press <label>)" in lines
    assert not any("<!date^" in line or "<https://" in line for line in lines)  # dates and links made readable

    (page,) = chat.send("/press more")
    assert page["where"] == "ephemeral, only you see it"
    assert "  Mostrando 6-7 de 7. Las horas se muestran en tu zona horaria." in render(page)
    assert "  [ Anteriores ]  [ Compartir ]   (/press <label>)" in render(page)

    (back,) = chat.send("/press anteriores")
    assert back["where"] == "ephemeral, in place of the page you pressed"
    (shared,) = chat.send("/press compartir")
    assert shared["where"] == "in the thread" and render(shared)[0] == lines[0]

    (home,) = chat.send("/home")
    assert home["where"] == "the Home tab (published now)"
    assert render(home)[0] == "CHARLA" and "  " + "-" * 40 in render(home)
    assert chat.send("/home")[0]["where"] == "the Home tab (unchanged, not published again)"

    (dm_answer,) = chat.send("/dm count @bob")
    assert dm_answer["where"] == "in the DM"
    assert render(dm_answer)[0].startswith("@bob has written ")


def test_the_chat_presses_only_the_last_answers_button_and_sends_no_typing_mistake(sample_agenda: DevStack) -> None:
    from scripts.console import Conversation

    chat = Conversation(sample_agenda, user="U0CHAT2", dm_channel="D0CHAT2")
    chat.send("@charla busca python")  # an answer with a More button
    chat.send("ping")  # a later answer without one
    before = len(sample_agenda.recorded())

    (stale,) = chat.send("/press more")
    (empty_dm,) = chat.send("/dm")
    (unknown,) = chat.send("/dance now")

    assert stale["where"] == "error" and "no button like that" in stale["text"]
    assert empty_dm["where"] == "not sent" and "/dm <text> needs some text" in empty_dm["text"]
    assert unknown["where"] == "not sent" and "/dance is not a console command" in unknown["text"]
    assert len(sample_agenda.recorded()) == before  # nothing reached the bot or Slack
