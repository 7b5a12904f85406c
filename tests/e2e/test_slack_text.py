"""Text as Slack sends it, through the whole local stack (``make chat``'s own Conversation -> uvicorn
ingress -> SQS on moto -> celery worker -> Slack stand-in): the slash command's text follows the
shipped manifest's ``should_escape``, messages arrive entity-escaped, and the bot reads each once.
"""

from collections.abc import Iterator

import pytest

from scripts.console import Conversation, render
from scripts.stack import DevStack, http
from tests.e2e.test_commands import AgendaFiles, fire_schedule

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Q_AND_A = {
    "title": "Q&A <abierto> con el equipo",
    "start": "2031-05-06T17:00:00+00:00",
    "end": "2031-05-06T18:00:00+00:00",
    "url": "https://charla.example/agenda/q-and-a",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    files = AgendaFiles(tmp_path_factory.mktemp("agenda"))
    try:
        with DevStack() as running:
            fire_schedule(running, files.serve("q-and-a.json", {"items": [Q_AND_A]}))
            yield running
    finally:
        files.close()


def unescaped_posts(stack: DevStack) -> int:
    return int(http("GET", stack.slack_url + "/_recorded").json()["unescaped_posts"])


def test_a_slash_command_counts_the_person_picked_with_at(stack: DevStack) -> None:
    chat = Conversation(stack, user="U0ALICE", channel="C0SLASHTEXT")
    chat.send("/say hola a todos")  # bob has not written here; alice has
    (answer,) = chat.send("/charla cuenta @bob")
    assert answer["where"] == "ephemeral, only you see it"
    # With should_escape false Slack sends the plain "@bob" and the bot could only explain mentions.
    assert render(answer)[0] == "@bob ha escrito 0 mensajes aquí."


def test_a_search_for_q_and_a_finds_it_and_echoes_it_once(stack: DevStack) -> None:
    chat = Conversation(stack, user="U0ALICE", channel="C0SEARCHTEXT")
    (answer,) = chat.send("search Q&A <abierto>")
    header = str(answer["blocks"][0]["text"]["text"])
    assert header == "1 item on the agenda matches “Q&amp;A &lt;abierto&gt;”:"  # Slack shows: Q&A <abierto>
    assert render(answer)[0] == "1 item on the agenda matches “Q&A <abierto>”:"
    assert "Q&amp;A &lt;abierto&gt; con el equipo" in str(answer["blocks"])
    (slashed,) = chat.send("/charla busca Q&A")
    assert render(slashed)[0] == "1 evento de la agenda coincide con “Q&A”:"
    assert unescaped_posts(stack) == 0
