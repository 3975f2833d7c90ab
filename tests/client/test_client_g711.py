"""G.711 sessions end to end: the client against the local server over loopback.

The client keeps 24 kHz PCM16 inside and speaks the session's G.711 format on the wire, in
both dialects (GA ``audio/pcmu`` / ``audio/pcma``, beta ``g711_ulaw`` / ``g711_alaw``).
The local server decodes what it hears and answers in its ``tones`` voice, whose speech can be
heard back (:func:`realtime_widget.server.synth.decode`), so a test knows the audio is right,
not merely the right length.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from test_client import collect, connected, next_completed, speech_with_silence

from realtime_widget.audio.utils import alaw_decode, mulaw_decode, resample
from realtime_widget.server import LocalRealtimeServer, synthesize
from realtime_widget.server.synth import decode as hear

pytestmark = pytest.mark.asyncio

# (dialect, how the format is configured, its beta name)
FORMATS = [
    pytest.param("ga", {"type": "audio/pcmu"}, "g711_ulaw", id="ga-pcmu"),
    pytest.param("ga", {"type": "audio/pcma"}, "g711_alaw", id="ga-pcma"),
    pytest.param("beta", "g711_ulaw", "g711_ulaw", id="beta-ulaw"),
    pytest.param("beta", "g711_alaw", "g711_alaw", id="beta-alaw"),
]


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


def g711(codes: bytes, name: str) -> np.ndarray:
    return mulaw_decode(codes) if name == "g711_ulaw" else alaw_decode(codes)


def appended_codes(server: LocalRealtimeServer) -> bytes:
    received = server.connections[-1].received
    chunks = [e["audio"] for e in received if e["type"] == "input_audio_buffer.append"]
    return b"".join(base64.b64decode(chunk) for chunk in chunks)


def audio_deltas(events: list[dict[str, Any]]) -> bytes:
    kinds = ("response.output_audio.delta", "response.audio.delta")
    return b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] in kinds)


def g711_config(audio_format: Any, **hearing: Any) -> dict[str, Any]:
    return {
        "hearing": {"input_audio_format": audio_format, **hearing},
        # the tone voice: its audio decodes back to the words, through G.711 too
        "speech": {"output_audio_format": audio_format, "voice": "tones"},
    }


@pytest.mark.parametrize(("dialect", "audio_format", "name"), FORMATS)
async def test_manual_turn_in_g711(
    server: LocalRealtimeServer, dialect: str, audio_format: Any, name: str
) -> None:
    client = await connected(
        server, dialect=dialect, config=g711_config(audio_format, turn_detection=None)
    )
    errors = collect(client, "error")
    wire = collect(client.realtime, "server.*")
    updates = collect(client, "conversation.updated")
    speech = np.asarray(synthesize("hello there friend").samples, dtype=np.int16)
    for start in range(0, speech.size, 1000):  # chunk edges fall anywhere in the filter
        client.append_input_audio(speech[start : start + 1000])
    client.create_response()
    user = await next_completed(client, "user")
    answer = await next_completed(client, "assistant")

    sent = (await server.connections[-1].wait_for_received("session.update"))["session"]
    if dialect == "ga":
        assert sent["audio"]["input"]["format"] == {"type": f"audio/pcm{name[-4]}"}
        assert sent["audio"]["output"]["format"] == {"type": f"audio/pcm{name[-4]}"}
    else:
        assert sent["input_audio_format"] == sent["output_audio_format"] == name
    # the server got 8 kHz codes of exactly the speech's duration, and heard the words
    codes = appended_codes(server)
    assert len(codes) == -(-speech.size // 3)
    assert hear(g711(codes, name).repeat(3)) == "hello there friend"
    assert answer["formatted"]["transcript"] == "You said: hello there friend."
    # the client keeps what it sent at 24 kHz
    np.testing.assert_array_equal(np.asarray(user["formatted"]["audio"]), speech)
    # the answer's codes came back as 24 kHz speech of their duration, with no seams
    received = audio_deltas(wire)
    audio = np.asarray(answer["formatted"]["audio"])
    assert audio.dtype == np.int16 and audio.size == 3 * len(received)
    np.testing.assert_array_equal(audio, resample(g711(received, name), 8000, 24_000))
    assert hear(audio) == "you said hello there friend."
    spoken = synthesize("You said: hello there friend.", voice="marin").samples
    assert len(spoken) - 3 < audio.size <= len(spoken)  # the server codes whole 8 kHz samples
    streamed = [u["delta"]["audio"] for u in updates if u["delta"] and "audio" in u["delta"]]
    assert sum(chunk.size for chunk in streamed) == audio.size
    assert errors == []
    await client.disconnect()


@pytest.mark.parametrize(("dialect", "audio_format", "name"), FORMATS)
async def test_voice_activity_turn_in_g711(
    server: LocalRealtimeServer, dialect: str, audio_format: Any, name: str
) -> None:
    client = await connected(server, dialect=dialect, config=g711_config(audio_format))
    errors = collect(client, "error")
    audio = speech_with_silence("good morning")
    for start in range(0, audio.size, 2400):
        client.append_input_audio(audio[start : start + 2400])
    user = await next_completed(client, "user", timeout=10)
    answer = await next_completed(client, "assistant", timeout=10)
    assert answer["formatted"]["transcript"] == "You said: good morning."
    assert hear(np.asarray(answer["formatted"]["audio"])) == "you said good morning."
    # the utterance was sliced out of the 24 kHz input by the server's milliseconds
    heard = np.asarray(user["formatted"]["audio"])
    speech_len = len(synthesize("good morning").samples)
    assert speech_len <= heard.size <= audio.size
    assert hear(heard) == "good morning"
    assert errors == []
    await client.disconnect()


@pytest.mark.parametrize(("dialect", "audio_format", "name"), FORMATS)
async def test_audio_content_part_in_g711(
    server: LocalRealtimeServer, dialect: str, audio_format: Any, name: str
) -> None:
    client = await connected(server, dialect=dialect, config=g711_config(audio_format))
    speech = np.asarray(synthesize("audio part").samples, dtype=np.int16)
    client.send_user_message_content([{"type": "input_audio", "audio": speech}])
    answer = await next_completed(client, "assistant")
    assert answer["formatted"]["transcript"] == "You said: audio part."
    created = [
        e for e in server.connections[-1].received if e["type"] == "conversation.item.create"
    ]
    part = created[-1]["item"]["content"][0]
    assert len(base64.b64decode(part["audio"])) == -(-speech.size // 3)
    await client.disconnect()


async def test_switching_formats_mid_session(server: LocalRealtimeServer) -> None:
    config = {"hearing": {"turn_detection": None}, "speech": {"voice": "tones"}}
    client = await connected(server, config=config)
    connection = server.connections[-1]
    speech = np.asarray(synthesize("switch").samples, dtype=np.int16)
    for audio_format in ("g711_ulaw", "pcm16", "g711_alaw"):
        updated = asyncio.ensure_future(client.realtime.wait_for_next("server.session.updated", 5))
        client.update_session(input_audio_format=audio_format, output_audio_format=audio_format)
        assert await updated is not None
        mark = len(connection.received)
        client.append_input_audio(speech)
        client.create_response()
        answer = await next_completed(client, "assistant")
        sent = b"".join(
            base64.b64decode(e["audio"])
            for e in connection.received[mark:]
            if e["type"] == "input_audio_buffer.append"
        )
        # the audio went out in the new format: two bytes a sample, or one at 8 kHz
        expected = 2 * speech.size if audio_format == "pcm16" else -(-speech.size // 3)
        assert len(sent) == expected, audio_format
        assert answer["formatted"]["transcript"] == "You said: switch."
        assert hear(np.asarray(answer["formatted"]["audio"])) == "you said switch."
    await client.disconnect()


async def test_cancel_truncates_at_the_played_24khz_position() -> None:
    async with LocalRealtimeServer(pace="realtime") as paced:
        client = await connected(paced, config=g711_config("g711_ulaw"))
        appended = collect(client, "conversation.item.appended")
        client.send_user_message_content("tell me a long story about the sea and the ships")
        await client.realtime.wait_for_next("server.response.output_audio.delta", 5)
        await asyncio.sleep(0.4)
        item = next(e["item"] for e in appended if e["item"]["role"] == "assistant")
        played = len(item["formatted"]["audio"]) // 2
        truncated = asyncio.ensure_future(
            client.realtime.wait_for_next("server.conversation.item.truncated", 5)
        )
        completed = asyncio.ensure_future(client.wait_for_next("conversation.item.completed", 5))
        client.cancel_response(item["id"], played)
        event = await truncated
        assert event is not None and event["audio_end_ms"] == played * 1000 // 24_000
        done = await completed
        assert done is not None and done["item"] is item
        assert len(item["formatted"]["audio"]) == played * 1000 // 24_000 * 24
        await client.disconnect()
