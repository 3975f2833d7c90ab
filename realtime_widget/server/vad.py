"""Energy voice activity detection on session-absolute sample offsets.

Rules of :class:`EnergyVad`:

- Audio is cut into 10 ms frames aligned on absolute offsets (multiples of 240 samples
  counted from the first sample appended in the session); a partial frame waits for more.
- A frame is speech when its RMS level in dBFS exceeds ``threshold_dbfs(threshold)``:
  ``-60 + 50 * threshold``. At the default 0.5 that is -35 dBFS: ordinary speech (around
  -30 to -15 dBFS) triggers, silence and room noise (below -45 dBFS) do not; 0 accepts
  nearly anything above digital silence, 1 only shouting (-10 dBFS).
- Idle, a speech frame starts an utterance: ``started`` at the frame's start minus
  ``prefix_padding_ms``, never earlier than ``floor`` (the end of the last commit).
- Speaking, once ``silence_duration_ms`` of frames have passed since the end of the last
  speech frame, the utterance ``stopped`` at that end plus ``silence_duration_ms`` (so the
  stop point includes the silence, as the service reports it).
- :meth:`EnergyVad.reset` forgets an utterance in progress (after a manual commit or a
  buffer clear); the frame grid stays absolute. While detection is off the owner calls
  :meth:`EnergyVad.skip` with every appended chunk's length, so the offsets stay absolute.

The detector does no I/O and keeps no audio beyond one partial frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.core.protocol import SAMPLE_RATE

__all__ = ["FRAME_SAMPLES", "EnergyVad", "VadEvent", "threshold_dbfs"]

FRAME_SAMPLES = 240  # 10 ms at 24 kHz


def threshold_dbfs(threshold: float) -> float:
    """The RMS level (dBFS) above which a frame counts as speech for ``threshold`` in 0..1."""
    return -60.0 + 50.0 * threshold


@dataclass(frozen=True)
class VadEvent:
    """``started`` or ``stopped`` at absolute sample offset ``sample``.

    ``utterance_start`` is where the utterance began (equal to ``sample`` when started).
    """

    kind: Literal["started", "stopped"]
    sample: int
    utterance_start: int

    @property
    def ms(self) -> int:
        return self.sample * 1000 // SAMPLE_RATE


class EnergyVad:
    """Streaming energy detector; feed it every appended chunk with :meth:`feed`."""

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
    ) -> None:
        self.configure(
            threshold=threshold,
            prefix_padding_ms=prefix_padding_ms,
            silence_duration_ms=silence_duration_ms,
        )
        self._pending = np.zeros(0, dtype=np.int16)
        self._position = 0  # absolute offset of the first pending sample
        self.speaking = False
        self.speech_start = 0
        self._last_speech_end = 0

    def configure(
        self, *, threshold: float, prefix_padding_ms: int, silence_duration_ms: int
    ) -> None:
        """Change the parameters; an utterance in progress keeps going under the new ones."""
        level = 32768.0 * 10.0 ** (threshold_dbfs(threshold) / 20.0)
        self._min_energy = level * level * FRAME_SAMPLES
        self._padding = prefix_padding_ms * SAMPLE_RATE // 1000
        self._silence = max(silence_duration_ms, 1) * SAMPLE_RATE // 1000

    def reset(self) -> None:
        """Forget the utterance in progress (if any); the next speech frame starts a new one."""
        self.speaking = False

    def skip(self, samples: int) -> None:
        """Count ``samples`` appended while detection is off, so offsets stay absolute.

        Forgets any utterance in progress; a partial frame left over is taken as silence.
        """
        total = self._pending.size + samples
        usable = total - total % FRAME_SAMPLES
        self._position += usable
        self._pending = np.zeros(total - usable, dtype=np.int16)
        self.speaking = False

    def feed(self, samples: Int16Array, *, floor: int) -> list[VadEvent]:
        """Process appended samples; returns the events they caused, in order.

        ``floor`` is the absolute offset before which no utterance may start (the last commit).
        """
        if samples.size == 0:
            return []
        audio = np.concatenate((self._pending, samples)) if self._pending.size else samples
        frames = audio.size // FRAME_SAMPLES
        usable = frames * FRAME_SAMPLES
        blocks = audio[:usable].astype(np.float64).reshape(frames, FRAME_SAMPLES)
        loud = np.einsum("ij,ij->i", blocks, blocks) > self._min_energy
        events: list[VadEvent] = []
        for index in range(frames):
            start = self._position + index * FRAME_SAMPLES
            end = start + FRAME_SAMPLES
            if loud[index]:
                if not self.speaking:
                    self.speaking = True
                    self.speech_start = max(start - self._padding, floor, 0)
                    events.append(VadEvent("started", self.speech_start, self.speech_start))
                self._last_speech_end = end
            elif self.speaking and end - self._last_speech_end >= self._silence:
                self.speaking = False
                stop = self._last_speech_end + self._silence
                events.append(VadEvent("stopped", stop, self.speech_start))
        self._pending = audio[usable:].copy()
        self._position += usable
        return events

    @property
    def position(self) -> int:
        """Absolute offset of the end of the audio fully analysed."""
        return self._position

    def __repr__(self) -> str:
        state = "speaking" if self.speaking else "idle"
        level = math.sqrt(self._min_energy / FRAME_SAMPLES)
        return f"EnergyVad({state}, position={self._position}, min_rms={level:.0f})"
