"""The app's Home tab: what a person sees when they open charla in Slack, in their language.

The commands (as ``help`` lists them), the next three agenda items, the person's own message
count and the workspace's most used commands (where ``stats`` belongs). A view is data only;
``workers/tasks_effects.py`` publishes it once per distinct content (``view_digest``).
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workers.services import answers
from workers.services.texts import text

if TYPE_CHECKING:
    from workers.services.agenda import AgendaItem

HOME_ITEMS = 3
# Slack: a Home view holds at most 100 blocks.
MAX_HOME_BLOCKS = 100


def home_view(
    *,
    lang: str,
    upcoming: Sequence["AgendaItem"] | None,
    own_count: int,
    counts: Mapping[str, int],
    now: datetime,
) -> dict[str, Any]:
    """The ``home`` view for one person (``upcoming``: ``None`` when no agenda was ever loaded)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": text(lang, "home.title")}},
        answers.section(text(lang, "home.commands")),
        answers.section("\n".join(answers.help_lines(lang))),
        {"type": "divider"},
        answers.section(text(lang, "home.agenda")),
    ]
    if not upcoming:
        blocks.append(answers.section(text(lang, "agenda.empty" if upcoming is None else "next.none")))
    else:
        blocks += [answers.agenda_block(item, lang, now=now) for item in upcoming[:HOME_ITEMS]]
        blocks.append(answers.context(text(lang, "agenda.time_note")))
    blocks.append({"type": "divider"})
    number = "one" if own_count == 1 else "many"
    blocks.append(answers.section(text(lang, f"count.self.{number}", count=own_count)))
    blocks.append(answers.section(answers.stats(counts, lang=lang).text))
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def view_digest(view: Mapping[str, Any]) -> str:
    """A short digest of a view's content: the same view is never published twice."""
    return hashlib.sha256(json.dumps(view, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
