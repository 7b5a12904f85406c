"""Command words: English names, Spanish aliases, any case and accents, mentions in arguments."""

import pytest

from contract.commands import COMMAND_NAMES, COMMAND_WORDS, is_known_command, mentioned_user, parse_command
from contract.queues import QueueName
from contract.registry import COMMAND_TASKS, TASK_NAMES, TASK_QUEUES
from contract.tasks import TaskName


@pytest.mark.parametrize(
    ("text", "task", "args"),
    [
        ("<@UCHARLABOT> help", TaskName.HELP, ""),
        ("<@UCHARLABOT> Ayuda", TaskName.HELP, ""),
        ("ping", TaskName.PING, ""),
        ("VE", TaskName.PING, ""),
        ("<@UCHARLABOT> next", TaskName.NEXT_EVENT, ""),
        ("Siguiente", TaskName.NEXT_EVENT, ""),
        ("search Python asíncrono", TaskName.SEARCH_AGENDA, "Python asíncrono"),
        ("Búsca  taller ", TaskName.SEARCH_AGENDA, "taller"),
        ("BUSCAR datos", TaskName.SEARCH_AGENDA, "datos"),
        ("count <@U0BOB>", TaskName.COUNT_MESSAGES, "<@U0BOB>"),
        ("cuenta", TaskName.COUNT_MESSAGES, ""),
        ("stats", TaskName.STATS, ""),
        ("estadísticas", TaskName.STATS, ""),
        ("bailar salsa", TaskName.HELP, "salsa"),
        ("<@UCHARLABOT>", TaskName.HELP, ""),
    ],
)
def test_words_and_aliases_resolve_to_their_task(text: str, task: TaskName, args: str) -> None:
    parsed = parse_command(text)
    assert parsed.task == task
    assert parsed.args == args


def test_unknown_words_are_not_known_commands() -> None:
    assert not is_known_command("bailar")
    assert is_known_command("SIGUIENTE")
    assert is_known_command("búsca")


def test_every_command_task_has_an_english_name_and_a_reply_route() -> None:
    assert set(COMMAND_WORDS.values()) == set(COMMAND_TASKS)
    assert COMMAND_NAMES == {
        TaskName.HELP: "help",
        TaskName.PING: "ping",
        TaskName.NEXT_EVENT: "next",
        TaskName.SEARCH_AGENDA: "search",
        TaskName.COUNT_MESSAGES: "count",
        TaskName.STATS: "stats",
    }
    assert all(TASK_QUEUES[task] == QueueName.REPLIES for task in COMMAND_TASKS)


def test_bulk_work_is_routed_to_the_bulk_queue() -> None:
    assert TASK_QUEUES[TaskName.ARCHIVE_MESSAGE] == QueueName.BULK
    assert TASK_QUEUES[TaskName.REFRESH_AGENDA] == QueueName.BULK
    assert set(TASK_QUEUES) == set(TASK_NAMES) >= set(TaskName)


@pytest.mark.parametrize(
    ("args", "user"),
    [
        ("<@U0BOB>", "U0BOB"),
        ("<@W0ENT|bob>", "W0ENT"),
        ("of <@U0BOB> and <@U0CAROL>", "U0BOB"),
        ("bob", None),
        ("", None),
    ],
)
def test_mentioned_user_is_parsed_from_slack_markup(args: str, user: str | None) -> None:
    assert mentioned_user(args) == user
