"""Offline speech recognition with pocketsphinx, biased to a session's vocabulary.

pocketsphinx (the optional extra ``realtime_widget[voice]``) ships its English acoustic
model, dictionary and general language model inside its wheel: nothing is downloaded.

Rules:

- A :class:`Recognizer` decodes with a bigram model of a
  :class:`~realtime_widget.server.vocabulary.Vocabulary` over a dictionary holding only
  those words (building it takes a fraction of a second, so it is built once per
  vocabulary, off the event loop).
- An utterance is fed as it arrives (:meth:`Recognizer.feed`, 24 kHz int16, resampled to
  the model's 16 kHz), each call returning the partial hypothesis; :meth:`Recognizer.finish`
  returns the final :class:`Transcript`.
- Speech outside the vocabulary: when the biased decoder hears nothing it can place, the
  utterance is decoded again with the general language model, within a budget of processor
  time (past it, nothing was heard) (loaded once per process and
  shared under a lock; :func:`load_general_model` loads it ahead, in the background).
- Audio with no words in it gives an empty transcript: silence and near-silence (never
  louder than about -50 dBFS) are not decoded at all; a hum or noise decodes to nothing.

A recognizer is not thread-safe: one thread at a time drives it (the server gives every
connection a worker thread of its own). Blocking calls; no event loop.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.audio.resample import Resampler
from realtime_widget.server.knowledge import word_edits
from realtime_widget.server.numbers import fix_homophones
from realtime_widget.server.vocabulary import Vocabulary, arpa_bigram, words_of

__all__ = [
    "Recognizer",
    "Transcript",
    "load_general_model",
    "recognizer_available",
    "word_error_rate",
]

_RATE = 16_000
# The live cepstral mean starts here and then follows the audio. The model's default start
# (a 2010s close-talk corpus) costs the first utterance of a connection much of its words;
# this one is the mean over espeak-ng's English voices, nearer to speech through a browser.
_CMN_START = "52.8,4.1,-2.2,16.7,-8.8,0.9,-3.5,-12.3,-5.4,-2.8,2.9,0.8,-5.8"
_GENERAL_BUDGET = 1.0  # CPU seconds per second of audio the general model may spend
_QUIET_RMS = 100.0  # about -50 dBFS: an utterance never louder than this has no words
_FILLERS = frozenset({"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "++NOISE++"})
_general_lock = threading.Lock()
_general: Any = None


def recognizer_available() -> bool:
    """Whether pocketsphinx can be imported (the ``voice`` extra is installed)."""
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Transcript:
    """What was heard: the words (empty when nothing was made out) and what it cost."""

    text: str
    seconds: float  # audio duration
    cpu_seconds: float  # processor time spent decoding it
    general: bool = False  # decoded with the general language model


def _model_path(*parts: str) -> str:
    from pocketsphinx import get_model_path

    return os.path.join(get_model_path(), *parts)


def _pronunciations(words: frozenset[str]) -> dict[str, list[str]]:
    """The dictionary lines (alternates included) of ``words`` found in CMUdict."""
    found: dict[str, list[str]] = {}
    with open(_model_path("en-us", "cmudict-en-us.dict"), encoding="utf-8") as dictionary:
        for line in dictionary:
            head = line.split(" ", 1)[0]
            word = head.split("(", 1)[0]
            if word in words:
                found.setdefault(word, []).append(line.rstrip("\n"))
    return found


@contextlib.contextmanager
def _written(suffix: str, text: str) -> Iterator[str]:
    handle, path = tempfile.mkstemp(prefix="realtime-widget-", suffix=suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        yield path
    finally:
        Path(path).unlink(missing_ok=True)


def _decoder(**config: Any) -> Any:
    from pocketsphinx import Decoder

    return Decoder(
        hmm=_model_path("en-us", "en-us"),
        samprate=_RATE,
        loglevel="FATAL",
        cmninit=_CMN_START,
        **config,
    )


def _general_decoder() -> Any:
    """The shared general decoder; the caller holds ``_general_lock``."""
    global _general
    if _general is None:
        _general = _decoder(
            lm=_model_path("en-us", "en-us.lm.bin"),
            dict=_model_path("en-us", "cmudict-en-us.dict"),
        )
    return _general


def load_general_model() -> None:
    """Load the general language model now (about 90 MB, a second or two), in a daemon
    thread, so the first utterance that needs it does not wait for it."""

    def load() -> None:
        with _general_lock:
            _general_decoder()

    if _general is None:
        threading.Thread(target=load, name="realtime-widget-general-model", daemon=True).start()


def _words(decoder: Any) -> str:
    said = [seg.word.split("(", 1)[0] for seg in decoder.seg() or () if seg.word not in _FILLERS]
    return fix_homophones(" ".join(said))


def _decode_all(decoder: Any, audio: Int16Array) -> str:
    """The words of ``audio`` (16 kHz); ``""`` when decoding it would cost more processor time
    than :data:`_GENERAL_BUDGET` per second of audio (noise and tones make the general
    model's search explode: 3 s of tones took 7 s)."""
    budget = _GENERAL_BUDGET * audio.size / _RATE
    began = time.thread_time()
    decoder.start_utt()
    # in 100 ms steps: the decoder holds the GIL while it works, and the server's event loop
    # must get it back often
    for start in range(0, audio.size, _RATE // 10):
        decoder.process_raw(audio[start : start + _RATE // 10].tobytes())
        if time.thread_time() - began > budget:
            decoder.end_utt()
            return ""
    decoder.end_utt()
    return _words(decoder)


class Recognizer:
    """A decoder biased to ``vocabulary``; see the module rules.

    ``fallback=False`` never consults the general model (only the vocabulary is heard).

    Raises ``ImportError`` when pocketsphinx is missing.
    """

    def __init__(self, vocabulary: Vocabulary, *, fallback: bool = True) -> None:
        self.vocabulary = vocabulary
        self.fallback = fallback
        lines = _pronunciations(vocabulary.words)
        dictionary = "\n".join(line for word in sorted(lines) for line in lines[word]) + "\n"
        with (
            _written(".dict", dictionary) as dict_path,
            _written(".lm", arpa_bigram(vocabulary, lines)) as lm_path,
        ):
            self._decoder = _decoder(lm=lm_path, dict=dict_path)
        self._resampler = Resampler(24_000, _RATE)
        self._audio: list[Int16Array] = []
        self._cpu = 0.0
        self._samples = 0
        self._loudest = 0.0  # RMS of the loudest 10 ms of the utterance
        self._open = False

    @property
    def known_words(self) -> frozenset[str]:
        """The vocabulary's words the dictionary could pronounce."""
        return frozenset(w for w in self.vocabulary.words if self._decoder.lookup_word(w))

    def start(self) -> None:
        """Begin an utterance (ending one left open)."""
        if self._open:
            self._decoder.end_utt()
        self._resampler = Resampler(24_000, _RATE)
        self._audio = []
        self._cpu = 0.0
        self._samples = 0
        self._loudest = 0.0
        self._decoder.start_utt()
        self._open = True

    def feed(self, samples: Int16Array) -> str:
        """Decode more 24 kHz audio of the utterance; returns the partial hypothesis."""
        if not self._open:
            self.start()
        began = time.process_time()
        audio = self._resampler.process(np.asarray(samples, dtype=np.int16))
        self._samples += samples.size
        frames = samples.size // 240
        if frames:
            blocks = samples[: frames * 240].astype(np.float64).reshape(frames, 240)
            loudest = float(np.sqrt((blocks * blocks).mean(axis=1)).max())
            self._loudest = max(self._loudest, loudest)
        if audio.size:
            self._audio.append(audio)
            self._decoder.process_raw(audio.tobytes())
        hypothesis = self._decoder.hyp()
        self._cpu += time.process_time() - began
        return hypothesis.hypstr if hypothesis is not None else ""

    def finish(self) -> Transcript:
        """End the utterance; its final transcript (see the module rules)."""
        if not self._open:
            self.start()
        began = time.process_time()
        tail = self._resampler.flush()
        if tail.size:
            self._audio.append(tail)
            self._decoder.process_raw(tail.tobytes())
        self._decoder.end_utt()
        self._open = False
        text = _words(self._decoder) if self._loudest >= _QUIET_RMS else ""
        general = False
        if not text and self._audio and self.fallback and self._loudest >= _QUIET_RMS:
            audio = np.concatenate(self._audio)
            with _general_lock:
                text = _decode_all(_general_decoder(), audio)
            general = True
        self._audio = []
        cpu = self._cpu + time.process_time() - began
        return Transcript(text, self._samples / 24_000, cpu, general)

    def abandon(self) -> None:
        """End the utterance without a transcript (its audio was understood otherwise)."""
        if self._open:
            self._decoder.end_utt()
            self._open = False
        self._audio = []

    def recognize(self, samples: Int16Array) -> Transcript:
        """The transcript of a whole 24 kHz utterance."""
        self.start()
        self.feed(samples)
        return self.finish()


def word_error_rate(reference: str, heard: str) -> float:
    """Word substitutions, insertions and deletions turning ``reference`` into ``heard``,
    per reference word (case and punctuation ignored). A measuring aid."""
    wanted = words_of(reference)
    return word_edits(wanted, words_of(heard)) / max(len(wanted), 1)
