"""The worker's wall clock for the reply state machine: this machine's, set to AWS's time.

``posting_at`` is the one timestamp compared with another machine's clock: the search for an
attempted post looks for it in Slack's history in a window around it (``workers/services/
replies.py``). So a worker does not trust its own clock for it: every AWS answer carries AWS's
time (the HTTP ``Date`` header), and once a worker has seen that its clock is off by more than
``TRUST_S`` (beyond what the header's whole seconds and the call's round trip can tell), its
wall clock adds the difference (``AwsTime``). Slack keeps the same time as AWS (both follow UTC
closely), so the window holds the post even on a machine whose clock is minutes off.

The fault suite runs a worker whose clock is off (``CHARLA_TEST_CLOCK_OFFSET_S`` seconds ahead,
or behind if negative). The offset is honoured only when the worker talks to a local AWS
endpoint (``AWS_ENDPOINT_URL`` set, i.e. moto): a deployed worker always starts from the real clock.
"""

import os
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from functools import cache

from workers.runtime.settings import get_settings

TEST_CLOCK_OFFSET = "CHARLA_TEST_CLOCK_OFFSET_S"
# A difference this small is left alone: the header's whole seconds cannot tell it from none.
TRUST_S = 2.0
# A sample this old gives way to any newer one (the machine's clock may have been stepped since).
SAMPLE_TTL_S = 60.0


def local_clock() -> Callable[[], float]:
    """``time.time``, shifted by the test offset on a local stack only."""
    raw = os.environ.get(TEST_CLOCK_OFFSET)
    if not raw or not get_settings().aws_endpoint_url:
        return time.time
    offset = float(raw)
    return lambda: time.time() + offset


class AwsTime:
    """How far AWS's clock is from this process's, learned from the ``Date`` of AWS's answers.

    Each answer bounds the difference: AWS stamped its ``Date`` (truncated to the second) between
    the request leaving and the answer arriving. The narrowest recent bound wins.
    """

    def __init__(self, local: Callable[[], float]) -> None:
        self.local = local
        self._lock = threading.Lock()
        self._best: tuple[float, float, float] | None = None  # (half-width, offset, monotonic when)

    def observe(self, sent_at: float, received_at: float, date: str) -> None:
        """One AWS answer: sent and received on ``local``, with its ``Date`` header."""
        try:
            aws_s = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            return  # no usable Date: nothing learned
        low, high = aws_s - received_at, aws_s + 1.0 - sent_at
        sample = ((high - low) / 2, (low + high) / 2, time.monotonic())
        with self._lock:
            best = self._best
            if best is None or sample[0] <= best[0] or sample[2] - best[2] > SAMPLE_TTL_S:
                self._best = sample

    def offset(self) -> float:
        """Seconds to add to ``local`` for AWS's time: 0 until a difference beyond doubt is seen."""
        best = self._best
        if best is None or abs(best[1]) <= TRUST_S + best[0]:
            return 0.0
        return best[1]

    def now(self) -> float:
        return self.local() + self.offset()


@cache
def aws_time() -> AwsTime:
    """The process's one ``AwsTime`` (every AWS client of the process teaches it: workers/runtime/aws.py)."""
    return AwsTime(local_clock())


def wall_clock() -> Callable[[], float]:
    """The reply state machine's clock: this machine's (test offset included), set to AWS's time."""
    return aws_time().now
