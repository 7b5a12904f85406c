"""Turning what a user typed into a task name: English names, Spanish aliases, any case/accents."""

import json
import re
import unicodedata
from dataclasses import dataclass

from contract.tasks import TaskName

# Each command word (accents and case removed) and the task that answers it. The first word
# listed for a task is its English name (used in help and in the usage counters).
COMMAND_WORDS: dict[str, TaskName] = {
    "help": TaskName.HELP,
    "ayuda": TaskName.HELP,
    "ping": TaskName.PING,
    "ve": TaskName.PING,
    "next": TaskName.NEXT_EVENT,
    "siguiente": TaskName.NEXT_EVENT,
    "search": TaskName.SEARCH_AGENDA,
    "busca": TaskName.SEARCH_AGENDA,
    "buscar": TaskName.SEARCH_AGENDA,
    "count": TaskName.COUNT_MESSAGES,
    "cuenta": TaskName.COUNT_MESSAGES,
    "contar": TaskName.COUNT_MESSAGES,
    "stats": TaskName.STATS,
    "estadisticas": TaskName.STATS,
}

# Command words that are Spanish: a command given with one of these is answered in Spanish.
SPANISH_WORDS: frozenset[str] = frozenset(
    {"ayuda", "ve", "siguiente", "busca", "buscar", "cuenta", "contar", "estadisticas"}
)
# Words that give away a Spanish speaker who typed something we do not know ("hola", "¿qué?").
_SPANISH_HINTS = frozenset({"hola", "que", "como", "donde", "cuando", "gracias", "por", "favor", "quien", "hay"})
_SPANISH_MARKS = frozenset("ñ¿¡áéíóú")

# The English name of each command task: the first word listed for it above.
COMMAND_NAMES: dict[TaskName, str] = {}
for _word, _task in COMMAND_WORDS.items():
    COMMAND_NAMES.setdefault(_task, _word)

# The "More" button under a search answer: its action id and the value it carries (the search and
# where the next page starts), written by the workers and read back by the ingress on a press.
SEARCH_MORE_ACTION = "charla_search_more"
MAX_BUTTON_QUERY_CHARS = 200  # Slack caps a button's value at 2,000 characters


def more_button_value(query: str, offset: int, lang: str) -> str:
    """The value of a "More" button: the search text, the next page's first index, the language."""
    return json.dumps({"q": query[:MAX_BUTTON_QUERY_CHARS], "o": offset, "l": lang}, ensure_ascii=False)


def read_more_button_value(value: str) -> tuple[str, int, str]:
    """``(query, offset, lang)`` from a "More" button's value.

    Raises:
        ValueError: Not a value this bot wrote.
    """
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("button value is not an object")
    query, offset, lang = data.get("q"), data.get("o"), data.get("l")
    if not isinstance(query, str) or not isinstance(offset, int) or offset < 0 or lang not in ("en", "es"):
        raise ValueError("button value has the wrong shape")
    return query, offset, lang


_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A command word resolved to its task; unknown words resolve to help."""

    task: TaskName
    command: str
    args: str


def fold(text: str) -> str:
    """Lower-case and strip accents, so ``Búsca`` and ``busca`` compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def strip_bot_mention(text: str) -> str:
    """Remove a leading ``<@BOT>`` mention, keeping mentions inside the arguments."""
    return _MENTION.sub("", text, count=1).strip() if text.lstrip().startswith("<@") else text.strip()


def mentioned_user(text: str) -> str | None:
    """The user id of the first ``<@U123>`` (or ``<@U123|name>``) mention in ``text``, if any."""
    match = _USER_MENTION.search(text)
    return match.group(1) if match else None


def language_of(command: str, args: str = "") -> str:
    """``"es"`` for a Spanish command word (or, for a word we do not know, Spanish-looking text),
    ``"en"`` otherwise. Both rooms derive the answer's language from what the user typed."""
    word = fold(command)
    if word in COMMAND_WORDS:
        return "es" if word in SPANISH_WORDS else "en"
    typed = f"{command} {args}".casefold()
    if any(mark in typed for mark in _SPANISH_MARKS) or any(w in _SPANISH_HINTS for w in fold(typed).split()):
        return "es"
    return "en"


def is_known_command(command: str) -> bool:
    """Whether ``command`` (any case, any accents) is one of the command words."""
    return fold(command) in COMMAND_WORDS


def parse_command(text: str) -> ParsedCommand:
    """Resolve the first word of ``text`` (bot mention removed) to a task.

    An empty message is a request for help; an unknown word goes to help too, which names it.
    """
    words = strip_bot_mention(text).split(maxsplit=1)
    if not words:
        return ParsedCommand(TaskName.HELP, "", "")
    command = words[0]
    args = words[1].strip() if len(words) > 1 else ""
    task = COMMAND_WORDS.get(fold(command), TaskName.HELP)
    return ParsedCommand(task, command, args)
