"""Tests for realtime_widget.core.checks: numbers that are not bools, bounds, tool names."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realtime_widget.core.checks import (
    is_int,
    is_number,
    is_tool_name,
    need_int,
    need_number,
    need_tool_name,
    number_problem,
)
from realtime_widget.core.errors import UsageError


def test_a_bool_is_never_a_number() -> None:
    assert is_number(3) and is_number(2.5) and not is_number(True) and not is_number("3")
    assert is_int(3) and not is_int(3.0) and not is_int(False)


@pytest.mark.parametrize(
    ("value", "bounds", "problem"),
    [
        (1, {"low": 0, "high": 2}, None),
        (3, {"low": 0, "high": 2}, "range"),
        (0, {"above": 0}, "range"),
        (math.nan, {"low": 0}, "range"),
        (math.inf, {"finite": True}, "type"),
        (2.5, {"whole": True}, "type"),
        (2.0, {"whole": True}, None),
        (None, {}, "type"),
    ],
)
def test_number_problem(value: object, bounds: dict[str, object], problem: str | None) -> None:
    assert number_problem(value, **bounds) == problem  # type: ignore[arg-type]


def test_a_failed_check_names_the_field_and_the_value() -> None:
    with pytest.raises(UsageError, match=r"^speed must be positive, got 0$"):
        need_number("speed", 0, "positive", above=0)
    with pytest.raises(ValueError, match=r"^delay must be a number of seconds, got 'x'$"):
        need_number("delay", "x", "positive", above=0, kind="a number of seconds", error=ValueError)
    assert need_number("speed", 1.5, "positive", above=0) == 1.5


def test_need_int_takes_any_integer_type_but_bool() -> None:
    assert need_int("port", np.int64(80), "a port", low=0) == 80
    for bad in (True, 1.0, "1", -1):
        with pytest.raises(UsageError, match=f"^port must be a port, got {bad!r}$"):
            need_int("port", bad, "a port", low=0)


def test_tool_names() -> None:
    assert is_tool_name("get_weather-2") and not is_tool_name("a b") and not is_tool_name("x" * 65)
    assert need_tool_name("ok") == "ok"
    with pytest.raises(UsageError, match="invalid tool name 'a b': use 1-64 letters"):
        need_tool_name("a b")
