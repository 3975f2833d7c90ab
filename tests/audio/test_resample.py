"""Tests for realtime_widget.audio.resample: one-shot and streaming resampling."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from realtime_widget.audio.pcm import pcm16_to_wav_bytes, rms_dbfs
from realtime_widget.audio.resample import Resampler, interpolate, resample
from realtime_widget.core.errors import UsageError

int16_arrays = hnp.arrays(np.int16, st.integers(0, 400))
RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000]


def le_bytes(values: list[int]) -> bytes:
    return np.asarray(values, dtype="<i2").tobytes()


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


def test_interpolate_raises_a_rate_linearly() -> None:
    ramp = np.arange(0, 2205 * 10, 10, dtype=np.int16)  # 0.1 s at 22.05 kHz
    raised = interpolate(ramp, 22050, 24000)
    assert raised.dtype == np.int16 and raised.size == 2400
    assert raised[0] == 0 and np.all(np.diff(raised) >= 0)
    np.testing.assert_allclose(raised[:-2], np.arange(2398) * 10 * 22050 / 24000, atol=0.5)
    assert interpolate(ramp, 24000, 24000).tolist() == ramp.tolist()
    with pytest.raises(UsageError, match="interpolate only raises a rate: 24000 Hz to 8000 Hz"):
        interpolate(ramp, 24000, 8000)


@pytest.mark.parametrize("from_rate", [16_000, 44_100, 48_000, 24_000])
def test_the_stream_lags_its_input_by_at_most_lag_samples(from_rate: int) -> None:
    resampler = Resampler(from_rate)
    block = from_rate // 100  # 10 ms device blocks
    received = produced = 0
    for _ in range(30):
        produced += resampler.process(np.zeros(block, np.int16)).size
        received += block
        expected = -(-received * 24_000 // from_rate)
        assert expected - resampler.lag <= produced <= expected
    if from_rate == 24_000:
        assert resampler.lag == 0
