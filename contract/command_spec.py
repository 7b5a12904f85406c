"""What a command module declares: ``COMMAND = Command(...)`` in a file under ``commands/``.

Stdlib only: the ingress imports every command module to read its words, so a module keeps its
top level to data and imports what its answer needs inside the answer function. The framework
(``workers/tasks.py``) parses the payload, builds the ``AnswerContext``, calls ``answer`` and
posts what it returns once (``workers/services/replies.py``), paced and counted: a command never
posts. docs/EXTENDING.md walks through adding one.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from contract.queues import QueueName
from contract.tasks import CommandRequest

# The language help shows first and answers fall back to: every command speaks it.
BASE_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the bot says: plain ``text`` (always) and optional Block Kit ``blocks``.

    ``replace_original``: posted through a ``response_url``, it replaces the ephemeral message
    whose button was pressed (paging in place) instead of adding a new one. ``result``: what a
    caller waiting on the task gets back (waitable commands only); never posted.
    """

    text: str
    blocks: list[dict[str, Any]] | None = None
    replace_original: bool = False
    result: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class HelpLine:
    """How ``help`` shows a command in one language.

    Attributes:
        usage: How to type it, e.g. ``search <text>``.
        summary: One line for the command list.
        detail: What ``help <command>`` explains.
        example: A message to try, e.g. ``search python``.
    """

    usage: str
    summary: str
    detail: str
    example: str


class AnswerContext(Protocol):
    """What the framework gives an answer function (built per run by the worker).

    ``store`` is the worker's DynamoDB store (``workers/store.py``): messages, counters, agenda.
    """

    @property
    def lang(self) -> str:
        """The answer's language: the one the request was typed in, else the asker's own."""

    @property
    def worker(self) -> str:
        """Who runs the task (``celery@host``, ``lambda:<function>``)."""

    @property
    def now(self) -> datetime:
        """The run's time, timezone-aware (UTC)."""

    @property
    def store(self) -> Any:
        """The worker's store (``workers.store.Store``)."""

    def text(self, key: str, **fields: object) -> str:
        """This command's text ``key`` (or a shared one, by its full key) in ``lang``, filled in."""

    def quote(self, typed: str) -> str:
        """What the person typed, safe to echo: one line, cut short, no mention or link it could become."""


@dataclass(frozen=True, kw_only=True)
class Command:
    """One command, found by ``commands/`` discovery and registered everywhere from this.

    Attributes:
        task: The Celery task name on the wire (``charla.weather``).
        words: Per language, the words that ask for it; the first is its name in that language
            (help shows it as typed here, accents and all; matching ignores case and accents).
            The English name also keys the usage counters and the command's texts.
        help: Per language, how help shows it.
        answer: ``answer(request, context) -> Answer``; raise to fail the run (it is retried).
        texts: Per language, this command's own texts (``ctx.text("sunny")``).
        queue: The queue it runs on (answers wait on ``replies``).
        payload: Its payload dataclass (``CommandRequest``: what the ingress sends for a command).
            The framework answers through the request's ``CommandRequest`` fields (who asked,
            where, in which thread), so a payload of your own must carry them all.
        counts_as_use: Counted in ``stats`` when answered.
        waitable: A caller may wait on its result (``Answer.result``).
        order: Where help lists it (then by name).
    """

    task: str
    words: Mapping[str, tuple[str, ...]]
    help: Mapping[str, HelpLine]
    answer: Callable[[Any, AnswerContext], Answer]
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    queue: QueueName = QueueName.REPLIES
    payload: type[Any] = CommandRequest
    counts_as_use: bool = True
    waitable: bool = False
    order: int = 100

    @property
    def name(self) -> str:
        """Its name in the base language (``weather``): usage counters and text keys use it."""
        return self.words[BASE_LANGUAGE][0]

    def name_in(self, lang: str) -> str:
        """Its name in ``lang`` (the base language's when it has no words in ``lang``)."""
        return self.words.get(lang, self.words[BASE_LANGUAGE])[0]

    def help_in(self, lang: str) -> HelpLine:
        """Its help line in ``lang`` (the base language's when it has none in ``lang``)."""
        return self.help.get(lang, self.help[BASE_LANGUAGE])
