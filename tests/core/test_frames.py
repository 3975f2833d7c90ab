"""Tests for realtime_widget.core.frames: one frame in, one event object or a FrameError out."""

from __future__ import annotations

import pytest

from realtime_widget.core.errors import ProtocolError
from realtime_widget.core.frames import FrameError, parse_frame


def test_an_object_is_an_event() -> None:
    assert parse_frame('{"type": "session.created", "n": 1}') == {
        "type": "session.created",
        "n": 1,
    }


@pytest.mark.parametrize(
    ("frame", "problem", "message"),
    [
        (b"\x00\x01\x02", "binary", "binary frame of 3 bytes; expected json text"),
        ('{"type": ', "invalid_json", "invalid json (Expecting value at 9)"),
        ("[" * 100_000, "too_deep", "invalid json: nested too deeply"),
        ('["a"]', "not_object", "json that is not an object"),
        ("1" * 5000, "invalid_json", "invalid json (exceeds the limit (4300 digits)"),
    ],
)
def test_a_frame_without_an_event_says_why(frame: str | bytes, problem: str, message: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(frame)
    assert isinstance(caught.value, ProtocolError)
    assert caught.value.problem == problem
    assert str(caught.value).startswith(message)


def test_the_parts_of_a_json_error_are_kept() -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame("{oops}")
    assert (caught.value.reason, caught.value.position) == (
        "Expecting property name enclosed in double quotes",
        1,
    )
