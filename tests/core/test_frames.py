"""Tests for realtime_widget.core.frames: one frame in, one event object or a FrameError out."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from realtime_widget.core.errors import ProtocolError
from realtime_widget.core.frames import Base64Text, FrameError, event_text, parse_frame


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


CHUNK = bytes(range(256)) * 15  # every byte value: base64 of it uses all 64 characters


@pytest.mark.parametrize(
    "event",
    [
        {
            "type": "input_audio_buffer.append",
            "event_id": "evt_1",
            "audio": Base64Text.from_bytes(CHUNK),
        },
        {"audio": Base64Text.from_bytes(CHUNK)},
        {
            "a": Base64Text.from_bytes(b"x"),
            "b": [1.5, {"c": 'q"uote\\ \u00e9'}],
            "d": Base64Text.from_bytes(b""),
        },
        {"type": "response.create", "text": 'caf\u00e9 "quoted"'},
        {},
    ],
)
def test_event_text_is_the_json_of_the_event(event: dict[str, Any]) -> None:
    text = event_text(event)
    assert json.loads(text) == event
    assert text.isascii(), "its length is its size in bytes"
    plain = {k: str(v) if isinstance(v, Base64Text) else v for k, v in event.items()}
    assert json.loads(text) == json.loads(json.dumps(plain))


def test_base64_text_is_standard_base64_of_any_buffer() -> None:
    import numpy as np

    samples = np.arange(-5, 5, dtype="<i2")
    assert Base64Text.from_bytes(samples) == base64.b64encode(samples.tobytes()).decode()
    assert Base64Text.from_bytes(memoryview(CHUNK)) == base64.b64encode(CHUNK).decode()
    assert type(Base64Text.from_bytes(b"ab")) is Base64Text


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"audio": Base64Text.from_bytes(b"x"), "n": float("nan")}, ValueError),
        ({"audio": Base64Text.from_bytes(b"x"), "n": object()}, TypeError),
        ({"n": float("inf")}, ValueError),
    ],
)
def test_event_text_refuses_what_json_cannot_hold(event: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        event_text(event)
