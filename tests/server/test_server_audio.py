"""Pure audio pieces of the local server: synthesis, decoding (through G.711 too) and the VAD."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime_widget.audio.formats import pcm_from_wire, pcm_to_wire
from realtime_widget.core.protocol import AudioFormat
from realtime_widget.server.synth import (
    ALPHABET,
    CHAR_MS,
    decode,
    normalize_text,
    synthesize,
)
from realtime_widget.server.vad import FRAME_SAMPLES, EnergyVad, threshold_dbfs


def dbfs(samples: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return 20 * np.log10(max(rms, 1e-9) / 32768)


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * 24, dtype=np.int16)


# -- synthesis -------------------------------------------------------------------------


def test_synthesis_is_deterministic_and_speech_like() -> None:
    first = synthesize("Hello there, how are you?")
    second = synthesize("Hello there, how are you?")
    assert first.samples.dtype == np.int16
    assert np.array_equal(first.samples, second.samples)
    assert not np.array_equal(first.samples, synthesize("Hello there, how are you!").samples)
    per_char = first.duration_ms / len(first.text)  # spaces count: they are the pauses
    assert 60 <= per_char <= 80
    voiced = np.concatenate([first.samples[w.start : w.end] for w in first.words])
    assert dbfs(voiced) > -25  # far above the default VAD level of -35 dBFS
    assert [w.word for w in first.words] == ["Hello", "there,", "how", "are", "you?"]
    gap = first.samples[first.words[0].end : first.words[1].start]
    assert gap.size > 0 and not gap.any()


def test_voice_changes_timbre_not_length_and_speed_changes_length() -> None:
    marin = synthesize("testing voices", voice="marin")
    cedar = synthesize("testing voices", voice="cedar")
    assert marin.samples.size == cedar.samples.size
    assert not np.array_equal(marin.samples, cedar.samples)
    fast = synthesize("testing voices", speed=1.5)
    assert fast.samples.size < marin.samples.size * 0.7
    with pytest.raises(ValueError, match="speed"):
        synthesize("x", speed=10)


def test_unspoken_words_keep_their_place() -> None:
    speech = synthesize("one — two")
    assert [w.word for w in speech.words] == ["one", "—", "two"]
    assert speech.words[1].start == speech.words[1].end
    assert decode(speech.samples) == "one two"


@given(
    st.lists(st.text(alphabet=ALPHABET + "ABCXYZ", min_size=1, max_size=8), min_size=1, max_size=5),
    st.integers(0, 3000),
    st.integers(0, 3000),
)
def test_decode_recovers_synthesised_text(words: list[str], lead: int, tail: int) -> None:
    text = " ".join(words)
    samples = np.concatenate(
        [np.zeros(lead, np.int16), synthesize(text).samples, np.zeros(tail, np.int16)]
    )
    assert decode(samples) == normalize_text(text)


def test_decode_tolerates_low_noise_and_rejects_other_audio() -> None:
    rng = np.random.default_rng(7)
    speech = synthesize("noise is fine").samples
    noisy = np.concatenate([silence(500), speech, silence(300)])
    noisy = (noisy + rng.normal(0, 30, noisy.size)).astype(np.int16)
    assert decode(noisy) == "noise is fine"
    assert decode(rng.normal(0, 3000, 48_000).astype(np.int16)) is None
    tone = (8000 * np.sin(2 * np.pi * 220 * np.arange(24_000) / 24_000)).astype(np.int16)
    assert decode(tone) is None
    assert decode(silence(1000)) is None
    assert decode(synthesize("other speed", speed=1.3).samples) is None


def test_decode_through_g711() -> None:
    speech = synthesize("over the phone").samples
    formats: list[AudioFormat] = ["g711_ulaw", "g711_alaw"]
    for audio_format in formats:
        wire = pcm_to_wire(speech, audio_format)
        assert decode(pcm_from_wire(wire, audio_format)) == "over the phone"


# -- VAD -----------------------------------------------------------------------------


def test_threshold_mapping() -> None:
    assert threshold_dbfs(0.5) == -35
    assert threshold_dbfs(0.0) == -60
    assert threshold_dbfs(1.0) == -10


def run_vad(vad: EnergyVad, audio: np.ndarray, chunk: int, floor: int = 0) -> list[tuple[str, int]]:
    events = []
    for start in range(0, audio.size, chunk):
        events += [(e.kind, e.ms) for e in vad.feed(audio[start : start + chunk], floor=floor)]
    return events


def test_vad_reports_session_absolute_ms_independent_of_chunking() -> None:
    speech = synthesize("hello there").samples
    audio = np.concatenate([silence(1000), speech, silence(1000), speech, silence(800)])
    end1 = 1000 + len(speech) * 1000 // 24_000
    start2 = end1 + 1000
    end2 = start2 + len(speech) * 1000 // 24_000
    expected = [
        ("started", 700),
        ("stopped", end1 + 500),
        ("started", start2 - 300),
        ("stopped", end2 + 500),
    ]
    for chunk in (480, 2400, 1001, audio.size):
        assert run_vad(EnergyVad(), audio, chunk) == expected


def test_vad_threshold_padding_silence_and_floor() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 60, 48_000).astype(np.int16)  # about -55 dBFS
    assert run_vad(EnergyVad(), noise, 480) == []
    assert run_vad(EnergyVad(threshold=0.05), noise, 480)[0] == ("started", 0)
    quiet = (synthesize("whisper").samples // 40).astype(np.int16)  # about -50 dBFS
    assert run_vad(EnergyVad(threshold=0.5), quiet, 480) == []
    speech = np.concatenate([silence(200), synthesize("hi").samples, silence(400)])
    vad = EnergyVad(prefix_padding_ms=100, silence_duration_ms=200)
    assert run_vad(vad, speech, 480) == [("started", 100), ("stopped", 200 + 140 + 200)]
    # the start never goes back past the floor (the last commit)
    vad = EnergyVad(prefix_padding_ms=300)
    events = vad.feed(speech, floor=150 * 24)
    assert events[0].ms == 150


def test_vad_reset_forgets_an_utterance() -> None:
    vad = EnergyVad()
    speech = synthesize("interrupted").samples
    assert [e.kind for e in vad.feed(speech[:4800], floor=0)] == ["started"]
    vad.reset()
    assert not vad.speaking
    assert vad.feed(silence(2000), floor=0) == []
    assert vad.position % FRAME_SAMPLES == 0


def test_vad_skip_keeps_offsets_absolute() -> None:
    vad = EnergyVad()
    vad.skip(24_000 + 100)  # one second and a bit, appended with detection off
    speech = np.concatenate([silence(500), synthesize("later").samples, silence(600)])
    events = run_vad(vad, speech, 480)
    # speech begins at 1504 ms, inside the absolute frame starting at 1500 ms
    assert events[0] == ("started", 1500 - 300)


def test_char_duration_constant() -> None:
    assert synthesize("abc").samples.size == 3 * CHAR_MS * 24
