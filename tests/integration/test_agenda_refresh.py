"""Agenda refresh against DynamoDB and S3 on a real moto server and sources on a real HTTP server:
a good source swaps atomically, a bad one (HTTP error, invalid JSON, invalid item) keeps the old agenda."""

import functools
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from scripts.provision import aws_client_kwargs, dynamodb, provision
from workers.services import agenda
from workers.services.agenda import AgendaSourceError
from workers.state.agenda import AGENDA_PK, AgendaRecord
from workers.store import StateStore, StoreUnavailableError

pytestmark = pytest.mark.slow

ITEM = {
    "title": "Taller de pruebas",
    "start": "2090-01-10T18:00:00+00:00",
    "end": "2090-01-10T20:00:00+00:00",
    "url": "https://charla.example/agenda/pruebas",
}


class _Sources(BaseHTTPRequestHandler):
    """Answers each path with the (status, body) registered for it."""

    def __init__(self, *args: Any, routes: dict[str, tuple[int, bytes]], **kwargs: Any) -> None:
        self.routes = routes
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path.split("?", 1)[0], (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def sources() -> Iterator[tuple[str, dict[str, tuple[int, bytes]]]]:
    routes: dict[str, tuple[int, bytes]] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Sources, routes=routes))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", routes
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(moto_url: str) -> StateStore:
    """A fresh table per test: each starts with no agenda."""
    variables = provision(moto_url, prefix=f"agenda-{secrets.token_hex(3)}")
    return StateStore(dynamodb(moto_url), variables["CHARLA_TABLE_STATE"])


@pytest.fixture
def s3(moto_url: str) -> Any:
    return boto3.client("s3", **aws_client_kwargs(moto_url))  # type: ignore[call-overload]


def _refresh(store: StateStore, source: str | None, s3: Any = None) -> agenda.RefreshResult:
    return agenda.refresh(store, source, s3_client=lambda: s3, now=time.time())


def _titles(store: StateStore) -> list[str]:
    items = agenda.load_items(store)
    assert items is not None
    return [item.title for item in items]


def test_no_agenda_until_the_first_refresh_loads_the_embedded_sample(store: StateStore) -> None:
    assert agenda.load_items(store) is None

    result = _refresh(store, None)

    assert result.items == 11
    assert result.source == agenda.EMBEDDED_SOURCE
    assert store.agenda_version() == result.version
    assert "Taller: Python asíncrono sin miedo" in _titles(store)


def test_a_good_source_swaps_and_the_old_version_gets_a_ttl(
    store: StateStore, sources: tuple[str, dict[str, tuple[int, bytes]]], moto_url: str
) -> None:
    base, routes = sources
    routes["/good.json"] = (200, json.dumps({"items": [ITEM]}).encode())
    old = _refresh(store, None)

    new = _refresh(store, f"{base}/good.json?signature=secret-token")

    assert new.version != old.version
    assert new.source == f"{base}/good.json"  # no query string: it may hold credentials
    assert _titles(store) == ["Taller de pruebas"]
    raw = dynamodb(moto_url).query(
        TableName=store._table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": AGENDA_PK}},
    )["Items"]
    old_items = [item for item in raw if item["sk"]["S"].startswith(f"V#{old.version}#")]
    new_items = [item for item in raw if item["sk"]["S"].startswith(f"V#{new.version}#")]
    assert len(old_items) == 11
    assert all(int(item["expires_at"]["N"]) > time.time() for item in old_items)
    assert all("expires_at" not in item for item in new_items)


@pytest.mark.parametrize(
    "case",
    [
        ("/server-error.json", 500, b"oops", "HTTP 500"),
        ("/missing.json", 404, b"", "HTTP 404"),
        ("/truncated.json", 200, b'{"items": [{"title": "Tall', "invalid JSON"),
        ("/not-an-agenda.json", 200, json.dumps([ITEM]).encode(), "invalid agenda"),
        ("/bad-date.json", 200, json.dumps({"items": [ITEM, {**ITEM, "start": "mañana"}]}).encode(), "items.1.start"),
        (
            "/no-timezone.json",
            200,
            json.dumps({"items": [{**ITEM, "start": "2090-01-10T18:00:00"}]}).encode(),
            "items.0.start",
        ),
        (
            "/ends-first.json",
            200,
            json.dumps({"items": [{**ITEM, "end": "2000-01-01T00:00:00+00:00"}]}).encode(),
            "end is before start",
        ),
        ("/extra-field.json", 200, json.dumps({"items": [{**ITEM, "speaker": "Ana"}]}).encode(), "items.0.speaker"),
        ("/empty-title.json", 200, json.dumps({"items": [{**ITEM, "title": " "}]}).encode(), "items.0.title"),
    ],
    ids=lambda case: case[0].strip("/"),
)
def test_a_bad_source_keeps_the_old_agenda_and_says_why(
    store: StateStore, sources: tuple[str, dict[str, tuple[int, bytes]]], case: tuple[str, int, bytes, str]
) -> None:
    path, status, body, reason = case
    base, routes = sources
    routes[path] = (status, body)
    old = _refresh(store, None)

    with pytest.raises(AgendaSourceError, match=reason):
        _refresh(store, base + path)

    assert store.agenda_version() == old.version
    assert len(_titles(store)) == old.items


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("ftp://charla.example/agenda.json", "unsupported source scheme"),
        ("http://charla.example/agenda.json", "plain http"),
        ("http://127.0.0.1:1/agenda.json", "could not fetch"),
    ],
)
def test_unusable_sources_are_refused_before_anything_is_written(store: StateStore, source: str, reason: str) -> None:
    with pytest.raises(AgendaSourceError, match=reason):
        _refresh(store, source)

    assert agenda.load_items(store) is None


def test_an_s3_object_is_a_source_and_a_missing_one_keeps_the_old_agenda(store: StateStore, s3: Any) -> None:
    bucket = f"charla-agenda-{secrets.token_hex(3)}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="agenda/current.json", Body=json.dumps({"items": [ITEM]}).encode())

    result = _refresh(store, f"s3://{bucket}/agenda/current.json", s3)

    assert result.items == 1
    assert _titles(store) == ["Taller de pruebas"]
    with pytest.raises(AgendaSourceError, match="S3 NoSuchKey"):
        _refresh(store, f"s3://{bucket}/agenda/missing.json", s3)
    assert store.agenda_version() == result.version


def test_a_refresh_that_lost_a_race_leaves_the_winner_live(store: StateStore, moto_url: str) -> None:
    first = _refresh(store, None)
    winner = _refresh(store, None)

    class StaleReader(StateStore):
        """A refresh that read the pointer before ``winner`` swapped it."""

        def agenda_version(self) -> str | None:
            return first.version

    loser = StaleReader(dynamodb(moto_url), store._table)
    with pytest.raises(StoreUnavailableError, match="concurrent refresh"):
        loser.replace_agenda([AgendaRecord(title="Perdedor", start=ITEM["start"], end=ITEM["end"], url=ITEM["url"])])

    assert store.agenda_version() == winner.version
    assert "Perdedor" not in _titles(store)


def _raw_agenda(store: StateStore, moto_url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = dynamodb(moto_url).query(
        TableName=store._table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": AGENDA_PK}},
        ConsistentRead=True,
    )["Items"]
    return items


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"items": []}, "no items"),
        ({"items": [ITEM, {**ITEM, "start": "mañana"}, {**ITEM, "url": "nope"}]}, r"2 of 3 items invalid"),
        ({"items": [ITEM, {**ITEM, "start": "mañana"}]}, r"1 of 2 items invalid"),  # half is too many
    ],
    ids=["empty", "mostly-invalid", "half-invalid"],
)
def test_an_empty_or_mostly_invalid_source_is_refused(
    store: StateStore, sources: tuple[str, dict[str, tuple[int, bytes]]], document: dict[str, Any], reason: str
) -> None:
    base, routes = sources
    path = f"/refused-{secrets.token_hex(3)}.json"
    routes[path] = (200, json.dumps(document).encode())
    old = _refresh(store, None)

    with pytest.raises(AgendaSourceError, match=reason):
        _refresh(store, base + path)

    assert store.agenda_version() == old.version
    assert len(_titles(store)) == old.items


def test_a_source_with_a_few_invalid_items_is_used_without_them(
    store: StateStore, sources: tuple[str, dict[str, tuple[int, bytes]]]
) -> None:
    base, routes = sources
    good = [{**ITEM, "title": f"Taller {n}"} for n in range(3)]
    routes["/mostly-good.json"] = (200, json.dumps({"items": [*good, {**ITEM, "start": "mañana"}]}).encode())

    result = _refresh(store, base + "/mostly-good.json")

    assert (result.items, result.rejected) == (3, 1)
    assert "items.3.start" in result.problems
    assert sorted(_titles(store)) == ["Taller 0", "Taller 1", "Taller 2"]


def test_a_refresh_failing_half_way_leaves_no_item_without_a_ttl(store: StateStore, moto_url: str) -> None:
    live = _refresh(store, None)

    class FailsAfterOneBatch(StateStore):
        """DynamoDB goes away after the first 25 items of the new version are written."""

        def _batch_put(self, items: Any) -> None:
            items = list(items)
            super()._batch_put(items[:25])
            raise StoreUnavailableError("write agenda: connection lost")

    broken = FailsAfterOneBatch(dynamodb(moto_url), store._table)
    records = [
        AgendaRecord(title=f"Nuevo {n}", start=ITEM["start"], end=ITEM["end"], url=ITEM["url"]) for n in range(40)
    ]
    with pytest.raises(StoreUnavailableError):
        broken.replace_agenda(records)

    assert store.agenda_version() == live.version
    written = [
        i
        for i in _raw_agenda(store, moto_url)
        if i["sk"]["S"].startswith("V#") and not i["sk"]["S"].startswith(f"V#{live.version}#")
    ]
    assert len(written) == 25
    assert all(int(item["expires_at"]["N"]) > time.time() for item in written)
    assert all(
        "expires_at" not in i for i in _raw_agenda(store, moto_url) if i["sk"]["S"].startswith(f"V#{live.version}#")
    )


def test_a_refresh_dying_after_its_swap_is_settled_by_the_next_one(store: StateStore, moto_url: str) -> None:
    class DiesAfterSwap(StateStore):
        def _settle(self, version: str) -> None:
            raise StoreUnavailableError("worker died")

    with pytest.raises(StoreUnavailableError):
        DiesAfterSwap(dynamodb(moto_url), store._table).replace_agenda(
            [AgendaRecord(title="Vivo", start=ITEM["start"], end=ITEM["end"], url=ITEM["url"])]
        )
    live = store.agenda_version()
    live_items = [i for i in _raw_agenda(store, moto_url) if i["sk"]["S"].startswith(f"V#{live}#")]
    assert [i["title"]["S"] for i in live_items] == ["Vivo"]
    assert "expires_at" in live_items[0]  # would vanish in a day if nothing settled it

    assert store.settle_agenda() is True  # what the next refresh task does first, whatever its source
    assert store.settle_agenda() is False
    live_items = [i for i in _raw_agenda(store, moto_url) if i["sk"]["S"].startswith(f"V#{live}#")]
    assert "expires_at" not in live_items[0]
    assert _titles(store) == ["Vivo"]
