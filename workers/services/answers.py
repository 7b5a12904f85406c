"""The text of the bot's answers."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from contract.commands import COMMAND_WORDS, fold
from contract.tasks import TaskName

if TYPE_CHECKING:
    from workers.services.agenda import AgendaItem

COMMAND_HELP: dict[TaskName, str] = {
    TaskName.HELP: "`help` (`ayuda`): this list",
    TaskName.PING: "`ping` (`ve`): check the bot is alive and how fast it answers",
    TaskName.NEXT_EVENT: "`next` (`siguiente`): the next event or course on the agenda",
    TaskName.SEARCH_AGENDA: "`search <text>` (`busca <texto>`): agenda items whose title contains the text",
    TaskName.COUNT_MESSAGES: "`count [@user]` (`cuenta [@usuario]`): how many messages someone wrote here",
    TaskName.STATS: "`stats` (`estadisticas`): the most used commands",
}
SEARCH_LIMIT = 5
STATS_LIMIT = 5


def escape(text: str) -> str:
    """Slack's three control characters, so echoed user text cannot become a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pong(*, worker: str, queue_delay_ms: float) -> str:
    """The answer to ``ping``: who answered and how long the request waited in the queue."""
    return f"pong (worker {worker}, {queue_delay_ms:.0f} ms in the queue)"


def help_text(command: str) -> str:
    """The command list; if ``command`` was not understood, say so first."""
    lines = [COMMAND_HELP[task] for task in TaskName if task in COMMAND_HELP]
    header = "Commands (mention me, DM me, or use `/charla <command>`):"
    if command and fold(command) not in COMMAND_WORDS:
        header = f"Sorry, I don't know `{escape(command)}`. " + header
    return "\n".join([header, *(f"• {line}" for line in lines)])


def _zone(moment: datetime) -> str:
    offset = moment.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def when(item: "AgendaItem") -> str:
    """``Thu 04 Mar 2027, 16:00-19:00 UTC`` (the end's date too when it ends another day)."""
    start, end = item.start, item.end.astimezone(item.start.tzinfo)
    zone = _zone(start)
    end_text = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%a %d %b %Y, %H:%M")
    return f"{start.strftime('%a %d %b %Y, %H:%M')}-{end_text} {zone}"


def agenda_line(item: "AgendaItem") -> str:
    return f"*{escape(item.title)}*, {when(item)} <{item.url}|details>"


EMPTY_AGENDA = "The agenda is empty right now."


def next_event(item: "AgendaItem | None", *, agenda_empty: bool) -> str:
    """The answer to ``next``: empty agenda, nothing upcoming, or the item."""
    if agenda_empty:
        return EMPTY_AGENDA
    if item is None:
        return "Nothing upcoming on the agenda."
    return f"Next up: {agenda_line(item)}"


def search_results(text: str, matches: Sequence["AgendaItem"] | None, *, limit: int = SEARCH_LIMIT) -> str:
    """The answer to ``search``: at most ``limit`` items, then how many more matched."""
    if not text.strip():
        return "Tell me what to look for: `search <text>` (`busca <texto>`)."
    if matches is None:  # the agenda itself is empty
        return EMPTY_AGENDA
    shown = escape(" ".join(text.split()))
    if not matches:
        return f"Nothing on the agenda matches “{shown}”."
    lines = [f"{len(matches)} on the agenda match “{shown}”:"]
    lines += [f"• {agenda_line(item)}" for item in matches[:limit]]
    if len(matches) > limit:
        lines.append(f"…and {len(matches) - limit} more.")
    return "\n".join(lines)


def message_count(*, user: str, count: int, asker: str) -> str:
    """The answer to ``count``."""
    noun = "message" if count == 1 else "messages"
    if user == asker:
        return f"You have written {count} {noun} here."
    return f"<@{user}> has written {count} {noun} here."


def stats(counts: Mapping[str, int], *, limit: int = STATS_LIMIT) -> str:
    """The answer to ``stats``: most used first, ties by name."""
    if not counts:
        return "No commands used yet."
    top = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
    lines = ["Most used commands:"]
    lines += [f"{rank}. `{name}`: {uses} use{'s' if uses != 1 else ''}" for rank, (name, uses) in enumerate(top, 1)]
    return "\n".join(lines)
