"""Turning what a user typed into a task name: English names, Spanish aliases, any case/accents."""

import re
import unicodedata
from dataclasses import dataclass

from contract.tasks import TaskName

# Each command word (accents and case removed) and the task that answers it.
COMMAND_WORDS: dict[str, TaskName] = {
    "ping": TaskName.PING,
    "ve": TaskName.PING,
    "help": TaskName.HELP,
    "ayuda": TaskName.HELP,
}

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


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
