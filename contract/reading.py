"""Reading a message as people type it in Slack: punctuation, near misses, questions, small talk.

Stdlib only (the ingress imports it). Both rooms read a message with these functions, so the
ingress routes a message to the task the worker then answers in the same way.

- ``bare(word)``: a word without the punctuation people put around it (``next?``, ``¡ve!``,
  ``search:``), folded (case and accents removed).
- ``near_miss(word, words)``: the command word one typo away (``sigiente``, ``bsuca``).
- ``intent(text)``: a question that asks for the next agenda item (``¿qué sigue?``,
  ``what's next?``), or small talk (``hola``, ``gracias 🙏``, ``👋``).
"""

import unicodedata
from enum import StrEnum

# What people put around a word in chat: ``@charla: ayuda``, ``next?``, ``¡Ve!``, ``"busca"``.
PUNCTUATION = ".,;:!?¡¿…\"'“”«»()[]{}*_~`-—\u2018\u2019\u2013"  # and curly single quotes, en dash


class Intent(StrEnum):
    """What a message that is not a command word asks for."""

    NEXT = "next"  # "¿qué sigue?", "what's next?"
    GREETING = "greeting"  # "hola", "hi", "👋"
    THANKS = "thanks"  # "gracias", "thanks", "🙏"


# Folded words (see ``fold``) -> (intent, language). ``None``: the word is in both languages.
_INTENT_WORDS: dict[str, tuple[Intent, str | None]] = {
    "sigue": (Intent.NEXT, "es"),
    "proximo": (Intent.NEXT, "es"),
    "proxima": (Intent.NEXT, "es"),
    "proximos": (Intent.NEXT, "es"),
    "next": (Intent.NEXT, "en"),
    "upcoming": (Intent.NEXT, "en"),
    "hola": (Intent.GREETING, "es"),
    "buenas": (Intent.GREETING, "es"),
    "buenos": (Intent.GREETING, "es"),
    "saludos": (Intent.GREETING, "es"),
    "hi": (Intent.GREETING, "en"),
    "hello": (Intent.GREETING, "en"),
    "hey": (Intent.GREETING, "en"),
    "gracias": (Intent.THANKS, "es"),
    "thanks": (Intent.THANKS, "en"),
    "thank": (Intent.THANKS, "en"),
    "thx": (Intent.THANKS, "en"),
    "ty": (Intent.THANKS, "en"),
}
# Emoji carry an intent but no language: the person's language answers them.
_INTENT_EMOJI: dict[str, Intent] = {
    "👋": Intent.GREETING,
    "🙋": Intent.GREETING,
    "🙏": Intent.THANKS,
    "👍": Intent.THANKS,
    "❤": Intent.THANKS,
    ":wave:": Intent.GREETING,
    ":pray:": Intent.THANKS,
    ":+1:": Intent.THANKS,
    ":thumbsup:": Intent.THANKS,
}
# Everyday words that give a language away when no command word does.
_SPANISH_HINTS = frozenset(
    {"que", "como", "donde", "cuando", "cual", "por", "favor", "quien", "hay", "el", "la", "los", "las", "es",
     "mis", "mi", "mensajes", "curso", "cursos", "evento", "eventos", "oye", "y", "de", "tal"}
)  # fmt: skip
_ENGLISH_HINTS = frozenset(
    {"what", "whats", "what's", "is", "the", "my", "messages", "please", "how", "when", "where", "who",
     "event", "events", "course", "of", "and", "me"}
)  # fmt: skip
_SPANISH_MARKS = frozenset("ñ¿¡áéíóú")


def fold(text: str) -> str:
    """Lower-case and strip accents, so ``Búsca`` and ``busca`` compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def bare(word: str) -> str:
    """``word`` folded, without the punctuation around it: ``¿Qué?`` -> ``que``."""
    return fold(word).strip(PUNCTUATION)


def plain(word: str) -> str:
    """``word`` as typed, without the punctuation around it (to quote it back): ``hola,`` -> ``hola``."""
    return word.strip(PUNCTUATION) or word


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) between ``a`` and ``b``."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def near_miss(word: str, words: list[str]) -> str | None:
    """The one word of ``words`` that ``word`` is a typo of, if any (case and accents ignored).

    One edit for words of 4-6 letters, two from 7; shorter words are too easy to hit by chance
    (``yo`` is one edit from ``ve``). A tie between two words suggests neither.
    """
    typed = bare(word)
    if len(typed) < 4 or typed in words:
        return None
    allowed = 1 if len(typed) < 7 else 2
    scored = sorted((distance(typed, candidate), candidate) for candidate in words)
    best = [candidate for score, candidate in scored if score <= allowed and score == scored[0][0]]
    return best[0] if len(best) == 1 else None


def words_of(text: str) -> list[str]:
    """The folded words of ``text`` without their punctuation (empty ones dropped)."""
    return [word for word in (bare(token) for token in text.split()) if word]


def intent(text: str) -> tuple[Intent, str | None] | None:
    """What a message that starts with no command word asks for, and the language it shows.

    A question about the next item wins over a greeting (``hola, ¿qué sigue?`` asks for the next).
    """
    found: list[tuple[Intent, str | None]] = [_INTENT_WORDS[word] for word in words_of(text) if word in _INTENT_WORDS]
    found += [(meaning, None) for emoji, meaning in _INTENT_EMOJI.items() if emoji in text]
    if not found:
        return None
    for wanted in (Intent.NEXT, Intent.GREETING, Intent.THANKS):
        for meaning, lang in found:
            if meaning is wanted:
                return meaning, lang or written_language(text)
    return None  # pragma: no cover - every intent is listed above


def written_language(text: str) -> str | None:
    """``"es"`` or ``"en"`` when everyday words or Spanish marks give it away; ``None`` if nothing does."""
    if any(mark in text.casefold() for mark in _SPANISH_MARKS):
        return "es"
    words = words_of(text)
    spanish = sum(word in _SPANISH_HINTS for word in words)
    english = sum(word in _ENGLISH_HINTS for word in words)
    if spanish > english:
        return "es"
    if english > spanish:
        return "en"
    return None
