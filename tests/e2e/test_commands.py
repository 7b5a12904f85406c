"""Every command as a user meets it, through real processes: signed Slack request -> uvicorn ingress
-> SQS (moto server) -> celery worker -> DynamoDB (moto) -> Slack stand-in. One stack for the module.
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

from contract.queues import QueueName
from scripts.processes import python_module, wait_until
from scripts.provision import dynamodb
from scripts.slack_requests import TEAM_ID, app_mention, direct_message, next_ts, signed_slash_command
from scripts.stack import ROOT, DevStack
from workers.store import StateStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SAMPLE = json.loads((ROOT / "workers" / "services" / "sample_agenda.json").read_text())["items"]


# -- helpers -----------------------------------------------------------------------------------


def _reply(stack: DevStack, match: Any, what: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: next((r for r in stack.recorded() if match(r)), None),
        timeout=20,
        message=lambda: f"the reply to {what}; logs:\n{stack.logs()}",
    )
    return found


def mention(stack: DevStack, text: str, *, user: str = "U0ALICE", channel: str = "C0E2E") -> str:
    """Mention the bot in a channel; the text of its answer in the mention's thread."""
    ts = next_ts()
    assert stack.post_event(app_mention(text, channel=channel, user=user, ts=ts)).status == 200
    return str(_reply(stack, lambda r: r.get("thread_ts") == ts, repr(text))["text"])


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


def test_help_and_ayuda_list_every_command(stack: DevStack) -> None:
    for answer in (mention(stack, "help"), dm(stack, "AYUDA"), str(slash(stack, "Ayúda")["text"])):
        assert answer.startswith("Commands (mention me, DM me, or use `/charla <command>`):")
        for usage in (
            "`help` (`ayuda`)",
            "`ping` (`ve`)",
            "`next` (`siguiente`)",
            "`search <text>` (`busca",
            "`count [@user]` (`cuenta",
            "`stats`",
        ):
            assert usage in answer


def test_an_unknown_word_gets_help_naming_it(stack: DevStack) -> None:
    answer = mention(stack, "bailar salsa")

    assert answer.startswith("Sorry, I don't know `bailar`.")
    assert "`next` (`siguiente`)" in answer


def test_ping_and_ve_answer_with_the_worker_and_the_queue_delay(stack: DevStack) -> None:
    for word in ("ping", "VÉ"):
        answer = mention(stack, word)
        assert answer.startswith("pong (worker worker@")
        assert "ms in the queue)" in answer


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

    fire_schedule(stack, agenda_files.serve("empty.json", {"items": []}))
    assert mention(stack, "next") == "The agenda is empty right now."
    assert dm(stack, "busca python") == "The agenda is empty right now."

    fire_schedule(stack, agenda_files.serve("past.json", {"items": [past]}))
    assert mention(stack, "siguiente") == "Nothing upcoming on the agenda."
    assert "*Taller pasado de Python*" in mention(stack, "search PASADO")

    bad_sources = {
        agenda_files.url("missing.json"): "reason=HTTP 404",
        agenda_files.serve("broken.json", '{"items": [ {"title": '): "reason=invalid JSON",
        agenda_files.serve(
            "bad-item.json", {"items": [past, {**past, "start": "next tuesday"}]}
        ): "reason=invalid agenda",
    }
    for source, reason in bad_sources.items():
        fire_schedule(stack, source)
        assert mention(stack, "next") == "Nothing upcoming on the agenda.", f"{source} replaced the agenda"
        assert reason in stack.processes["worker"].log_text()

    fire_schedule(stack)  # no source: the worker's default, the embedded sample
    assert mention(stack, "next").startswith(f"Next up: *{expected_next()['title']}*")


def test_next_and_siguiente_name_the_soonest_upcoming_item(sample_agenda: DevStack) -> None:
    item = expected_next()
    for answer in (
        mention(sample_agenda, "next"),
        dm(sample_agenda, "Siguiente"),
        str(slash(sample_agenda, "SIGUIENTE")["text"]),
    ):
        assert answer.startswith(f"Next up: *{item['title']}*, ")
        assert f"<{item['url']}|details>" in answer


def test_search_and_busca_ignore_case_and_accents_and_are_capped(sample_agenda: DevStack) -> None:
    python_titles = [item["title"] for item in SAMPLE if "python" in item["title"].lower()]
    assert len(python_titles) > 5  # the sample is built to exceed the cap

    capped = mention(sample_agenda, "busca PYTHON")
    assert capped.splitlines()[0] == f"{len(python_titles)} on the agenda match “PYTHON”:"
    assert sum(line.startswith("• ") for line in capped.splitlines()) == 5
    assert capped.splitlines()[-1] == f"…and {len(python_titles) - 5} more."

    for query in ("search ASINCRONO", "Búsca asíncrono", "buscar Asíncrono"):
        assert "*Taller: Python asíncrono sin miedo*" in dm(sample_agenda, query)

    assert mention(sample_agenda, "search karaoke") == "Nothing on the agenda matches “karaoke”."
    assert mention(sample_agenda, "busca").startswith("Tell me what to look for")


# -- archive-backed commands -------------------------------------------------------------------


def test_count_and_cuenta_count_each_message_once(stack: DevStack) -> None:
    channel = "C0COUNT"
    first, second = next_ts(), next_ts()
    stack.post_event(channel_message("hola", user="U0BOB", channel=channel, ts=first), event_id="EvBOB1")
    # Slack retries a delivery it thinks failed: same event id, same message.
    stack.post_event(channel_message("hola", user="U0BOB", channel=channel, ts=first), event_id="EvBOB1")
    stack.post_event(channel_message("¿qué tal?", user="U0BOB", channel=channel, ts=second))
    edit_ts = next_ts()
    stack.post_event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": channel,
            "ts": edit_ts,
            "event_ts": edit_ts,
            "message": {"user": "U0BOB", "text": "¿qué tal? (editado)", "ts": second},
            "previous_message": {"user": "U0BOB", "text": "¿qué tal?", "ts": second},
        }
    )
    delete_ts = next_ts()
    stack.post_event(
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": channel,
            "ts": delete_ts,
            "event_ts": delete_ts,
            "deleted_ts": first,
            "previous_message": {"user": "U0BOB", "text": "hola", "ts": first},
        }
    )
    stack.post_event(channel_message("deploy done", user="U0BOB", channel=channel, bot_id="BDEPLOY"))
    stack.wait_until_drained(QueueName.BULK)

    assert mention(stack, "count <@U0BOB>") == "<@U0BOB> has written 2 messages here."
    assert mention(stack, "cuenta <@U0BOB|bob>") == "<@U0BOB> has written 2 messages here."
    assert mention(stack, "cuenta", user="U0NEWCOMER") == "You have written 0 messages here."

    stack.post_event(channel_message("primero", user="U0CAROL", channel=channel))
    stack.wait_until_drained(QueueName.BULK)
    assert str(slash(stack, "Cuénta", user="U0CAROL")["text"]) == "You have written 1 message here."
    assert mention(stack, "count <@U0CAROL>", user="U0BOB") == "<@U0CAROL> has written 1 message here."


def test_stats_counts_each_request_once(stack: DevStack) -> None:
    store = store_of(stack)
    before = store.command_counts(team_id=TEAM_ID).get("stats", 0)
    ts = next_ts()
    for _ in range(2):  # one mention, delivered twice by Slack
        stack.post_event(app_mention("estadísticas", ts=ts), event_id="EvSTATSTWICE")
    _reply(stack, lambda r: r.get("thread_ts") == ts, "the redelivered stats")
    stack.wait_until_drained(QueueName.REPLIES)
    assert store.command_counts(team_id=TEAM_ID)["stats"] == before + 1

    answer = mention(stack, "stats").splitlines()

    counts = store.command_counts(team_id=TEAM_ID)
    top = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:5]
    assert answer[0] == "Most used commands:"
    assert answer[1:] == [
        f"{rank}. `{name}`: {uses} use{'s' if uses != 1 else ''}" for rank, (name, uses) in enumerate(top, 1)
    ]


# -- slash command delivery ----------------------------------------------------------------------


def test_a_slash_command_answers_ephemerally_or_in_the_channel_once_its_url_expired(stack: DevStack) -> None:
    answer = slash(stack, "ve")
    assert answer["response_type"] == "ephemeral"
    assert str(answer["text"]).startswith("pong")

    expired = stack.response_url(f"expired-{uuid.uuid4().hex[:6]}")
    request = signed_slash_command("ayuda", stack.signing_secret, response_url=expired, channel="C0EXPIRED")
    assert stack.post(request).status == 200
    fallback = _reply(stack, lambda r: r.get("channel") == "C0EXPIRED", "the expired slash command")
    assert fallback["kind"] == "chat.postMessage"
    assert str(fallback["text"]).startswith("Commands")
