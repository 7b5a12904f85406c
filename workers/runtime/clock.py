"""The worker's wall clock for the reply state machine: ``time.time``, and in tests a skewed one.

The fault suite runs a worker whose clock is off (``CHARLA_TEST_CLOCK_OFFSET_S`` seconds ahead,
or behind if negative) to prove that nothing compares clocks across machines
(``workers/services/replies.py``). The offset is honoured only when the worker talks to a local
AWS endpoint (``AWS_ENDPOINT_URL`` set, i.e. moto): a deployed worker always reads the real clock.
"""

import os
import time
from collections.abc import Callable

from workers.runtime.settings import get_settings

TEST_CLOCK_OFFSET = "CHARLA_TEST_CLOCK_OFFSET_S"


def wall_clock() -> Callable[[], float]:
    """``time.time``, shifted by the test offset on a local stack only."""
    raw = os.environ.get(TEST_CLOCK_OFFSET)
    if not raw or not get_settings().aws_endpoint_url:
        return time.time
    offset = float(raw)
    return lambda: time.time() + offset
