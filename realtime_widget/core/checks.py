"""Checks of plain values given by a caller or a peer: numbers within bounds, tool names.

A bool is never a number here (Python counts it as an int). :func:`need_number` and
:func:`need_int` return the value they accept or raise the caller's error type (``error``,
called with the message; :class:`UsageError` unless told) with the message
``"<name> must be <expected>, got <value!r>"``. :func:`number_problem` says why a value fails,
for callers that word their own errors. Pure: no I/O.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from typing import Literal, SupportsIndex, TypeGuard

from realtime_widget.core.errors import UsageError

__all__ = [
    "is_int",
    "is_number",
    "is_tool_name",
    "need_int",
    "need_number",
    "need_tool_name",
    "number_problem",
]

ErrorType = Callable[[str], Exception]
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or a float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def number_problem(
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    whole: bool = False,
    finite: bool = False,
) -> Literal["type", "range"] | None:
    """Why ``value`` is not a number within the bounds, or ``None`` when it is one.

    ``"type"``: not a number, or (``whole``) a float with a fraction, or (``finite``) NaN or
    an infinity. ``"range"``: not ``low <= value <= high`` or not ``value > above`` (NaN
    fails every bound).
    """
    if not is_number(value):
        return "type"
    if whole and isinstance(value, float) and not value.is_integer():
        return "type"
    if finite and not math.isfinite(value):
        return "type"
    if low is not None and not value >= low:
        return "range"
    if high is not None and not value <= high:
        return "range"
    if above is not None and not value > above:
        return "range"
    return None


def need_number(
    name: str,
    value: object,
    expected: str,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    finite: bool = False,
    kind: str | None = None,
    error: ErrorType = UsageError,
) -> int | float:
    """``value`` when it is a number within the bounds (see :func:`number_problem`).

    Raises ``error`` saying ``name`` must be ``expected`` (``kind`` instead, when given, for a
    value that is no number at all).
    """
    problem = number_problem(value, low=low, high=high, above=above, finite=finite)
    if problem is not None:
        wanted = kind if problem == "type" and kind is not None else expected
        raise error(f"{name} must be {wanted}, got {value!r}")
    assert is_number(value)
    return value


def need_int(
    name: str,
    value: object,
    expected: str,
    *,
    low: int | None = None,
    high: int | None = None,
    above: int | None = None,
    error: ErrorType = UsageError,
) -> int:
    """``value`` as an int when it is an integer (numpy's too, never a bool) within the
    bounds; raises ``error`` saying ``name`` must be ``expected``."""
    number = operator.index(value) if isinstance(value, SupportsIndex) else None
    if (
        isinstance(value, bool)
        or number is None
        or number_problem(number, low=low, high=high, above=above) is not None
    ):
        raise error(f"{name} must be {expected}, got {value!r}")
    return number


def is_tool_name(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a tool's name: 1-64 letters, digits, ``_`` or ``-``."""
    return isinstance(value, str) and _TOOL_NAME.fullmatch(value) is not None


def need_tool_name(value: object) -> str:
    """``value`` when it is a tool's name, else :class:`UsageError` naming it."""
    if not is_tool_name(value):
        raise UsageError(f"invalid tool name {value!r}: use 1-64 letters, digits, '_' or '-'")
    return value
