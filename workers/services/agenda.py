"""The agenda: loading it from its source, validating every item, swapping it in, and querying it.

A source is ``https://...`` (or ``http://127.0.0.1``/``localhost`` for local tests), ``s3://bucket/key``,
or nothing: the sample agenda shipped inside this package. The document is JSON,
``{"items": [{"title", "start", "end", "url"}, ...]}`` with ISO 8601 times carrying an offset.
"""

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from contract.commands import fold
from workers.state.agenda import AgendaRecord
from workers.store import StateStore

logger = logging.getLogger(__name__)

EMBEDDED_SOURCE = "embedded:sample_agenda.json"
MAX_SOURCE_BYTES = 1024 * 1024
MAX_ITEMS = 2000
FETCH_TIMEOUT_S = 10
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class AgendaSourceError(ValueError):
    """The source could not be read or is not a valid agenda; the message says why."""


class AgendaItem(BaseModel):
    """One event or course on the agenda."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=300)
    start: AwareDatetime
    end: AwareDatetime
    url: HttpUrl

    @model_validator(mode="after")
    def _ends_after_start(self) -> "AgendaItem":
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class AgendaDocument(BaseModel):
    """The whole source document: a list of items, each checked on its own (``parse_agenda``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[dict[str, Any]] = Field(max_length=MAX_ITEMS)


# A document with at least this share of invalid items is refused whole: a source that is mostly
# broken is more likely a wrong file than a few typos, and replacing the agenda with its remains
# would lose most of it. Below it, the valid items are used and the invalid ones named in the log.
MAX_INVALID_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class ParsedAgenda:
    """The valid items of a document and what was wrong with the others."""

    items: list[AgendaItem]
    rejected: int
    problems: str


@dataclass(frozen=True, slots=True)
class RefreshResult:
    version: str
    items: int
    source: str
    rejected: int = 0
    problems: str = ""


def describe_source(source: str | None) -> str:
    """The source as safe to log: no query string (signed URLs carry credentials there)."""
    if not source:
        return EMBEDDED_SOURCE
    parts = urlsplit(source)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _read_http(source: str) -> bytes:
    parts = urlsplit(source)
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise AgendaSourceError("plain http is only allowed for a local test server; use https")
    request = urllib.request.Request(source, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310
            raw: bytes = response.read(MAX_SOURCE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise AgendaSourceError(f"HTTP {error.code}") from error
    except (urllib.error.URLError, OSError) as error:
        raise AgendaSourceError(f"could not fetch: {type(error).__name__}") from error
    return raw


def _read_s3(source: str, s3_client: Callable[[], Any]) -> bytes:
    parts = urlsplit(source)
    if not parts.netloc or not parts.path.strip("/"):
        raise AgendaSourceError("an S3 source is s3://bucket/key")
    try:
        body = s3_client().get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))["Body"]
        raw: bytes = body.read(MAX_SOURCE_BYTES + 1)
    except ClientError as error:
        raise AgendaSourceError(f"S3 {error.response.get('Error', {}).get('Code', 'error')}") from error
    except BotoCoreError as error:
        raise AgendaSourceError(f"S3 unreachable: {type(error).__name__}") from error
    return raw


def read_source(source: str | None, *, s3_client: Callable[[], Any]) -> bytes:
    """The raw bytes of the agenda document.

    Raises:
        AgendaSourceError: Unsupported scheme, HTTP error, S3 error, or too large.
    """
    if not source:
        raw = resources.files("workers.services").joinpath("sample_agenda.json").read_bytes()
    else:
        scheme = urlsplit(source).scheme
        if scheme in ("https", "http"):
            raw = _read_http(source)
        elif scheme == "s3":
            raw = _read_s3(source, s3_client)
        else:
            raise AgendaSourceError(f"unsupported source scheme {scheme or '(none)'!r}")
    if len(raw) > MAX_SOURCE_BYTES:
        raise AgendaSourceError(f"document larger than {MAX_SOURCE_BYTES} bytes")
    return raw


def _problems(error: ValidationError, where: str = "") -> list[str]:
    return [
        f"{where}{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}" for problem in error.errors()[:3]
    ]


def parse_agenda(raw: bytes) -> ParsedAgenda:
    """Validate a document item by item.

    Raises:
        AgendaSourceError: Not JSON, not ``{"items": [...]}``, no items at all, or at least
            ``MAX_INVALID_SHARE`` of the items invalid (the first problems are named).
    """
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise AgendaSourceError(f"invalid JSON: {error}") from error
    try:
        entries = AgendaDocument.model_validate(document).items
    except ValidationError as error:
        raise AgendaSourceError(f"invalid agenda: {'; '.join(_problems(error))}") from error
    if not entries:
        raise AgendaSourceError("the document has no items (an empty agenda is never swapped in)")
    items: list[AgendaItem] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            items.append(AgendaItem.model_validate(entry))
        except ValidationError as error:
            problems.extend(_problems(error, f"items.{index}."))
    rejected = len(entries) - len(items)
    summary = "; ".join(problems[:3])
    if rejected / len(entries) >= MAX_INVALID_SHARE:
        raise AgendaSourceError(f"invalid agenda ({rejected} of {len(entries)} items invalid): {summary}")
    return ParsedAgenda(items=items, rejected=rejected, problems=summary)


def _record(item: AgendaItem) -> AgendaRecord:
    return AgendaRecord(title=item.title, start=item.start.isoformat(), end=item.end.isoformat(), url=str(item.url))


def refresh(store: StateStore, source: str | None, *, s3_client: Callable[[], Any], now: float) -> RefreshResult:
    """Load, validate and swap in the agenda from ``source``; the old agenda stays on any error.

    Raises:
        AgendaSourceError: The source is unreadable, empty or mostly invalid (nothing was written).
        workers.store.StoreUnavailableError: DynamoDB failed; the live agenda is unchanged.
    """
    parsed = parse_agenda(read_source(source, s3_client=s3_client))
    version = store.replace_agenda([_record(item) for item in parsed.items], now=now)
    return RefreshResult(
        version=version,
        items=len(parsed.items),
        source=describe_source(source),
        rejected=parsed.rejected,
        problems=parsed.problems,
    )


def load_items(store: StateStore) -> list[AgendaItem] | None:
    """The live agenda, oldest first; ``None`` if none was ever loaded."""
    records = store.agenda()
    if records is None:
        return None
    items = [
        AgendaItem.model_validate({"title": r.title, "start": r.start, "end": r.end, "url": r.url}) for r in records
    ]
    return sorted(items, key=lambda item: item.start)


def next_item(items: Sequence[AgendaItem], now: datetime) -> AgendaItem | None:
    """The item that starts soonest after ``now`` (not simply the first listed)."""
    upcoming = [item for item in items if item.start > now]
    return min(upcoming, key=lambda item: item.start, default=None)


def search(items: Sequence[AgendaItem], text: str, now: datetime) -> list[AgendaItem]:
    """Items whose title contains ``text``, ignoring case and accents.

    Upcoming items come first, soonest first; then past ones, most recent first.
    """
    needle = fold(" ".join(text.split()))
    matches = [item for item in items if needle in fold(item.title)]
    upcoming = sorted((item for item in matches if item.start > now), key=lambda item: item.start)
    past = sorted((item for item in matches if item.start <= now), key=lambda item: item.start, reverse=True)
    return upcoming + past
