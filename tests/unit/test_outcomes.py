"""How a run ends (workers/outcomes.py) and how long the records that settle copies live."""

import random

import pytest

from contract.queues import (
    DLQ_RETENTION_S,
    MAX_DELAY_S,
    MAX_TASK_FAILURES,
    QUEUE_RETENTION_S,
    QUEUE_SPECS,
    QueueName,
)
from workers.outcomes import DeadLetter, Defer, Later, PermanentError, backoff_s, outcome_of, sqs_delay
from workers.state.effects import EFFECT_TTL_S


def test_a_deferral_is_an_sqs_delay_that_counts_no_failure() -> None:
    outcome = outcome_of(Defer(12.2, "channel busy"), failures=2)

    assert outcome == Later(delay_s=13, failures=2, reason="channel busy", deferred_s=13)


def test_deferrals_add_up_and_one_past_the_queues_bound_is_dead_lettered_with_its_reason() -> None:
    bound = QUEUE_SPECS[QueueName.REPLIES].max_deferral_s
    almost = outcome_of(Defer(10, "another run holds this answer"), failures=0, deferred_s=bound - 10)
    over = outcome_of(Defer(11, "another run holds this answer"), failures=0, deferred_s=bound - 10)

    assert isinstance(almost, Later) and almost.deferred_s == bound
    assert isinstance(over, DeadLetter)
    assert over.reason.startswith(f"deferred {bound + 1} s, longer than the {bound} s bound")
    assert "another run holds this answer" in over.reason
    # Derived next to the lease: far longer than any honest wait, at most what a person would still want.
    assert QUEUE_SPECS[QueueName.REPLIES].lease_s * 10 <= bound <= 3600


def test_a_copy_carries_its_deferral_total_and_what_it_observed_in_headers() -> None:
    from workers import redelivery
    from workers.outcomes import Observed

    later = outcome_of(Defer(5, "held", observed=Observed("v1", 10.0)), failures=0, deferred_s=20)
    assert isinstance(later, Later)
    headers = {
        redelivery.DEFERRED_S_HEADER: later.deferred_s,
        redelivery.SEEN_VERSION_HEADER: "v1",
        redelivery.SEEN_FOR_S_HEADER: 10.0,
    }

    assert redelivery.carried(headers.get) == (25.0, Observed("v1", 10.0))
    assert redelivery.carried({}.get) == (0.0, None)
    assert redelivery.carried({redelivery.DEFERRED_S_HEADER: "junk"}.get) == (0.0, None)


def test_a_wait_beyond_sqs_maximum_is_taken_in_hops_of_900_seconds() -> None:
    assert sqs_delay(5000) == MAX_DELAY_S == 900
    assert sqs_delay(-3) == 0


def test_retryable_failures_back_off_and_the_last_one_is_dead_lettered() -> None:
    delays = []
    for failures in range(MAX_TASK_FAILURES - 1):
        outcome = outcome_of(RuntimeError("Slack 503"), failures=failures)
        assert isinstance(outcome, Later) and outcome.failures == failures + 1
        delays.append(outcome.delay_s)
    final = outcome_of(RuntimeError("Slack 503"), failures=MAX_TASK_FAILURES - 1)

    assert isinstance(final, DeadLetter)
    assert f"failed {MAX_TASK_FAILURES} times" in final.reason
    assert all(0 < delay <= MAX_DELAY_S for delay in delays)


def test_backoff_doubles_and_is_capped() -> None:
    rng = random.Random(7)
    ceilings = [max(backoff_s(n, rng=rng) for _ in range(200)) for n in (1, 2, 3, 12)]
    assert ceilings[0] <= 2 < ceilings[1] <= 4 < ceilings[2] <= 8
    assert ceilings[3] <= MAX_DELAY_S


def test_a_permanent_error_is_dead_lettered_at_once() -> None:
    assert isinstance(outcome_of(PermanentError("channel_not_found"), failures=0), DeadLetter)


@pytest.mark.parametrize("spec", list(QUEUE_SPECS.values()), ids=lambda s: str(s.name))
def test_leases_outlive_every_run_and_fit_the_visibility_timeout(spec: object) -> None:
    from contract.queues import QueueSpec

    assert isinstance(spec, QueueSpec)
    assert spec.lease_s > spec.time_limit_s  # Celery kills a run before its lease ends
    assert spec.lease_s < spec.visibility_timeout_s


def test_effect_records_outlive_a_message_on_its_queue_and_then_in_its_dead_letter_queue() -> None:
    # A redrive on the DLQ's last day must still find the record, or it posts a second answer.
    assert EFFECT_TTL_S >= QUEUE_RETENTION_S + DLQ_RETENTION_S
