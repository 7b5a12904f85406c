"""The language a person reads: their words first, then who they are.

What someone typed decides when it shows a language (``ayuda``, ``what's next?``,
``contract.commands.typed_language``). When it shows none (a bare ``/charla``, ``👋``, a welcome,
the App Home), the person's language answers, in this order:

1. their Slack locale (``users.info`` with ``include_locale``; ``es-ES``, ``es-LA`` -> ``es``),
   cached in the state table for ``LOCALE_CACHE_S`` so a busy person costs one read, not one
   Slack call, per message;
2. the language they last wrote in: learnt from every message they write (the archive task, on
   the bulk queue, so never on an answer's path), a write only when it changes;
3. the workspace default (``default_language`` in cdk.json -> ``CHARLA_DEFAULT_LANGUAGE``).

A Slack or store failure while looking is not worth failing an answer over: the next source answers.
"""

import logging
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from contract.commands import parse_command, typed_language
from workers.services.texts import CATALOGUES
from workers.store import PersonLanguages, StateStore, StoreUnavailableError

logger = logging.getLogger(__name__)

# A person rarely changes their Slack language: read it again after a day.
LOCALE_CACHE_S = 24 * 3600


def locale_language(locale: str | None) -> str | None:
    """The catalogue for a Slack locale (``es-ES`` -> ``es``), or ``None`` if the bot has none for it."""
    if not locale:
        return None
    lang = locale.replace("_", "-").split("-", 1)[0].lower()
    return lang if lang in CATALOGUES else None


def slack_locale(reader: WebClient, user: str) -> str:
    """The user's Slack locale (``""`` when Slack gives none).

    Raises:
        SlackApiError: Slack refused or failed (the caller falls back).
        OSError: Slack could not be reached.
    """
    response = reader.users_info(user=user, include_locale=True)
    profile = response.get("user") or {}
    return str(profile.get("locale") or "")


def person_language(
    *,
    team_id: str,
    user: str,
    store: StateStore,
    reader: WebClient,
    default: str,
    known: PersonLanguages | None = None,
    clock: Callable[[], float] = time.time,
) -> str:
    """The language ``user`` reads: Slack locale, else last written, else ``default``.

    ``known``: the person's record if the caller read it already (the Home tab does).
    """
    if known is None:
        try:
            known = store.person_languages(team_id=team_id, user=user)
        except StoreUnavailableError as error:
            logger.warning("person language unread user=%s error=%s", user, error)
            return default
    locale = known.locale
    now = clock()
    if locale is None or now - known.locale_read_at > LOCALE_CACHE_S:
        try:
            locale = slack_locale(reader, user)
        except (SlackApiError, OSError) as error:
            logger.info("users.info failed user=%s error=%s; using what is known", user, type(error).__name__)
        else:
            try:
                store.remember_locale(team_id=team_id, user=user, locale=locale, now=now)
            except StoreUnavailableError as error:
                logger.warning("locale not cached user=%s error=%s", user, error)
    return locale_language(locale) or known.last_written or default


# What this process last recorded per person: a steady writer costs no write at all (the table's
# conditional write would still bill a write unit when nothing changed).
_REMEMBERED: dict[tuple[str, str], str] = {}
_REMEMBERED_MAX = 50_000


def remember_written_text(*, team_id: str, user: str, text: str, store: StateStore) -> None:
    """Record the language ``text`` shows as the one ``user`` last wrote in (if it shows one)."""
    parsed = parse_command(text)
    lang = typed_language(parsed.command, parsed.args)
    if lang is None or _REMEMBERED.get((team_id, user)) == lang:
        return
    try:
        store.remember_written_language(team_id=team_id, user=user, lang=lang)
    except StoreUnavailableError as error:
        logger.warning("written language not recorded user=%s error=%s", user, error)
        return
    if len(_REMEMBERED) >= _REMEMBERED_MAX:
        _REMEMBERED.clear()
    _REMEMBERED[(team_id, user)] = lang
