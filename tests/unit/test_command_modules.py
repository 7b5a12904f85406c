"""Command modules (``commands/``): found by name, light enough for the ingress, each a task of its own."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from commands import COMMANDS, CommandDeclarationError, discover
from contract.commands import parse_command, typed_language
from contract.registry import COMMAND_TASKS, TASK_PAYLOADS, TASK_QUEUES
from workers.registry import load
from workers.services.texts import CATALOGUES, text

ROOT = Path(__file__).resolve().parents[2]
COMMAND_MODULE = """
from contract.command_spec import Answer, Command, HelpLine

COMMAND = Command(
    task={task!r},
    order={order},
    words={words!r},
    help={{"en": HelpLine(usage="x", summary="x", detail="x", example="x")}},
    answer=lambda request, ctx: Answer("x"),
)
"""


def _package(root: Path, name: str, modules: dict[str, str]) -> list[str]:
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module, source in modules.items():
        (package / f"{module}.py").write_text(textwrap.dedent(source))
    return [str(package)]


def _command(task: str, *, order: int = 100, words: dict[str, tuple[str, ...]] | None = None) -> str:
    return COMMAND_MODULE.format(task=task, order=order, words=words or {"en": (task.rsplit(".", maxsplit=1)[-1],)})


def test_the_ingress_reads_every_command_module_without_loading_worker_code() -> None:
    probe = "import json, sys, lambda_handler.main; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, check=True).stdout)

    assert {f"commands.{name}" for name in ("help", "ping", "next_event", "search", "count", "stats")} <= set(loaded)
    heavy = [name for name in loaded if name.split(".")[0] in {"workers", "pydantic", "boto3", "celery"}]
    assert heavy == []


def test_a_module_defining_command_is_registered_in_declared_order_and_others_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    path = _package(
        tmp_path,
        "mine",
        {
            "zebra": _command("mine.zebra", order=1),
            "apple": _command("mine.apple", order=2),
            "notes": "HELPER = 1\n",  # no COMMAND: a plain module beside the commands
            "_private": _command("mine.private"),
        },
    )

    assert [command.task for command in discover(path, "mine")] == ["mine.zebra", "mine.apple"]


def test_a_command_without_english_words_or_one_declared_twice_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    wordless = _package(tmp_path, "wordless", {"meteo": _command("x.meteo", words={"fr": ("meteo",)})})
    twice = _package(tmp_path, "twice", {"one": _command("x.same"), "two": _command("x.same")})

    with pytest.raises(CommandDeclarationError, match=r"wordless\.meteo: COMMAND\.words needs .*'en'"):
        discover(wordless, "wordless")
    with pytest.raises(CommandDeclarationError, match=r"twice\.two: task 'x\.same' is declared twice"):
        discover(twice, "twice")


def test_every_command_is_routed_validated_and_run_by_the_executors_registry() -> None:
    registry = load()
    for command in COMMANDS:
        assert command.task in COMMAND_TASKS
        assert TASK_QUEUES[command.task] is command.queue
        assert TASK_PAYLOADS[command.task] is command.payload
        assert registry[command.task].queue is command.queue


def test_a_commands_words_say_its_language_and_its_texts_join_the_catalogues() -> None:
    assert parse_command("Estadísticas").task == "charla.stats"
    assert typed_language("ve") == "es" and typed_language("ping") == "en"
    assert text("es", "ping.pong", worker="w", delay_ms="1").startswith("Por lo pronto vas bien")
    for lang in CATALOGUES:  # every command text exists in every language (base language as fallback)
        assert {"ping.pong", "next.item", "count.not_a_mention"} <= set(CATALOGUES[lang])
