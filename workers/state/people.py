"""What is known of each person: the language they read (Slack locale, the language they last
wrote in) and the Home view last published for them.

They live on the person's message-counter item (``COUNT#<team>`` / ``USER#<user>``, the archive's
key): the archive transaction that counts a new message also records the language it was written
in, so learning it costs no write of its own (a separate conditional write bills a write unit
even when nothing changed).
"""

from dataclasses import dataclass

from workers.state.archive import user_count_key
from workers.state.records import Records
from workers.state.table import n as _n
from workers.state.table import num as _num
from workers.state.table import s as _s


def person_key(team_id: str, user: str) -> dict[str, str]:
    return user_count_key(team_id, user)


@dataclass(frozen=True, slots=True)
class PersonLanguages:
    """A person's language sources: their Slack locale (cached) and the language they last wrote in."""

    locale: str | None
    locale_read_at: float
    last_written: str | None
    home_view: str | None = None  # digest of the Home view last published for them


class PeopleRecords(Records):
    """People's language and Home view records (a mixin of ``StateStore``)."""

    def person_languages(self, *, team_id: str, user: str) -> "PersonLanguages":
        """What is known of ``user``'s language: Slack locale (and when it was read), last written."""
        item = self._get(person_key(team_id, user)) or {}
        return PersonLanguages(
            locale=item["locale"]["S"] if "locale" in item else None,
            locale_read_at=_num(item, "locale_read_at"),
            last_written=item["last_written"]["S"] if "last_written" in item else None,
            home_view=item["home_view"]["S"] if "home_view" in item else None,
        )

    def remember_home_view(self, *, team_id: str, user: str, digest: str) -> None:
        """Record the digest of the Home view last published for ``user`` (the next same one is skipped)."""
        self._update(
            person_key(team_id, user), "SET home_view = :digest", {":digest": _s(digest)}, what="remember home view"
        )

    def remember_locale(self, *, team_id: str, user: str, locale: str, now: float) -> None:
        """Cache ``user``'s Slack locale (``""``: Slack gave none) as read at ``now``."""
        self._update(
            person_key(team_id, user),
            "SET #locale = :locale, locale_read_at = :at",
            {":locale": _s(locale), ":at": _n(now)},
            names={"#locale": "locale"},
            what="remember locale",
        )
