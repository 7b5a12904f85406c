"""The bot's answers: text in the asker's language (``texts/``), plus Block Kit where it helps.

An ``Answer`` is what ``replies.deliver`` posts: ``text`` is the plain fallback Slack shows in
notifications (and the whole answer when there are no blocks); ``blocks`` the rich layout.
Dates in blocks use Slack's ``<!date^…>`` tokens so each reader sees their own time zone.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from commands import COMMANDS
from contract.command_spec import Answer, Command
from contract.commands import (
    COMMAND_WORDS,
    SEARCH_MORE_ACTION,
    SEARCH_PREVIOUS_ACTION,
    SEARCH_SHARE_ACTION,
    is_known_command,
    more_button_value,
    name_in,
    small_talk,
    suggestion,
)
from contract.reading import Intent, bare, plain
from workers.services.texts import text

if TYPE_CHECKING:
    from workers.services.agenda import AgendaItem

SEARCH_LIMIT = 5
STATS_LIMIT = 5
# The order commands are listed in help: each command's declared order (``commands/``).
HELP_ORDER: tuple[str, ...] = tuple(command.task for command in COMMANDS)
_COMMANDS_BY_TASK = {command.task: command for command in COMMANDS}


# Echoed user text is cut to this many characters: a quote, never the whole message back.
QUOTE_CHARS = 40
# At most this many people in one ``count`` answer.
MAX_COUNTED_USERS = 10


def escape(value: str) -> str:
    """Slack's three control characters, so echoed user text cannot become a mention or link."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote(value: str, limit: int = QUOTE_CHARS) -> str:
    """User text to echo: one line, at most ``limit`` characters (cut with "…"), escaped."""
    line = " ".join(value.split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return escape(line)


def _mrkdwn(value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": value}


def section(value: str) -> dict[str, Any]:
    """A Block Kit section of mrkdwn text."""
    return {"type": "section", "text": _mrkdwn(value)}


def context(value: str) -> dict[str, Any]:
    """A Block Kit context line of mrkdwn text."""
    return {"type": "context", "elements": [_mrkdwn(value)]}


# -- ping, help ----------------------------------------------------------------------------


def worker_label(worker: str) -> str:
    """Who ran a task, without the machine's host name (``worker@ip-10-0-1-5`` -> ``worker``)."""
    return worker.split("@", 1)[0]


def pong(*, worker: str, queue_delay_ms: float, lang: str = "en") -> Answer:
    """The answer to ``ping``: who answered (no host name) and how long the request waited in the queue."""
    return Answer(text(lang, "ping.pong", worker=worker_label(worker), delay_ms=f"{queue_delay_ms:.0f}"))


def usage(command: Command, lang: str) -> str:
    """How to type ``command`` in ``lang``, then in its other languages (``ve`` then ``ping``)."""
    own = f"`{command.help_in(lang).usage}`"
    # A language without its own help line shows the base language's: not twice.
    shown = dict.fromkeys(f"`{line.usage}`" for line in command.help.values())
    others = [typed for typed in shown if typed != own]
    return f"{own} ({', '.join(others)})" if others else own


def help_lines(lang: str) -> list[str]:
    """One line per command: usage and summary, in ``lang`` (help and the App Home show them)."""
    return [f"• {usage(command, lang)}: {command.help_in(lang).summary}" for command in COMMANDS]


def help_text(command: str, args: str = "", *, lang: str = "en") -> Answer:
    """The command list; ``help <command>`` explains that one. A message that is no command gets
    one line for a greeting or thanks, a suggestion for a typo, else the list naming the word."""
    topic = args.split(maxsplit=1)[0] if args.strip() else ""
    known = is_known_command(command)
    talk = None if known else small_talk(command, args)
    if talk is not None:
        return Answer(text(lang, "talk.greeting" if talk is Intent.GREETING else "talk.thanks"))
    meant = None if known or not command else suggestion(command)
    if meant is not None:
        guess = f"{meant} {args}" if args.strip() else meant
        return Answer(text(lang, "help.did_you_mean", command=quote(guess)))
    if known and topic and bare(topic) in COMMAND_WORDS:
        explained = _COMMANDS_BY_TASK[COMMAND_WORDS[bare(topic)]]
        line = explained.help_in(lang)
        return Answer(
            text(lang, "help.one", usage=usage(explained, lang), detail=line.detail, example=f"`{line.example}`")
        )
    if not command or (known and not topic):
        header = text(lang, "help.header")
    elif known:
        header = text(lang, "help.no_such_topic", word=quote(plain(topic))) + " " + text(lang, "help.header")
    else:
        header = text(lang, "help.unknown", word=quote(plain(command)))
    return Answer("\n".join([header, *help_lines(lang), text(lang, "help.footer")]))


# -- agenda ------------------------------------------------------------------------------------


def _zone(moment: datetime) -> str:
    offset = moment.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def day_and_time(moment: datetime, lang: str = "en") -> str:
    """``Thu 04 Mar 2027, 16:00`` (``jue 04 mar 2027, 16:00`` in Spanish): names from the catalogue,
    not ``strftime``, whose names follow the machine's locale (English on Lambda and Fargate)."""
    weekday = text(lang, "date.weekdays").split(",")[moment.weekday()]
    month = text(lang, "date.months").split(",")[moment.month - 1]
    return f"{weekday} {moment.day:02d} {month} {moment.year}, {moment.strftime('%H:%M')}"


def when(item: "AgendaItem", lang: str = "en") -> str:
    """``Thu 04 Mar 2027, 16:00-19:00 UTC`` (the end's date too when it ends another day)."""
    start, end = item.start, item.end.astimezone(item.start.tzinfo)
    zone = _zone(start)
    end_text = end.strftime("%H:%M") if end.date() == start.date() else day_and_time(end, lang)
    return f"{day_and_time(start, lang)}-{end_text} {zone}"


def slack_date(moment: datetime, token_format: str, fallback: str) -> str:
    """Slack's date token: rendered in each reader's time zone, ``fallback`` where it cannot be."""
    return f"<!date^{int(moment.timestamp())}^{token_format}|{fallback}>"


def when_tokens(item: "AgendaItem", lang: str = "en") -> str:
    """The item's time span as Slack date tokens (the end's date too when it ends another day).

    The fallbacks (shown where tokens are not rendered) read like ``when``: the zone once, at the end.
    """
    start, end = item.start, item.end.astimezone(item.start.tzinfo)
    begin = slack_date(start, "{date_short_pretty} {time}", day_and_time(start, lang))
    if end.date() == start.date():
        finish = slack_date(end, "{time}", f"{end.strftime('%H:%M')} {_zone(start)}")
    else:
        finish = slack_date(end, "{date_short_pretty} {time}", f"{day_and_time(end, lang)} {_zone(start)}")
    return f"{begin}-{finish}"


def _past_mark(item: "AgendaItem", now: datetime | None, lang: str) -> str:
    return f" {text(lang, 'agenda.past')}" if now is not None and item.end <= now else ""


def agenda_line(item: "AgendaItem", lang: str = "en", *, now: datetime | None = None) -> str:
    """One item as plain mrkdwn text (notification fallback): title, time in its own zone, link;
    marked as past when it ended before ``now``."""
    past = _past_mark(item, now, lang)
    return f"*{escape(item.title)}*{past}, {when(item, lang)} <{item.url}|{text(lang, 'agenda.details')}>"


def agenda_block(item: "AgendaItem", lang: str = "en", *, now: datetime | None = None) -> dict[str, Any]:
    """One item as a Block Kit section: linked title, then the time in the reader's zone."""
    past = _past_mark(item, now, lang)
    return section(f"*<{item.url}|{escape(item.title)}>*{past}\n{when_tokens(item, lang)}")


def next_event(item: "AgendaItem | None", *, agenda_empty: bool, lang: str = "en") -> Answer:
    """The answer to ``next``: empty agenda, nothing upcoming, or the item."""
    if agenda_empty:
        return Answer(text(lang, "agenda.empty"))
    if item is None:
        return Answer(text(lang, "next.none"))
    heading = text(lang, "next.item", item="")
    return Answer(
        text(lang, "next.item", item=agenda_line(item, lang)),
        [section(heading.strip()), agenda_block(item, lang), context(text(lang, "agenda.time_note"))],
    )


def _page_button(action_id: str, label: str, value: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": label}, "value": value}


def search_results(
    query: str,
    matches: Sequence["AgendaItem"] | None,
    *,
    lang: str = "en",
    offset: int = 0,
    limit: int = SEARCH_LIMIT,
    now: datetime | None = None,
    ephemeral: bool = False,
    replace_original: bool = False,
    thread_ts: str | None = None,
) -> Answer:
    """One page of a search: ``limit`` items from ``offset``; past items marked.

    Buttons: *Previous* and *Next* when there are pages before or after; on a page only the
    asker sees (``ephemeral``), *Share* posts that page for everyone.
    """
    if not query.strip():
        return Answer(text(lang, "search.ask"))
    if matches is None:  # the agenda itself is empty
        return Answer(text(lang, "agenda.empty"))
    searched = " ".join(query.split())
    shown = quote(searched)
    if not matches:
        return Answer(text(lang, "search.none", query=shown))
    page = matches[offset : offset + limit]
    if not page:
        return Answer(text(lang, "search.no_more", query=shown))
    number = "one" if len(matches) == 1 else "many"
    header = text(lang, f"search.header.{number}", count=len(matches), query=shown)
    remaining = len(matches) - offset - len(page)
    lines = [header, *(f"• {agenda_line(item, lang, now=now)}" for item in page)]
    if remaining > 0:
        lines.append(text(lang, "search.and_more", more=remaining))
    blocks = [section(header), *(agenda_block(item, lang, now=now) for item in page)]
    notes = [text(lang, "agenda.time_note")]
    if len(matches) > limit:  # "Showing 1-1 of 1" says nothing: only when there are pages
        notes.insert(0, text(lang, "search.page", first=offset + 1, last=offset + len(page), count=len(matches)))
    blocks.append(context(" ".join(notes)))
    buttons = []
    if offset > 0:
        back = more_button_value(searched, max(0, offset - limit), lang, thread_ts)
        buttons.append(_page_button(SEARCH_PREVIOUS_ACTION, text(lang, "search.previous_button"), back))
    if remaining > 0:
        forward = more_button_value(searched, offset + len(page), lang, thread_ts)
        buttons.append(_page_button(SEARCH_MORE_ACTION, text(lang, "search.more_button"), forward))
    if ephemeral:
        here = more_button_value(searched, offset, lang, thread_ts)
        buttons.append(_page_button(SEARCH_SHARE_ACTION, text(lang, "search.share_button"), here))
    if buttons and (ephemeral or len(matches) > limit):
        blocks.append({"type": "actions", "elements": buttons})
    return Answer("\n".join(lines), blocks, replace_original=replace_original)


# -- counters ----------------------------------------------------------------------------------


def message_count(*, user: str, count: int, asker: str, lang: str = "en") -> Answer:
    """The answer to ``count`` about one person."""
    number = "one" if count == 1 else "many"
    if user == asker:
        return Answer(text(lang, f"count.self.{number}", count=count))
    return Answer(text(lang, f"count.other.{number}", user=user, count=count))


def message_counts(counts: Sequence[tuple[str, int]], *, asker: str, lang: str = "en") -> Answer:
    """The answer to ``count @bob @dave``: one line per person, in the order they were named."""
    if len(counts) == 1:
        user, count = counts[0]
        return message_count(user=user, count=count, asker=asker, lang=lang)
    return Answer("\n".join(message_count(user=u, count=c, asker=asker, lang=lang).text for u, c in counts))


def not_a_mention(arg: str, *, lang: str = "en") -> Answer:
    """``count bob``: say how it was read and how to ask, instead of answering about the asker."""
    word = quote(plain(arg.split(maxsplit=1)[0].lstrip("@")), limit=24)
    return Answer(text(lang, "count.not_a_mention", arg=word))


def stats(counts: Mapping[str, int], *, limit: int = STATS_LIMIT, lang: str = "en") -> Answer:
    """The answer to ``stats``: most used first, ties by name; names in the asker's language."""
    if not counts:
        return Answer(text(lang, "stats.none"))
    top = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
    lines = [text(lang, "stats.header")]
    lines += [
        text(lang, f"stats.line.{'one' if uses == 1 else 'many'}", rank=rank, name=name_in(name, lang), uses=uses)
        for rank, (name, uses) in enumerate(top, 1)
    ]
    return Answer("\n".join(lines))


def failure_notice(*, lang: str) -> Answer:
    """One line for someone whose answer could not be given (it ended in the dead-letter queue)."""
    return Answer(text(lang, "failure.notice"))


def welcome(greeting: str, *, user: str, channel: str) -> Answer:
    """The configured welcome; ``{user}`` in it becomes a mention of the newcomer, ``{channel}``
    a link to the channel they joined."""
    return Answer(greeting.replace("{user}", f"<@{user}>").replace("{channel}", f"<#{channel}>"))
