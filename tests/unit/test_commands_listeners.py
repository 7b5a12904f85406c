"""How Slack message events become archive records and scheduled events become refreshes."""

import dataclasses
from typing import Any

from contract.tasks import MessageKind
from contract.wire import encode_task_message
from lambda_handler.listeners.events import MAX_ARCHIVED_TEXT_CHARS, archived_message
from lambda_handler.listeners.schedule import is_scheduled_event


def _body(event: dict[str, Any]) -> dict[str, Any]:
    return {"team_id": "T1", "event_id": "Ev1", "event": event}


def test_a_channel_message_is_a_new_record_by_its_author() -> None:
    record = archived_message(
        _body(
            {
                "type": "message",
                "channel": "C1",
                "channel_type": "channel",
                "user": "U1",
                "text": "hola",
                "ts": "100.000001",
                "event_ts": "100.000001",
                "thread_ts": "99.000001",
            }
        )
    )
    assert record is not None
    assert (record.kind, record.user, record.ts, record.event_ts, record.text) == (
        MessageKind.NEW,
        "U1",
        "100.000001",
        "100.000001",
        "hola",
    )
    assert (record.team_id, record.channel, record.thread_ts, record.is_bot, record.event_id) == (
        "T1",
        "C1",
        "99.000001",
        False,
        "Ev1",
    )


def test_an_edit_keeps_the_original_ts_and_the_new_text() -> None:
    record = archived_message(
        _body(
            {
                "type": "message",
                "subtype": "message_changed",
                "channel": "C1",
                "ts": "200.000001",
                "event_ts": "200.000001",
                "message": {"user": "U1", "text": "hola!", "ts": "100.000001"},
                "previous_message": {"user": "U1", "text": "hola", "ts": "100.000001"},
            }
        )
    )
    assert record is not None
    assert (record.kind, record.ts, record.event_ts, record.text, record.user) == (
        MessageKind.EDITED,
        "100.000001",
        "200.000001",
        "hola!",
        "U1",
    )


def test_a_deletion_is_recorded_without_text() -> None:
    record = archived_message(
        _body(
            {
                "type": "message",
                "subtype": "message_deleted",
                "channel": "C1",
                "ts": "300.000001",
                "deleted_ts": "100.000001",
                "previous_message": {"user": "U1", "text": "hola", "ts": "100.000001"},
            }
        )
    )
    assert record is not None
    assert (record.kind, record.ts, record.event_ts, record.text, record.user) == (
        MessageKind.DELETED,
        "100.000001",
        "300.000001",
        "",
        "U1",
    )


def test_bot_messages_are_marked_as_bots() -> None:
    ours = archived_message(
        _body({"type": "message", "channel": "C1", "bot_id": "B1", "user": "UBOT", "text": "pong", "ts": "1.1"})
    )
    integration = archived_message(
        _body({"type": "message", "subtype": "bot_message", "channel": "C1", "text": "deploy done", "ts": "1.2"})
    )
    assert ours is not None and ours.is_bot
    assert integration is not None and integration.is_bot and integration.user == ""


def test_an_event_without_channel_or_ts_is_not_archived() -> None:
    assert archived_message(_body({"type": "message", "text": "?"})) is None


def test_scheduled_events_are_recognised_and_http_events_are_not() -> None:
    assert is_scheduled_event({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
    assert is_scheduled_event({"source": "aws.scheduler", "detail-type": "Scheduled Event"})
    assert not is_scheduled_event({"source": "aws.events", "detail-type": "EC2 Instance State-change Notification"})
    assert not is_scheduled_event({"version": "2.0", "routeKey": "POST /slack/events", "rawPath": "/slack/events"})


def test_a_very_long_message_is_archived_cut_so_its_task_fits_in_one_sqs_message() -> None:
    record = archived_message(
        _body({"type": "message", "channel": "C1", "user": "U1", "text": "😀" * 40_000, "ts": "1.1"})
    )
    assert record is not None
    assert len(record.text) == MAX_ARCHIVED_TEXT_CHARS
    assert record.text.endswith(" […]")
    body = encode_task_message(task="charla.archive_message", kwargs=dataclasses.asdict(record), queue="bulk")
    assert len(body.encode()) < 256 * 1024
