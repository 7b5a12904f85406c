"""What a command's answer function gets from the framework (``contract.command_spec.AnswerContext``)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workers.services.answers import quote
from workers.services.texts import CATALOGUES, language
from workers.services.texts import text as catalogue_text


@dataclass(frozen=True, slots=True)
class CommandContext:
    """One run of one command: its language, who runs it, when, and the store.

    Attributes:
        command_name: The command's base-language name: its own texts are keyed under it.
        lang: The answer's language.
        worker: Who runs the task.
        now: The run's time (UTC).
        store: The worker's store.
    """

    command_name: str
    lang: str
    worker: str
    now: datetime
    store: Any

    def text(self, key: str, **fields: object) -> str:
        """The command's own text ``key`` in ``lang``, else the shared text of that full key.

        Raises:
            KeyError: Neither exists (a bug the catalogue tests catch) or a field is missing.
        """
        own = f"{self.command_name}.{key}"
        return catalogue_text(self.lang, own if own in CATALOGUES[language(self.lang)] else key, **fields)

    def quote(self, typed: str) -> str:
        """``typed`` as an answer may echo it (``workers.services.answers.quote``)."""
        return quote(typed)
