"""The bot's words, one catalogue per language: ``en.py``, ``es.py`` hold the shared texts (help's
frame, the agenda, the Home tab); each command's own texts live in its module (``commands/``)
and join its language's catalogue under the command's name (``ping.pong``). Adding a language is
adding a module with the same keys, listing it in ``SHARED``, and giving each command its texts in
it (``tests/unit/test_texts.py`` fails naming any key or placeholder missing from one).

Keys are dotted names (``search.none``); values are ``str.format`` templates with named fields.
"""

from collections.abc import Mapping
from string import Formatter

from commands import COMMANDS
from contract.command_spec import BASE_LANGUAGE
from workers.services.texts import en, es

DEFAULT_LANGUAGE = "en"
SHARED: Mapping[str, Mapping[str, str]] = {"en": en.TEXTS, "es": es.TEXTS}


def _catalogue(lang: str) -> dict[str, str]:
    """The shared texts of ``lang`` and every command's own (its base language's where it has none
    in ``lang``), keyed ``<command name>.<key>``.

    Raises:
        ValueError: A command's text has the key of a shared one.
    """
    catalogue = dict(SHARED[lang])
    for command in COMMANDS:
        # A command not yet translated into ``lang`` answers in its base language there.
        own = {**command.texts.get(BASE_LANGUAGE, {}), **command.texts.get(lang, {})}
        for key, template in own.items():
            full = f"{command.name}.{key}"
            if full in SHARED[lang]:
                raise ValueError(f"{command.task}: text {full!r} is also a shared text")
            catalogue[full] = template
    return catalogue


CATALOGUES: Mapping[str, Mapping[str, str]] = {lang: _catalogue(lang) for lang in SHARED}


def language(lang: str | None) -> str:
    """``lang`` if a catalogue exists for it, else the default language."""
    return lang if lang is not None and lang in CATALOGUES else DEFAULT_LANGUAGE


def text(lang: str, key: str, **fields: object) -> str:
    """The text ``key`` in ``lang`` with ``fields`` filled in.

    Raises:
        KeyError: No such key (a bug caught by the catalogue tests) or a field is missing.
    """
    return CATALOGUES[language(lang)][key].format(**fields)


def placeholders(template: str) -> frozenset[str]:
    """The named fields a template uses (for the catalogue tests)."""
    return frozenset(name for _, name, _, _ in Formatter().parse(template) if name)
