"""The reply state machine (workers/services/replies.py) driven through every crash point.

Real parts: the effect records live in a moto server, posts go over HTTP to the Slack stand-in
through a real slack_sdk WebClient. No worker runs: ``deliver`` is called directly, a "crash" is
an exception the code under test does not catch (like SIGKILL, nothing runs after it), and the
clock is moved forward instead of waiting out leases.
"""

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from contract.tasks import CommandRequest
from scripts.stack import DevStack
from tests.integration import reply_stack
from workers.outcomes import Defer, Observed
from workers.services import replies
from workers.services.replies import Delivery, Run
from workers.state.effects import EffectState
from workers.state.pace import SlotClaim
from workers.store import StateStore

# The shared fixtures (tests/integration/reply_stack.py), under the names the tests take.
stack, store, web = reply_stack.stack, reply_stack.store, reply_stack.web

pytestmark = pytest.mark.slow
LEASE_S = 60.0


class Crash(BaseException):
    """The worker process dies here: no handler of the code under test runs."""


@dataclass
class Clock:
    """Real time plus an offset the test moves forward (a lease "expires" without waiting)."""

    offset: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds


@pytest.fixture(autouse=True)
def slack_behaves(stack: DevStack) -> Iterator[None]:
    yield
    stack.set_slack_faults(rate_limited_for_s=0)


_COUNTER = iter(range(10**6))


def asked(
    channel: str, *, thread_ts: str | None = "1700000000.000100", response_url: str | None = None
) -> CommandRequest:
    return CommandRequest(
        correlation_id=f"Ev-{channel}",
        team_id="T0EFFECTS",
        channel=channel,
        user="U1",
        command="ping",
        thread_ts=thread_ts,
        response_url=response_url,
        requested_at=time.time(),
    )


def new_channel(prefix: str) -> str:
    return f"C{prefix}{next(_COUNTER):05d}"


def posts_in(stack: DevStack, channel: str) -> list[dict[str, Any]]:
    return [r for r in stack.recorded() if r.get("kind") == "chat.postMessage" and r.get("channel") == channel]


class CrashingWeb(WebClient):
    """A WebClient that dies right before or right after Slack takes the post."""

    def __init__(self, *args: Any, crash: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.crash = crash

    def chat_postMessage(self, **kwargs: Any) -> Any:  # noqa: N802 - slack_sdk's name
        if self.crash == "before post":
            raise Crash
        response = super().chat_postMessage(**kwargs)
        if self.crash == "after post":
            raise Crash
        if self.crash == "reset after post":
            raise ConnectionResetError("connection reset by peer")
        return response


def deliver(
    request: CommandRequest,
    *,
    run: Run,
    store: StateStore,
    web: WebClient,
    clock: Clock,
    webhook_for: Callable[[str], WebhookClient] = WebhookClient,
) -> Delivery:
    return replies.deliver(
        request,
        "pong",
        run=run,
        count_as="ping",
        web=web,
        reader=web,
        webhook_for=webhook_for,
        store=store,
        clock=clock,
        sleep=clock.sleep,
    )


def copy_after_the_lease(store: StateStore, task_id: str) -> Run:
    """A copy whose earlier copies saw the record's version unchanged for a whole lease (the SQS
    delays they waited, carried in their headers): it may take over. test_reply_holes.py runs the
    copies one by one instead."""
    record = store.effects.read(task_id)
    assert record is not None
    return Run(task_id, LEASE_S, continuation=True, observed=Observed(record.version, LEASE_S))


def uses(store: StateStore) -> int:
    return store.command_counts(team_id="T0EFFECTS").get("ping", 0)


def test_the_first_run_posts_once_counts_once_and_a_later_copy_does_nothing(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    channel, clock, before = new_channel("ONE"), Clock(), uses(store)
    request = asked(channel)

    first = deliver(request, run=Run("t-once", LEASE_S), store=store, web=web, clock=clock)
    again = deliver(request, run=Run("t-once", LEASE_S), store=store, web=web, clock=clock)
    continued = deliver(request, run=Run("t-once", LEASE_S, continuation=True), store=store, web=web, clock=clock)

    assert (first, again, continued) == (Delivery.POSTED, Delivery.ALREADY_DONE, Delivery.ALREADY_DONE)
    assert len(posts_in(stack, channel)) == 1
    assert uses(store) == before + 1
    record = store.effects.read("t-once")
    assert record is not None and record.state is EffectState.DONE and record.message_ts


@pytest.mark.parametrize("crash", ["before post", "after post"])
def test_a_run_that_died_is_taken_over_after_its_lease_and_the_answer_is_posted_once(
    stack: DevStack, store: StateStore, web: WebClient, crash: str
) -> None:
    channel, clock, before = new_channel("DIED"), Clock(), uses(store)
    request, task_id = asked(channel), f"t-died-{crash}"
    dying = CrashingWeb(token=stack.bot_token, base_url=f"{stack.slack_url}/api/", retry_handlers=[], crash=crash)

    with pytest.raises(Crash):
        deliver(request, run=Run(task_id, LEASE_S), store=store, web=dying, clock=clock)
    # A copy that arrives while the dead run's lease still holds never posts.
    with pytest.raises(Defer) as deferred:
        deliver(request, run=Run(task_id, LEASE_S), store=store, web=web, clock=clock)
    outcome = deliver(request, run=copy_after_the_lease(store, task_id), store=store, web=web, clock=clock)

    assert deferred.value.delay_s <= LEASE_S and not deferred.value.about_result
    assert outcome is (Delivery.POSTED if crash == "before post" else Delivery.FOUND_POSTED)
    assert len(posts_in(stack, channel)) == 1
    assert uses(store) == before + 1  # the takeover counts nothing


def test_a_connection_reset_after_slack_posted_is_found_not_posted_again(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    channel, clock = new_channel("RESET"), Clock()
    request = asked(channel, thread_ts=None)
    resetting = CrashingWeb(
        token=stack.bot_token, base_url=f"{stack.slack_url}/api/", retry_handlers=[], crash="reset after post"
    )

    with pytest.raises(replies.SlackUnavailable):
        deliver(request, run=Run("t-reset", LEASE_S), store=store, web=resetting, clock=clock)
    record = store.effects.read("t-reset")
    outcome = deliver(request, run=Run("t-reset", LEASE_S, continuation=True), store=store, web=web, clock=clock)

    assert record is not None and record.state is EffectState.FREE and record.suspect
    assert outcome is Delivery.FOUND_POSTED
    assert len(posts_in(stack, channel)) == 1


def test_a_crash_after_done_leaves_nothing_to_do(stack: DevStack, store: StateStore, web: WebClient) -> None:
    channel, clock = new_channel("DONE"), Clock()
    request = asked(channel)
    deliver(request, run=Run("t-done", LEASE_S), store=store, web=web, clock=clock)
    # ... the worker dies before acking: SQS delivers the message again, later.
    clock.offset += 600

    assert deliver(request, run=Run("t-done", LEASE_S), store=store, web=web, clock=clock) is Delivery.ALREADY_DONE
    assert len(posts_in(stack, channel)) == 1


def test_two_runs_at_once_post_once(stack: DevStack, store: StateStore, web: WebClient) -> None:
    channels = [new_channel("PAIR") for _ in range(12)]
    outcomes: list[object] = []
    lock = threading.Lock()

    def run_copy(request: CommandRequest, task_id: str, start: threading.Barrier) -> None:
        start.wait()
        try:
            result: object = deliver(request, run=Run(task_id, LEASE_S), store=store, web=web, clock=Clock())
        except Exception as error:
            result = error
        with lock:
            outcomes.append(result)

    for channel in channels:
        request, start = asked(channel), threading.Barrier(2)
        threads = [threading.Thread(target=run_copy, args=(request, f"t-pair-{channel}", start)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert [len(posts_in(stack, channel)) for channel in channels] == [1] * len(channels)
    assert sum(1 for outcome in outcomes if outcome is Delivery.POSTED) == len(channels)
    # The other copy met the winner's hold (defers) or, if it came late, its DONE.
    assert all(
        outcome in (Delivery.POSTED, Delivery.ALREADY_DONE) or isinstance(outcome, Defer) for outcome in outcomes
    ), outcomes


def test_a_busy_channel_posts_one_a_second_and_a_far_turn_is_deferred_keeping_its_place(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    channel = new_channel("PACE")
    clocks = [Clock() for _ in range(8)]
    delivered: list[object] = []
    for index, clock in enumerate(clocks):
        try:
            delivered.append(
                deliver(
                    asked(channel), run=Run(f"t-pace-{channel}-{index}", LEASE_S), store=store, web=web, clock=clock
                )
            )
        except Defer as deferred:
            delivered.append(deferred)
    deferred = [(index, d) for index, d in enumerate(delivered) if isinstance(d, Defer)]
    # The deferred ones come back at their turn and post without queueing again.
    for index, defer in deferred:
        clock = Clock(offset=defer.delay_s)
        outcome = deliver(
            asked(channel),
            run=Run(f"t-pace-{channel}-{index}", LEASE_S, continuation=True),
            store=store,
            web=web,
            clock=clock,
        )
        assert outcome is Delivery.POSTED
        # Due back a little early, it waits in the worker for its very slot.
        assert clock.slept and max(clock.slept) <= replies.EARLY_RETURN_S + 0.5

    waits = [max(clock.slept, default=0.0) for clock in clocks]
    assert delivered[0] is Delivery.POSTED and waits[0] == 0
    waited = [waits[index] for index, d in enumerate(delivered) if not isinstance(d, Defer)]
    assert waited == sorted(waited) and len(set(waited)) == len(waited)  # each later run, a later slot
    assert deferred, "a turn more than MAX_PACE_WAIT_S away is deferred, not slept through"
    assert len(posts_in(stack, channel)) == len(clocks)


def test_a_429_moves_the_whole_line_once_and_every_run_keeps_its_place(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    channel = new_channel("LIMIT")
    stack.set_slack_faults(rate_limited_for_s=3, retry_after_s=30)
    deferrals: list[float] = []
    due: list[float] = []  # when each deferred copy comes back
    for index in range(3):
        with pytest.raises(Defer) as deferred:
            deliver(asked(channel), run=Run(f"t-429-{channel}-{index}", LEASE_S), store=store, web=web, clock=Clock())
        deferrals.append(deferred.value.delay_s)
        due.append(time.time() + deferred.value.delay_s)
    stack.set_slack_faults(rate_limited_for_s=0)
    pace = store.pace.read("T0EFFECTS", channel)

    assert pace.shift == 30  # three runs told to wait, the line moved once
    assert deferrals == sorted(deferrals)  # in the order they came
    early = replies.EARLY_RETURN_S
    assert all(29 - early <= delay <= 30 + 3 - early for delay in deferrals)
    posted_at: list[float] = []
    for index, back_at in enumerate(due):
        run, clock = Run(f"t-429-{channel}-{index}", LEASE_S, continuation=True), Clock(offset=back_at - time.time())
        assert deliver(asked(channel), run=run, store=store, web=web, clock=clock) is Delivery.POSTED
        posted_at.append(clock())
    # Each copy waited in the worker for its own slot: one a second, in the order they asked.
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(posted_at)), posted_at
    assert len(posts_in(stack, channel)) == 3


def test_two_workers_told_429_at_once_move_the_line_once(stack: DevStack, store: StateStore) -> None:
    channel = new_channel("BOTH")
    both_posting = threading.Barrier(2, timeout=20)

    class PostsTogether(WebClient):
        def chat_postMessage(self, **kwargs: Any) -> Any:  # noqa: N802 - slack_sdk's name
            both_posting.wait()  # both runs are past their checks and post at the same moment
            return super().chat_postMessage(**kwargs)

    web = PostsTogether(token=stack.bot_token, base_url=f"{stack.slack_url}/api/", retry_handlers=[])
    stack.set_slack_faults(rate_limited_for_s=3, retry_after_s=30)
    deferrals: list[float] = []

    def run_copy(index: int) -> None:
        try:
            deliver(asked(channel), run=Run(f"t-both-{channel}-{index}", LEASE_S), store=store, web=web, clock=Clock())
        except Defer as deferred:
            deferrals.append(deferred.delay_s)

    threads = [threading.Thread(target=run_copy, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(deferrals) == 2
    assert store.pace.read("T0EFFECTS", channel).shift == 30  # not 60: one pause, one move
    assert posts_in(stack, channel) == []


def test_an_ephemeral_answer_is_at_least_once_when_the_worker_dies_after_posting(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    """The documented limit: a response_url leaves nothing to look for, so the re-run posts again."""
    key = f"eph-{next(_COUNTER)}"
    request, clock = asked(new_channel("EPH"), response_url=stack.response_url(key)), Clock()

    class DyingWebhook(WebhookClient):
        def send(self, **kwargs: Any) -> Any:
            super().send(**kwargs)
            raise Crash

    with pytest.raises(Crash):
        deliver(request, run=Run("t-eph", LEASE_S), store=store, web=web, clock=clock, webhook_for=DyingWebhook)
    run = copy_after_the_lease(store, "t-eph")
    assert deliver(request, run=run, store=store, web=web, clock=clock) is Delivery.POSTED

    answers = [r for r in stack.recorded() if r.get("kind") == "response_url" and key in str(r.get("path"))]
    assert len(answers) == 2


@pytest.mark.parametrize("thread_ts", ["1700000000.000300", None])
def test_the_look_in_slack_reads_every_page(
    stack: DevStack, store: StateStore, web: WebClient, thread_ts: str | None
) -> None:
    channel, clock = new_channel("PAGES"), Clock()
    dying = CrashingWeb(
        token=stack.bot_token, base_url=f"{stack.slack_url}/api/", retry_handlers=[], crash="after post"
    )

    def other_answers() -> None:
        for index in range(5):
            run = Run(f"t-other-{channel}-{index}", LEASE_S)
            deliver(asked(channel, thread_ts=thread_ts), run=run, store=store, web=web, clock=clock)

    # Put the dead run's post where the first page is not: history pages newest first, a
    # thread's replies oldest first.
    if thread_ts:
        other_answers()
    with pytest.raises(Crash):
        run = Run(f"t-pages-{channel}", LEASE_S)
        deliver(asked(channel, thread_ts=thread_ts), run=run, store=store, web=dying, clock=clock)
    if not thread_ts:
        other_answers()
    stack.set_slack_faults(history_page_size=2)
    try:
        run = copy_after_the_lease(store, f"t-pages-{channel}")
        outcome = deliver(asked(channel, thread_ts=thread_ts), run=run, store=store, web=web, clock=clock)
    finally:
        stack.set_slack_faults(history_page_size=0)

    assert outcome is Delivery.FOUND_POSTED
    assert len(posts_in(stack, channel)) == 6


def test_a_copy_that_missed_its_turn_takes_a_new_one_instead_of_posting_on_the_next_runs(
    stack: DevStack, store: StateStore, web: WebClient
) -> None:
    channel, clock = new_channel("LATE"), Clock()
    now = clock()
    # A copy released 5 s ago with a slot that has gone by (its worker was busy, SQS was late)...
    pace = store.pace.read("T0EFFECTS", channel)
    slot = SlotClaim("T0EFFECTS", channel, now - 5, replies.CHANNEL_POST_INTERVAL_S, pace)
    store.effects.claim("t-late", owner="gone", now=now - 5, posting=False, slot=slot)
    store.effects.release("t-late", owner="gone", now=now - 4, proven_absent=True, slot_at=now - 5, shift_at=0.0)
    # ... while the run whose turn it is now posts.
    assert deliver(asked(channel), run=Run("t-on-time", LEASE_S), store=store, web=web, clock=clock) is Delivery.POSTED

    late = Clock(offset=clock.offset)
    outcome = deliver(asked(channel), run=Run("t-late", LEASE_S, continuation=True), store=store, web=web, clock=late)

    assert outcome is Delivery.POSTED
    assert late.slept and late.slept[-1] >= 0.5  # it waited for a new turn after the one just taken
