"""docs/EXTENDING.md's "Add a command" and "Add a language", followed literally in copies of the repository.

The page's module is written where the page says, the page's commands run as a reader types them
(``make schemas``, then ``make chat`` and ``make chat EXECUTOR=lambda`` with the page's lines at
the prompt). This is also the proof that a command is one file: after ``make schemas`` the copy
differs from the original by the module and the generated files only, and the new command answers
in both languages, in help, in the schemas and in CONTRACT.md, on both executors.

"Add a language" is followed the same way in a copy of its own: the page's ``cp``, its edits (each
line of an "in `file`:" block replaces the one line of the file that starts with the same name), then
the bot is asked in the new language on both executors.

The copy runs on this checkout's ``.venv`` (``make VENV=...``) with its own packages first on the
path (``PYTHONPATH``, and the working directory of every process the stack starts).
"""

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "EXTENDING.md"
NOT_COPIED: tuple[str, ...] = (".venv", "node_modules", "cdk.out", ".git", ".stack", "__pycache__")
NOT_COPIED += (".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis")
MAKE_TIMEOUT_S = 120.0
CHAT_TIMEOUT_S = 300.0
_MODULE_BLOCK = re.compile(r"Save this as `([^`]+)`:\n\n```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
_BLOCK = re.compile(r"^```(sh|text)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_EDIT = re.compile(r"in\s+`([^`]+)`[^`\n]*:\n\n(?:<!-- fmt: off -->\n)?```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
_EDITED_NAME = re.compile(r"\s*(from \S+ import|\w+)")
EXECUTORS = ["make chat", "make chat EXECUTOR=lambda"]


def section(markdown: str, title: str) -> str:
    return markdown.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


@dataclass(frozen=True)
class Steps:
    """What the page's "Add a command" section asks the reader to do."""

    module_path: str
    module_source: str
    commands: list[str]  # every ``sh`` line, in order
    typed: list[str]  # what to type at the chat prompt


def page_steps(markdown: str) -> Steps:
    body = section(markdown, "Add a command")
    (module,) = _MODULE_BLOCK.findall(body)
    commands: list[str] = []
    typed: list[str] = []
    for kind, block in _BLOCK.findall(body):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        (commands if kind == "sh" else typed).extend(lines)
    return Steps(module_path=module[0], module_source=module[1], commands=commands, typed=typed)


def fingerprints(root: Path) -> dict[str, str]:
    """Every file under ``root`` (what a reader's ``git status`` would see) by its content's digest."""
    found: dict[str, str] = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and not set(relative.parts) & set(NOT_COPIED):
            found[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def environ(clone: Path) -> dict[str, str]:
    """The reader's shell in the copy: not the make running this test, nor its stack file."""
    dropped = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "CHARLA_STACK_FILE", "PYTHONPATH")
    env = {name: value for name, value in os.environ.items() if name not in dropped}
    env["PYTHONPATH"] = str(clone)
    return env


def run_make(clone: Path, line: str, *, typed: list[str] | None = None, timeout: float = MAKE_TIMEOUT_S) -> str:
    """Run the page's ``make ...`` line in ``clone`` (on this checkout's venv); returns its output."""
    words = shlex.split(line)
    assert words[0] == "make", f"the rehearsal only runs make targets, not {line!r}"
    process = subprocess.Popen(
        ["make", "--no-print-directory", f"VENV={ROOT / '.venv'}", *words[1:]],
        cwd=clone,
        env=environ(clone),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: everything under it can be stopped
    )
    try:
        output, _ = process.communicate("".join(f"{text}\n" for text in typed or []), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(f"`{line}` did not finish within {timeout:.0f} s:\n{output}") from None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # Whatever the chat left behind (its children get SIGTERM if it died; this makes sure).
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "scripts.stop"],
            cwd=clone,
            env=environ(clone),
            capture_output=True,
            check=False,
            timeout=60,
        )
    assert process.returncode == 0, f"`{line}` exited {process.returncode}:\n{output}"
    return output


@dataclass(frozen=True)
class Rehearsal:
    clone: Path
    steps: Steps
    changed: set[str]


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    """A copy of the repository after the page's module and every ``make`` line that is no chat."""
    steps = page_steps(PAGE.read_text(encoding="utf-8"))
    clone = tmp_path_factory.mktemp("reader") / "charla"
    shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns(*NOT_COPIED))
    before = fingerprints(clone)
    (clone / steps.module_path).write_text(steps.module_source, encoding="utf-8")
    for line in steps.commands:
        if not line.startswith("make chat"):
            run_make(clone, line)
    after = fingerprints(clone)
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    yield Rehearsal(clone=clone, steps=steps, changed=changed)


def test_one_module_and_make_schemas_are_the_whole_change(rehearsal: Rehearsal) -> None:
    assert rehearsal.steps.module_path == "commands/weather.py"
    assert rehearsal.changed == {
        "commands/weather.py",
        "contract/schemas/charla.weather.json",
        "contract/schemas/index.json",
        "docs/CONTRACT.md",
        "README.md",
    }


def test_the_new_command_is_in_the_schemas_contract_md_and_readme(rehearsal: Rehearsal) -> None:
    clone = rehearsal.clone
    schema = json.loads((clone / "contract" / "schemas" / "charla.weather.json").read_text(encoding="utf-8"))
    assert schema["x-charla-task"] == "charla.weather" and "args" in schema["properties"]
    index = json.loads((clone / "contract" / "schemas" / "index.json").read_text(encoding="utf-8"))
    assert index["tasks"]["charla.weather"] == {"queue": "replies", "schema": "charla.weather.json", "waitable": False}
    assert "| `charla.weather` | `replies` | `CommandRequest` |" in (clone / "docs" / "CONTRACT.md").read_text()
    readme = (clone / "README.md").read_text(encoding="utf-8")
    assert "| `weather <city>` | `tiempo <ciudad>` | the forecast for a city |" in readme


@pytest.mark.parametrize("chat", EXECUTORS)
def test_the_new_command_answers_in_both_languages_and_in_help(rehearsal: Rehearsal, chat: str) -> None:
    assert chat in rehearsal.steps.commands, f"the page no longer says `{chat}`"

    output = run_make(rehearsal.clone, chat, typed=[*rehearsal.steps.typed, "/quit"], timeout=CHAT_TIMEOUT_S)

    # Who ran the new task: the chat keeps each process's log of its last run in .stack/logs/.
    runner = "lambda-replies" if "EXECUTOR=lambda" in chat else "worker"
    logs = {log.stem: log.read_text(errors="replace") for log in (rehearsal.clone / ".stack" / "logs").glob("*.log")}
    assert "Task charla.weather[" in logs[runner], sorted(logs)
    assert [name for name, text in logs.items() if "Task charla.weather[" in text] == [runner]
    assert "Sunny all day in Madrid." in output, output
    assert "Sol todo el día en Sevilla." in output, output
    assert "`weather <city>` (`tiempo <ciudad>`): the forecast for a city" in output, output
    assert "`tiempo <ciudad>` (`weather <city>`): te dice el tiempo que se espera hoy" in output, output
    assert "Stopped." in output


def apply_edit(path: Path, block: str) -> None:
    """Each line of ``block`` replaces the one line of ``path`` that starts with the same name."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for edit in filter(str.strip, block.splitlines()):
        name = _EDITED_NAME.match(edit)
        assert name, f"the page's edit {edit!r} names nothing"
        found = [i for i, line in enumerate(lines) if line.startswith(name[0]) and line[len(name[0])] in " =:("]
        assert len(found) == 1, f"{path.name}: {len(found)} lines start with {name[0]!r}, the page means one"
        lines[found[0]] = edit
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def new_language(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A copy of the repository after the page's "Add a language" steps (``cp`` and the edits)."""
    body = section(PAGE.read_text(encoding="utf-8"), "Add a language")
    clone = tmp_path_factory.mktemp("linguist") / "charla"
    shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns(*NOT_COPIED))
    for kind, block in _BLOCK.findall(body):
        for line in filter(str.strip, block.splitlines()) if kind == "sh" else []:
            words = shlex.split(line)
            if words[0] == "cp":
                shutil.copyfile(clone / words[1], clone / words[2])
            else:
                assert line in EXECUTORS, f"the rehearsal cannot run {line!r}"
    edits = _EDIT.findall(body)
    assert [path for path, _ in edits] == ["workers/services/texts/__init__.py", "commands/help.py"]
    for path, block in edits:
        apply_edit(clone / path, block)
    yield clone, body


@pytest.mark.parametrize("chat", EXECUTORS)
def test_a_new_language_s_word_is_answered_from_its_catalogue(new_language: tuple[Path, str], chat: str) -> None:
    clone, body = new_language
    assert f"`{chat}`" in body or f"```sh\n{chat}\n```" in body, f"the page no longer says `{chat}`"

    output = run_make(clone, chat, typed=["aide", "/quit"], timeout=CHAT_TIMEOUT_S)

    asked = output.split("you     aide", 1)[1]
    assert "Commands (mention me, DM me, or use `/charla <command>`):" in asked, output  # fr.py, as copied
    assert "I don't know" not in asked, output  # what ``aide`` got before the language had words
