"""Wire audio: 24 kHz PCM16 inside, the session's format (PCM16 or G.711) on the wire.

Core tests: the encoder and decoder streams on their own, and a conversation fed G.711
events through its decoder, no event loop.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from realtime_widget.audio.formats import (
    InputAudioEncoder,
    OutputAudioDecoder,
    StreamDecoder,
    encode_clip,
    pcm_from_wire,
    pcm_to_wire,
    session_audio_format,
)
from realtime_widget.audio.utils import alaw_decode, mulaw_decode, mulaw_encode, resample
from realtime_widget.client.replay import replay_items
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.errors import InvalidEventError
from realtime_widget.core.protocol import AudioFormat
from realtime_widget.server import synthesize
from realtime_widget.server.synth import decode as hear

G711: list[AudioFormat] = ["g711_ulaw", "g711_alaw"]
SPEECH = np.asarray(synthesize("hello there friend").samples, dtype=np.int16)


def codes_of(parts: list[str]) -> bytes:
    return b"".join(base64.b64decode(part) for part in parts)


def g711_decode(codes: bytes, audio_format: AudioFormat) -> np.ndarray:
    return mulaw_decode(codes) if audio_format == "g711_ulaw" else alaw_decode(codes)


@pytest.mark.parametrize("audio_format", G711)
def test_encoder_stream_has_no_seams_and_flush_completes_the_duration(
    audio_format: AudioFormat,
) -> None:
    encoder = InputAudioEncoder()
    sizes = [1, 7, 240, 2399, 4800, 333]  # odd sizes: boundaries fall anywhere
    parts, start = [], 0
    while start < SPEECH.size:
        size = sizes[len(parts) % len(sizes)]
        parts.append(encoder.encode(SPEECH[start : start + size], audio_format))
        start += size
    streamed = codes_of([*parts, encoder.flush()])
    assert streamed == base64.b64decode(encode_clip(SPEECH, audio_format))
    assert len(streamed) == -(-SPEECH.size // 3)  # 8 kHz: a third of the samples, rounded up
    assert hear(g711_decode(streamed, audio_format).repeat(3)) == "hello there friend"
    assert encoder.flush() == ""  # a flushed stream holds nothing


def test_clip_lengths() -> None:
    """8 kHz codes become three samples each; 24 kHz samples a code per three, rounded up."""
    assert pcm_from_wire(bytes(80), "g711_ulaw").size == 240
    assert len(pcm_to_wire(np.arange(241, dtype=np.int16), "g711_ulaw")) == 81
    assert pcm_from_wire(b"", "g711_alaw").size == 0
    assert pcm_to_wire(SPEECH, "pcm16") == SPEECH.astype("<i2").tobytes()


@pytest.mark.parametrize("audio_format", G711)
def test_decoder_stream_has_no_seams_and_flush_completes_the_duration(
    audio_format: AudioFormat,
) -> None:
    codes = pcm_to_wire(SPEECH, audio_format)
    stream = StreamDecoder(audio_format)
    sizes = [1, 7, 80, 799, 1600, 111]
    parts, start = [], 0
    while start < len(codes):
        size = sizes[len(parts) % len(sizes)]
        parts.append(stream.decode(codes[start : start + size]))
        start += size
    streamed = np.concatenate([*parts, stream.flush()])
    np.testing.assert_array_equal(streamed, pcm_from_wire(codes, audio_format))
    assert streamed.size == 3 * len(codes)
    assert hear(streamed) == "hello there friend"
    assert stream.flush().size == 0


def test_encoder_passes_pcm16_through_and_restarts_on_a_format_change() -> None:
    encoder = InputAudioEncoder()
    chunk = SPEECH[:2400]
    assert base64.b64decode(encoder.encode(chunk, "pcm16")) == chunk.astype("<i2").tobytes()
    assert encoder.flush() == ""
    first = encoder.encode(chunk, "g711_ulaw")
    fresh = InputAudioEncoder().encode(chunk, "g711_alaw")
    assert encoder.encode(chunk, "g711_alaw") == fresh != first


@pytest.mark.parametrize("audio_format", G711)
def test_decoder_stream_per_item_equals_decoding_the_whole_item(
    audio_format: AudioFormat,
) -> None:
    codes = base64.b64decode(encode_clip(SPEECH, audio_format))
    decoder = OutputAudioDecoder(lambda: audio_format)
    out = []
    for start in range(0, len(codes), 777):
        chunk = base64.b64encode(codes[start : start + 777]).decode()
        out.append(decoder.decode("response.output_audio.delta", "item_a", chunk))
        # another item streaming at the same time keeps a stream of its own
        decoder.decode("response.output_audio.delta", "item_b", chunk)
    out.append(decoder.finish("item_a"))
    audio = np.concatenate(out)
    expected = resample(g711_decode(codes, audio_format), 8000, 24_000)
    np.testing.assert_array_equal(audio, expected)
    assert audio.size == 3 * len(codes)
    assert hear(audio) == "hello there friend"
    assert decoder.finish("item_a").size == 0  # finished: nothing left


def test_an_item_keeps_the_format_it_started_with() -> None:
    formats: list[AudioFormat] = ["g711_ulaw"]
    decoder = OutputAudioDecoder(lambda: formats[-1])
    codes = base64.b64encode(mulaw_encode(SPEECH[:2400])).decode()
    first = decoder.decode("e", "item", codes)
    formats.append("pcm16")  # the session changed: later responses only
    second = decoder.decode("e", "item", codes)
    assert first.size and second.size > first.size  # still G.711: three samples a code
    assert decoder.decode("e", "other", codes).size == len(mulaw_encode(SPEECH[:2400])) // 2


def test_decoder_refuses_bad_base64_by_field() -> None:
    decoder = OutputAudioDecoder(lambda: "g711_alaw")
    with pytest.raises(InvalidEventError, match="'delta' is not valid base64"):
        decoder.decode("response.output_audio.delta", "item", "not base64!")
    with pytest.raises(InvalidEventError, match="odd number of bytes"):
        OutputAudioDecoder().decode("response.output_audio.delta", "item", "AAAA")
    fresh = OutputAudioDecoder(lambda: "g711_alaw")
    with pytest.raises(InvalidEventError):
        fresh.decode("response.output_audio.delta", "item", "not base64!")
    good = base64.b64encode(bytes(range(200))).decode()
    assert np.array_equal(
        fresh.decode("response.output_audio.delta", "item", good),
        OutputAudioDecoder(lambda: "g711_alaw").decode("response.output_audio.delta", "x", good),
    )  # the refused chunk left no trace in the stream


@pytest.mark.parametrize(
    ("session", "side", "expected"),
    [
        ({"audio": {"output": {"format": {"type": "audio/pcma"}}}}, "output", "g711_alaw"),
        ({"audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}}}, "input", "pcm16"),
        ({"output_audio_format": "g711_ulaw"}, "output", "g711_ulaw"),
        ({"hearing": {"input_audio_format": "g711_ulaw"}}, "input", "g711_ulaw"),
        ({"audio": {"output": {"format": {"type": "audio/mp3"}}}}, "output", None),
        ({"audio": {}}, "input", None),
        (None, "input", None),
    ],
)
def test_session_audio_format_reads_every_shape(
    session: dict | None, side: str, expected: str | None
) -> None:
    assert session_audio_format(session, side) == expected  # type: ignore[arg-type]


# -- a conversation decoding G.711 ------------------------------------------------------------


def _assistant_events(codes: bytes, chunk: int = 800) -> list[dict]:
    item = {"id": "item_1", "type": "message", "role": "assistant", "content": []}
    events: list[dict] = [
        {"type": "response.output_item.added", "response_id": "r", "item": item},
        {
            "type": "response.content_part.added",
            "item_id": "item_1",
            "content_index": 0,
            "part": {"type": "output_audio", "transcript": ""},
        },
    ]
    for start in range(0, len(codes), chunk):
        events.append(
            {
                "type": "response.output_audio.delta",
                "item_id": "item_1",
                "content_index": 0,
                "delta": base64.b64encode(codes[start : start + chunk]).decode(),
            }
        )
    return events


@pytest.mark.parametrize("audio_format", G711)
def test_conversation_items_hold_24khz_audio_and_the_tail_comes_with_done(
    audio_format: AudioFormat,
) -> None:
    codes = base64.b64decode(encode_clip(SPEECH, audio_format))
    conversation = RealtimeConversation(audio_decoder=OutputAudioDecoder(lambda: audio_format))
    deltas = []
    for event in _assistant_events(codes):
        _, delta = conversation.process_event(event)
        if delta:
            deltas.append(delta["audio"])
    item = conversation.get_item("item_1")
    assert item is not None
    held = len(item["formatted"]["audio"])
    assert held < 3 * len(codes)  # the filter still holds the last few milliseconds
    done = {"type": "response.output_audio.done", "item_id": "item_1", "content_index": 0}
    done_item, tail = conversation.process_event(done)
    assert done_item is item and tail is not None
    deltas.append(tail["audio"])
    audio = np.asarray(item["formatted"]["audio"])
    assert audio.size == 3 * len(codes) == sum(d.size for d in deltas)
    np.testing.assert_array_equal(audio, np.concatenate(deltas))
    assert hear(audio) == "hello there friend"


def test_a_truncated_item_drops_what_the_decoder_held() -> None:
    codes = base64.b64decode(encode_clip(SPEECH, "g711_ulaw"))
    conversation = RealtimeConversation(audio_decoder=OutputAudioDecoder(lambda: "g711_ulaw"))
    for event in _assistant_events(codes[:4000]):
        conversation.process_event(event)
    truncated = {
        "type": "conversation.item.truncated",
        "item_id": "item_1",
        "content_index": 0,
        "audio_end_ms": 200,
    }
    conversation.process_event(truncated)
    done = {"type": "response.output_audio.done", "item_id": "item_1", "content_index": 0}
    assert conversation.process_event(done)[1] is None
    item = conversation.get_item("item_1")
    assert item is not None and len(item["formatted"]["audio"]) == 200 * 24


def test_input_audio_of_a_retrieved_item_is_read_in_the_input_format() -> None:
    decoder = OutputAudioDecoder(input_format=lambda: "g711_alaw")
    conversation = RealtimeConversation(audio_decoder=decoder)
    clip = encode_clip(SPEECH, "g711_alaw")
    item = {
        "id": "item_u",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": clip, "transcript": None}],
    }
    conversation.process_event({"type": "conversation.item.retrieved", "item": item})
    stored = conversation.get_item("item_u")
    assert stored is not None
    audio = np.asarray(stored["formatted"]["audio"])
    assert abs(audio.size - SPEECH.size) <= 3
    assert hear(audio) == "hello there friend"


def test_replayed_user_audio_is_coded_in_the_sessions_format() -> None:
    item = {
        "id": "item_u",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
        "formatted": {"audio": SPEECH, "transcript": ""},
    }
    [replayed] = replay_items([item], audio_format="g711_alaw")
    codes = base64.b64decode(replayed["content"][0]["audio"])
    assert len(codes) == -(-SPEECH.size // 3)
    assert hear(alaw_decode(codes).repeat(3)) == "hello there friend"
    [plain] = replay_items([item])
    assert base64.b64decode(plain["content"][0]["audio"]) == SPEECH.astype("<i2").tobytes()
