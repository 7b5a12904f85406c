"""The bot's words, one catalogue per language: ``en.py``, ``es.py``. Adding a language is adding
a module with the same keys (``tests/unit/test_texts.py`` fails naming any key or placeholder
missing from one) and listing it in ``CATALOGUES``.

Keys are dotted names (``search.none``); values are ``str.format`` templates with named fields.
"""

from collections.abc import Mapping
from string import Formatter

from workers.services.texts import en, es

DEFAULT_LANGUAGE = "en"
CATALOGUES: Mapping[str, Mapping[str, str]] = {"en": en.TEXTS, "es": es.TEXTS}


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
