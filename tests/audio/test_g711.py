"""Tests for realtime_widget.audio.g711: mu-law and A-law."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from realtime_widget.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from realtime_widget.core.errors import UsageError

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
int16_arrays = hnp.arrays(np.int16, st.integers(0, 400))


def le_bytes(values: list[int]) -> bytes:
    return np.asarray(values, dtype="<i2").tobytes()


# --- G.711 ---------------------------------------------------------------------------------


def test_g711_known_code_points() -> None:
    samples = np.array([0, -1, 32767, -32768], dtype=np.int16)
    assert mulaw_encode(samples) == bytes([0xFF, 0x7F, 0x80, 0x00])
    assert alaw_encode(samples) == bytes([0xD5, 0x55, 0xAA, 0x2A])
    assert mulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00])).tolist() == [0, 0, 32124, -32124]
    assert alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A])).tolist() == [8, -8, 32256, -32256]


def _mulaw_half_step(codes: np.ndarray) -> np.ndarray:
    segment = ((~codes.astype(np.int32) & 0xFF) >> 4) & 7
    return 4 << segment  # the interval is 8 << segment in 16-bit units


def _alaw_half_step(codes: np.ndarray) -> np.ndarray:
    segment = ((codes.astype(np.int32) ^ 0x55) & 0x7F) >> 4
    half: np.ndarray = 8 << np.maximum(segment - 1, 0)
    return half


@pytest.mark.parametrize(
    ("encode", "decode", "half_step", "peak"),
    [
        (mulaw_encode, mulaw_decode, _mulaw_half_step, 32124),
        (alaw_encode, alaw_decode, _alaw_half_step, 32256),
    ],
)
def test_g711_quantisation_over_every_int16_value(
    encode: Callable[[Any], bytes],
    decode: Callable[[Any], np.ndarray],
    half_step: Callable[[np.ndarray], np.ndarray],
    peak: int,
) -> None:
    codes = np.frombuffer(encode(ALL_INT16), dtype=np.uint8)
    decoded = decode(codes).astype(np.int64)
    values = ALL_INT16.astype(np.int64)
    assert np.all(np.diff(decoded) >= 0)  # a quantiser never reverses order
    inside = np.abs(values) <= peak
    error = np.abs(decoded - values)
    # the decoded value is the interval's midpoint; 4 more for the dropped low bits
    assert np.all(error[inside] <= half_step(codes[inside]) + 4)
    assert np.all(np.abs(decoded[~inside]) == peak)
    # coding is symmetric: -x-1 (the one's complement) decodes to minus what x decodes to
    assert np.array_equal(decoded[32768 + np.arange(32768)], -decoded[32767 - np.arange(32768)])


def test_g711_every_code_round_trips() -> None:
    codes = np.arange(256, dtype=np.uint8)
    assert alaw_encode(alaw_decode(codes)) == codes.tobytes()
    mulaw = np.frombuffer(mulaw_encode(mulaw_decode(codes)), dtype=np.uint8)
    mismatched = np.flatnonzero(mulaw != codes).tolist()
    assert mismatched == [0x7F]  # negative zero is coded as positive zero
    assert mulaw[0x7F] == 0xFF


def test_g711_matches_the_standard_library_codec() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    raw = ALL_INT16.astype("<i2").tobytes()
    codes = bytes(range(256))
    assert alaw_encode(ALL_INT16) == audioop.lin2alaw(raw, 2)
    assert np.array_equal(alaw_decode(codes), np.frombuffer(audioop.alaw2lin(codes, 2), "<i2"))
    assert np.array_equal(mulaw_decode(codes), np.frombuffer(audioop.ulaw2lin(codes, 2), "<i2"))
    # audioop takes the two's-complement magnitude of negative mu-law input; the ITU-T
    # reference takes the one's complement: equal for x >= 0, at most one code apart below.
    ours = np.frombuffer(mulaw_encode(ALL_INT16), dtype=np.uint8).astype(int)
    theirs = np.frombuffer(audioop.lin2ulaw(raw, 2), dtype=np.uint8).astype(int)
    non_negative = ALL_INT16 >= 0
    assert np.array_equal(ours[non_negative], theirs[non_negative])
    assert np.abs(ours - theirs).max() == 1


def test_g711_inputs_and_outputs() -> None:
    assert mulaw_encode([0.0, 1.0]) == bytes([0xFF, 0x80])
    assert alaw_encode(le_bytes([0])) == bytes([0xD5])
    assert mulaw_encode([]) == b""
    assert mulaw_decode(b"").dtype == np.int16
    assert alaw_decode(np.array([0xD5], dtype=np.uint8)).tolist() == [8]
    assert mulaw_decode(memoryview(bytes([0, 0xFF, 0x80]))[1:]).tolist() == [0, 32124]
    with pytest.raises(TypeError, match="mu-law codes must be bytes or a uint8 array, got str"):
        mulaw_decode("ff")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a-law codes must be bytes or a uint8 array, got list"):
        alaw_decode([1, 2])  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"a-law codes must be 1-D, got shape \(2, 2\)"):
        alaw_decode(np.zeros((2, 2), dtype=np.uint8))


@given(int16_arrays)
def test_g711_decode_encode_is_stable(samples: np.ndarray) -> None:
    for encode, decode in ((mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)):
        once = decode(encode(samples))
        assert np.array_equal(decode(encode(once)), once)
