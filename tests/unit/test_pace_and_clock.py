"""A channel's line read by a worker whose clock is right, when another's was not; and the skewed
test clock that only a local stack honours."""

import time
from collections.abc import Iterator

import pytest

from workers.state.pace import MAX_LINE_S, MAX_PAUSE_S, ChannelPace


def test_an_honest_line_is_kept_even_when_long() -> None:
    now = 1_000.0
    pace = ChannelPace(next_at=now + 90, paused_until=now + 30, shift=0.0, version="1090.000")

    assert pace.first_free(now) == now + 90  # 90 answers waiting: a busy channel, not a skewed clock


def test_a_line_or_a_pause_written_by_a_clock_ten_minutes_fast_is_not_trusted() -> None:
    now = 1_000.0
    line = ChannelPace(next_at=now + 601, paused_until=0.0, shift=0.0, version="1601.000")
    pause = ChannelPace(next_at=None, paused_until=now + 630, shift=30.0, version=None)

    assert line.first_free(now) == now
    assert pause.first_free(now) == now
    assert MAX_LINE_S <= 300 and MAX_PAUSE_S <= 300  # a skewed writer costs minutes at most, never its skew


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    from workers.runtime.settings import get_settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("CHARLA_QUEUE_URL_REPLIES", "http://q/replies")
    monkeypatch.setenv("CHARLA_QUEUE_URL_BULK", "http://q/bulk")
    monkeypatch.setenv("CHARLA_TABLE_STATE", "state")
    monkeypatch.setenv("CHARLA_TEST_CLOCK_OFFSET_S", "600")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_the_test_clock_offset_applies_on_a_local_stack(worker_env: pytest.MonkeyPatch) -> None:
    from workers.runtime.clock import local_clock

    worker_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    assert local_clock()() - time.time() > 590


def test_a_deployed_worker_ignores_the_test_clock_offset(worker_env: pytest.MonkeyPatch) -> None:
    from workers.runtime.clock import local_clock

    worker_env.delenv("AWS_ENDPOINT_URL", raising=False)
    assert local_clock() is time.time


def _date(seconds: float) -> str:
    from email.utils import formatdate

    return formatdate(seconds, usegmt=True)


def test_a_clock_two_minutes_fast_takes_aws_time_from_one_answer() -> None:
    from workers.runtime.clock import AwsTime

    fast = AwsTime(lambda: time.time() + 120)
    assert abs(fast.now() - time.time() - 120) < 1  # nothing learned yet: its own clock
    sent = fast.local()
    fast.observe(sent, fast.local(), _date(time.time()))
    assert abs(fast.now() - time.time()) < 1.5


def test_a_clock_within_what_the_date_header_can_tell_is_left_alone() -> None:
    from workers.runtime.clock import AwsTime

    close = AwsTime(lambda: time.time() + 1.2)
    close.observe(close.local(), close.local(), _date(time.time()))
    assert close.offset() == 0.0


def test_a_slow_answer_does_not_teach_a_wrong_offset_over_a_fast_one() -> None:
    from workers.runtime.clock import AwsTime

    clock = AwsTime(time.time)
    now = time.time()
    clock.observe(now - 0.01, now, _date(now + 300))  # a quick answer: AWS is 5 minutes ahead
    clock.observe(now - 40, now, _date(now + 250))  # a 40 s answer says less precisely otherwise
    assert 298 < clock.offset() < 302
    clock.observe(now, now, "not a date")
    assert 298 < clock.offset() < 302
