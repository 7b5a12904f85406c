"""The ingress's stdlib payload checks never accept what the workers' pydantic validation refuses."""

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from contract.checks import PayloadInvalid, check_payload
from contract.registry import TASK_PAYLOADS
from contract.results import HealthCheck
from contract.tasks import (
    AgendaRefresh,
    ArchivedMessage,
    CommandRequest,
    FailureNotice,
    HomeOpened,
    MemberJoined,
    MessageKind,
    SearchPage,
)
from contract.wire import encode_task_message
from jobs.usage_report import UsageReport

VALID: dict[type[Any], dict[str, Any]] = {
    CommandRequest: {
        "correlation_id": "Ev1",
        "team_id": "T1",
        "channel": "C1",
        "user": "U1",
        "command": "ping",
        "requested_at": 1.5,
    },
    ArchivedMessage: {
        "correlation_id": "Ev1",
        "event_id": "Ev1",
        "team_id": "T1",
        "channel": "C1",
        "ts": "1.000001",
        "event_ts": "1.000001",
        "kind": MessageKind.NEW,
    },
    SearchPage: {
        "correlation_id": "t1",
        "team_id": "T1",
        "channel": "C1",
        "user": "U1",
        "query": "taller",
        "offset": 5,
        "requested_at": 3.0,
    },
    MemberJoined: {"correlation_id": "Ev2", "team_id": "T1", "channel": "C1", "user": "U1", "requested_at": 4.0},
    AgendaRefresh: {"correlation_id": "Ev1", "requested_at": 2},
    HealthCheck: {"correlation_id": "h1", "requested_at": 5.0},
    UsageReport: {"correlation_id": "r1", "team_id": "T1", "channel": "C1", "requested_at": 6.0},
    HomeOpened: {"correlation_id": "Ev3", "team_id": "T1", "user": "U1", "requested_at": 6.0},
    FailureNotice: {
        "correlation_id": "Ev4",
        "failed_task_id": "t1",
        "team_id": "T1",
        "channel": "C1",
        "user": "U1",
        "command": "siguiente",
        "requested_at": 7.0,
    },
}

odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities included
    st.text(max_size=5),
    st.sampled_from(list(MessageKind)),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def test_every_task_payload_type_is_checkable() -> None:
    for kind in set(TASK_PAYLOADS.values()):
        assert kind in VALID, f"add an example {kind.__name__} here: the agreement test below needs one"
        check_payload(kind(**VALID[kind]))


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        (CommandRequest, "thread_ts", {"evil": [1, 2]}),
        (ArchivedMessage, "channel_type", 7),
        (ArchivedMessage, "subtype", math.nan),
        (ArchivedMessage, "is_bot", 1),
        (ArchivedMessage, "kind", "new"),  # must be the enum the listener builds
        (CommandRequest, "requested_at", math.inf),
        (CommandRequest, "channel", None),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_by_name(kind: type[Any], field: str, value: Any) -> None:
    payload = kind(**{**VALID[kind], field: value})

    with pytest.raises(PayloadInvalid, match=field):
        check_payload(payload)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(list(VALID)), data=st.data())
def test_whatever_the_ingress_accepts_the_worker_accepts(kind: type[Any], data: st.DataObject) -> None:
    names = [f.name for f in dataclasses.fields(kind)]
    changed = data.draw(st.dictionaries(st.sampled_from(names), odd_values, max_size=3))
    payload = kind(**{**VALID[kind], **changed})
    try:
        check_payload(payload)
    except PayloadInvalid:
        return
    # What goes on the wire is the dataclass as a dict, JSON-encoded; the worker validates that.
    kwargs = dataclasses.asdict(payload)
    encode_task_message(task="charla.x", kwargs=kwargs, queue="q")  # must not raise either
    try:
        TypeAdapter(kind).validate_python(kwargs)
    except ValidationError as error:  # pragma: no cover - the failure message is the point
        pytest.fail(f"the ingress accepted what the worker refuses: {changed!r}: {error}")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_the_wire_refuses_numbers_json_cannot_hold(value: float) -> None:
    with pytest.raises(ValueError, match="JSON"):
        encode_task_message(task="charla.ping", kwargs={"requested_at": value}, queue="replies")
