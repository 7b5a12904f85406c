"""A run's deadline (``QueueSpec.run_deadline_s``), checked at the fence before every post.

Celery's thread pool enforces no time limit, so nothing kills a run that overruns; the lease
(``QueueSpec.lease_s``) is only sound if such a run can no longer post. Real parts as in
test_reply_holes.py (moto server, the Slack stand-in over HTTP); the run's monotonic clock is the
one thing the test moves, as a thread that stalled past its deadline would see it.
"""

import time
from dataclasses import dataclass

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from contract.queues import QUEUE_SPECS, QueueName
from scripts.stack import DevStack
from tests.integration import reply_stack
from tests.integration.test_reply_holes import (
    LEASE_S,
    Clock,
    answers_in,
    asked,
    copy_of,
    new_channel,
    run_copies_until_settled,
)
from workers.outcomes import Defer
from workers.services import replies
from workers.services.replies import Delivery, Run
from workers.state.effects import EffectState
from workers.store import StateStore

# The shared fixtures (tests/integration/reply_stack.py), under the names the tests take.
stack, store, web = reply_stack.stack, reply_stack.store, reply_stack.web

pytestmark = pytest.mark.slow
DEADLINE_S = QUEUE_SPECS[QueueName.REPLIES].run_deadline_s


@dataclass
class Stalls:
    """The run's own monotonic clock: real, plus however long the test says the thread stalled."""

    stalled_s: float = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.stalled_s


def deliver_with_deadline(
    request: replies.CommandRequest, *, run: Run, store: StateStore, web: WebClient, clock: Clock, monotonic: Stalls
) -> Delivery:
    return replies.deliver(
        request,
        "pong",
        run=run,
        count_as="ping",
        web=web,
        reader=web,
        webhook_for=WebhookClient,
        store=store,
        clock=clock,
        sleep=clock.sleep,
        monotonic=monotonic,
    )


def test_the_deadline_is_the_hard_time_limit_and_the_lease_covers_it() -> None:
    for spec in QUEUE_SPECS.values():
        assert spec.run_deadline_s == spec.time_limit_s
        assert spec.lease_s >= spec.run_deadline_s + 30


def test_a_run_that_stalls_past_its_deadline_waiting_for_its_turn_never_posts_and_its_copy_answers_once(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    channel, task_id = new_channel("DL1"), f"t-dl1-{time.monotonic_ns()}"
    clock, stalls = Clock(), Stalls()
    # Someone posts first, so this run's turn is a second away: it waits for it in the worker.
    first = Run(f"t-dl1-first-{task_id}", LEASE_S)
    assert deliver_with_deadline(asked(channel), run=first, store=store, web=web, clock=clock, monotonic=Stalls())

    def the_thread_stalls() -> None:  # while it waits, its thread stalls past the run's deadline
        stalls.stalled_s += DEADLINE_S + 1

    clock.on_sleep = the_thread_stalls
    request = asked(channel)
    run = Run(task_id, LEASE_S, deadline=time.monotonic() + DEADLINE_S)
    with pytest.raises(Defer) as deferred:
        deliver_with_deadline(request, run=run, store=store, web=web, clock=clock, monotonic=stalls)

    assert answers_in(stack, channel, task_id) == []
    record = store.effects.read(task_id)
    assert record is not None and record.state is EffectState.FREE, record
    assert record.posting_at is None  # nothing of it can be in Slack: its copy need not search
    # Its copy (the SQS copy the executor sends after the deferral) answers, once.
    outcome, _ = run_copies_until_settled(request, task_id, store=store, web=web, clock=Clock())
    assert outcome is Delivery.POSTED
    assert len(answers_in(stack, channel, task_id)) == 1
    assert deferred.value.delay_s <= 1.0


def test_a_run_whose_claim_was_its_fence_but_is_past_its_deadline_before_the_post_does_not_post(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    channel, task_id = new_channel("DL2"), f"t-dl2-{time.monotonic_ns()}"
    request = asked(channel)
    overdue = Run(task_id, LEASE_S, deadline=time.monotonic() - 1)
    with pytest.raises(Defer):
        deliver_with_deadline(request, run=overdue, store=store, web=web, clock=Clock(), monotonic=Stalls())

    assert answers_in(stack, channel, task_id) == []
    record = store.effects.read(task_id)
    assert record is not None and record.state is EffectState.FREE and record.posting_at is None, record
    outcome = deliver_with_deadline(
        request, run=copy_of(task_id), store=store, web=web, clock=Clock(), monotonic=Stalls()
    )
    assert outcome is Delivery.POSTED
    assert len(answers_in(stack, channel, task_id)) == 1


def test_a_slash_command_run_past_its_deadline_sends_nothing_to_its_response_url(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    channel, task_id = new_channel("DL3"), f"t-dl3-{time.monotonic_ns()}"
    key = f"deadline-{task_id}"
    request = asked(channel, response_url=stack.response_url(key))

    def answered() -> list[dict[str, object]]:
        return [r for r in stack.recorded() if r.get("kind") == "response_url" and str(r.get("path")).endswith(key)]

    overdue = Run(task_id, LEASE_S, deadline=time.monotonic() - 1)
    with pytest.raises(Defer):
        deliver_with_deadline(request, run=overdue, store=store, web=web, clock=Clock(), monotonic=Stalls())

    assert answered() == []
    outcome = deliver_with_deadline(
        request, run=copy_of(task_id), store=store, web=web, clock=Clock(), monotonic=Stalls()
    )
    assert outcome is Delivery.POSTED
    assert len(answered()) == 1
