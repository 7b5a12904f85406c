"""A signed request missing a field a listener reads (or holding the wrong type) is a 400, not a 500."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from lambda_handler.errors import RequestRejected

P = ParamSpec("P")
R = TypeVar("R")


def malformed_is_rejected(listener: Callable[P, R]) -> Callable[P, R]:
    """Turn a listener's ``KeyError``/``TypeError``/... on a signed body into ``RequestRejected``.

    Bolt would otherwise hand them to the error handler as a 500. ``enqueue`` raises its own
    ``IngressError``s (503 for an SQS outage), which pass through unchanged.
    """

    @functools.wraps(listener)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return listener(*args, **kwargs)
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as error:
            raise RequestRejected(f"request field missing or malformed: {type(error).__name__}") from error

    return checked
