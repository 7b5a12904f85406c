"""Turning what a user typed into a task name: English names, Spanish aliases, any case/accents."""

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

# The English name of each command task: the first word listed for it above.
COMMAND_NAMES: dict[TaskName, str] = {}
for _word, _task in COMMAND_WORDS.items():
    COMMAND_NAMES.setdefault(_task, _word)

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
