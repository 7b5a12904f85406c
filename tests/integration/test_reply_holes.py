"""Issue 19's demonstrated holes in "each answer is posted once", one test each (numbered as in the issue).

Real parts as in test_reply_effects.py: the effect records live in the moto server, posts and
history reads go over HTTP to the Slack stand-in through slack_sdk clients. ``deliver`` is called
directly; a copy that defers is run again the way the executor would run its SQS copy: after the
deferral's delay, carrying what the deferral hands on (``Defer.observed``, see replies.py).
"""

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from celery.exceptions import SoftTimeLimitExceeded
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from contract.tasks import CommandRequest
from scripts.provision import dynamodb
from scripts.stack import DevStack
from tests.faults.effects import slack_state
from tests.integration import reply_stack
from workers.outcomes import DeadLetter, Defer, outcome_of
from workers.services import replies
from workers.services.replies import Delivery, Run
from workers.store import StateStore

# The shared fixtures (tests/integration/reply_stack.py), under the names the tests take.
stack, store, web = reply_stack.stack, reply_stack.store, reply_stack.web

pytestmark = pytest.mark.slow
LEASE_S = 60.0
TEAM = "T0HOLES"
_COUNTER = itertools.count()


class Crash(BaseException):
    """The worker process dies here: no handler of the code under test runs."""


@dataclass
class Clock:
    """Real time plus an offset the test moves (a worker whose clock runs ahead, or time passing)."""

    offset: float = 0.0
    slept: list[float] = field(default_factory=list)
    on_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.on_sleep is not None:
            hook, self.on_sleep = self.on_sleep, None
            hook()
        time.sleep(max(0.0, seconds))  # the turn is real: the stand-in's pace uses real time


@pytest.fixture(autouse=True)
def slack_behaves(stack: DevStack) -> Iterator[None]:
    yield
    assert stack.slack_url
    stack.set_slack_faults(error_after_posts={}, history_tier={}, rate_limited_for_s=0, reset_after_posts=0)


def new_channel(prefix: str) -> str:
    return f"C{prefix}{next(_COUNTER):05d}"


def asked(
    channel: str,
    *,
    thread_ts: str | None = None,
    response_url: str | None = None,
    requested_at: float | None = None,
) -> CommandRequest:
    return CommandRequest(
        correlation_id=f"Ev-{channel}",
        team_id=TEAM,
        channel=channel,
        user="U1",
        command="ping",
        thread_ts=thread_ts,
        response_url=response_url,
        requested_at=time.time() if requested_at is None else requested_at,
    )


def posts_in(stack: DevStack, channel: str) -> list[dict[str, Any]]:
    return [r for r in stack.recorded() if r.get("kind") == "chat.postMessage" and r.get("channel") == channel]


def answers_in(stack: DevStack, channel: str, reply_id: str) -> list[dict[str, Any]]:
    """Posts in ``channel`` that carry ``reply_id`` in their metadata: the user sees each one."""
    return [
        r
        for r in posts_in(stack, channel)
        if ((r.get("metadata") or {}).get("event_payload") or {}).get("reply_id") == reply_id
    ]


class FlakyWeb(WebClient):
    """A posting client with one fault at one point of ``chat.postMessage``."""

    def __init__(self, *args: Any, fault: str, before: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fault = fault
        self.before = before

    def chat_postMessage(self, **kwargs: Any) -> Any:  # noqa: N802 - slack_sdk's name
        if self.before is not None:
            hook, self.before = self.before, None
            hook()
        response = super().chat_postMessage(**kwargs)
        if self.fault == "crash after post":
            raise Crash
        if self.fault == "reset after post":
            raise ConnectionResetError("connection reset by peer")
        return response


def flaky(stack: DevStack, fault: str, before: Callable[[], None] | None = None) -> FlakyWeb:
    return FlakyWeb(
        token=stack.bot_token, base_url=f"{stack.slack_url}/api/", retry_handlers=[], fault=fault, before=before
    )


def deliver(
    request: CommandRequest,
    *,
    run: Run,
    store: StateStore,
    web: WebClient,
    clock: Clock,
    reader: WebClient | None = None,
    webhook_for: Callable[[str], WebhookClient] = WebhookClient,
) -> Delivery:
    return replies.deliver(
        request,
        "pong",
        run=run,
        count_as="ping",
        web=web,
        reader=reader or web,
        webhook_for=webhook_for,
        store=store,
        clock=clock,
        sleep=clock.sleep,
    )


def copy_of(task_id: str, deferred: Defer | None = None) -> Run:
    """The SQS copy an executor sends after ``deferred``: a continuation carrying what it observed."""
    observed = getattr(deferred, "observed", None) if deferred is not None else None
    if observed is None:
        return Run(task_id, LEASE_S, continuation=True)
    return Run(task_id, LEASE_S, continuation=True, observed=observed)  # type: ignore[call-arg]


def run_copies_until_settled(
    request: CommandRequest,
    task_id: str,
    *,
    store: StateStore,
    web: WebClient,
    clock: Clock,
    reader: WebClient | None = None,
    copies: int = 30,
    real_wait_up_to_s: float = 0.0,
) -> tuple[Delivery | None, list[Defer]]:
    """Run copies of the task one after another as SQS would deliver them, each after the last
    one's delay: the clock moves by the delay (really waited when it is at most
    ``real_wait_up_to_s``, for stand-in limits that run on real time). Stops at the first copy
    that settles; ``None`` if none of ``copies`` did."""
    deferrals: list[Defer] = []
    previous: Defer | None = None
    for _ in range(copies):
        try:
            return (
                deliver(request, run=copy_of(task_id, previous), store=store, web=web, clock=clock, reader=reader),
                deferrals,
            )
        except Defer as deferred:
            deferrals.append(deferred)
            previous = deferred
            wait = max(1.0, float(deferred.delay_s))
            if wait <= real_wait_up_to_s:
                time.sleep(wait)
            else:
                clock.offset += wait
    return None, deferrals


class FaultyDynamo:
    """The real moto client, with one fault at one kind of write (a stand-in for the network's)."""

    def __init__(self, client: Any, fault: Callable[[str, dict[str, Any], Callable[..., Any]], Any]) -> None:
        self._client = client
        self._fault = fault

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if name not in ("update_item", "transact_write_items", "put_item"):
            return real
        return lambda **request: self._fault(name, request, real)


def writes_state(request: dict[str, Any], state: str) -> bool:
    """An update that moves an effect record to ``state`` (whatever its placeholders are called)."""
    values = request.get("ExpressionAttributeValues") or {}
    return any(value == {"S": state} for value in values.values()) and "#state" in str(request.get("UpdateExpression"))


# -- 1 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error", [SoftTimeLimitExceeded(), ClientError({"Error": {"Code": "ValidationException"}}, "UpdateItem")]
)
def test_1_an_error_after_slack_posted_and_before_done_leaves_the_answer_suspect_not_posted_twice(
    stack: DevStack, store: StateStore, web: WebClient, error: BaseException
) -> None:
    """Hole 1: a non-store error between the post and DONE freed the answer as not suspect."""
    channel, clock, task_id = new_channel("H1"), Clock(), f"t-h1-{next(_COUNTER)}"
    request = asked(channel)
    failed = []

    def done_fails_once(name: str, call: dict[str, Any], real: Callable[..., Any]) -> Any:
        if name == "update_item" and writes_state(call, "done") and not failed:
            failed.append(call)
            raise error
        return real(**call)

    assert stack.moto_url
    faulty = StateStore(FaultyDynamo(dynamodb(stack.moto_url), done_fails_once), stack.env["CHARLA_TABLE_STATE"])  # type: ignore[arg-type]
    with pytest.raises(BaseException):  # noqa: B017 - whatever the run raises, the executor retries it
        deliver(request, run=Run(task_id, LEASE_S), store=faulty, web=web, clock=clock)
    outcome, _ = run_copies_until_settled(request, task_id, store=store, web=web, clock=clock)

    assert failed, "the fault really happened"
    assert outcome is Delivery.FOUND_POSTED
    assert len(answers_in(stack, channel, task_id)) == 1


# -- 2 -------------------------------------------------------------------------------------------


def test_2_an_expired_response_url_answer_reset_after_slack_posted_in_the_channel_is_not_posted_again(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    """Hole 2: a suspect copy with a response_url never searched; the channel fallback posted twice."""
    channel, clock, task_id = new_channel("H2"), Clock(), f"t-h2-{next(_COUNTER)}"
    request = asked(channel, response_url=stack.response_url(f"expired-{task_id}"))

    with pytest.raises(replies.SlackUnavailable):
        deliver(request, run=Run(task_id, LEASE_S), store=store, web=flaky(stack, "reset after post"), clock=clock)
    outcome, _ = run_copies_until_settled(request, task_id, store=store, web=web, clock=clock)

    assert outcome is Delivery.FOUND_POSTED
    assert len(answers_in(stack, channel, task_id)) == 1


# -- 3 -------------------------------------------------------------------------------------------


def test_3_a_later_copy_stamped_a_minute_after_the_first_still_finds_the_first_runs_post(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    """Hole 3: the search started at the copy's own requested_at (Slack re-sent it a minute later)."""
    channel, clock, task_id = new_channel("H3"), Clock(), f"t-h3-{next(_COUNTER)}"
    first = asked(channel)

    with pytest.raises(Crash):
        deliver(first, run=Run(task_id, LEASE_S), store=store, web=flaky(stack, "crash after post"), clock=clock)
    # Slack's retry of the same event, enqueued by the ingress a minute later: same task id.
    later = asked(channel, requested_at=first.requested_at + 60)
    outcome, _ = run_copies_until_settled(later, task_id, store=store, web=web, clock=clock)

    assert outcome is Delivery.FOUND_POSTED
    assert len(answers_in(stack, channel, task_id)) == 1


# -- 4 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", ["internal_error", "fatal_error"])
def test_4_slack_saying_internal_or_fatal_error_after_posting_is_not_answered_twice(
    stack: DevStack, store: StateStore, web: WebClient, error: str
) -> None:
    """Hole 4: Slack documents that part of the operation may have succeeded."""
    channel, clock, task_id = new_channel("H4"), Clock(), f"t-h4-{next(_COUNTER)}"
    request = asked(channel, thread_ts="1700000000.000400")
    errored_before = slack_state(stack)["posts_errored"]
    stack.set_slack_faults(error_after_posts={"error": error, "count": 1})

    with pytest.raises(Exception):  # noqa: B017 - a retryable failure, whatever its type
        deliver(request, run=Run(task_id, LEASE_S), store=store, web=web, clock=clock)
    outcome, _ = run_copies_until_settled(request, task_id, store=store, web=web, clock=clock)

    assert slack_state(stack)["posts_errored"] == errored_before + 1  # the fault really happened
    assert outcome is Delivery.FOUND_POSTED
    assert len(answers_in(stack, channel, task_id)) == 1


# -- 5 -------------------------------------------------------------------------------------------


def test_5_a_search_needing_two_pages_under_the_one_call_a_minute_tier_settles(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    """Hole 5: a history 429 threw away the pages read; under Slack's 2025 tier the search never ended.

    The tier here is one call per 2 s (Slack's is one a minute), 15 messages a page.
    """
    channel, clock, task_id = new_channel("H5"), Clock(), f"t-h5-{next(_COUNTER)}"
    thread = "1700000000.000500"
    # A busy thread: 20 replies just before this run posts, all inside any window around its post.
    for index in range(20):
        web.chat_postMessage(channel=channel, thread_ts=thread, text=f"someone else {index}")
    request = asked(channel, thread_ts=thread, requested_at=time.time() - 1)
    with pytest.raises(Crash):
        deliver(request, run=Run(task_id, LEASE_S), store=store, web=flaky(stack, "crash after post"), clock=clock)
    stack.set_slack_faults(history_tier={"calls": 1, "per_s": 2, "page_size": 15})

    outcome, deferrals = run_copies_until_settled(
        request, task_id, store=store, web=web, clock=clock, copies=25, real_wait_up_to_s=3
    )

    assert outcome is Delivery.FOUND_POSTED, [d.reason for d in deferrals][-5:]
    assert len(answers_in(stack, channel, task_id)) == 1


def test_5_a_copy_that_has_deferred_past_the_bound_goes_to_the_dead_letter_queue_saying_why() -> None:
    """Hole 5: deferrals never counted, so an answer could wait forever with no DLQ entry, no alarm."""
    from contract.queues import QUEUE_SPECS, QueueName

    bound = QUEUE_SPECS[QueueName.REPLIES].max_deferral_s
    outcome = outcome_of(Defer(60, "Slack rate limits history reads"), failures=0, deferred_s=bound)  # type: ignore[call-arg]

    assert isinstance(outcome, DeadLetter)
    assert "Slack rate limits history reads" in outcome.reason and "deferred" in outcome.reason


# -- 6 -------------------------------------------------------------------------------------------


def test_6_a_run_frozen_past_its_lease_while_waiting_for_its_turn_does_not_post_after_a_takeover(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    """Hole 6: nothing checked the lease right before the post."""
    channel, task_id = new_channel("H6"), f"t-h6-{next(_COUNTER)}"
    clock = Clock()
    # Someone posts first, so this run's turn is a second away: it waits for it in the worker.
    assert deliver(asked(channel), run=Run(f"t-h6-first-{task_id}", LEASE_S), store=store, web=web, clock=clock)
    request = asked(channel)
    took_over: list[object] = []

    def frozen_past_the_lease() -> None:
        # The worker is paused (a VM or container pause) longer than the lease; meanwhile SQS
        # delivers the message again and that copy takes the answer over and posts it.
        outcome, _ = run_copies_until_settled(request, task_id, store=store, web=web, clock=Clock(offset=clock.offset))
        took_over.append(outcome)
        clock.offset += LEASE_S + 5

    clock.on_sleep = frozen_past_the_lease
    with pytest.raises(Defer):  # the frozen run wakes, finds it lost the answer, and never posts
        deliver(request, run=Run(task_id, LEASE_S), store=store, web=web, clock=clock)

    assert took_over == [Delivery.POSTED]
    assert len(answers_in(stack, channel, task_id)) == 1


# -- 7 -------------------------------------------------------------------------------------------


def test_7_a_worker_30_s_fast_does_not_take_over_a_live_run(stack: DevStack, store: StateStore) -> None:
    """Hole 7: leases compared wall clocks across machines."""
    channel, task_id = new_channel("H7A"), f"t-h7a-{next(_COUNTER)}"
    request = asked(channel)
    fast = Clock(offset=LEASE_S + 30)  # its clock says the live run's lease is over
    meanwhile: list[object] = []

    def a_fast_worker_gets_a_copy() -> None:
        plain = WebClient(token=stack.bot_token, base_url=f"{stack.slack_url}/api/", retry_handlers=[])
        try:
            meanwhile.append(deliver(request, run=Run(task_id, LEASE_S), store=store, web=plain, clock=fast))
        except Defer as deferred:
            meanwhile.append(deferred)

    # The live run is about to post (its request is on the wire) when the fast worker's copy runs.
    live = flaky(stack, "none", before=a_fast_worker_gets_a_copy)
    outcome = deliver(request, run=Run(task_id, LEASE_S), store=store, web=live, clock=Clock())

    assert outcome is Delivery.POSTED
    assert len(meanwhile) == 1 and isinstance(meanwhile[0], Defer), meanwhile
    assert len(answers_in(stack, channel, task_id)) == 1


def test_7_a_worker_ten_minutes_fast_does_not_make_every_other_worker_wait_ten_minutes(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    """Hole 7: a skewed writer put the channel's next_at into its own future."""
    channel = new_channel("H7B")
    fast = Clock(offset=600)
    assert deliver(asked(channel), run=Run(f"t-h7b-fast-{channel}", LEASE_S), store=store, web=web, clock=fast)

    on_time = Clock()
    try:
        outcome: object = deliver(
            asked(channel), run=Run(f"t-h7b-{channel}", LEASE_S), store=store, web=web, clock=on_time
        )
    except Defer as deferred:
        outcome = deferred

    waited = sum(on_time.slept) + (outcome.delay_s if isinstance(outcome, Defer) else 0.0)
    assert outcome is Delivery.POSTED, f"deferred {outcome}"
    assert waited <= 5
    assert len(posts_in(stack, channel)) == 2


# -- 8 -------------------------------------------------------------------------------------------


def test_8_a_lost_answer_to_a_takeover_does_not_make_the_run_wait_on_its_own_hold(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    """Hole 8: the SDK's retry of a takeover whose answer was lost failed its own condition."""
    channel, clock, task_id = new_channel("H8A"), Clock(), f"t-h8a-{next(_COUNTER)}"
    request = asked(channel, thread_ts="1700000000.000800")
    stack.set_slack_faults(rate_limited_for_s=60, retry_after_s=1, rate_limited_channels=[channel])
    with pytest.raises(Defer):  # Slack said 429: released, nothing posted
        deliver(request, run=Run(task_id, LEASE_S), store=store, web=web, clock=clock)
    stack.set_slack_faults(rate_limited_for_s=0)
    lost: list[dict[str, Any]] = []

    def takeover_answer_lost(name: str, call: dict[str, Any], real: Callable[..., Any]) -> Any:
        if name == "update_item" and writes_state(call, "held") and not lost:
            lost.append(call)
            real(**call)  # DynamoDB did it; the answer never came back, so the SDK sends it again
        return real(**call)

    assert stack.moto_url
    faulty = StateStore(FaultyDynamo(dynamodb(stack.moto_url), takeover_answer_lost), stack.env["CHARLA_TABLE_STATE"])  # type: ignore[arg-type]
    clock.offset += 5
    outcome = deliver(request, run=copy_of(task_id), store=faulty, web=web, clock=clock)

    assert lost, "the fault really happened"
    assert outcome is Delivery.POSTED
    assert len(answers_in(stack, channel, task_id)) == 1


def test_8_a_response_url_refusing_the_answer_does_not_post_an_ephemeral_answer_publicly(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    """Hole 8: any 4xx from response_url (not only an expired URL) posted in the channel."""
    channel, clock, task_id = new_channel("H8B"), Clock(), f"t-h8b-{next(_COUNTER)}"
    request = asked(channel, response_url=stack.response_url(f"invalid-{task_id}"))

    with pytest.raises(replies.ReplyRefused):
        deliver(request, run=Run(task_id, LEASE_S), store=store, web=web, clock=clock)

    assert posts_in(stack, channel) == []


def test_8_transaction_conflicts_on_a_hot_channel_are_contention_not_failures(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    """Hole 8: five TransactionConflicts dead-lettered an answer during a burst."""
    channel, clock, task_id = new_channel("H8C"), Clock(), f"t-h8c-{next(_COUNTER)}"
    request = asked(channel)
    conflicts: list[int] = []

    def hot_channel(name: str, call: dict[str, Any], real: Callable[..., Any]) -> Any:
        if name == "transact_write_items" and len(conflicts) < 6:
            conflicts.append(1)
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        return real(**call)

    assert stack.moto_url
    faulty = StateStore(FaultyDynamo(dynamodb(stack.moto_url), hot_channel), stack.env["CHARLA_TABLE_STATE"])  # type: ignore[arg-type]
    failures, outcome = 0, None
    for _ in range(8):  # as the executor runs the task's copies, counting failures as it does
        try:
            outcome = deliver(request, run=copy_of(task_id), store=faulty, web=web, clock=clock)
            break
        except Exception as error:
            settled = outcome_of(error, failures=failures)
            assert not isinstance(settled, DeadLetter), settled.reason
            failures = settled.failures

    assert conflicts, "the fault really happened"
    assert failures == 0
    assert outcome is Delivery.POSTED
    assert len(answers_in(stack, channel, task_id)) == 1
