"""Deterministic speech-like audio, and the decoder that hears it back.

:func:`synthesize` turns a text into 24 kHz int16 audio that looks like speech to an
energy detector and to the eye: every word is a voiced segment (a fundamental and three
harmonics, raised-cosine edges), words are separated by short silences. Every character
of a word lasts :data:`CHAR_MS` and is voiced at its own pitch, ``F0_BASE + F0_STEP * k``
for the character's index ``k`` in :data:`ALPHABET`. Characters outside the alphabet are
folded (accents removed, letters lower-cased) or skipped. The same text, voice and speed
always give the same samples.

Because the pitch carries the characters, :func:`decode` can recover the normalised text
from audio made here (at speed 1.0), which lets the local server "understand" speech that
a client synthesised with this module. Audio from anywhere else (a microphone) decodes to
``None``: word lengths and pitches do not land on the grid.
"""

from __future__ import annotations

import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.core.checks import need_number
from realtime_widget.core.protocol import SAMPLE_RATE

__all__ = [
    "ALPHABET",
    "CHAR_MS",
    "GAP_MS",
    "SpokenText",
    "WordTiming",
    "decode",
    "normalize_text",
    "normalize_word",
    "synthesize",
]

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789',.?!-"
CHAR_MS = 70
GAP_MS = 90
F0_BASE = 100.0
F0_STEP = 8.0
_RAMP_MS = 8
_PEAK = 0.3  # peak amplitude as a fraction of full scale: about -16 dBFS RMS when voiced
_INDEX = {char: index for index, char in enumerate(ALPHABET)}
_F0 = F0_BASE + F0_STEP * np.arange(len(ALPHABET), dtype=np.float64)


@dataclass(frozen=True)
class WordTiming:
    """Where one word of the text is spoken: samples ``[start, end)`` (empty if silent)."""

    word: str
    start: int
    end: int


@dataclass(frozen=True)
class SpokenText:
    """``text`` as spoken audio: its int16 samples at 24 kHz and where each word is."""

    text: str
    samples: Int16Array
    words: tuple[WordTiming, ...]

    @property
    def duration_ms(self) -> float:
        return self.samples.size * 1000.0 / SAMPLE_RATE


def normalize_word(word: str) -> str:
    """The characters of ``word`` that are spoken: folded to :data:`ALPHABET`, others dropped."""
    folded = unicodedata.normalize("NFKD", word.lower())
    return "".join(char for char in folded if char in _INDEX)


def normalize_text(text: str) -> str:
    """What :func:`decode` returns for audio of ``text``: its spoken words, space-separated."""
    return " ".join(word for word in map(normalize_word, text.split()) if word)


def _harmonics(voice: str) -> npt.NDArray[np.float64]:
    """Weights of the fundamental and three harmonics; the fundamental always dominates."""
    seed = zlib.crc32(voice.encode("utf-8"))
    upper = [0.2 + 0.35 * (((seed >> shift) & 0xFF) / 255.0) for shift in (0, 8, 16)]
    return np.array([1.0, upper[0], upper[1] * 0.7, upper[2] * 0.4])


def synthesize(text: str, *, voice: str = "marin", speed: float = 1.0) -> SpokenText:
    """Speech-like audio for ``text``; ``speed`` (0.25-4) scales the pace, ``voice`` the timbre.

    Raises ``ValueError`` for a speed outside 0.25-4.
    """
    need_number("speed", speed, "within 0.25 and 4", low=0.25, high=4.0, error=ValueError)
    char_samples = round(CHAR_MS * SAMPLE_RATE / 1000 / speed)
    gap_samples = round(GAP_MS * SAMPLE_RATE / 1000 / speed)
    ramp = min(round(_RAMP_MS * SAMPLE_RATE / 1000), char_samples // 2)

    timings: list[WordTiming] = []
    spoken: list[tuple[int, str]] = []
    cursor = 0
    for word in text.split():
        chars = normalize_word(word)
        if chars and spoken:
            cursor += gap_samples
        start = cursor
        cursor += len(chars) * char_samples
        timings.append(WordTiming(word, start, cursor))
        if chars:
            spoken.append((start, chars))

    f0 = np.zeros(cursor, dtype=np.float64)
    envelope = np.zeros(cursor, dtype=np.float64)
    edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    for start, chars in spoken:
        end = start + len(chars) * char_samples
        indices = np.fromiter((_INDEX[c] for c in chars), dtype=np.intp, count=len(chars))
        f0[start:end] = np.repeat(_F0[indices], char_samples)
        envelope[start:end] = 1.0
        envelope[start : start + ramp] = edge
        envelope[end - ramp : end] = edge[::-1]

    weights = _harmonics(voice)
    phase = 2.0 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    harmonic = np.arange(1, weights.size + 1, dtype=np.float64)
    wave = np.sin(np.multiply.outer(phase, harmonic)) @ weights
    scale = _PEAK * 32767.0 / float(weights.sum())
    samples = np.round(wave * envelope * scale).astype(np.int16)
    samples.setflags(write=False)
    return SpokenText(text=text, samples=samples, words=tuple(timings))


# -- decoding -------------------------------------------------------------------------

_FRAME = SAMPLE_RATE // 200  # 5 ms
_CHAR = CHAR_MS * SAMPLE_RATE // 1000
_WINDOW = 36 * SAMPLE_RATE // 1000  # analysed middle of every character
_NFFT = 8192
_MIN_PEAK_RMS = 200.0  # about -44 dBFS: quieter audio is not ours


def _voiced_runs(samples: npt.NDArray[np.float64]) -> list[tuple[int, int]] | None:
    frames = samples.size // _FRAME
    if frames == 0:
        return None
    blocks = samples[: frames * _FRAME].reshape(frames, _FRAME)
    rms = np.sqrt(np.mean(blocks * blocks, axis=1))
    peak = float(rms.max())
    if peak < _MIN_PEAK_RMS:
        return None
    voiced = np.concatenate(([False], rms > 0.1 * peak, [False]))
    edges = np.flatnonzero(np.diff(voiced.astype(np.int8)))
    pairs = zip(edges[::2], edges[1::2], strict=True)
    return [(int(a) * _FRAME, int(b) * _FRAME) for a, b in pairs]


def decode(samples: npt.ArrayLike) -> str | None:
    """The normalised text spoken by :func:`synthesize` (speed 1.0) in 24 kHz ``samples``.

    Silence around and between utterances is allowed. Returns ``None`` when the audio was not
    made by :func:`synthesize` (or was altered beyond small noise and G.711 coding).
    """
    audio = np.asarray(samples, dtype=np.float64).ravel()
    runs = _voiced_runs(audio)
    if not runs:
        return None
    centres: list[float] = []
    lengths: list[int] = []
    for start, end in runs:
        count = round((end - start) / _CHAR)
        if count < 1 or abs((end - start) - count * _CHAR) > 0.2 * _CHAR:
            return None
        middle = (start + end) / 2.0
        centres.extend(middle + (k - (count - 1) / 2.0) * _CHAR for k in range(count))
        lengths.append(count)
    offsets = np.round(np.array(centres) - _WINDOW / 2).astype(np.intp)
    if offsets[0] < 0 or offsets[-1] + _WINDOW > audio.size:
        return None
    windows = audio[offsets[:, None] + np.arange(_WINDOW)] * np.hanning(_WINDOW)
    spectrum = np.abs(np.fft.rfft(windows, n=_NFFT, axis=1)) + 1e-9
    bin_hz = SAMPLE_RATE / _NFFT
    low = int((F0_BASE - F0_STEP) / bin_hz)
    high = int((F0_BASE + F0_STEP * len(ALPHABET)) / bin_hz) + 1
    band = np.log(spectrum[:, low - 1 : high + 2])
    peak = np.argmax(band[:, 1:-1], axis=1) + 1
    rows = np.arange(band.shape[0])
    left, centre, right = band[rows, peak - 1], band[rows, peak], band[rows, peak + 1]
    denominator = left - 2.0 * centre + right
    safe = np.where(denominator != 0, denominator, 1.0)
    shift = np.where(denominator != 0, 0.5 * (left - right) / safe, 0.0)
    frequency = (low - 1 + peak + shift) * bin_hz
    position = (frequency - F0_BASE) / F0_STEP
    index = np.round(position).astype(np.intp)
    off_grid = np.abs(position - index) > 0.35
    if np.any(off_grid) or np.any(index < 0) or np.any(index >= len(ALPHABET)):
        return None
    chars = [ALPHABET[i] for i in index]
    words: list[str] = []
    cursor = 0
    for count in lengths:
        words.append("".join(chars[cursor : cursor + count]))
        cursor += count
    return " ".join(words)
