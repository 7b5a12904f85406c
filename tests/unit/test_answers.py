"""The bot's answer texts: what a user reads."""

from datetime import UTC, datetime

from workers.services import answers
from workers.services.agenda import AgendaItem, next_item, search

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _item(title: str, start: str, end: str | None = None) -> AgendaItem:
    return AgendaItem.model_validate(
        {"title": title, "start": start, "end": end or start, "url": "https://charla.example/x"}
    )


def test_next_is_the_soonest_upcoming_not_the_first_listed() -> None:
    items = [
        _item("Later", "2031-05-01T10:00:00Z"),
        _item("Past", "2020-01-01T10:00:00Z"),
        _item("Soon", "2030-02-01T10:00:00Z"),
    ]
    assert next_item(items, NOW) == items[2]
    assert next_item(items[1:2], NOW) is None


def test_next_answers_for_empty_nothing_upcoming_and_an_item() -> None:
    assert answers.next_event(None, agenda_empty=True) == "The agenda is empty right now."
    assert answers.next_event(None, agenda_empty=False) == "Nothing upcoming on the agenda."
    text = answers.next_event(
        _item("Taller <b>", "2030-02-01T10:00:00+01:00", "2030-02-01T12:00:00+01:00"), agenda_empty=False
    )
    assert (
        text == "Next up: *Taller &lt;b&gt;*, Fri 01 Feb 2030, 10:00-12:00 UTC+01:00 <https://charla.example/x|details>"
    )


def test_search_ignores_case_and_accents_and_puts_upcoming_first() -> None:
    items = [_item("Python pasado", "2020-01-01T10:00:00Z"), _item("Taller PYTHON asíncrono", "2030-03-01T10:00:00Z")]
    assert search(items, "ASINCRONO", NOW) == [items[1]]
    assert search(items, "pýthon", NOW) == [items[1], items[0]]
    assert search(items, "ruby", NOW) == []


def test_search_answer_is_capped_with_and_n_more() -> None:
    matches = [_item(f"Python {n}", f"2030-0{n}-01T10:00:00Z") for n in range(1, 9)]
    text = answers.search_results("python", matches)
    assert text.splitlines()[0] == "8 on the agenda match “python”:"
    assert sum(line.startswith("• ") for line in text.splitlines()) == answers.SEARCH_LIMIT
    assert text.splitlines()[-1] == "…and 3 more."


def test_search_answers_for_no_text_no_match_and_empty_agenda() -> None:
    assert "search <text>" in answers.search_results("  ", [])
    assert answers.search_results("<!channel>", []) == "Nothing on the agenda matches “&lt;!channel&gt;”."
    assert answers.search_results("python", None) == answers.EMPTY_AGENDA


def test_count_answer_for_self_and_for_someone_else() -> None:
    assert answers.message_count(user="U1", count=1, asker="U1") == "You have written 1 message here."
    assert answers.message_count(user="U2", count=7, asker="U1") == "<@U2> has written 7 messages here."


def test_stats_lists_most_used_first() -> None:
    assert answers.stats({}) == "No commands used yet."
    text = answers.stats({"ping": 2, "stats": 1, "next": 5, "help": 2, "search": 1, "count": 1})
    assert text.splitlines() == [
        "Most used commands:",
        "1. `next`: 5 uses",
        "2. `help`: 2 uses",
        "3. `ping`: 2 uses",
        "4. `count`: 1 use",
        "5. `search`: 1 use",
    ]


def test_help_names_the_word_it_did_not_understand_and_lists_every_command() -> None:
    text = answers.help_text("bailar")
    assert text.startswith("Sorry, I don't know `bailar`.")
    for word in ("help", "ayuda", "ping", "ve", "next", "siguiente", "search", "busca", "count", "cuenta", "stats"):
        assert f"`{word}" in text
    assert not answers.help_text("AYUDA").startswith("Sorry")
