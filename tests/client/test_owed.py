"""OwedCalls: one response.create per response, after all its calls are answered."""

from __future__ import annotations

import pytest

from realtime_widget.client.owed import OwedCalls
from realtime_widget.core.errors import UsageError


def test_two_calls_continue_once_after_both_answers_and_done() -> None:
    calls = OwedCalls()
    assert calls.expect("r1", "a") and calls.expect("r1", "b")
    assert not calls.expect("r1", "a")  # seen twice (item.done and output_item.done)
    calls.claim("a")
    assert calls.settle("a") is False
    assert calls.finish("r1") is False  # b is still owed
    calls.claim("b")
    assert calls.settle("b") is True
    assert calls.finish("r1") is False  # only once


def test_answers_before_done_continue_at_done() -> None:
    calls = OwedCalls()
    calls.expect("r1", "a")
    calls.claim("a")
    assert calls.settle("a") is False
    assert calls.finish("r1") is True


def test_responses_without_calls_and_unknown_calls() -> None:
    calls = OwedCalls()
    assert calls.finish("plain") is False
    assert calls.settle("stray") is False


def test_claiming_twice_is_a_usage_error() -> None:
    calls = OwedCalls()
    calls.claim("a")
    with pytest.raises(UsageError, match="'a' was already answered"):
        calls.claim("a")


def test_finish_all_ends_the_lost_sessions_responses() -> None:
    calls = OwedCalls()
    calls.expect("r1", "a")
    calls.expect("r2", "b")
    calls.claim("a")
    calls.settle("a")
    assert calls.finish_all() == 1  # r1 may continue; r2 still owes b
    calls.claim("b")
    assert calls.settle("b") is True
