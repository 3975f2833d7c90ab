"""Real speech on the local server: recognition (pocketsphinx) and synthesis (espeak-ng).

Speech is made by espeak-ng in each test. Tests needing the ``voice`` extra or espeak-ng
are skipped without them; the fallback (what a server without them does) is tested always.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from server_peer import Peer, PeerFactory

from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.numbers import digits, fix_homophones
from realtime_widget.server.recognizer import (
    Recognizer,
    recognizer_available,
    word_error_rate,
)
from realtime_widget.server.speech import (
    ESPEAK_VOICES,
    espeak_program,
    espeak_samples,
    speak,
    speak_with_espeak,
)
from realtime_widget.server.synth import decode, normalize_text, synthesize
from realtime_widget.server.vocabulary import (
    Vocabulary,
    arpa_bigram,
    build_vocabulary,
    session_texts,
    words_of,
)
from realtime_widget.server.voice import VoiceSupport, announce_fallback

ESPEAK = espeak_program()
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed")
needs_voice = pytest.mark.skipif(
    ESPEAK is None or not recognizer_available(),
    reason="needs espeak-ng and the voice extra (pocketsphinx)",
)

HOURS = "We are open from nine to five, Monday to Friday."
KNOWLEDGE = {
    "scripts": [
        {
            "id": "hours",
            "dialogues": [
                {
                    "id": "when-open",
                    "prompts": ["when are you open"],
                    "responses": [{"id": "a", "type": "message", "message": HOURS}],
                }
            ],
        }
    ]
}
CALCULATE = {
    "type": "function",
    "name": "calculate",
    "description": 'Evaluate an arithmetic expression such as "2 * (3 + 4)".',
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "The expression."}},
        "required": ["expression"],
    },
}


def said(text: str, voice: str = "en-us") -> np.ndarray[Any, Any]:
    """``text`` spoken by espeak-ng, with the silences around it a microphone would have."""
    assert ESPEAK is not None
    quiet = np.zeros(7_200, np.int16)  # 300 ms
    return np.concatenate([quiet, espeak_samples(ESPEAK, text, voice), quiet, quiet])


def hum(samples: int, amplitude: int = 6_000) -> np.ndarray[Any, Any]:
    """A 440 Hz tone: loud enough for voice activity, no words in it."""
    return (amplitude * np.sin(np.arange(samples) * 2 * np.pi * 440 / 24_000)).astype(np.int16)


def session_vocabulary() -> Vocabulary:
    texts = session_texts("Keep answers short.", [CALCULATE], [KNOWLEDGE])
    return build_vocabulary(texts, ["calculate"])


# -- pure parts -----------------------------------------------------------------------


def test_spoken_numbers_become_digits() -> None:
    assert digits("two plus three") == "2 + 3"
    assert digits("twenty one times four point five") == "21 * 4.5"
    assert digits("ten divided by two.") == "10 / 2."
    assert digits("three hundred and two minus one thousand") == "302 - 1000"
    assert digits("plus nothing") == "plus nothing"
    assert fix_homophones("calculate to plus three") == "calculate two plus three"
    assert fix_homophones("open nine to five") == "open nine two five"
    assert fix_homophones("talk to me") == "talk to me"


def test_session_vocabulary_gathers_what_the_session_can_act_on() -> None:
    instructions = "Be brief. Saturday mornings too."
    vocabulary = build_vocabulary(
        session_texts(instructions, [CALCULATE], [KNOWLEDGE]), ["calculate"]
    )
    for word in ("when", "open", "monday", "calculate", "expression", "saturday", "plus"):
        assert word in vocabulary.words
    assert ("calculate", "two", "plus", "three") not in vocabulary.sentences  # varied sums
    assert any(s[:1] == ("calculate",) and "plus" in s for s in vocabulary.sentences)
    arpa = arpa_bigram(vocabulary, vocabulary.words - {"monday"})
    assert arpa.startswith("\\data\\") and arpa.rstrip().endswith("\\end\\")
    assert " monday " not in arpa and "\nmonday" not in arpa


def test_word_error_rate() -> None:
    assert word_error_rate("When are you open?", "when are you open") == 0.0
    assert word_error_rate("calculate two plus three", "calculate to plus three") == 0.25
    assert word_error_rate("a b", "") == 1.0


def test_fallback_is_said_once_and_names_the_fix() -> None:
    message = VoiceSupport.tones_only().fallback_message()
    assert message is not None
    assert "pip install 'realtime_widget[voice]'" in message and "espeak-ng" in message
    assert VoiceSupport(recognizer=True, espeak="/usr/bin/espeak-ng").fallback_message() is None
    assert announce_fallback(VoiceSupport.tones_only()) == message  # returned every time


# -- recognition ----------------------------------------------------------------------

SENTENCES = [
    "when are you open",
    "please calculate two plus three",
    "calculate six times nine",
]
HANDFUL = [
    *SENTENCES,
    "calculate two plus three",
    "calculate seven plus four",
    "tell me when you are open",
    "are you open on monday",
    "calculate ten minus four",
    "hello how are you",
    "what is the weather today",
]


@needs_voice
@pytest.mark.parametrize("sentence", SENTENCES)
def test_recognizer_hears_the_session_words(sentence: str) -> None:
    recognizer = Recognizer(session_vocabulary())
    transcript = recognizer.recognize(said(sentence))
    assert word_error_rate(sentence, transcript.text) <= 0.25, transcript.text
    assert transcript.seconds > 1.0 and transcript.cpu_seconds > 0


@needs_voice
def test_recognizer_word_error_rate_over_a_handful_of_sentences() -> None:
    rates = [
        word_error_rate(s, Recognizer(session_vocabulary()).recognize(said(s)).text)
        for s in HANDFUL
    ]
    assert sum(rates) / len(rates) <= 0.25, rates


SUMS = [
    "calculate two plus four",
    "calculate seven minus four",
    "calculate eight divided by two",
    "calculate five plus eight",
    "calculate nine minus one",
    "calculate three times four",
    "calculate four plus four",
    "calculate eleven over two",
    "calculate zero times six",
    "calculate ten minus three",
]


@needs_voice
def test_recognizer_hears_spoken_sums_with_any_numbers() -> None:
    # every number is as likely as another around each operator: "seven minus four" is no
    # less a sum than "two plus three"
    heard = [Recognizer(session_vocabulary(), fallback=False).recognize(said(s)).text for s in SUMS]
    exact = [h for h, s in zip(heard, SUMS, strict=True) if h == s]
    assert len(exact) >= 8, heard


@needs_voice
def test_recognizer_streams_partial_hypotheses() -> None:
    recognizer = Recognizer(session_vocabulary())
    audio = said("when are you open")
    recognizer.start()
    partials = [recognizer.feed(audio[i : i + 2_400]) for i in range(0, audio.size, 2_400)]
    final = recognizer.finish()
    assert any(partials[:-1])  # words were heard before the utterance ended
    assert word_error_rate("when are you open", final.text) <= 0.25


@needs_voice
def test_recognizer_hears_nothing_in_a_hum() -> None:
    recognizer = Recognizer(session_vocabulary())
    assert recognizer.recognize(hum(48_000, 3_000)).text == ""
    assert recognizer.recognize(np.zeros(24_000, np.int16)).text == ""


# -- synthesis ------------------------------------------------------------------------


@needs_voice
def test_spoken_answers_are_words_recognized_back() -> None:
    assert ESPEAK is not None
    speech = speak_with_espeak(ESPEAK, HOURS, "marin")
    assert decode(speech.samples) is None  # words, not tones
    words = [timing.word for timing in speech.words]
    assert words == HOURS.split()
    starts = [timing.start for timing in speech.words]
    assert starts == sorted(starts) and starts[-1] < speech.samples.size
    biased = Recognizer(Vocabulary(frozenset(words_of(HOURS)), (tuple(words_of(HOURS)),)))
    heard = biased.recognize(np.concatenate([speech.samples, np.zeros(12_000, np.int16)]))
    matched = sum(1 for word in words_of(HOURS) if word in heard.text.split())
    assert matched >= 0.7 * len(words_of(HOURS)), heard.text
    strict = Recognizer(biased.vocabulary, fallback=False)
    tones = strict.recognize(synthesize(HOURS, voice="tones").samples).text.split()
    assert sum(1 for word in words_of(HOURS) if word in tones) < 0.7 * len(words_of(HOURS))


@needs_espeak
def test_every_service_voice_has_its_own_local_voice() -> None:
    assert ESPEAK is not None
    sounds = {
        speak_with_espeak(ESPEAK, "one voice each", v).samples.tobytes() for v in ESPEAK_VOICES
    }
    assert len(sounds) == len(ESPEAK_VOICES) == 10
    slow = speak_with_espeak(ESPEAK, "one voice each", "marin", 0.5)
    assert (
        slow.samples.size > 1.5 * speak_with_espeak(ESPEAK, "one voice each", "marin").samples.size
    )
    assert np.array_equal(
        speak("tones", "tones", 1.0, ESPEAK).samples, synthesize("tones", voice="tones").samples
    )
    assert np.array_equal(speak("hi", "marin", 1.0, None).samples, synthesize("hi").samples)
    broken = speak("hi", "marin", 1.0, "/bin/false")  # a program that fails: tones, no error
    assert np.array_equal(broken.samples, synthesize("hi").samples)


# -- the server -----------------------------------------------------------------------


@pytest.fixture
async def voiced() -> AsyncIterator[LocalRealtimeServer]:
    if ESPEAK is None or not recognizer_available():
        pytest.skip("needs espeak-ng and the voice extra (pocketsphinx)")
    async with LocalRealtimeServer(pace="fast", voice=VoiceSupport.detect()) as started:
        yield started


@pytest.fixture
async def tones_only() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast", voice=VoiceSupport.tones_only()) as started:
        yield started


async def spoken_peer(server: LocalRealtimeServer, open_peer: PeerFactory) -> Peer:
    """A peer whose session has the calculate tool and transcription on (server VAD)."""
    peer = await open_peer(server)
    session = {
        "type": "realtime",
        "instructions": "Keep answers short.",
        "tools": [CALCULATE],
        "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
    }
    await peer.send(type="session.update", session=session)
    await peer.next("session.updated")
    return peer


def answer_audio(events: list[dict[str, Any]]) -> np.ndarray[Any, Any]:
    deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    data = b"".join(base64.b64decode(e["delta"]) for e in deltas)
    return np.frombuffer(data, dtype="<i2")


@needs_voice
async def test_a_spoken_question_is_transcribed_and_answered_in_words(
    voiced: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    voiced.set_knowledge(KNOWLEDGE)
    peer = await spoken_peer(voiced, open_peer)
    await peer.append(said("When are you open?"))
    events = await peer.until("response.done", timeout=30)
    types = [e["type"] for e in events]
    completed = next(e for e in events if e["type"].endswith("input_audio_transcription.completed"))
    assert types.index("input_audio_buffer.speech_stopped") < types.index(completed["type"])
    assert word_error_rate("when are you open", completed["transcript"]) <= 0.25
    assert completed["usage"]["type"] == "duration"
    assert "[" not in completed["transcript"]
    deltas = [e["delta"] for e in events if e["type"].endswith("transcription.delta")]
    assert "".join(deltas) == completed["transcript"]
    done = events[-1]["response"]
    assert done["output"][0]["content"][0]["transcript"] == HOURS
    audio = answer_audio(events)
    assert decode(audio) is None and audio.size > 24_000  # words, over a second of them


@needs_voice
async def test_a_tool_named_aloud_is_called_with_its_spoken_numbers(
    voiced: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await spoken_peer(voiced, open_peer)
    await peer.append(said("please calculate two plus three"))
    events = await peer.until("response.done", timeout=30)
    call = events[-1]["response"]["output"][0]
    assert call["type"] == "function_call" and call["name"] == "calculate"
    assert json.loads(call["arguments"]) == {"expression": "2 + 3"}


@needs_voice
async def test_partial_transcripts_arrive_while_the_user_speaks(
    voiced: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await spoken_peer(voiced, open_peer)
    speech = said("please calculate two plus three")
    await peer.append(speech[: -3 * 7_200])  # the words, not the silence after them
    delta = await peer.next("conversation.item.input_audio_transcription.delta", timeout=30)
    assert delta["delta"].strip() in words_of("please calculate two plus three")
    await peer.append(np.zeros(24_000, np.int16))
    events = await peer.until("input_audio_buffer.speech_stopped", timeout=30)
    assert "conversation.item.input_audio_transcription.completed" not in [
        e["type"] for e in events
    ]


@needs_voice
async def test_speech_it_cannot_make_out_is_not_caught(
    voiced: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await spoken_peer(voiced, open_peer)
    await peer.append(np.concatenate([hum(36_000), np.zeros(24_000, np.int16)]))
    events = await peer.until("response.done", timeout=30)
    completed = next(e for e in events if e["type"].endswith("transcription.completed"))
    assert completed["transcript"] == ""
    answer = events[-1]["response"]["output"][0]["content"][0]["transcript"]
    assert answer == "Sorry, I did not catch that."


@needs_voice
async def test_audio_items_are_heard_without_a_transcript(
    voiced: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    voiced.set_knowledge(KNOWLEDGE)
    peer = await open_peer(voiced, manual=True)
    audio = base64.b64encode(said("when are you open").astype("<i2").tobytes()).decode()
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": audio}]}
    await peer.send(type="conversation.item.create", item=item)
    await peer.send(type="response.create", response={"output_modalities": ["text"]})
    events = await peer.until("response.done", timeout=30)
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == HOURS


@needs_voice
async def test_truncation_cuts_the_spoken_transcript_where_the_audio_was_cut(
    voiced: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    voiced.set_knowledge(KNOWLEDGE)
    peer = await open_peer(voiced, manual=True)
    await peer.say("when are you open")
    await peer.send(type="response.create")
    events = await peer.until("response.done", timeout=30)
    item_id = events[-1]["response"]["output"][0]["id"]
    audio = answer_audio(events)
    cut_ms = audio.size * 1000 // 24_000 // 2
    await peer.send(
        type="conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=cut_ms
    )
    await peer.next("conversation.item.truncated")
    await peer.send(type="conversation.item.retrieve", item_id=item_id)
    kept = (await peer.next("conversation.item.retrieved"))["item"]["content"][0]["transcript"]
    assert 0 < len(kept.split()) < len(HOURS.split())
    assert HOURS.startswith(kept)
    # the words kept are the ones heard: the first half of the audio, recognized back
    heard_words = frozenset(words_of(HOURS))
    biased = Recognizer(Vocabulary(heard_words, (tuple(words_of(HOURS)),)), fallback=False)
    first_half = biased.recognize(audio[: cut_ms * 24]).text.split()
    kept_words = words_of(kept)
    assert sum(1 for w in first_half if w in kept_words) >= 0.7 * len(first_half)


async def test_without_the_voice_extra_speech_is_answered_by_its_length_in_tones(
    tones_only: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    assert tones_only.voice_fallback is not None
    peer = await spoken_peer(tones_only, open_peer)
    await peer.append(np.concatenate([hum(48_000), np.zeros(24_000, np.int16)]))
    events = await peer.until("response.done", timeout=30)
    completed = next(e for e in events if e["type"].endswith("transcription.completed"))
    assert completed["transcript"].endswith("s of audio]")
    answer = events[-1]["response"]["output"][0]["content"][0]["transcript"]
    assert answer.startswith("I heard ") and answer.endswith(" seconds of audio.")
    assert decode(answer_audio(events)) == normalize_text(answer)
