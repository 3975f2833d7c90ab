"""`Playout` and `Chunker`: the pure halves of an audio device in the kernel's process.

Rules of :class:`Playout` (the model's audio on its way to an output device):

- Items play one after another, in the order their first audio arrived. An item starts once
  it has :attr:`Playout.prebuffer` samples queued or its audio is complete
  (:meth:`Playout.done`); running out before it is complete plays silence (an underrun,
  counted) until more comes.
- :meth:`Playout.render` fills the device's next block and is the only method a device's
  callback thread calls; every other method is called from the loop's thread. A lock keeps
  them apart: a call holds it for one copy, never for I/O.
- ``played`` counts an item's 24 kHz samples handed to the device, from the frames
  rendered for it: ``min(received, frames * 24000 // rate)``. Nothing drops what was handed
  (the device plays its buffer out), so it is what the listener hears; silence rendered
  while starved or queued is not counted.
- :meth:`Playout.interrupt` (a barge-in) drops every queued sample and mutes the items it
  dropped: their late audio is ignored. It returns the item that was playing (or, when none
  had started, the first queued) with its ``played``, what a truncation needs.

Pure: no I/O, no clock; threads meet only at the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.audio.utils import Resampler, to_int16
from realtime_widget.core.checks import need_int
from realtime_widget.core.errors import UsageError
from realtime_widget.core.protocol import SAMPLE_RATE

__all__ = ["MAX_MUTED_ITEMS", "Chunker", "Playout"]

MAX_MUTED_ITEMS: Final = 256


@dataclass(slots=True)
class _Item:
    """One item's audio at the device's rate: what is queued, received and rendered."""

    resampler: Resampler | None
    chunks: list[Int16Array] = field(default_factory=list)
    queued: int = 0  # device frames queued
    received: int = 0  # 24 kHz samples received
    frames: int = 0  # device frames rendered
    complete: bool = False
    started: bool = False


class Playout:
    """The model's audio for one output device at ``rate`` Hz (see the module rules).

    ``prebuffer_ms`` is the audio an item must have queued to start (60 ms by default).
    """

    def __init__(self, rate: int, prebuffer_ms: float = 60.0) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
            raise UsageError(f"rate must be a positive whole number of hertz, got {rate!r}")
        self.rate = rate
        self.prebuffer = int(prebuffer_ms * rate / 1000)
        self._lock = threading.Lock()
        self._items: OrderedDict[str, _Item] = OrderedDict()
        self._muted: OrderedDict[str, None] = OrderedDict()
        self._played: dict[str, int] = {}
        self.underruns = 0

    # -- the loop's side --------------------------------------------------------------------

    def push(self, item_id: str, audio: Any) -> None:
        """Queue the item's next 24 kHz PCM16 samples (ignored when the item is muted)."""
        samples = to_int16(audio)
        if item_id in self._muted or samples.size == 0:
            return
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                resampler = Resampler(SAMPLE_RATE, self.rate) if self.rate != SAMPLE_RATE else None
                item = self._items[item_id] = _Item(resampler)
        converted = item.resampler.process(samples) if item.resampler else samples.copy()
        with self._lock:
            item.received += samples.size
            if converted.size:
                item.chunks.append(converted)
                item.queued += converted.size

    def done(self, item_id: str) -> None:
        """The item's audio is complete: it plays to its end."""
        with self._lock:
            item = self._items.get(item_id)
            if item is None or item.complete:
                return
            tail = item.resampler.flush() if item.resampler else np.zeros(0, np.int16)
            if tail.size:
                item.chunks.append(tail)
                item.queued += tail.size
            item.complete = True

    def interrupt(self) -> tuple[str | None, int]:
        """Drop everything queued; the item playing (else the first queued) and its played
        24 kHz samples, or ``(None, 0)`` when nothing was queued."""
        with self._lock:
            items, self._items = self._items, OrderedDict()
        for item_id in items:
            self._mute(item_id)
        if not items:
            return None, 0
        playing = next((i for i, item in items.items() if item.started), next(iter(items)))
        return playing, self._played.get(playing, 0)

    def clear(self) -> None:
        """Drop everything queued, muting nothing (the connection ended)."""
        with self._lock:
            self._items.clear()

    def removed(self, item_id: str) -> None:
        """The item left the conversation: forget it."""
        self._muted.pop(item_id, None)

    @property
    def played_samples(self) -> dict[str, int]:
        """The 24 kHz samples of each item handed to the device (a copy)."""
        with self._lock:
            return dict(self._played)

    @property
    def playing(self) -> str | None:
        """The item whose audio is being rendered, or ``None``."""
        with self._lock:
            for item_id, item in self._items.items():
                if item.started:
                    return item_id
            return None

    def _mute(self, item_id: str) -> None:
        self._muted[item_id] = None
        while len(self._muted) > MAX_MUTED_ITEMS:
            self._muted.popitem(last=False)

    # -- the device's side ------------------------------------------------------------------

    def render(self, out: Any) -> int:
        """Fill ``out`` (an int16 array of the block's frames, 1-D) and return how many of
        them are item audio; the rest are silence."""
        out[:] = 0
        filled = 0
        size = len(out)
        with self._lock:
            while filled < size and self._items:
                item_id, item = next(iter(self._items.items()))
                if not item.started:
                    if item.queued < self.prebuffer and not item.complete:
                        break
                    item.started = True
                if not item.queued:
                    if item.complete:
                        del self._items[item_id]
                        continue
                    self.underruns += 1
                    break
                taken = self._take(item, out[filled:])
                filled += taken
                item.frames += taken
                played = min(item.received, item.frames * SAMPLE_RATE // self.rate)
                self._played[item_id] = played
        return filled

    @staticmethod
    def _take(item: _Item, out: Any) -> int:
        taken = 0
        while taken < len(out) and item.chunks:
            chunk = item.chunks[0]
            count = min(len(out) - taken, chunk.size)
            out[taken : taken + count] = chunk[:count]
            taken += count
            if count == chunk.size:
                item.chunks.pop(0)
            else:
                item.chunks[0] = chunk[count:]
        item.queued -= taken
        return taken


class Chunker:
    """Captured audio cut into chunks of ``chunk_ms`` at 24 kHz, as the browser sends them:
    :meth:`feed` returns the chunks completed (often none), :meth:`flush` the rest.

    ``early`` samples (at most half a chunk) let a chunk go that many short of full: a
    resampler holding back its last outputs until the next input arrives would otherwise hold
    every chunk for one more device block. The next chunk starts where the short one ended,
    so chunks stay ``chunk_ms`` apart and no sample is lost or repeated.
    """

    def __init__(self, chunk_ms: int = 80, early: int = 0) -> None:
        if isinstance(chunk_ms, bool) or not isinstance(chunk_ms, int) or not 10 <= chunk_ms <= 200:
            raise UsageError(f"chunk_ms must be a whole number in 10..200, got {chunk_ms!r}")
        self.size = chunk_ms * SAMPLE_RATE // 1000
        half = self.size // 2
        self.early = need_int(
            "early", early, f"a whole number of samples in 0..{half}", low=0, high=half
        )
        self._pending: list[Int16Array] = []
        self._count = 0

    def feed(self, samples: Int16Array) -> list[Int16Array]:
        """Add 24 kHz samples; the chunks they complete, oldest first."""
        self._pending.append(samples)
        self._count += samples.size
        if self._count < self.size - self.early:
            return []
        joined = np.concatenate(self._pending)
        full = joined.size // self.size * self.size
        chunks = [joined[i : i + self.size].copy() for i in range(0, full, self.size)]
        rest = joined[full:]
        if rest.size and rest.size >= self.size - self.early:
            chunks.append(rest.copy())
            rest = rest[:0]
        self._pending = [rest] if rest.size else []
        self._count = rest.size
        return chunks

    def flush(self) -> Int16Array:
        """What is pending, as one (short) chunk; empty when nothing is."""
        joined = np.concatenate(self._pending) if self._pending else np.zeros(0, np.int16)
        self._pending = []
        self._count = 0
        return joined
