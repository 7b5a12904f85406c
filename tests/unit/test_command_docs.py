"""README's command table, the help texts, the command words and the manifest's usage hint agree."""

import re

import yaml

from commands import COMMANDS
from contract.commands import COMMAND_NAMES, COMMAND_WORDS, SPANISH_NAMES, fold
from scripts.stack import ROOT
from workers.services.answers import HELP_ORDER, help_text, usage

README = (ROOT / "README.md").read_text()
MANIFEST = yaml.safe_load((ROOT / "slack" / "manifest.yaml").read_text())


def _first_code(value: str) -> str:
    match = re.match(r"`([^`]+)`", value)
    assert match, value
    return match.group(1)


def test_the_readme_table_has_each_command_as_help_writes_it_in_both_languages() -> None:
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", README, flags=re.MULTILINE)
    for command in COMMANDS:
        english, spanish = _first_code(usage(command, "en")), _first_code(usage(command, "es"))
        assert (english, spanish) in rows, f"README's command table lacks `{english}` | `{spanish}`: make schemas"


def test_help_names_every_command_word_and_each_name_is_a_command_word() -> None:
    for lang in ("en", "es"):
        listed = help_text("", lang=lang).text
        for task in HELP_ORDER:
            for name in (COMMAND_NAMES[task], SPANISH_NAMES[task]):
                assert f"`{name}" in listed, f"{lang} help does not name `{name}`"
                assert COMMAND_WORDS[fold(name)] == task


def test_the_slash_commands_usage_hint_names_each_command_in_both_languages() -> None:
    (command,) = MANIFEST["features"]["slash_commands"]
    hint = {fold(word) for word in re.findall(r"[\wáéíóúñ]+", command["usage_hint"])}
    for task in HELP_ORDER:
        if COMMAND_NAMES[task] != "ping":  # liveness is no first try: the hint stays short
            assert fold(COMMAND_NAMES[task]) in hint and fold(SPANISH_NAMES[task]) in hint
