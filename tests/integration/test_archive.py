"""The message archive through real processes (ingress -> bulk queue -> worker -> DynamoDB on moto):
one record per message however often Slack delivers it; an edit replaces its text, a deletion
removes it (in whatever order they arrive); bots archived but never counted."""

import dataclasses

import pytest

from contract.queues import QueueName
from contract.tasks import ArchivedMessage, MessageKind, TaskName
from contract.wire import encode_task_message, task_id_for
from scripts.provision import dynamodb
from scripts.slack_requests import TEAM_ID, app_mention, channel_message, direct_message, next_ts
from scripts.stack import DevStack
from workers.store import StateStore

pytestmark = pytest.mark.slow


def store_of(stack: DevStack) -> StateStore:
    assert stack.moto_url
    return StateStore(dynamodb(stack.moto_url), stack.env["CHARLA_TABLE_STATE"])


def message(text: str, *, channel: str, user: str, ts: str, **extra: object) -> dict[str, object]:
    return channel_message(text, channel=channel, user=user, ts=ts, **extra)


def test_a_redelivered_message_is_archived_once_and_counted_once(stack: DevStack) -> None:
    store = store_of(stack)
    ts = next_ts()
    event = message("hola", channel="C0TWICE", user="U0DANI", ts=ts)

    for _ in range(3):  # Slack retries with the same event id
        assert stack.post_event(event, event_id="EvSAMEDELIVERY").status == 200
    stack.wait_until_drained(QueueName.BULK)

    records = store.archived(team_id=TEAM_ID, channel="C0TWICE")
    assert [(r["sk"], r["text"], r["user"], r["event_id"]) for r in records] == [
        (f"MSG#{ts}", "hola", "U0DANI", "EvSAMEDELIVERY")
    ]
    assert store.message_count(team_id=TEAM_ID, user="U0DANI") == 1


def test_an_archive_task_delivered_twice_by_sqs_stores_and_counts_once(stack: DevStack) -> None:
    """SQS is at least once, and Slack's retries are queued again: the same task arrives twice."""
    store = store_of(stack)
    ts = next_ts()
    record = ArchivedMessage(
        correlation_id="EvSQSTWICE",
        event_id="EvSQSTWICE",
        team_id=TEAM_ID,
        channel="C0SQS",
        user="U0HUGO",
        ts=ts,
        event_ts=ts,
        kind=MessageKind.NEW,
        text="¿hay alguien?",
    )
    body = encode_task_message(
        task=TaskName.ARCHIVE_MESSAGE,
        kwargs=dataclasses.asdict(record),
        queue=QueueName.BULK,
        task_id=task_id_for(f"{TaskName.ARCHIVE_MESSAGE}:EvSQSTWICE"),
    )
    for _ in range(2):
        stack.sqs().send_message(QueueUrl=stack.queue_url(QueueName.BULK), MessageBody=body)
    stack.wait_until_drained(QueueName.BULK)

    assert len(store.archived(team_id=TEAM_ID, channel="C0SQS")) == 1
    assert store.message_count(team_id=TEAM_ID, user="U0HUGO") == 1
    assert "archive duplicate ignored" in stack.processes["worker"].log_text()


def test_an_edit_replaces_the_text_a_deletion_removes_it_and_neither_counts(stack: DevStack) -> None:
    store = store_of(stack)
    channel, original, edited_at, deleted_at = "C0EDITS", next_ts(), next_ts(), next_ts()
    stack.post_event(message("reunión a las 5", channel=channel, user="U0EVA", ts=original))
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": channel,
        "ts": edited_at,
        "event_ts": edited_at,
        "hidden": True,
        "message": {
            "type": "message",
            "user": "U0EVA",
            "text": "reunión a las 6",
            "ts": original,
            "edited": {"user": "U0EVA", "ts": edited_at},
        },
        "previous_message": {"type": "message", "user": "U0EVA", "text": "reunión a las 5", "ts": original},
    }
    deletion = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": channel,
        "ts": deleted_at,
        "event_ts": deleted_at,
        "hidden": True,
        "deleted_ts": original,
        "previous_message": {"type": "message", "user": "U0EVA", "text": "reunión a las 6", "ts": original},
    }
    stack.post_event(edit, event_id="EvEDIT")
    stack.post_event(edit, event_id="EvEDIT")  # redelivered edit: still one record
    stack.post_event(deletion)
    stack.wait_until_drained(QueueName.BULK)

    (record,) = store.archived(team_id=TEAM_ID, channel=channel)
    assert "text" not in record
    assert (record["sk"], record["user"], record["posted_at"]) == (f"MSG#{original}", "U0EVA", original)
    assert (record["edited_at"], record["deleted_at"]) == (edited_at, deleted_at)
    assert store.message_count(team_id=TEAM_ID, user="U0EVA") == 1


def test_bots_and_our_own_replies_are_archived_but_never_counted(stack: DevStack) -> None:
    store = store_of(stack)
    channel = "C0BOTS"
    stack.post_event(message("pong", channel=channel, user="UCHARLABOT", ts=next_ts(), bot_id="BCHARLABOT"))
    stack.post_event(
        {
            "type": "message",
            "subtype": "bot_message",
            "channel": channel,
            "bot_id": "BDEPLOY",
            "text": "deploy done",
            "ts": (ts := next_ts()),
            "event_ts": ts,
        }
    )
    stack.post_event(message("se unió", channel=channel, user="U0FEDE", ts=next_ts(), subtype="channel_join"))
    stack.wait_until_drained(QueueName.BULK)

    records = store.archived(team_id=TEAM_ID, channel=channel)
    assert len(records) == 3
    assert sorted(r["is_bot"] for r in records) == [False, True, True]
    assert store.message_count(team_id=TEAM_ID, user="UCHARLABOT") == 0
    assert store.message_count(team_id=TEAM_ID, user="U0FEDE") == 0  # a join is not a message


def test_direct_messages_are_archived_and_mentions_only_from_their_message_event(stack: DevStack) -> None:
    store = store_of(stack)
    stack.post_event(direct_message("ve", channel="D0GINA", user="U0GINA"))
    stack.post_event(app_mention("ping", channel="C0MENTION", user="U0GINA"))
    stack.wait_until_drained()

    assert [r["text"] for r in store.archived(team_id=TEAM_ID, channel="D0GINA")] == ["ve"]
    assert store.archived(team_id=TEAM_ID, channel="C0MENTION") == []  # its message.channels twin archives it
    assert store.message_count(team_id=TEAM_ID, user="U0GINA") == 1


def test_the_store_writes_a_message_and_its_count_together_or_not_at_all(stack: DevStack) -> None:
    store = store_of(stack)
    record = ArchivedMessage(
        correlation_id="EvDIRECT",
        event_id="EvDIRECT",
        team_id="T0DIRECT",
        channel="C1",
        user="U1",
        ts="1.000001",
        event_ts="1.000001",
        kind=MessageKind.NEW,
        text="hola",
    )

    assert store.archive_message(record) is True
    assert store.archive_message(record) is False
    assert store.message_count(team_id="T0DIRECT", user="U1") == 1


def _event(kind: MessageKind, ts: str, *, text: str = "", at: str | None = None, user: str = "U1") -> ArchivedMessage:
    return ArchivedMessage(
        correlation_id=f"Ev{kind}{at or ts}",
        event_id=f"Ev{kind}{at or ts}",
        team_id="T0ORDER",
        channel="C1",
        user=user,
        ts=ts,
        event_ts=at or ts,
        kind=kind,
        text=text,
    )


@pytest.mark.parametrize(
    ("order", "text_after"),
    [
        (["new", "edit", "delete"], None),
        (["delete", "new", "edit"], None),  # a deletion first: the text never comes back
        (["edit", "delete", "new"], None),
        (["edit", "new"], "edited"),  # the original arriving late keeps the edited text
        (["new", "edit", "new", "edit"], "edited"),  # redeliveries change nothing
        (["new"], "original"),
    ],
)
def test_events_in_any_order_never_bring_a_deleted_text_back_and_count_once(
    stack: DevStack, order: list[str], text_after: str | None
) -> None:
    store = store_of(stack)
    ts = next_ts()
    events = {
        "new": _event(MessageKind.NEW, ts, text="original"),
        "edit": _event(MessageKind.EDITED, ts, text="edited", at=next_ts()),
        "delete": _event(MessageKind.DELETED, ts, at=next_ts()),
    }
    before = store.message_count(team_id="T0ORDER", user="U1")
    for name in order:
        store.archive_message(events[name])

    record = store.archived_message(team_id="T0ORDER", channel="C1", ts=ts)
    assert record is not None
    assert record.get("text") == text_after
    assert record["user"] == "U1" and record["posted_at"] == ts
    assert store.message_count(team_id="T0ORDER", user="U1") == before + 1
    # Kept for the configured retention (default 365 days) after the message was written.
    assert int(record["expires_at"]) == int(float(ts)) + 365 * 24 * 3600


def test_each_archived_event_costs_one_write_request(stack: DevStack) -> None:
    """The write budget: a new message is one transaction (put + count), an edit or deletion one update."""
    assert stack.moto_url
    client = dynamodb(stack.moto_url)
    calls: list[tuple[str, int]] = []

    def record(params: dict[str, object], model: object, **_: object) -> None:
        items = params.get("TransactItems")
        calls.append((getattr(model, "name", "?"), len(items) if isinstance(items, list) else 1))

    client.meta.events.register("provide-client-params.dynamodb.*", record)
    store = StateStore(client, stack.env["CHARLA_TABLE_STATE"])
    ts = next_ts()

    store.archive_message(_event(MessageKind.NEW, ts, text="hola"))
    assert calls == [("TransactWriteItems", 2)]
    calls.clear()
    store.archive_message(_event(MessageKind.EDITED, ts, text="hola, editado", at=next_ts()))
    assert calls == [("UpdateItem", 1)]
    calls.clear()
    store.archive_message(_event(MessageKind.DELETED, ts, at=next_ts()))
    assert calls == [("UpdateItem", 1)]
