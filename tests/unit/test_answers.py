"""The bot's answers: what a user reads, in the language they asked in."""

import json
from datetime import UTC, datetime

from contract.commands import SEARCH_MORE_ACTION, SEARCH_PREVIOUS_ACTION, language_of, read_more_button_value
from workers.services import answers
from workers.services.agenda import AgendaItem, next_item, search

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _item(title: str, start: str, end: str | None = None) -> AgendaItem:
    return AgendaItem.model_validate(
        {"title": title, "start": start, "end": end or start, "url": "https://charla.example/x"}
    )


def test_the_language_is_the_command_words() -> None:
    for word in ("ayuda", "VE", "Siguiente", "búsca", "cuenta", "estadísticas"):
        assert language_of(word) == "es", word
    for word in ("help", "PING", "next", "search", "count", "stats", "dance", ""):
        assert language_of(word) == "en", word
    assert language_of("hola,", "¿qué tal?") == "es"  # unknown, but plainly Spanish


def test_next_is_the_soonest_upcoming_not_the_first_listed() -> None:
    items = [
        _item("Later", "2031-05-01T10:00:00Z"),
        _item("Past", "2020-01-01T10:00:00Z"),
        _item("Soon", "2030-02-01T10:00:00Z"),
    ]
    assert next_item(items, NOW) == items[2]
    assert next_item(items[1:2], NOW) is None


def test_next_answers_for_empty_nothing_upcoming_and_an_item() -> None:
    assert answers.next_event(None, agenda_empty=True).text == "The agenda is empty right now."
    assert answers.next_event(None, agenda_empty=False, lang="es").text == "No hay ningún evento próximo en la agenda."
    item = _item("Taller <b>", "2030-02-01T10:00:00+01:00", "2030-02-01T12:00:00+01:00")
    answer = answers.next_event(item, agenda_empty=False)
    assert answer.text == (
        "Next up: *Taller &lt;b&gt;*, Fri 01 Feb 2030, 10:00-12:00 UTC+01:00 <https://charla.example/x|details>"
    )
    assert answers.next_event(item, agenda_empty=False, lang="es").text.startswith("El siguiente evento es *Taller")
    assert answer.blocks is not None
    assert answer.blocks[1]["text"]["text"] == (
        "*<https://charla.example/x|Taller &lt;b&gt;>*\n"
        "<!date^1896166800^{date_short_pretty} {time}|Fri 01 Feb 2030, 10:00>-"
        "<!date^1896174000^{time}|12:00 UTC+01:00>"
    )
    spanish = answers.next_event(item, agenda_empty=False, lang="es")
    assert "vie 01 feb 2030, 10:00-12:00 UTC+01:00 <https://charla.example/x|detalles>" in spanish.text
    assert spanish.blocks is not None and "|vie 01 feb 2030, 10:00>" in spanish.blocks[1]["text"]["text"]


def test_search_ignores_case_and_accents_and_puts_upcoming_first() -> None:
    items = [_item("Python pasado", "2020-01-01T10:00:00Z"), _item("Taller PYTHON asíncrono", "2030-03-01T10:00:00Z")]
    assert search(items, "ASINCRONO", NOW) == [items[1]]
    assert search(items, "pýthon", NOW) == [items[1], items[0]]
    assert search(items, "ruby", NOW) == []


def test_search_pages_with_next_previous_and_share_buttons() -> None:
    matches = [_item(f"Python {n}", f"2030-0{n}-01T10:00:00Z") for n in range(1, 9)]
    first = answers.search_results("python", matches, lang="es")
    assert first.text.splitlines()[0] == "8 eventos de la agenda coinciden con “python”:"
    assert sum(line.startswith("• ") for line in first.text.splitlines()) == answers.SEARCH_LIMIT
    assert first.text.splitlines()[-1] == "…y 3 más."
    assert first.blocks is not None
    (button,) = first.blocks[-1]["elements"]
    assert button["action_id"] == SEARCH_MORE_ACTION and button["text"]["text"] == "Siguientes"
    assert read_more_button_value(button["value"]) == ("python", 5, "es")

    second = answers.search_results("python", matches, lang="es", offset=5)
    assert next(line for line in second.text.splitlines() if line.startswith("• ")).startswith("• *Python 6*")
    assert second.blocks is not None
    (back,) = second.blocks[-1]["elements"]  # the last page: back only
    assert back["action_id"] == SEARCH_PREVIOUS_ACTION and read_more_button_value(back["value"])[1] == 0
    assert json.dumps(second.blocks).count("<!date^") == 3 * 2

    private = answers.search_results("python", matches, offset=5, ephemeral=True, replace_original=True)
    assert private.replace_original and private.blocks is not None
    labels = [b["text"]["text"] for b in private.blocks[-1]["elements"]]
    assert labels == ["Previous", "Share"]
    assert read_more_button_value(private.blocks[-1]["elements"][1]["value"]) == ("python", 5, "en")
    assert answers.search_results("python", matches, offset=20).text == "No more results for “python”."


def test_one_result_reads_as_one_and_past_items_are_marked() -> None:
    past = _item("Python pasado", "2020-01-01T10:00:00Z")
    answer = answers.search_results("pasado", [past], lang="es", now=NOW)
    assert answer.text.splitlines()[0] == "1 evento de la agenda coincide con “pasado”:"
    assert answer.text.splitlines()[1].startswith("• *Python pasado* (pasado), mié 01 ene 2020")
    assert answer.blocks is not None
    assert answer.blocks[-1]["elements"][0]["text"] == "Las horas se muestran en tu zona horaria."  # no "1-1 de 1"
    assert all(b["type"] != "actions" for b in answer.blocks)
    english = answers.search_results("pasado", [past], now=NOW).text
    assert english.startswith("1 item on the agenda matches “pasado”:\n• *Python pasado* (past), Wed 01 Jan 2020")


def test_echoes_are_cut_to_a_short_quote() -> None:
    long = "x" * 3500
    assert len(answers.help_text(long).text) < 1000
    assert len(answers.not_a_mention(long, lang="es").text) < 300
    assert len(answers.search_results(long, []).text) < 100
    assert answers.quote("a  b\n c") == "a b c"
    assert answers.quote("y" * 50) == "y" * 39 + "…"


def test_search_answers_for_no_text_no_match_and_empty_agenda() -> None:
    assert answers.search_results("  ", []).text.startswith("Tell me what to look for: `search <text>`")
    assert answers.search_results("", [], lang="es").text.startswith("¿Qué busco? Escribe `busca <texto>`")
    assert answers.search_results("<!channel>", []).text == "Nothing on the agenda matches “&lt;!channel&gt;”."
    assert answers.search_results("karaoke", [], lang="es").text == "Lo siento: no hay ningún evento con “karaoke”."
    assert answers.search_results("python", None).text == "The agenda is empty right now."


def test_count_answer_for_self_someone_else_and_a_name_that_is_not_a_mention() -> None:
    assert answers.message_count(user="U1", count=1, asker="U1").text == "You have written 1 message here."
    assert answers.message_count(user="U2", count=7, asker="U1", lang="es").text == "<@U2> ha escrito 7 mensajes aquí."
    assert answers.not_a_mention("@bob <b>", lang="en").text.startswith("I read `bob` as plain text")


def test_stats_lists_most_used_first() -> None:
    assert answers.stats({}).text == "No commands used yet."
    text = answers.stats({"ping": 2, "stats": 1, "next": 5, "help": 2, "search": 1, "count": 1}).text
    assert text.splitlines() == [
        "Most used commands:",
        "1. `next`: 5 uses",
        "2. `help`: 2 uses",
        "3. `ping`: 2 uses",
        "4. `count`: 1 use",
        "5. `search`: 1 use",
    ]
    assert answers.stats({"ping": 1}, lang="es").text == "Comandos más usados:\n1. `ve`: 1 uso"
    spanish = answers.stats({"search": 3, "count": 2, "stats": 1}, lang="es").text
    assert spanish.splitlines()[1:] == ["1. `busca`: 3 usos", "2. `cuenta`: 2 usos", "3. `estadísticas`: 1 uso"]


def test_help_names_the_word_it_did_not_understand_and_explains_one_command() -> None:
    text = answers.help_text("bailar").text
    assert text.startswith("Sorry, I don't know `bailar`.")
    for word in ("help", "ayuda", "ping", "ve", "next", "siguiente", "search", "busca", "count", "cuenta", "stats"):
        assert f"`{word}" in text
    assert answers.help_text("AYUDA", lang="es").text.startswith("Comandos (")
    assert answers.help_text("help", "ping").text.endswith("Example: `ping`")
    assert answers.help_text("ayuda", "siguiente", lang="es").text.startswith("`siguiente` (`next`): muestra")
