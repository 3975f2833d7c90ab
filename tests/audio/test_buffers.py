"""AudioBuffer and InputAudioBuffer: chunked audio with constant-cost appends."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime_widget.audio.buffers import AudioBuffer, InputAudioBuffer


def ramp(start: int, size: int) -> np.ndarray:
    return (np.arange(start, start + size) % 30_000).astype(np.int16)


# -- AudioBuffer --------------------------------------------------------------------------------


def test_empty_audio_buffer() -> None:
    buffer = AudioBuffer()
    assert len(buffer) == 0
    array = np.asarray(buffer)
    assert array.dtype == np.int16 and array.shape == (0,)
    assert buffer.tobytes() == b""
    assert buffer.duration_ms() == 0
    assert buffer == AudioBuffer() and buffer == np.zeros(0, np.int16)
    assert "0 samples" in repr(buffer)


def test_appends_concatenate_in_order_across_blocks() -> None:
    buffer = AudioBuffer()
    expected = []
    start = 0
    for size in [1, 2399, 2400, 30_000, 7, 0, 24_000, 5]:
        chunk = ramp(start, size)
        buffer.append(chunk)
        expected.append(chunk)
        start += size
    want = np.concatenate(expected)
    assert len(buffer) == want.size
    np.testing.assert_array_equal(np.asarray(buffer), want)
    np.testing.assert_array_equal(buffer[10:20], want[10:20])
    assert buffer[-1] == want[-1]


def test_to_numpy_is_cached_read_only_and_refreshed_after_append() -> None:
    buffer = AudioBuffer(ramp(0, 10))
    first = buffer.to_numpy()
    assert buffer.to_numpy() is first
    assert not first.flags.writeable
    buffer.append(ramp(10, 5))
    second = buffer.to_numpy()
    assert second is not first and second.size == 15
    np.testing.assert_array_equal(second, ramp(0, 15))


def test_array_protocol_dtype_and_copy() -> None:
    buffer = AudioBuffer(ramp(0, 4))
    as_float = np.asarray(buffer, dtype=np.float32)
    assert as_float.dtype == np.float32
    np.testing.assert_array_equal(as_float, ramp(0, 4).astype(np.float32))
    copied = np.array(buffer, copy=True)
    copied[0] = 99
    assert buffer[0] == 0


@pytest.mark.parametrize(
    ("samples", "error"),
    [
        (np.zeros(3, np.float32), TypeError),
        (np.zeros(3, np.int32), TypeError),
        ([1, 2], TypeError),
        (np.zeros((2, 2), np.int16), ValueError),
    ],
)
def test_append_rejects_other_than_int16_vectors(samples: Any, error: type[Exception]) -> None:
    buffer = AudioBuffer(ramp(0, 3))
    with pytest.raises(error):
        buffer.append(samples)
    np.testing.assert_array_equal(np.asarray(buffer), ramp(0, 3))


def test_truncate() -> None:
    buffer = AudioBuffer()
    for start in range(0, 50_000, 1_000):
        buffer.append(ramp(start, 1_000))
    buffer.truncate(60_000)  # longer: unchanged
    assert len(buffer) == 50_000
    buffer.truncate(12_345)
    assert len(buffer) == 12_345
    np.testing.assert_array_equal(np.asarray(buffer), ramp(0, 12_345))
    buffer.append(ramp(12_345, 5))
    np.testing.assert_array_equal(np.asarray(buffer), ramp(0, 12_350))
    buffer.truncate(0)
    assert len(buffer) == 0 and np.asarray(buffer).size == 0
    with pytest.raises(ValueError, match="-1"):
        buffer.truncate(-1)


def test_tobytes_is_little_endian_pcm16() -> None:
    buffer = AudioBuffer(np.array([1, -2, 256], np.int16))
    assert buffer.tobytes() == b"\x01\x00\xfe\xff\x00\x01"


def test_duration_and_equality() -> None:
    buffer = AudioBuffer(ramp(0, 24_000))
    assert buffer.duration_ms() == 1_000
    assert buffer.duration_ms(8_000) == 3_000
    assert buffer == AudioBuffer(ramp(0, 24_000))
    assert buffer != AudioBuffer(ramp(1, 24_000))
    assert buffer != ramp(0, 10)
    with pytest.raises(TypeError):
        hash(buffer)


@given(st.lists(st.integers(0, 30_000), max_size=12))
def test_audio_buffer_matches_concatenation(sizes: list[int]) -> None:
    buffer = AudioBuffer()
    chunks = []
    start = 0
    for size in sizes:
        chunk = ramp(start, size)
        buffer.append(chunk)
        chunks.append(chunk)
        start += size
    want = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    np.testing.assert_array_equal(np.asarray(buffer), want)
    assert len(buffer) == want.size


# -- InputAudioBuffer ---------------------------------------------------------------------------


def test_empty_input_buffer() -> None:
    buffer = InputAudioBuffer()
    assert (buffer.start, buffer.end, len(buffer)) == (0, 0, 0)
    assert buffer.slice(0, 100).size == 0
    buffer.append(np.zeros(0, np.int16))
    assert buffer.end == 0
    assert "end=0" in repr(buffer)


def test_slice_across_chunks_by_absolute_offsets() -> None:
    buffer = InputAudioBuffer()
    for start in range(0, 1_000, 100):
        buffer.append(ramp(start, 100))
    assert (buffer.start, buffer.end, len(buffer)) == (0, 1_000, 1_000)
    np.testing.assert_array_equal(buffer.slice(150, 420), ramp(150, 270))
    np.testing.assert_array_equal(buffer.slice(100, 200), ramp(100, 100))
    np.testing.assert_array_equal(buffer.slice(-50, 30), ramp(0, 30))  # clipped
    np.testing.assert_array_equal(buffer.slice(990, 5_000), ramp(990, 10))
    assert buffer.slice(500, 500).size == 0
    assert buffer.slice(600, 500).size == 0
    assert buffer.slice(2_000, 3_000).size == 0


def test_slice_is_a_copy() -> None:
    buffer = InputAudioBuffer()
    buffer.append(ramp(0, 10))
    part = buffer.slice(0, 10)
    part[:] = 0
    np.testing.assert_array_equal(buffer.slice(0, 10), ramp(0, 10))


def test_input_append_copies_the_callers_samples() -> None:
    buffer = InputAudioBuffer()
    mine = ramp(0, 100)
    buffer.append(mine)
    buffer.append(mine[10:20])  # a view of a reused buffer
    mine[:] = -1
    np.testing.assert_array_equal(
        buffer.slice(0, 110), np.concatenate([ramp(0, 100), ramp(10, 10)])
    )
    assert buffer.slice(0, 110).base is not mine


def test_input_append_can_keep_an_array_handed_over() -> None:
    buffer = InputAudioBuffer()
    given = ramp(0, 100)
    buffer.append(given, copy=False)
    buffer.append(ramp(100, 10))
    assert buffer.slice(0, 100).base is not given, "a slice is still a copy"
    given[:5] = -1  # the caller broke its word: the buffer shows it (no copy was made)
    assert buffer.slice(0, 5).tolist() == [-1] * 5
    np.testing.assert_array_equal(buffer.slice(5, 110), ramp(5, 105))


def test_discard_keeps_offsets_absolute() -> None:
    buffer = InputAudioBuffer()
    for start in range(0, 1_000, 100):
        buffer.append(ramp(start, 100))
    buffer.discard_before(250)  # mid-chunk: the chunk is trimmed
    assert (buffer.start, buffer.end, len(buffer)) == (250, 1_000, 750)
    np.testing.assert_array_equal(buffer.slice(0, 300), ramp(250, 50))
    np.testing.assert_array_equal(buffer.slice(260, 310), ramp(260, 50))
    buffer.discard_before(100)  # already gone: no-op
    assert buffer.start == 250
    buffer.append(ramp(1_000, 100))
    np.testing.assert_array_equal(buffer.slice(950, 1_050), ramp(950, 100))
    buffer.discard_before(10**9)  # clamped to end
    assert (buffer.start, buffer.end, len(buffer)) == (1_100, 1_100, 0)
    assert buffer.slice(0, 2_000).size == 0


def test_many_discards_compact_and_keep_slicing_right() -> None:
    buffer = InputAudioBuffer()
    for n in range(2_000):
        buffer.append(ramp(n * 10, 10))
        if n % 7 == 0:
            buffer.discard_before(n * 10 - 55)
    start = buffer.start
    np.testing.assert_array_equal(buffer.slice(start, buffer.end), ramp(start, buffer.end - start))
    assert len(buffer._chunks) < 200  # the dropped prefix was compacted away


def test_clear_keeps_counting() -> None:
    buffer = InputAudioBuffer()
    buffer.append(ramp(0, 50))
    buffer.clear()
    assert (buffer.start, buffer.end, len(buffer)) == (50, 50, 0)
    buffer.append(ramp(50, 10))
    np.testing.assert_array_equal(buffer.slice(0, 100), ramp(50, 10))


def test_max_samples_drops_the_oldest_audio() -> None:
    buffer = InputAudioBuffer(max_samples=250)
    for start in range(0, 1_000, 100):
        buffer.append(ramp(start, 100))
    assert (buffer.start, buffer.end, len(buffer)) == (750, 1_000, 250)
    np.testing.assert_array_equal(buffer.slice(0, 1_000), ramp(750, 250))


@pytest.mark.parametrize("bad", [0, -5])
def test_max_samples_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match=str(bad)):
        InputAudioBuffer(max_samples=bad)


def test_input_append_rejects_other_than_int16() -> None:
    buffer = InputAudioBuffer()
    with pytest.raises(TypeError):
        buffer.append(np.zeros(3, np.float64))
    assert buffer.end == 0


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(0, 500)),
            st.tuples(st.just("discard"), st.integers(-100, 5_000)),
        ),
        max_size=40,
    ),
    st.lists(st.tuples(st.integers(-100, 6_000), st.integers(-100, 6_000)), max_size=10),
    st.none() | st.integers(1, 2_000),
)
def test_input_buffer_matches_a_plain_array(
    operations: list[tuple[str, int]], slices: list[tuple[int, int]], max_samples: int | None
) -> None:
    buffer = InputAudioBuffer(max_samples=max_samples)
    end = 0
    start = 0
    for operation, value in operations:
        if operation == "append":
            buffer.append(ramp(end, value))
            end += value
            if max_samples is not None:
                start = max(start, end - max_samples)
        else:
            start = max(start, min(value, end))
            buffer.discard_before(value)
        assert (buffer.start, buffer.end, len(buffer)) == (start, end, end - start)
    everything = ramp(0, end)
    for a, b in slices:
        lo, hi = max(a, start), min(b, end)
        want = everything[lo:hi] if hi > lo else everything[:0]
        np.testing.assert_array_equal(buffer.slice(a, b), want)


# -- AudioRetention ---------------------------------------------------------------------------


def _audio_item(item_id: str, samples: int) -> dict:
    return {
        "id": item_id,
        "formatted": {"audio": AudioBuffer(np.ones(samples, dtype=np.int16)), "transcript": "t"},
    }


def test_retention_drops_oldest_items_audio_but_keeps_transcripts() -> None:
    from realtime_widget.audio.buffers import AudioRetention

    keep = AudioRetention(max_samples=100)
    first, second, third = _audio_item("a", 60), _audio_item("b", 30), _audio_item("c", 30)
    assert keep.observe(first) == []
    assert keep.observe(second) == []
    assert keep.total == 90
    assert keep.observe(third) == ["a"]
    assert keep.total == 60
    assert len(first["formatted"]["audio"]) == 0 and first["formatted"]["audio_dropped"] is True
    assert first["formatted"]["transcript"] == "t"
    assert len(second["formatted"]["audio"]) == 30 and "audio_dropped" not in second["formatted"]


def test_retention_counts_growth_and_never_drops_the_item_observed() -> None:
    from realtime_widget.audio.buffers import AudioRetention

    keep = AudioRetention(max_samples=50)
    old, streaming = _audio_item("old", 10), _audio_item("live", 0)
    keep.observe(old)
    assert keep.observe(streaming) == []  # no audio yet: not counted
    for _ in range(8):
        streaming["formatted"]["audio"].append(np.ones(10, dtype=np.int16))
        keep.observe(streaming)
    assert old["formatted"].get("audio_dropped") is True
    assert keep.total == 80  # the live item alone may exceed the limit
    streaming["formatted"]["audio"].truncate(20)
    keep.observe(streaming)
    assert keep.total == 20
    keep.forget("live")
    assert keep.total == 0
    with pytest.raises(ValueError, match="-1"):
        AudioRetention(-1)
