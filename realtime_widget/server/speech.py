"""Spoken answers in words, from espeak-ng, with the sample each word starts at.

espeak-ng (GPL-3, about 2 MB with its English data) runs as a subprocess found on ``PATH``:
Debian and Ubuntu ``apt-get install espeak-ng``, macOS ``brew install espeak-ng``, Windows
the installer of its GitHub releases (or ``choco install espeak-ng``). It is a separate
program, not linked in, and needs no model download. The service's voices map to distinct
espeak-ng voices (:data:`ESPEAK_VOICES`); :data:`TONE_VOICE` is the tone speech of
:mod:`~realtime_widget.server.synth`, whose audio decodes back to its text exactly.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import wave

import numpy as np

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.audio.resample import interpolate
from realtime_widget.core.checks import need_number
from realtime_widget.core.protocol import SAMPLE_RATE
from realtime_widget.server.synth import SpokenText, WordTiming, normalize_word, synthesize

__all__ = [
    "ESPEAK_VOICES",
    "TONE_VOICE",
    "espeak_program",
    "espeak_samples",
    "speak",
    "speak_with_espeak",
]

logger = logging.getLogger("realtime_widget.server")

TONE_VOICE = "tones"
ESPEAK_VOICES = {
    "alloy": "en-us+m1",
    "ash": "en-us+m3",
    "ballad": "en-gb+m2",
    "coral": "en-us+f2",
    "echo": "en-029+m4",
    "sage": "en-gb-x-rp+f4",
    "shimmer": "en-us+f4",
    "verse": "en-gb-scotland+m5",
    "marin": "en-us+f3",
    "cedar": "en-us+m7",
}
_WORDS_PER_MINUTE = 175
_PHRASE_END = re.compile(r"[,;:.!?]$")
_VOICED_LEVEL = 300  # |sample| above this is voiced (about -40 dBFS)
_TIMEOUT = 30.0


def espeak_program() -> str | None:
    """The path of ``espeak-ng`` on ``PATH``, else ``None``."""
    return shutil.which("espeak-ng")


def _phrases(words: list[str]) -> list[list[int]]:
    """Indices of ``words`` grouped in phrases; words with nothing to say join the next."""
    phrases: list[list[int]] = []
    current: list[int] = []
    for index, word in enumerate(words):
        current.append(index)
        if _PHRASE_END.search(word):
            phrases.append(current)
            current = []
    if current:
        phrases.append(current)
    return phrases


def espeak_samples(program: str, text: str, voice: str, speed: float = 1.0) -> Int16Array:
    """``text`` said by espeak-ng in its own ``voice`` (``en-us``, ``en-gb+f3``...), 24 kHz."""
    rate = max(80, min(450, round(_WORDS_PER_MINUTE * speed)))
    done = subprocess.run(
        [program, "--stdout", "-v", voice, "-s", str(rate), "--", text],
        capture_output=True,
        check=True,
        timeout=_TIMEOUT,
    )
    with wave.open(io.BytesIO(done.stdout)) as wav:
        rate_in = wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    # rising to 24 kHz folds nothing back: linear interpolation is enough, and far faster
    return interpolate(np.frombuffer(raw, dtype="<i2"), rate_in, SAMPLE_RATE)


def _word_starts(samples: Int16Array, words: list[str], offset: int) -> list[WordTiming]:
    """Timings of ``words`` spread over the voiced span of ``samples`` by their letters."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _VOICED_LEVEL)
    first, last = (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, samples.size)
    weights = [len(normalize_word(word)) for word in words]
    total = sum(weights) or 1
    timings: list[WordTiming] = []
    cursor = float(first)
    for word, weight in zip(words, weights, strict=True):
        length = (last - first) * weight / total
        start, end = round(cursor), round(cursor + length)
        timings.append(WordTiming(word, offset + start, offset + max(start, end)))
        cursor += length
    return timings


def speak_with_espeak(program: str, text: str, voice: str, speed: float = 1.0) -> SpokenText:
    """``text`` spoken by espeak-ng (``program``) in the local voice for ``voice``, as 24 kHz
    int16 with word timings.

    ``speed`` (0.25-1.5, the service's range) scales espeak-ng's 175 words per minute. The
    text is spoken phrase by phrase (phrases end at ``, ; : . ! ?``); within a phrase each
    word starts at a share of the voiced span proportional to its letters, so a transcript
    cut at a heard position keeps the words heard up to about a syllable.

    Raises ``ValueError`` for a speed outside 0.25-1.5, ``subprocess.CalledProcessError``
    or ``OSError`` when espeak-ng fails.
    """
    need_number("speed", speed, "within 0.25 and 1.5", low=0.25, high=1.5, error=ValueError)
    local = ESPEAK_VOICES.get(voice, ESPEAK_VOICES["marin"])
    words = text.split()
    chunks: list[Int16Array] = []
    timings: list[WordTiming] = []
    offset = 0
    for phrase in _phrases(words):
        said = [words[i] for i in phrase]
        audio = espeak_samples(program, " ".join(said), local, speed)
        timings.extend(_word_starts(audio, said, offset))
        chunks.append(audio)
        offset += audio.size
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    samples.setflags(write=False)
    return SpokenText(text=text, samples=samples, words=tuple(timings))


def speak(text: str, voice: str, speed: float, program: str | None) -> SpokenText:
    """``text`` in ``voice``: tones for :data:`TONE_VOICE` or without ``program`` (every voice
    then speaks in tones), else words.

    When espeak-ng fails, the answer is spoken in tones (and the failure logged): a response
    always gets its audio.
    """
    if voice != TONE_VOICE and program is not None:
        try:
            return speak_with_espeak(program, text, voice, speed)
        except (OSError, subprocess.SubprocessError, wave.Error, EOFError) as exc:
            logger.warning("espeak-ng failed (%s): this answer is spoken in tones", exc)
    return synthesize(text, voice=voice, speed=speed)
