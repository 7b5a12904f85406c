"""English texts (the default language)."""

TEXTS: dict[str, str] = {
    # home tab
    "home.title": "charla",
    "home.commands": "*What I can do* (mention me, DM me, or use `/charla <command>`):",
    "home.agenda": "*Coming up*",
    # failure
    "failure.notice": "Sorry, I could not answer that this time. Please try again in a while.",
    # help
    "help.header": "Commands (mention me, DM me, or use `/charla <command>`):",
    "help.unknown": "Sorry, I don't know `{word}`. Try one of these:",
    "help.footer": "`help <command>` explains one, with an example.",
    "help.one": "{usage}: {detail}\nExample: {example}",
    "help.no_such_topic": "I have no command `{word}`.",
    "help.did_you_mean": "Did you mean `{command}`?",
    "talk.greeting": "Hi! I'm charla: say `help` to see what I can do.",
    "talk.thanks": "You're welcome!",
    # dates (not strftime: its names follow the machine's locale)
    "date.weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
    "date.months": "Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec",
    # agenda
    "agenda.empty": "The agenda is empty right now.",
    "agenda.details": "details",
    "agenda.past": "(past)",
    "agenda.time_note": "Times are shown in your time zone.",
    "next.none": "Nothing upcoming on the agenda.",
    "search.ask": "Tell me what to look for: `search <text>`, e.g. `search python`.",
    "search.none": "Nothing on the agenda matches “{query}”.",
    "search.header.one": "1 item on the agenda matches “{query}”:",
    "search.header.many": "{count} items on the agenda match “{query}”:",
    "search.page": "Showing {first}-{last} of {count}.",
    "search.and_more": "…and {more} more.",
    "search.more_button": "Next",
    "search.previous_button": "Previous",
    "search.share_button": "Share",
    "search.no_more": "No more results for “{query}”.",
    # count
    "count.self.one": "You have written {count} message here.",
    "count.self.many": "You have written {count} messages here.",
    # stats
    "stats.none": "No commands used yet.",
    "stats.header": "Most used commands:",
    "stats.line.one": "{rank}. `{name}`: {uses} use",
    "stats.line.many": "{rank}. `{name}`: {uses} uses",
}
