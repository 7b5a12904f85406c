"""A person's language when their words show none: Slack locale, then last written, then the default."""

from dataclasses import dataclass, field
from typing import Any

from workers.services import languages
from workers.store import PersonLanguages


@dataclass
class _Store:
    known: PersonLanguages = field(default_factory=lambda: PersonLanguages(None, 0.0, None))
    cached: list[tuple[str, float]] = field(default_factory=list)

    def person_languages(self, *, team_id: str, user: str) -> PersonLanguages:
        return self.known

    def remember_locale(self, *, team_id: str, user: str, locale: str, now: float) -> None:
        self.cached.append((locale, now))


@dataclass
class _Slack:
    locale: str
    calls: int = 0

    def users_info(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        assert kwargs["include_locale"] is True
        return {"user": {"locale": self.locale}}


def _lang(store: _Store, slack: _Slack, default: str = "en", now: float = 1000.0) -> str:
    return languages.person_language(
        team_id="T",
        user="U",
        store=store,
        reader=slack,
        default=default,
        clock=lambda: now,  # type: ignore[arg-type]
    )


def test_the_slack_locale_comes_first_and_is_cached() -> None:
    store, slack = _Store(), _Slack("es-LA")
    assert _lang(store, slack) == "es" and store.cached == [("es-LA", 1000.0)]
    store.known = PersonLanguages("es-LA", 1000.0, "en")
    assert _lang(store, slack, now=2000.0) == "es" and slack.calls == 1  # from the cache
    assert _lang(store, slack, now=1000.0 + languages.LOCALE_CACHE_S + 1) == "es" and slack.calls == 2


def test_then_the_language_last_written_then_the_workspace_default() -> None:
    assert _lang(_Store(PersonLanguages("pt-BR", 1000.0, "en")), _Slack("pt-BR"), default="es") == "en"
    assert _lang(_Store(PersonLanguages("pt-BR", 1000.0, None)), _Slack("pt-BR"), default="es") == "es"
    assert languages.locale_language("en_GB") == "en" and languages.locale_language("") is None
