"""Turning what a user typed into a task name: each command's words in every language, any case/accents."""

import json
import re
from dataclasses import dataclass

from commands import COMMANDS
from contract.reading import PUNCTUATION, Intent, bare, fold, intent, near_miss, plain, written_language
from contract.tasks import TaskName

__all__ = ["fold"]  # re-exported: callers fold words with the command table's own rule

# Each command word (accents and case removed) and the task that answers it, from the command
# modules (``commands/``). A command's first English word is its name (help, usage counters).
COMMAND_WORDS: dict[str, str] = {}
# The language of each command word: a command given with it is answered in that language.
WORD_LANGUAGES: dict[str, str] = {}
for _command in COMMANDS:
    for _lang, _words in _command.words.items():
        for _word in _words:
            _folded = fold(_word)
            if COMMAND_WORDS.setdefault(_folded, _command.task) != _command.task:
                raise ValueError(f"the word {_word!r} names two commands: {COMMAND_WORDS[_folded]}, {_command.task}")
            WORD_LANGUAGES.setdefault(_folded, _lang)

# Every language the commands speak (each command's words name theirs).
LANGUAGES: frozenset[str] = frozenset(WORD_LANGUAGES.values())
# Command words that are Spanish.
SPANISH_WORDS: frozenset[str] = frozenset(word for word, lang in WORD_LANGUAGES.items() if lang == "es")
# The English name of each command task (usage counters store it).
COMMAND_NAMES: dict[str, str] = {command.task: command.name for command in COMMANDS}
# Each command's name in Spanish, as a Spanish answer writes it (with its accent).
SPANISH_NAMES: dict[str, str] = {command.task: command.name_in("es") for command in COMMANDS}
_BY_TASK = {command.task: command for command in COMMANDS}


def command_name(task: str, lang: str) -> str:
    """The word for ``task`` in ``lang``, as answers show it (English if it has none in ``lang``)."""
    return _BY_TASK[task].name_in(lang)


def name_in(english_name: str, lang: str) -> str:
    """A command's English name (as counters store it) in ``lang``; unknown names unchanged."""
    task = COMMAND_WORDS.get(english_name)
    return command_name(task, lang) if task is not None else english_name


# The buttons under a search answer: their action ids and the value each carries (the search and
# where its page starts), written by the workers and read back by the ingress on a press. "More"
# (Next) keeps its old id so answers posted before Previous and Share existed still page.
SEARCH_MORE_ACTION = "charla_search_more"
SEARCH_PREVIOUS_ACTION = "charla_search_previous"
SEARCH_SHARE_ACTION = "charla_search_share"
SEARCH_ACTIONS = (SEARCH_MORE_ACTION, SEARCH_PREVIOUS_ACTION, SEARCH_SHARE_ACTION)
MAX_BUTTON_QUERY_CHARS = 200  # Slack caps a button's value at 2,000 characters


def more_button_value(query: str, offset: int, lang: str, thread_ts: str | None = None) -> str:
    """The value of a search button: the search text, its page's first index, the language, and
    the thread the search was asked in (a press on an ephemeral page does not say it)."""
    value: dict[str, object] = {"q": query[:MAX_BUTTON_QUERY_CHARS], "o": offset, "l": lang}
    if thread_ts:
        value["t"] = thread_ts
    return json.dumps(value, ensure_ascii=False)


def button_thread(value: str) -> str | None:
    """The thread a search button's value names, if any (never raises: a thread is optional)."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    thread = data.get("t") if isinstance(data, dict) else None
    return thread if isinstance(thread, str) and thread else None


def read_more_button_value(value: str) -> tuple[str, int, str]:
    """``(query, offset, lang)`` from a "More" button's value.

    Raises:
        ValueError: Not a value this bot wrote.
    """
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("button value is not an object")
    query, offset, lang = data.get("q"), data.get("o"), data.get("l")
    if not isinstance(query, str) or not isinstance(offset, int) or offset < 0 or lang not in LANGUAGES:
        raise ValueError("button value has the wrong shape")
    return query, offset, lang


_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
# A mention of the bot and the punctuation people type after it: "@charla: ayuda", "@charla, next".
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s" + re.escape(PUNCTUATION) + r"]*")
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A command word resolved to its task; unknown words resolve to help.

    ``command`` is the word as typed without the punctuation around it, or, for a question read
    as a command (``¿qué sigue?``), that command's word in the question's language.
    """

    task: str
    command: str
    args: str


def strip_bot_mention(text: str) -> str:
    """Remove a leading ``<@BOT>`` mention (and a ``:`` or ``,`` after it), keeping mentions inside
    the arguments; ``oye <@BOT> siguiente`` keeps what follows the mention when it is a command."""
    if text.lstrip().startswith("<@"):
        return _LEADING_MENTION.sub("", text, count=1).strip()
    words = text.split(maxsplit=1)
    if words and bare(words[0]) not in COMMAND_WORDS:
        match = _MENTION.search(text)
        if match is not None:
            after = text[match.end() :].lstrip(PUNCTUATION + " \t\n")
            first = after.split(maxsplit=1)
            if first and bare(first[0]) in COMMAND_WORDS:
                return after.strip()
    return text.strip()


def mentioned_user(text: str) -> str | None:
    """The user id of the first ``<@U123>`` (or ``<@U123|name>``) mention in ``text``, if any."""
    match = _USER_MENTION.search(text)
    return match.group(1) if match else None


def mentioned_users(text: str) -> list[str]:
    """Every user mentioned in ``text``, in order, each once (``cuenta @bob @dave``)."""
    return list(dict.fromkeys(_USER_MENTION.findall(text)))


# Words people put before a command ("hola, ayuda", "please help"): skipped when a command follows.
_LEAD_INS = frozenset({"hola", "oye", "hey", "hi", "hello", "buenas", "porfa", "please", "pls", "ey"})
# "count my messages", "cuenta mis mensajes": words that mean the asker, not a name.
_ASKER_WORDS = frozenset({"my", "mine", "me", "messages", "mis", "mi", "mios", "mensajes", "yo"})


def means_the_asker(args: str) -> bool:
    """Whether ``args`` only says "mine" (``my messages``, ``mis mensajes``): count the asker."""
    words = [bare(word) for word in args.split()]
    return bool(words) and all(word in _ASKER_WORDS for word in words if word)


def suggestion(command: str) -> str | None:
    """The command word ``command`` is a typo of (``sigiente`` -> ``siguiente``), if any."""
    return near_miss(command, list(COMMAND_WORDS))


def typed_language(command: str, args: str = "") -> str | None:
    """The language what the user typed shows, or ``None`` when it shows none (``👋``, nothing).

    A command word decides (``ayuda`` Spanish, ``help`` English), then the word a typo was meant
    to be, then a question's or greeting's words, then everyday words or Spanish marks.
    """
    word = bare(command)
    if word in WORD_LANGUAGES:
        return WORD_LANGUAGES[word]
    meant = suggestion(command)
    if meant is not None:
        return WORD_LANGUAGES[meant]
    read = intent(f"{command} {args}")
    if read is not None and read[1] is not None:
        return read[1]
    return written_language(f"{command} {args}")


def language_of(command: str, args: str = "") -> str:
    """``typed_language``, English when the words show none."""
    return typed_language(command, args) or "en"


def is_known_command(command: str) -> bool:
    """Whether ``command`` (any case, any accents, punctuation around it) is one of the command words."""
    return bare(command) in COMMAND_WORDS


def small_talk(command: str, args: str = "") -> Intent | None:
    """A greeting or thanks the help task answers with one line instead of the command list."""
    read = intent(f"{command} {args}")
    return read[0] if read is not None and read[0] is not Intent.NEXT else None


def parse_command(text: str) -> ParsedCommand:
    """Resolve the first word of ``text`` (bot mention removed) to a task.

    An empty message is a request for help. A first word that is no command may still be a
    question for the next item (``¿qué sigue?``): then the next item. Anything else goes to
    help, which answers small talk in a line, suggests the word a typo meant, or names the word.
    """
    words = strip_bot_mention(text).split(maxsplit=1)
    if not words:
        return ParsedCommand(TaskName.HELP, "", "")
    if len(words) > 1 and bare(words[0]) in _LEAD_INS:
        # "hola, ayuda", "hey help", "porfa, busca python": the command follows a greeting.
        rest = words[1].lstrip(PUNCTUATION + " ").split(maxsplit=1)
        if rest and bare(rest[0]) in COMMAND_WORDS:
            words = rest
    command = plain(words[0])
    args = words[1].strip() if len(words) > 1 else ""
    task = COMMAND_WORDS.get(bare(command))
    if task is not None:
        # "search: python" and "search : python": the colon belongs to neither.
        return ParsedCommand(task, command, args.lstrip(PUNCTUATION + " ").strip() if args[:1] in ":," else args)
    read = intent(f"{command} {args}")
    if read is not None and read[0] is Intent.NEXT:
        return ParsedCommand(TaskName.NEXT_EVENT, command_name(TaskName.NEXT_EVENT, read[1] or "en"), "")
    return ParsedCommand(TaskName.HELP, command, args)
