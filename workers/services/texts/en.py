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
    "cmd.help.usage": "`help [command]` (`ayuda`)",
    "cmd.help.summary": "this list, or how to use one command",
    "cmd.help.detail": "lists what I can do; with a command word, explains that command.",
    "cmd.help.example": "`help search`",
    "cmd.ping.usage": "`ping` (`ve`)",
    "cmd.ping.summary": "check the bot is alive and how fast it answers",
    "cmd.ping.detail": "answers with the worker that ran it and how long your request waited in the queue.",
    "cmd.ping.example": "`ping`",
    "cmd.next.usage": "`next` (`siguiente`)",
    "cmd.next.summary": "the next event or course on the agenda",
    "cmd.next.detail": "shows the agenda item that starts soonest, with its date in your time zone and a link.",
    "cmd.next.example": "`next`",
    "cmd.search.usage": "`search <text>` (`busca <texto>`)",
    "cmd.search.summary": "agenda items whose title contains the text",
    "cmd.search.detail": "finds agenda items whose title contains the text (case and accents don't matter); "
    "upcoming ones first, then past ones (marked). *Next* and *Previous* page through them; "
    "*Share* shows a page only you see to everyone.",
    "cmd.search.example": "`search python`",
    "cmd.count.usage": "`count [@user]` (`cuenta [@usuario]`)",
    "cmd.count.summary": "how many messages someone wrote here",
    "cmd.count.detail": "counts the messages a person wrote in this workspace: yours, or those of the person "
    "you mention.",
    "cmd.count.example": "`count @alice`",
    "cmd.stats.usage": "`stats` (`estadísticas`)",
    "cmd.stats.summary": "the most used commands",
    "cmd.stats.detail": "lists the commands used most in this workspace.",
    "cmd.stats.example": "`stats`",
    # ping
    "ping.pong": "pong (worker {worker}, {delay_ms} ms in the queue)",
    # dates (not strftime: its names follow the machine's locale)
    "date.weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
    "date.months": "Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec",
    # agenda
    "agenda.empty": "The agenda is empty right now.",
    "agenda.details": "details",
    "agenda.past": "(past)",
    "agenda.time_note": "Times are shown in your time zone.",
    "next.none": "Nothing upcoming on the agenda.",
    "next.item": "Next up: {item}",
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
    "count.other.one": "<@{user}> has written {count} message here.",
    "count.other.many": "<@{user}> has written {count} messages here.",
    "count.not_a_mention": "I read `{arg}` as plain text, not as a mention, so I don't know who that is. "
    "Mention the person: `count @{arg}` (pick them from the list Slack shows as you type).",
    # stats
    "stats.none": "No commands used yet.",
    "stats.header": "Most used commands:",
    "stats.line.one": "{rank}. `{name}`: {uses} use",
    "stats.line.many": "{rank}. `{name}`: {uses} uses",
}
