"""Type checks of a payload dataclass before it is queued, with the standard library only.

The workers validate every payload with pydantic (``TypeAdapter`` over the same dataclasses);
the ingress cannot afford pydantic on its cold start, so it checks with these few rules instead.
They are deliberately stricter than pydantic's lax mode (no ``"1" -> 1``, no ``1 -> True``), so
a payload accepted here is always accepted by the worker, which
``tests/unit/test_contract_checks.py`` checks against pydantic itself. A payload that fails
here never reaches a queue, so it can never end in a dead-letter queue.
"""

import dataclasses
import math
import types
import typing
from enum import Enum
from functools import cache
from typing import Any


class PayloadInvalid(ValueError):
    """A payload field holds a value of the wrong type; the message names the field, not the value."""


@cache
def _field_types(kind: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(kind)
    return {field.name: hints[field.name] for field in dataclasses.fields(kind)}


def _matches(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        # JSON has no NaN or infinity; the wire refuses them, and so do we, earlier.
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if expected is str:
        return isinstance(value, str)
    if isinstance(expected, type) and issubclass(expected, Enum):
        return isinstance(value, expected)
    raise TypeError(f"no check for field type {expected!r}")  # a contract change this module must learn


def check_payload(payload: Any) -> None:
    """Check every field of a contract payload dataclass against its declared type.

    Raises:
        PayloadInvalid: A field's value does not have the field's type (the message names it).
        TypeError: ``payload`` is not a dataclass instance, or declares a type this module cannot check.
    """
    if not dataclasses.is_dataclass(payload) or isinstance(payload, type):
        raise TypeError(f"{type(payload).__name__} is not a contract payload dataclass")
    for name, expected in _field_types(type(payload)).items():
        value = getattr(payload, name)
        if not _matches(value, expected):
            raise PayloadInvalid(f"{type(payload).__name__}.{name} is {type(value).__name__}, expected {expected}")
