"""The worked example of a job: a weekly "commands used" summary, posted to one channel once a week.

Scheduled by a ``schedules`` entry in ``cdk.json`` (docs/EXTENDING.md, "Add a schedule") or sent
by hand::

    charla send usage_report '{"team_id": "T0123", "channel": "C0123"}'

The post is keyed by workspace, channel and ISO week (``period``), so a redelivered message, a
retried schedule or a second send in the same week posts nothing more.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from jobs import Job, JobContext


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageReport:
    """Post the workspace's command counts to ``channel``, once per ``period``.

    Attributes:
        correlation_id: The scheduled event's id, or the sender's.
        team_id: The workspace whose commands are counted.
        channel: Where the summary is posted (the bot must be a member).
        period: What the post is once per, e.g. ``2026-W49``; ``None``: the ISO week of ``requested_at``.
        requested_at: Epoch seconds when the report was asked for.
        schema_version: Bumped on incompatible changes to this shape.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    correlation_id: str
    team_id: str
    channel: str
    period: str | None = None
    requested_at: float
    schema_version: int = 1


def week_of(epoch_s: float) -> str:
    """The ISO week of ``epoch_s`` in UTC, e.g. ``2026-W49``."""
    year, week, _ = datetime.fromtimestamp(epoch_s, UTC).isocalendar()
    return f"{year}-W{week:02d}"


def summary(counts: dict[str, int], period: str) -> str:
    """The post: one line per command, most used first."""
    if not counts:
        return f"Commands used ({period}): none yet."
    lines = [f"• {command}: {count}" for command, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    return f"Commands used ({period}):\n" + "\n".join(lines)


def run(report: UsageReport, context: JobContext) -> None:
    """Count the workspace's commands and post the summary, once per team, channel and period."""
    period = report.period or week_of(report.requested_at)
    text = summary(dict(context.command_counts(report.team_id)), period)
    context.once(
        f"usage_report:{report.team_id}:{report.channel}:{period}",
        lambda: context.slack.chat_postMessage(channel=report.channel, text=text),
    )


usage_report = Job(name="usage_report", payload=UsageReport, run=run)
