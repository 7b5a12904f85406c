"""Messages as people type them in Slack (issue #23): punctuation, position, typos, questions, small talk."""

import pytest

from contract.commands import means_the_asker, mentioned_users, parse_command, suggestion, typed_language
from contract.reading import Intent, distance, intent
from contract.tasks import TaskName
from workers.services import answers


@pytest.mark.parametrize(
    ("text", "task", "command", "args"),
    [
        ("<@UCHARLABOT>: ayuda", TaskName.HELP, "ayuda", ""),
        ("<@UCHARLABOT>, siguiente", TaskName.NEXT_EVENT, "siguiente", ""),
        ("<@UCHARLABOT|charla> , Ve!", TaskName.PING, "Ve", ""),
        ("Ve!", TaskName.PING, "Ve", ""),
        ("next?", TaskName.NEXT_EVENT, "next", ""),
        ("search: python", TaskName.SEARCH_AGENDA, "search", "python"),
        ("busca : taller python", TaskName.SEARCH_AGENDA, "busca", "taller python"),
        ("oye <@UCHARLABOT> siguiente", TaskName.NEXT_EVENT, "siguiente", ""),
        ("¿qué sigue?", TaskName.NEXT_EVENT, "siguiente", ""),
        ("¿cuál es el próximo curso?", TaskName.NEXT_EVENT, "siguiente", ""),
        ("what's next?", TaskName.NEXT_EVENT, "next", ""),
        ("anything upcoming", TaskName.NEXT_EVENT, "next", ""),
        ("count <@U0BOB>", TaskName.COUNT_MESSAGES, "count", "<@U0BOB>"),
        ("sigiente", TaskName.HELP, "sigiente", ""),
        ("hola, ¿qué tal?", TaskName.HELP, "hola", "¿qué tal?"),
        ("hola, ayuda", TaskName.HELP, "ayuda", ""),
        ("please search python", TaskName.SEARCH_AGENDA, "search", "python"),
        ("oye, busca: taller", TaskName.SEARCH_AGENDA, "busca", "taller"),
    ],
)
def test_slack_habits_reach_the_command_meant(text: str, task: TaskName, command: str, args: str) -> None:
    parsed = parse_command(text)
    assert (parsed.task, parsed.command, parsed.args) == (task, command, args)


def test_a_mention_in_the_arguments_is_not_taken_for_the_bot() -> None:
    assert parse_command("cuenta <@U0BOB> <@U0DAVE>").args == "<@U0BOB> <@U0DAVE>"
    assert parse_command("bailar <@U0BOB>").task is TaskName.HELP  # no command after the mention


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("sigiente", "siguiente"), ("bsuca", "busca"), ("SIGUENTE", "siguiente"), ("estadistica", "estadisticas"),
     ("hepl", "help"), ("serch", "search"), ("cunta", "cuenta")],
)  # fmt: skip
def test_a_near_miss_suggests_the_word_meant_in_its_language(typed: str, meant: str) -> None:
    assert suggestion(typed) == meant


def test_no_suggestion_for_short_words_far_words_or_known_ones() -> None:
    assert suggestion("yo") is None and suggestion("dance") is None and suggestion("busca") is None
    assert distance("bsuca", "busca") == 1 and distance("abc", "") == 3


def test_a_typo_is_answered_in_the_language_of_the_word_meant() -> None:
    assert answers.help_text("sigiente", lang=typed_language("sigiente") or "").text == "¿Quisiste decir `siguiente`?"
    lang = typed_language("bsuca", "python")
    assert answers.help_text("bsuca", "python", lang=lang or "").text == "¿Quisiste decir `busca python`?"
    assert answers.help_text("serch", "x", lang=typed_language("serch") or "").text == "Did you mean `search x`?"


def test_greetings_and_thanks_get_one_line_in_the_language_they_show() -> None:
    assert intent("hola") == (Intent.GREETING, "es")
    assert intent("gracias 🙏") == (Intent.THANKS, "es")
    assert intent("👋") == (Intent.GREETING, None)  # no language: the person's answers it
    assert answers.help_text("hola", lang="es").text == "¡Hola! Soy charla: escribe `ayuda` para ver qué sé hacer."
    assert answers.help_text("gracias", "🙏", lang="es").text == "¡De nada!"
    assert answers.help_text("thanks!", lang="en").text == "You're welcome!"
    assert typed_language("👋") is None and typed_language("") is None


def test_the_echo_quotes_the_whole_word_without_its_punctuation() -> None:
    assert answers.help_text("¿bailamos?", lang="es").text.startswith("No te entiendo (`bailamos`).")


def test_my_messages_means_the_asker_and_every_mention_counts() -> None:
    assert means_the_asker("mis mensajes") and means_the_asker("my messages") and means_the_asker("MY MESSAGES?")
    assert not means_the_asker("bob") and not means_the_asker("")
    assert mentioned_users("<@U0BOB> <@U0DAVE|dave> <@U0BOB>") == ["U0BOB", "U0DAVE"]
