"""Tests for realtime_widget.audio.utils: conversion, base64, resampling, G.711, levels, WAV."""

from __future__ import annotations

import array
import base64
import io
import math
import string
import warnings
import wave
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from realtime_widget.audio import utils as audio
from realtime_widget.audio.buffers import AudioBuffer
from realtime_widget.audio.utils import (
    RealtimeUtils,
    Resampler,
    alaw_decode,
    alaw_encode,
    array_to_base64,
    base64_to_array,
    base64_to_bytes,
    float_to_16bit_pcm,
    generate_id,
    int16_to_float,
    level,
    merge_int16_arrays,
    mulaw_decode,
    mulaw_encode,
    pcm16_to_wav_bytes,
    peak_dbfs,
    resample,
    rms_dbfs,
    to_int16,
)
from realtime_widget.core.errors import UsageError

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
int16_arrays = hnp.arrays(np.int16, st.integers(0, 400))
RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000]


def le_bytes(values: list[int]) -> bytes:
    return np.asarray(values, dtype="<i2").tobytes()


# --- to_int16: accepted inputs -------------------------------------------------------------


def test_int16_array_is_copied_into_a_fresh_native_array() -> None:
    source = np.array([1, -2, 32767, -32768], dtype=np.int16)
    result = to_int16(source)
    assert result.dtype == np.int16 and result.flags.c_contiguous and result.flags.writeable
    assert np.array_equal(result, source)
    assert not np.shares_memory(result, source)


def test_big_endian_input_is_little_endian_on_the_wire() -> None:
    values = [1, -2, 300, -32768, 32767]
    big = np.array(values, dtype=">i2")
    assert np.array_equal(to_int16(big), values)
    assert to_int16(big).dtype.isnative
    assert base64.b64decode(array_to_base64(big)) == le_bytes(values)
    assert array_to_base64(big) == array_to_base64(np.array(values, dtype=np.int16))


def test_floats_use_the_reference_scaling_rounded() -> None:
    floats = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1 / 32767, -1 / 32768], dtype=np.float32)
    assert to_int16(floats).tolist() == [-32768, -16384, 0, 16384, 32767, 1, -1]
    assert float_to_16bit_pcm(floats.astype(np.float64)).tolist() == to_int16(floats).tolist()


def test_floats_are_clipped_and_nan_becomes_zero() -> None:
    floats = np.array([2.0, -3.0, np.nan, np.inf, -np.inf, 1.0000001], dtype=np.float64)
    assert to_int16(floats).tolist() == [32767, -32768, 0, 32767, -32768, 32767]


def test_float16_is_accepted() -> None:
    assert to_int16(np.array([0.5, -1.0], dtype=np.float16)).tolist() == [16384, -32768]


def test_wider_integers_within_range_are_accepted() -> None:
    for dtype in (np.int32, np.int64, np.uint16, np.uint32):
        values = np.array([0, 1, 32767], dtype=dtype)
        assert to_int16(values).tolist() == [0, 1, 32767]
    assert to_int16(np.array([-32768, 5], dtype=np.int64)).tolist() == [-32768, 5]


@pytest.mark.parametrize(
    ("values", "dtype", "message"),
    [
        ([0, 40000], np.int32, "int32 sample 40000 at index 1 is outside the int16 range"),
        ([-40000], np.int64, "int64 sample -40000 at index 0 is outside"),
        ([7, 32768], np.uint16, "uint16 sample 32768 at index 1"),
        ([2**40], np.uint64, "uint64 sample 1099511627776 at index 0"),
    ],
)
def test_wider_integers_out_of_range_are_rejected(
    values: list[int], dtype: type, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        to_int16(np.array(values, dtype=dtype))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_eight_bit_arrays_are_ambiguous(dtype: type) -> None:
    with pytest.raises(TypeError, match=r"8-bit audio .* is ambiguous"):
        to_int16(np.zeros(4, dtype=dtype))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.array([True, False]), "unsupported audio dtype bool"),
        (np.array([1 + 2j]), "unsupported audio dtype complex128"),
        (np.array(["a", "b"]), "unsupported audio dtype <U1"),
        (np.array([object(), object()]), "unsupported audio dtype object"),
        (["1", "2"], "unsupported audio dtype <U1"),
    ],
)
def test_non_numeric_dtypes_are_rejected(data: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        to_int16(data)  # type: ignore[arg-type]


def test_two_dimensional_input_is_rejected_with_a_hint() -> None:
    with pytest.raises(UsageError, match=r"shape \(10, 2\): mix channels down with \.mean"):
        to_int16(np.zeros((10, 2), dtype=np.int16))
    with pytest.raises(UsageError, match=r"shape \(10, 1\): use \.ravel\(\)"):
        to_int16(np.zeros((10, 1), dtype=np.float32))
    with pytest.raises(UsageError, match=r"shape \(1, 10\): use \.ravel\(\)"):
        to_int16(np.zeros((1, 10), dtype=np.float32))
    with pytest.raises(UsageError, match=r"got shape \(\)"):
        to_int16(np.int16(3))
    with pytest.raises(UsageError, match=r"got shape \(2, 2, 2\)"):
        to_int16(np.zeros((2, 2, 2)))


def test_bytes_are_little_endian_pcm16() -> None:
    assert to_int16(le_bytes([1, -2, 256])).tolist() == [1, -2, 256]
    assert to_int16(b"").tolist() == []


@pytest.mark.parametrize(
    "data", [bytes(4801), bytearray(4801), memoryview(bytes(4803))[2:]], ids=repr
)
def test_odd_byte_length_is_rejected(data: object) -> None:
    with pytest.raises(UsageError, match=r"^odd byte length 4801: PCM16 needs an even number"):
        to_int16(data)  # type: ignore[arg-type]


def test_bytearray_result_does_not_alias_the_source() -> None:
    source = bytearray(le_bytes([10, 20, 30]))
    result = to_int16(source)
    source[:] = bytes(len(source))
    assert result.tolist() == [10, 20, 30]


def test_memoryview_respects_its_offset_and_length() -> None:
    backing = bytearray(le_bytes(list(range(100, 110))))
    view = memoryview(backing)[4:10]
    assert to_int16(view).tolist() == [102, 103, 104]
    assert base64.b64decode(array_to_base64(view)) == le_bytes([102, 103, 104])


def test_non_contiguous_byte_memoryview_is_read_in_order() -> None:
    raw = bytes(range(16))
    view = memoryview(raw)[::2]
    assert to_int16(view).tolist() == np.frombuffer(bytes(view), "<i2").tolist()


@pytest.mark.parametrize(
    ("view", "shape"),
    [
        (memoryview(bytearray(8)).cast("B", (2, 4)), r"\(2, 4\)"),
        (memoryview(bytearray(8)).cast("b", (4, 2)), r"\(4, 2\)"),
        (memoryview(bytearray(8)).cast("h", (2, 2)), r"\(2, 2\)"),
        (memoryview(np.zeros((2, 4), np.uint8)), r"\(2, 4\)"),
    ],
    ids=["B-2x4", "b-4x2", "h-2x2", "numpy-uint8-2x4"],
)
def test_multidimensional_memoryviews_are_rejected_naming_the_shape(
    view: memoryview, shape: str
) -> None:
    with pytest.raises(UsageError, match=f"memoryview of shape {shape}"):
        to_int16(view)
    with pytest.raises(UsageError, match=f"memoryview of shape {shape}"):
        array_to_base64(view)


def test_typed_memoryviews_are_read_as_their_type() -> None:
    assert to_int16(memoryview(array.array("h", [5, -6]))).tolist() == [5, -6]
    floats = np.array([0.5, -1.0], dtype=np.float32)
    assert floats.data.format == "f"
    assert to_int16(floats.data).tolist() == [16384, -32768]
    offset = np.arange(10, dtype=np.int16)
    assert to_int16(offset.data[3:6]).tolist() == [3, 4, 5]


def test_array_module_arrays() -> None:
    assert to_int16(array.array("h", [1, -1])).tolist() == [1, -1]
    assert to_int16(array.array("f", [0.5])).tolist() == [16384]
    assert to_int16(array.array("d", [-0.5])).tolist() == [-16384]
    assert to_int16(array.array("i", [300])).tolist() == [300]
    with pytest.raises(TypeError, match="8-bit"):
        to_int16(array.array("B", [1, 2]))
    with pytest.raises(TypeError, match="unsupported audio dtype"):
        to_int16(array.array("u", "ab"))


def test_lists_and_tuples() -> None:
    assert to_int16([1, -2, 3]).tolist() == [1, -2, 3]
    assert to_int16((0.5, -0.5)).tolist() == [16384, -16384]
    assert to_int16([]).tolist() == []
    with pytest.raises(UsageError, match="cannot read audio from list"):
        to_int16([[1, 2], [3]])
    with pytest.raises(UsageError, match="outside the int16 range"):
        to_int16([70000])


def test_objects_with_array_protocol() -> None:
    assert to_int16(AudioBuffer(np.array([4, 5], dtype=np.int16))).tolist() == [4, 5]


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ("AAAA", TypeError, "got str: decode base64 first"),
        (None, TypeError, "cannot read audio from NoneType"),
        (12, TypeError, "cannot read audio from int"),
        ({"a": 1}, TypeError, "cannot read audio from dict"),
    ],
)
def test_unsupported_types(data: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        to_int16(data)  # type: ignore[arg-type]


# --- float <-> int16 -----------------------------------------------------------------------


def test_float_to_16bit_pcm_refuses_integer_arrays() -> None:
    with pytest.raises(TypeError, match="float samples expected, got dtype int16"):
        float_to_16bit_pcm(np.zeros(3, dtype=np.int16))
    with pytest.raises(TypeError, match="cannot convert list"):
        float_to_16bit_pcm(["x"])
    assert float_to_16bit_pcm([0, 1, -1]).tolist() == [0, 32767, -32768]


def test_int16_to_float_inverts_float_to_16bit_pcm_on_every_value() -> None:
    floats = int16_to_float(ALL_INT16)
    assert floats.dtype == np.float32
    assert floats.min() == -1.0 and floats.max() == 1.0
    assert np.array_equal(float_to_16bit_pcm(floats), ALL_INT16)


@given(hnp.arrays(np.float64, st.integers(0, 200), elements=st.floats(-1.0, 1.0)))
def test_float_round_trip_is_within_half_a_step(samples: np.ndarray) -> None:
    back = int16_to_float(float_to_16bit_pcm(samples)).astype(np.float64)
    assert np.all(np.abs(back - samples) <= 0.5 / 32767 + 1e-7)


@given(hnp.arrays(np.float64, st.integers(0, 200), elements=st.floats(allow_nan=True)))
def test_float_conversion_is_monotonic(samples: np.ndarray) -> None:
    clean = np.nan_to_num(samples, nan=0.0)
    order = np.argsort(clean, kind="stable")
    pcm = float_to_16bit_pcm(samples).astype(np.int64)
    assert np.all(np.diff(pcm[order]) >= 0)


# --- base64 --------------------------------------------------------------------------------


def test_base64_known_vector() -> None:
    samples = np.array([1, -2, 256], dtype=np.int16)
    assert array_to_base64(samples) == "AQD+/wAB"
    assert base64_to_array("AQD+/wAB").tolist() == [1, -2, 256]
    assert base64_to_array(b"AQD+/wAB").tolist() == [1, -2, 256]
    assert base64_to_bytes("") == b""


@given(int16_arrays)
def test_any_int16_array_survives_base64(samples: np.ndarray) -> None:
    decoded = base64_to_array(array_to_base64(samples))
    assert decoded.dtype == np.int16
    assert np.array_equal(decoded, samples)


@given(int16_arrays, st.data())
def test_views_with_offsets_encode_only_their_window(
    samples: np.ndarray, data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, samples.size))
    stop = data.draw(st.integers(start, samples.size))
    backing = bytearray(samples.astype("<i2").tobytes())
    view = memoryview(backing)[2 * start : 2 * stop]
    assert np.array_equal(base64_to_array(array_to_base64(view)), samples[start:stop])
    assert np.array_equal(to_int16(samples[start:stop:2]), samples[start:stop:2])


@given(int16_arrays)
def test_float_and_list_inputs_agree_with_arrays(samples: np.ndarray) -> None:
    assert array_to_base64(samples.tolist()) == array_to_base64(samples)
    assert array_to_base64(int16_to_float(samples)) == array_to_base64(samples)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AAA$", r"invalid base64 'AAA\$' \(4 chars\): only base64 data is allowed"),
        ("AAAAA", r"invalid base64 'AAAAA' \(5 chars\): invalid base64-encoded string"),
        ("AAAA\n", r"invalid base64 'AAAA\\n'"),
        ("ÄAAA", r"invalid base64 'ÄAAA'.*ascii"),
        ("A" * 40 + "!", r"invalid base64 'AAAAAAAAAAAAAAAA\.\.\.' \(41 chars\)"),
    ],
)
def test_invalid_base64_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        base64_to_array(text)


def test_base64_of_an_odd_byte_count_is_rejected() -> None:
    with pytest.raises(UsageError, match=r"^odd byte length 1: PCM16"):
        base64_to_array("AA==")


def test_base64_input_type_is_checked() -> None:
    with pytest.raises(TypeError, match="base64 must be str or bytes, got int"):
        base64_to_bytes(5)  # type: ignore[arg-type]


# --- merge and ids -------------------------------------------------------------------------


def test_merge_accepts_mixed_inputs() -> None:
    merged = merge_int16_arrays(le_bytes([1, 2]), [0.5])
    assert merged.dtype == np.int16 and merged.tolist() == [1, 2, 16384]
    assert merge_int16_arrays([], np.array([3], dtype=np.int16)).tolist() == [3]
    with pytest.raises(UsageError, match="odd byte length 3"):
        merge_int16_arrays(b"abc", [1])


@given(int16_arrays, int16_arrays)
def test_merge_is_concatenation(left: np.ndarray, right: np.ndarray) -> None:
    assert np.array_equal(merge_int16_arrays(left, right), np.concatenate([left, right]))


def test_generate_id_shape_and_randomness() -> None:
    ids = {generate_id("evt_") for _ in range(2000)}
    assert len(ids) == 2000
    allowed = set(string.ascii_letters + string.digits)
    for value in ids:
        assert len(value) == 21 and value.startswith("evt_")
        assert set(value[4:]) <= allowed
    assert len(generate_id("item_", 32)) == 32
    assert len(generate_id("", 1)) == 1


@pytest.mark.parametrize(
    ("prefix", "length", "error", "message"),
    [
        ("evt_", 4, UsageError, "id length 4 leaves no room after prefix 'evt_'"),
        ("evt_", 0, UsageError, "id length 0"),
        ("evt_", 21.0, TypeError, "id length must be int, got float"),
        ("evt_", True, TypeError, "id length must be int, got bool"),
        (3, 21, TypeError, "id prefix must be str, got int"),
    ],
)
def test_generate_id_validation(
    prefix: object, length: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        generate_id(prefix, length)  # type: ignore[arg-type]


# --- resampling ----------------------------------------------------------------------------


def tone(frequency: float, rate: int, seconds: float = 0.5, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * frequency * t)


def tone_gain_db(output: np.ndarray, frequency: float, rate: int, amplitude: float = 0.5) -> float:
    """Gain of the ``frequency`` component, fitted by least squares away from the edges."""
    middle = output[len(output) // 4 : 3 * len(output) // 4].astype(np.float64)
    t = np.arange(middle.size) / rate
    basis = np.stack([np.sin(2 * np.pi * frequency * t), np.cos(2 * np.pi * frequency * t)], 1)
    coefficients = np.linalg.lstsq(basis, middle, rcond=None)[0]
    return 20 * math.log10(float(np.hypot(*coefficients)) / amplitude)


@pytest.mark.parametrize("from_rate", [48000, 44100])
def test_one_kilohertz_survives_downsampling(from_rate: int) -> None:
    output = resample(tone(1000, from_rate), from_rate, 24000)
    assert abs(tone_gain_db(output, 1000, 24000)) <= 0.5
    assert abs(tone_gain_db(output, 1000, 24000)) <= 0.01  # the documented flatness


@pytest.mark.parametrize("from_rate", [8000, 16000, 22050, 32000, 44100, 48000, 96000])
def test_passband_is_flat_up_to_84_percent_of_nyquist(from_rate: int) -> None:
    edge = 0.84 * min(from_rate, 24000) / 2
    for frequency in np.linspace(100, edge, 7):
        output = resample(tone(frequency, from_rate), from_rate, 24000)
        assert abs(tone_gain_db(output, frequency, 24000)) <= 0.01, frequency


def test_fifteen_kilohertz_is_removed_when_going_to_24k() -> None:
    source = tone(15000, 48000)
    output = resample(source, 48000, 24000)
    attenuation = rms_dbfs(source) - rms_dbfs(output[len(output) // 4 : 3 * len(output) // 4])
    assert attenuation >= 40
    assert attenuation >= 80  # the documented stopband


@pytest.mark.parametrize("from_rate", [44100, 48000, 96000])
def test_stopband_sweep_above_the_target_nyquist(from_rate: int) -> None:
    for frequency in np.arange(12000, from_rate / 2, 1013.0):
        source = tone(frequency, from_rate, seconds=0.25)
        output = resample(source, from_rate, 24000)
        middle = output[len(output) // 4 : 3 * len(output) // 4]
        assert rms_dbfs(source) - rms_dbfs(middle) >= 80, frequency


def test_upsampling_keeps_the_tone_and_adds_no_images() -> None:
    output = resample(tone(1000, 16000), 16000, 24000)
    assert abs(tone_gain_db(output, 1000, 24000)) <= 0.01
    # the first image of 1 kHz at 16 kHz would sit at 15 kHz
    assert tone_gain_db(output, 15000, 24000) <= -80


def test_resample_identity_returns_an_equal_copy() -> None:
    samples = np.array([1, 2, 3], dtype=np.int16)
    result = resample(samples, 24000)
    assert np.array_equal(result, samples) and not np.shares_memory(result, samples)
    floats = np.array([0.25, -0.5], dtype=np.float64)
    same = resample(floats, 16000, 16000)
    assert same.dtype == np.float64 and np.array_equal(same, floats)


def test_resample_keeps_the_sample_kind() -> None:
    assert resample(np.zeros(100, dtype=np.int16), 48000).dtype == np.int16
    assert resample(np.zeros(100, dtype=np.float32), 48000).dtype == np.float32
    assert resample(np.zeros(100, dtype=np.float64), 48000).dtype == np.float64
    assert resample(np.zeros(100, dtype=np.float16), 48000).dtype == np.float32
    assert resample(le_bytes([1] * 10), 48000).dtype == np.int16
    assert resample([0.1] * 10, 48000).dtype == np.float64


@given(st.integers(0, 300), st.sampled_from(RATES), st.sampled_from(RATES))
def test_output_length_and_short_inputs(length: int, from_rate: int, to_rate: int) -> None:
    output = resample(np.full(length, 0.25), from_rate, to_rate)
    assert output.size == math.ceil(length * to_rate / from_rate)
    assert np.all(np.isfinite(output))


def test_dc_gain_is_exact() -> None:
    for from_rate in (44100, 48000, 16000, 11025):
        output = resample(np.full(4000, 0.25), from_rate)
        middle = output[output.size // 4 : 3 * output.size // 4]
        assert np.allclose(middle, 0.25, atol=1e-12), from_rate


def test_int16_output_is_clipped_not_wrapped() -> None:
    square = np.where(np.sin(np.arange(4800) * 2 * np.pi / 96) >= 0, 32767, -32768)
    pcm = square.astype(np.int16)
    output = resample(pcm, 48000)
    floats = resample(pcm.astype(np.float64), 48000)
    assert np.array_equal(output, np.clip(np.rint(floats), -32768, 32767).astype(np.int16))
    assert floats.max() > 32767  # the filter rings past full scale, so clipping was exercised


@given(int16_arrays, st.lists(st.integers(0, 400), max_size=8), st.sampled_from(RATES))
def test_streaming_equals_one_shot(samples: np.ndarray, cuts: list[int], from_rate: int) -> None:
    resampler = Resampler(from_rate, 24000)
    pieces = np.split(samples, sorted(min(cut, samples.size) for cut in cuts))
    streamed = np.concatenate([resampler.process(piece) for piece in pieces] + [resampler.flush()])
    assert np.array_equal(streamed, resample(samples, from_rate))


def test_streaming_floats_match_one_shot_closely() -> None:
    samples = np.random.default_rng(7).standard_normal(3000) * 0.3
    resampler = Resampler(44100)
    streamed = np.concatenate(
        [resampler.process(chunk) for chunk in np.array_split(samples, 17)] + [resampler.flush()]
    )
    assert np.allclose(streamed, resample(samples, 44100), rtol=0, atol=1e-12)


def test_resampler_resets_after_flush_and_rejects_mixed_kinds() -> None:
    resampler = Resampler(48000)
    first = np.concatenate([resampler.process(tone(440, 48000)), resampler.flush()])
    second = np.concatenate([resampler.process(tone(440, 48000)), resampler.flush()])
    assert np.array_equal(first, second)
    resampler.process(np.zeros(10, dtype=np.int16))
    with pytest.raises(UsageError, match="started with int16 audio, got float64"):
        resampler.process(np.zeros(10))
    assert resampler.flush().dtype == np.int16
    assert Resampler(48000).flush().size == 0


def test_large_phase_counts_compute_weights_per_block() -> None:
    # 44101 -> 24000 has 24000 phases, above the table limit
    output = resample(tone(1000, 44101), 44101, 24000)
    assert abs(tone_gain_db(output, 1000, 24000)) <= 0.01


@pytest.mark.parametrize(
    ("rate", "error", "message"),
    [
        (0, UsageError, "from_rate must be a positive whole number of hertz, got 0"),
        (-8000, UsageError, "got -8000"),
        (44100.5, UsageError, "got 44100.5"),
        (math.nan, UsageError, "got nan"),
        (math.inf, UsageError, "got inf"),
        ("44100", TypeError, "from_rate must be a number, got str"),
        (True, TypeError, "got bool"),
    ],
)
def test_rate_validation(rate: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        resample(np.zeros(10), rate)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "rate", [np.int64(48000), np.int32(48000), np.uint16(48000), np.float64(48000.0)], ids=repr
)
def test_numpy_number_rates_are_accepted(rate: Any) -> None:
    samples = np.zeros(480, np.int16)
    assert resample(samples, rate, 24000).size == 240
    assert resample(samples, 24000, rate).size == 960
    assert Resampler(rate, rate).to_rate == 48000
    assert pcm16_to_wav_bytes(samples, rate)[24:28] == (48000).to_bytes(4, "little")


@pytest.mark.parametrize(
    ("rate", "error", "message"),
    [
        (np.int64(-8000), UsageError, "to_rate must be a positive whole number of hertz"),
        (np.int64(0), UsageError, "to_rate must be a positive whole number of hertz"),
        (np.float32(22050.5), UsageError, "to_rate must be a positive whole number"),
        (np.bool_(True), TypeError, "to_rate must be a number, got bool"),
        (None, TypeError, "to_rate must be a number, got NoneType"),
        (b"24000", TypeError, "to_rate must be a number, got bytes"),
    ],
    ids=repr,
)
def test_rate_errors_follow_the_documented_types(
    rate: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Resampler(24000, rate)


def test_integral_float_rates_are_accepted() -> None:
    assert resample(np.zeros(480), 48000.0, 24000.0).size == 240  # type: ignore[call-overload]
    with pytest.raises(UsageError, match="to_rate must be"):
        Resampler(48000, 0)


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


# --- levels --------------------------------------------------------------------------------


def test_rms_and_peak_levels() -> None:
    assert rms_dbfs(np.array([1.0, -1.0] * 50)) == pytest.approx(0.0, abs=1e-9)
    assert rms_dbfs(np.array([32767, -32768] * 50, dtype=np.int16)) == pytest.approx(0.0, abs=1e-9)
    sine = np.sin(2 * np.pi * np.arange(48000) / 48)
    assert rms_dbfs(sine) == pytest.approx(-3.0103, abs=1e-3)
    assert rms_dbfs(float_to_16bit_pcm(sine * 0.5)) == pytest.approx(-9.0309, abs=1e-3)
    assert peak_dbfs(sine * 0.5) == pytest.approx(-6.0206, abs=1e-3)
    assert rms_dbfs(np.zeros(10)) == -math.inf
    assert rms_dbfs([]) == -math.inf
    assert peak_dbfs([]) == -math.inf
    assert rms_dbfs(np.array([np.nan, 1.0, -1.0, np.nan])) == pytest.approx(10 * math.log10(0.5))


def test_level_maps_dbfs_onto_a_meter() -> None:
    half = np.full(100, 10 ** (-30 / 20))  # -30 dBFS
    assert level(half) == pytest.approx(0.5)
    assert level(half, floor_db=-90) == pytest.approx(2 / 3)
    assert level(np.zeros(10)) == 0.0
    assert level(np.full(10, 5.0)) == 1.0
    with pytest.raises(UsageError, match="floor_db must be negative, got 0"):
        level(half, floor_db=0)


# --- WAV -----------------------------------------------------------------------------------


@given(int16_arrays, st.sampled_from(RATES))
def test_wav_bytes_round_trip(samples: np.ndarray, rate: int) -> None:
    data = pcm16_to_wav_bytes(samples, rate)
    with wave.open(io.BytesIO(data), "rb") as reader:
        assert reader.getnchannels() == 1
        assert reader.getsampwidth() == 2
        assert reader.getframerate() == rate
        frames = reader.readframes(reader.getnframes())
    assert np.array_equal(np.frombuffer(frames, "<i2"), samples)


def test_wav_accepts_floats_and_checks_the_rate() -> None:
    data = pcm16_to_wav_bytes([0.5, -0.5])
    assert data.startswith(b"RIFF") and data[8:12] == b"WAVE"
    assert data.endswith(le_bytes([16384, -16384]))
    with pytest.raises(UsageError, match="rate must be a positive whole number of hertz, got 0"):
        pcm16_to_wav_bytes([0.0], rate=0)


# --- the reference-named class -------------------------------------------------------------


def test_realtime_utils_delegates_to_the_module_functions() -> None:
    names = [
        name
        for name in vars(RealtimeUtils)
        if not name.startswith("_") and callable(getattr(RealtimeUtils, name))
    ]
    assert len(names) >= 17
    for name in names:
        assert getattr(RealtimeUtils, name) is getattr(audio, name), name
        assert name in audio.__all__
    assert RealtimeUtils.array_to_base64(np.array([1, -2, 256], dtype=np.int16)) == "AQD+/wAB"
    assert RealtimeUtils().generate_id("evt_").startswith("evt_")
