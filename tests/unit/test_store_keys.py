"""The STATE table's keys: the same event always gets the same key; what counts as a person's message."""

from contract.tasks import ArchivedMessage, MessageKind
from workers.state.agenda import agenda_item_key, new_agenda_version
from workers.state.archive import is_counted, message_key, user_count_key
from workers.state.effects import effect_key
from workers.state.pace import channel_key, command_counter


def _message(**overrides: object) -> ArchivedMessage:
    fields: dict[str, object] = {
        "correlation_id": "Ev1",
        "event_id": "Ev1",
        "team_id": "T1",
        "channel": "C1",
        "user": "U1",
        "ts": "100.000001",
        "event_ts": "100.000001",
        "kind": MessageKind.NEW,
        "text": "hola",
    }
    fields.update(overrides)
    return ArchivedMessage(**fields)  # type: ignore[arg-type]


def test_a_message_its_edits_and_its_deletion_share_one_record() -> None:
    new = message_key(_message())
    edit = message_key(_message(kind=MessageKind.EDITED, event_ts="200.000001", event_id="Ev2"))
    deletion = message_key(_message(kind=MessageKind.DELETED, event_ts="400.000001", event_id="Ev4"))
    assert new == edit == deletion == {"pk": "MSG#T1#C1", "sk": "MSG#100.000001"}
    # Another message of the channel is another record.
    assert message_key(_message(ts="100.000002"))["sk"] != new["sk"]


def test_only_new_messages_by_people_count() -> None:
    assert is_counted(_message())
    assert is_counted(_message(subtype="thread_broadcast"))
    assert not is_counted(_message(is_bot=True))
    assert not is_counted(_message(user=""))
    assert not is_counted(_message(kind=MessageKind.EDITED))
    assert not is_counted(_message(kind=MessageKind.DELETED))
    assert not is_counted(_message(subtype="channel_join"))


def test_counter_and_agenda_keys() -> None:
    assert user_count_key("T1", "U1") == {"pk": "COUNT#T1", "sk": "USER#U1"}
    assert channel_key("T1", "C1") == {"pk": "CHANNELS#T1", "sk": "C1"}
    assert command_counter("ping") == "uses_ping"
    assert effect_key("task-1") == {"pk": "EFFECT#task-1", "sk": "EFFECT"}
    assert agenda_item_key("v1", 3) == {"pk": "AGENDA", "sk": "V#v1#00003"}
    assert new_agenda_version(2.0) < new_agenda_version(3.0)
