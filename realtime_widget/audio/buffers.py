"""Audio buffers whose append costs the same however long the session runs.

The reference clients keep audio in one typed array and copy the whole of it on every
delta, which is quadratic over a response and unusable after minutes. Here audio is a list
of chunks:

- :class:`AudioBuffer` holds one item's audio. ``append`` stores the chunk (amortised O(1):
  small chunks are merged into blocks of about a second so the chunk list stays short), and
  ``np.asarray(buffer)`` concatenates once, on demand, caching the result until the next
  change.
- :class:`InputAudioBuffer` holds the audio the user sent during a session, addressed by
  *session-absolute* sample offsets, as the server's ``audio_start_ms`` / ``audio_end_ms``
  are. Old audio can be dropped while the offsets stay absolute. ``append`` copies the
  samples, since callers (a microphone callback, a resampler) often reuse their array,
  unless told the array is handed over.

Both store int16 mono samples. Neither does I/O or knows about events.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["AudioBuffer", "AudioRetention", "InputAudioBuffer", "Int16Array"]

Int16Array = npt.NDArray[np.int16]

_EMPTY: Int16Array = np.zeros(0, dtype=np.int16)
_EMPTY.setflags(write=False)

# Chunks shorter than this are merged into blocks once this many samples are pending:
# one second of 24 kHz audio keeps the per-chunk overhead negligible and the copy bounded.
_BLOCK_SAMPLES = 24_000


def _as_int16(samples: Any) -> Int16Array:
    array = np.asarray(samples)
    if array.dtype != np.int16:
        raise TypeError(f"audio chunks must be int16 arrays, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"audio chunks must be 1-D, got shape {array.shape}")
    return array


class AudioBuffer:
    """One item's int16 audio, appended in chunks; ``np.asarray(buf)`` gives the samples."""

    __slots__ = ("_blocks", "_cache", "_length", "_tail", "_tail_length")

    def __init__(self, samples: Any = None) -> None:
        self._blocks: list[Int16Array] = []
        self._tail: list[Int16Array] = []
        self._tail_length = 0
        self._length = 0
        self._cache: Int16Array | None = None
        if samples is not None:
            self.append(samples)

    def append(self, samples: Any) -> None:
        """Append int16 samples (not copied unless merged into a block)."""
        chunk = _as_int16(samples)
        if not chunk.size:
            return
        self._tail.append(chunk)
        self._tail_length += chunk.size
        self._length += chunk.size
        self._cache = None
        if self._tail_length >= _BLOCK_SAMPLES:
            self._blocks.append(np.concatenate(self._tail) if len(self._tail) > 1 else chunk)
            self._tail = []
            self._tail_length = 0

    def truncate(self, samples: int) -> None:
        """Keep only the first ``samples`` samples (no-op when already that short)."""
        if samples < 0:
            raise ValueError(f"cannot truncate audio to {samples} samples")
        if samples >= self._length:
            return
        kept = self.to_numpy()[:samples].copy()
        self._blocks = [kept] if kept.size else []
        self._tail = []
        self._tail_length = 0
        self._length = int(kept.size)
        self._cache = kept

    def to_numpy(self) -> Int16Array:
        """The samples as one read-only int16 array (cached until the next change)."""
        if self._cache is None:
            parts = self._blocks + self._tail
            if not parts:
                self._cache = _EMPTY
            else:
                merged = np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
                merged.setflags(write=False)
                self._blocks = [merged]
                self._tail = []
                self._tail_length = 0
                self._cache = merged
        return self._cache

    def tobytes(self) -> bytes:
        """The samples as little-endian PCM16 bytes."""
        return self.to_numpy().astype("<i2", copy=False).tobytes()

    def duration_ms(self, sample_rate: int = 24_000) -> float:
        """How long the audio lasts at ``sample_rate``."""
        return self._length * 1000.0 / sample_rate

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Int16Array:
        array = self.to_numpy()
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> Any:
        return self.to_numpy()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AudioBuffer):
            other = other.to_numpy()
        try:
            return bool(np.array_equal(self.to_numpy(), np.asarray(other)))
        except (TypeError, ValueError):
            return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AudioBuffer({self._length} samples, {self.duration_ms():.0f} ms at 24 kHz)"


class InputAudioBuffer:
    """The user's audio for a session, addressed by session-absolute sample offsets.

    ``end`` is the number of samples ever appended; ``start`` the offset of the oldest sample
    still kept. ``slice(a, b)`` returns the kept samples of ``[a, b)``; ``discard_before(n)``
    frees audio older than ``n``. ``max_samples`` (optional) caps what is kept: the oldest
    audio goes first.
    """

    __slots__ = ("_chunks", "_end", "_head", "_starts", "max_samples")

    def __init__(self, max_samples: int | None = None) -> None:
        if max_samples is not None and max_samples <= 0:
            raise ValueError(f"max_samples must be positive, got {max_samples!r}")
        self.max_samples = max_samples
        self._chunks: list[Int16Array] = []
        self._starts: list[int] = []
        self._head = 0  # index of the oldest kept chunk
        self._end = 0

    @property
    def end(self) -> int:
        """Samples appended since the session began (the absolute offset of the next one)."""
        return self._end

    @property
    def start(self) -> int:
        """Absolute offset of the oldest sample still kept."""
        return self._starts[self._head] if self._head < len(self._chunks) else self._end

    def __len__(self) -> int:
        """How many samples are kept."""
        return self._end - self.start

    def append(self, samples: Any, *, copy: bool = True) -> None:
        """Append int16 samples at offset ``end``, copied: the caller may reuse its array
        (``copy=False`` keeps the caller's array itself, which it must no longer change).

        Raises ``TypeError`` unless they are int16, ``ValueError`` unless they are 1-D.
        """
        chunk = _as_int16(samples)
        if not chunk.size:
            return
        if copy:
            chunk = chunk.copy()
        self._chunks.append(chunk)
        self._starts.append(self._end)
        self._end += chunk.size
        if self.max_samples is not None and len(self) > self.max_samples:
            self.discard_before(self._end - self.max_samples)

    def slice(self, start: int, end: int) -> Int16Array:
        """A copy of the kept samples in ``[start, end)`` (clipped to what is kept)."""
        start = max(start, self.start)
        end = min(end, self._end)
        if end <= start:
            return _EMPTY.copy()
        first = bisect_right(self._starts, start, self._head) - 1
        last = bisect_right(self._starts, end - 1, self._head) - 1
        parts = []
        for index in range(first, last + 1):
            chunk_start = self._starts[index]
            chunk = self._chunks[index]
            parts.append(chunk[max(0, start - chunk_start) : min(chunk.size, end - chunk_start)])
        return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()

    def discard_before(self, offset: int) -> None:
        """Free every sample older than absolute ``offset`` (whole chunks, then a trim)."""
        offset = min(offset, self._end)
        while self._head < len(self._chunks):
            chunk_start = self._starts[self._head]
            chunk = self._chunks[self._head]
            if chunk_start + chunk.size <= offset:
                self._chunks[self._head] = _EMPTY  # release the samples now
                self._head += 1
                continue
            if chunk_start < offset:
                self._chunks[self._head] = chunk[offset - chunk_start :]
                self._starts[self._head] = offset
            break
        # Compact once the dropped prefix dominates, so the lists stay proportional to
        # what is kept and the amortised cost per chunk stays constant.
        if self._head > 64 and self._head * 2 > len(self._chunks):
            del self._chunks[: self._head]
            del self._starts[: self._head]
            self._head = 0

    def clear(self) -> None:
        """Drop every kept sample; ``end`` keeps counting from where it was."""
        self.discard_before(self._end)

    def __repr__(self) -> str:
        return f"InputAudioBuffer(start={self.start}, end={self._end})"


class AudioRetention:
    """Keeps a conversation's audio within ``max_samples``, dropping the oldest items' first.

    ``observe(item)`` is called after every change to an item; it counts the item's audio
    (constant time: the difference since the last call) and, while the total is over the
    limit, empties the audio of the item whose audio started longest ago (never the item
    being observed). A dropped item's ``formatted["audio"]`` becomes an empty
    :class:`AudioBuffer` and ``formatted["audio_dropped"]`` is set to ``True``; text and
    transcripts are untouched. Returns the ids of the items dropped by this call.
    """

    __slots__ = ("_counted", "_items", "_total", "max_samples")

    def __init__(self, max_samples: int) -> None:
        if max_samples < 0:
            raise ValueError(f"max_samples must be non-negative, got {max_samples!r}")
        self.max_samples = max_samples
        self._counted: dict[str, int] = {}  # item id -> samples counted, oldest first
        self._items: dict[str, dict[str, Any]] = {}
        self._total = 0

    @property
    def total(self) -> int:
        """Samples of audio currently kept across the observed items."""
        return self._total

    def observe(self, item: dict[str, Any]) -> list[str]:
        formatted = item.get("formatted")
        item_id = item.get("id")
        if not isinstance(formatted, dict) or not isinstance(item_id, str):
            return []
        audio = formatted.get("audio")
        size = len(audio) if audio is not None else 0
        before = self._counted.get(item_id)
        if before is None:
            if size == 0:
                return []
            self._counted[item_id] = size
            self._items[item_id] = item
            self._total += size
        else:
            self._counted[item_id] = size
            self._total += size - before
        dropped: list[str] = []
        while self._total > self.max_samples:
            oldest = next(iter(self._counted))
            if oldest == item_id:
                break
            self._drop(oldest)
            dropped.append(oldest)
        return dropped

    def forget(self, item_id: str) -> None:
        """Stop counting an item (it was deleted from the conversation)."""
        size = self._counted.pop(item_id, None)
        if size is not None:
            self._total -= size
            self._items.pop(item_id, None)

    def _drop(self, item_id: str) -> None:
        item = self._items.pop(item_id)
        self._total -= self._counted.pop(item_id)
        item["formatted"]["audio"] = AudioBuffer()
        item["formatted"]["audio_dropped"] = True
