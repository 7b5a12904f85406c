"""The bot's answers: text in the asker's language (``texts/``), plus Block Kit where it helps.

An ``Answer`` is what ``replies.deliver`` posts: ``text`` is the plain fallback Slack shows in
notifications (and the whole answer when there are no blocks); ``blocks`` the rich layout.
Dates in blocks use Slack's ``<!date^…>`` tokens so each reader sees their own time zone.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from contract.commands import COMMAND_NAMES, COMMAND_WORDS, SEARCH_MORE_ACTION, fold, more_button_value
from contract.tasks import TaskName
from workers.services.texts import text

if TYPE_CHECKING:
    from workers.services.agenda import AgendaItem

SEARCH_LIMIT = 5
STATS_LIMIT = 5
# The order commands are listed in help.
HELP_ORDER = (
    TaskName.HELP,
    TaskName.PING,
    TaskName.NEXT_EVENT,
    TaskName.SEARCH_AGENDA,
    TaskName.COUNT_MESSAGES,
    TaskName.STATS,
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the bot says: plain ``text`` (always) and optional Block Kit ``blocks``."""

    text: str
    blocks: list[dict[str, Any]] | None = None


def escape(value: str) -> str:
    """Slack's three control characters, so echoed user text cannot become a mention or link."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": value}


def _section(value: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(value)}


def _context(value: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(value)]}


# -- ping, help ----------------------------------------------------------------------------


def pong(*, worker: str, queue_delay_ms: float, lang: str = "en") -> Answer:
    """The answer to ``ping``: who answered and how long the request waited in the queue."""
    return Answer(text(lang, "ping.pong", worker=worker, delay_ms=f"{queue_delay_ms:.0f}"))


def _command_key(task: TaskName) -> str:
    return f"cmd.{COMMAND_NAMES[task]}"


def help_text(command: str, args: str = "", *, lang: str = "en") -> Answer:
    """The command list; ``help <command>`` explains that one; an unknown word is named first."""
    topic = args.split(maxsplit=1)[0] if args.strip() else ""
    known = fold(command) in COMMAND_WORDS
    if known and topic and fold(topic) in COMMAND_WORDS:
        key = _command_key(COMMAND_WORDS[fold(topic)])
        return Answer(
            text(
                lang,
                "help.one",
                usage=text(lang, f"{key}.usage"),
                detail=text(lang, f"{key}.detail"),
                example=text(lang, f"{key}.example"),
            )
        )
    if not command or (known and not topic):
        header = text(lang, "help.header")
    elif known:
        header = text(lang, "help.no_such_topic", word=escape(topic)) + " " + text(lang, "help.header")
    else:
        header = text(lang, "help.unknown", word=escape(command))
    lines = [
        f"• {text(lang, f'{_command_key(task)}.usage')}: {text(lang, f'{_command_key(task)}.summary')}"
        for task in HELP_ORDER
    ]
    return Answer("\n".join([header, *lines, text(lang, "help.footer")]))


# -- agenda ------------------------------------------------------------------------------------


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


def slack_date(moment: datetime, token_format: str, fallback: str) -> str:
    """Slack's date token: rendered in each reader's time zone, ``fallback`` where it cannot be."""
    return f"<!date^{int(moment.timestamp())}^{token_format}|{fallback}>"


def when_tokens(item: "AgendaItem") -> str:
    """The item's time span as Slack date tokens (the end's date too when it ends another day).

    The fallbacks (shown where tokens are not rendered) read like ``when``: the zone once, at the end.
    """
    start, end = item.start, item.end.astimezone(item.start.tzinfo)
    begin = slack_date(start, "{date_short_pretty} {time}", start.strftime("%a %d %b %Y, %H:%M"))
    if end.date() == start.date():
        finish = slack_date(end, "{time}", f"{end.strftime('%H:%M')} {_zone(start)}")
    else:
        finish = slack_date(end, "{date_short_pretty} {time}", f"{end.strftime('%a %d %b %Y, %H:%M')} {_zone(start)}")
    return f"{begin}-{finish}"


def agenda_line(item: "AgendaItem", lang: str = "en") -> str:
    """One item as plain mrkdwn text (notification fallback): title, time in its own zone, link."""
    return f"*{escape(item.title)}*, {when(item)} <{item.url}|{text(lang, 'agenda.details')}>"


def agenda_block(item: "AgendaItem") -> dict[str, Any]:
    """One item as a Block Kit section: linked title, then the time in the reader's zone."""
    return _section(f"*<{item.url}|{escape(item.title)}>*\n{when_tokens(item)}")


def next_event(item: "AgendaItem | None", *, agenda_empty: bool, lang: str = "en") -> Answer:
    """The answer to ``next``: empty agenda, nothing upcoming, or the item."""
    if agenda_empty:
        return Answer(text(lang, "agenda.empty"))
    if item is None:
        return Answer(text(lang, "next.none"))
    heading = text(lang, "next.item", item="")
    return Answer(
        text(lang, "next.item", item=agenda_line(item, lang)),
        [_section(heading.strip()), agenda_block(item), _context(text(lang, "agenda.time_note"))],
    )


def search_results(
    query: str,
    matches: Sequence["AgendaItem"] | None,
    *,
    lang: str = "en",
    offset: int = 0,
    limit: int = SEARCH_LIMIT,
) -> Answer:
    """One page of a search: ``limit`` items from ``offset``, and a "More" button if more remain."""
    if not query.strip():
        return Answer(text(lang, "search.ask"))
    if matches is None:  # the agenda itself is empty
        return Answer(text(lang, "agenda.empty"))
    shown = escape(" ".join(query.split()))
    if not matches:
        return Answer(text(lang, "search.none", query=shown))
    page = matches[offset : offset + limit]
    if not page:
        return Answer(text(lang, "search.no_more", query=shown))
    header = text(lang, "search.header", count=len(matches), query=shown)
    remaining = len(matches) - offset - len(page)
    lines = [header, *(f"• {agenda_line(item, lang)}" for item in page)]
    if remaining > 0:
        lines.append(text(lang, "search.and_more", more=remaining))
    progress = text(lang, "search.page", first=offset + 1, last=offset + len(page), count=len(matches))
    blocks = [_section(header), *(agenda_block(item) for item in page), _context(progress)]
    if remaining > 0:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": SEARCH_MORE_ACTION,
                        "text": {"type": "plain_text", "text": text(lang, "search.more_button")},
                        "value": more_button_value(" ".join(query.split()), offset + len(page), lang),
                    }
                ],
            }
        )
    return Answer("\n".join(lines), blocks)


# -- counters ----------------------------------------------------------------------------------


def message_count(*, user: str, count: int, asker: str, lang: str = "en") -> Answer:
    """The answer to ``count``."""
    number = "one" if count == 1 else "many"
    if user == asker:
        return Answer(text(lang, f"count.self.{number}", count=count))
    return Answer(text(lang, f"count.other.{number}", user=user, count=count))


def not_a_mention(arg: str, *, lang: str = "en") -> Answer:
    """``count bob``: say how it was read and how to ask, instead of answering about the asker."""
    word = escape(arg.split(maxsplit=1)[0].lstrip("@"))
    return Answer(text(lang, "count.not_a_mention", arg=word))


def stats(counts: Mapping[str, int], *, limit: int = STATS_LIMIT, lang: str = "en") -> Answer:
    """The answer to ``stats``: most used first, ties by name."""
    if not counts:
        return Answer(text(lang, "stats.none"))
    top = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
    lines = [text(lang, "stats.header")]
    lines += [
        text(lang, f"stats.line.{'one' if uses == 1 else 'many'}", rank=rank, name=name, uses=uses)
        for rank, (name, uses) in enumerate(top, 1)
    ]
    return Answer("\n".join(lines))


def welcome(greeting: str, *, user: str) -> Answer:
    """The configured welcome; ``{user}`` in it becomes a mention of the newcomer."""
    return Answer(greeting.replace("{user}", f"<@{user}>"))
