"""Tests for realtime_widget.audio.pcm: reading samples, float and int16, base64, levels, WAV."""

from __future__ import annotations

import array
import base64
import io
import math
import wave

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from realtime_widget.audio.buffers import AudioBuffer
from realtime_widget.audio.pcm import (
    array_to_base64,
    base64_to_array,
    base64_to_bytes,
    float_to_16bit_pcm,
    int16_to_float,
    level,
    merge_int16_arrays,
    pcm16_to_wav_bytes,
    peak_dbfs,
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


# --- merge -------------------------------------------------------------------------------


def test_merge_accepts_mixed_inputs() -> None:
    merged = merge_int16_arrays(le_bytes([1, 2]), [0.5])
    assert merged.dtype == np.int16 and merged.tolist() == [1, 2, 16384]
    assert merge_int16_arrays([], np.array([3], dtype=np.int16)).tolist() == [3]
    with pytest.raises(UsageError, match="odd byte length 3"):
        merge_int16_arrays(b"abc", [1])


@given(int16_arrays, int16_arrays)
def test_merge_is_concatenation(left: np.ndarray, right: np.ndarray) -> None:
    assert np.array_equal(merge_int16_arrays(left, right), np.concatenate([left, right]))


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
