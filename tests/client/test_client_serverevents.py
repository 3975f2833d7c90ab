"""The client against the local server: idle timeouts, transcription segments and failures,
and rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from test_client import collect, connected, eventually, next_completed

from realtime_widget.server import LocalRealtimeServer, synthesize

pytestmark = pytest.mark.asyncio

try:  # the official SDK judges every event when installed (the dev extra has it)
    from openai.types.realtime import RealtimeServerEvent
    from pydantic import TypeAdapter

    SERVER_EVENT: Any = TypeAdapter(RealtimeServerEvent)
except ImportError:  # pragma: no cover
    SERVER_EVENT = None


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


def server_events(logged: list[dict], kind: str) -> list[dict]:
    """The server events of ``kind`` among ``realtime.event`` dispatches, SDK-checked."""
    events = [e["event"] for e in logged if e["source"] == "server" and e["event"]["type"] == kind]
    for event in events if SERVER_EVENT is not None else ():
        SERVER_EVENT.validate_python(event)
    return events


async def test_the_client_keeps_the_last_rate_limits(server: LocalRealtimeServer) -> None:
    client = await connected(server, config={"model": {"modalities": ["text"]}})
    logged = collect(client, "realtime.event")
    assert client.rate_limits is None
    client.send_user_message_content("hello there")  # answered
    await next_completed(client, "assistant")
    await eventually(lambda: client.rate_limits is not None)
    assert [limit["name"] for limit in client.rate_limits or []] == ["requests", "tokens"]
    assert server_events(logged, "rate_limits.updated")[-1]["rate_limits"] == client.rate_limits
    await client.disconnect()


async def test_an_idle_timeout_adds_the_silent_user_turn_and_its_answer(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(
        server,
        config={
            "model": {"modalities": ["text"]},
            "hearing": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 300}},
        },
    )
    logged = collect(client, "realtime.event")
    errors = collect(client, "error")
    client.send_user_message_content("hello there")  # answered
    await next_completed(client, "assistant")
    client.append_input_audio(np.zeros(4800, dtype=np.int16))  # silence while idle
    user = await next_completed(client, "user", timeout=10)
    assert user["content"][0]["type"] == "input_audio"
    await next_completed(client, "assistant", timeout=10)
    (timeout, *_) = server_events(logged, "input_audio_buffer.timeout_triggered")
    assert timeout["item_id"] == user["id"]
    assert timeout["audio_end_ms"] - timeout["audio_start_ms"] == 200
    # the item holds the silence the client sent while idle
    assert len(user["formatted"]["audio"]) == 4800
    assert [i["id"] for i in client.get_conversation_items()].count(user["id"]) == 1
    assert errors == []
    await client.disconnect()


async def test_diarized_segments_are_kept_on_the_user_item(server: LocalRealtimeServer) -> None:
    client = await connected(
        server,
        session_type="transcription",
        config={"hearing": {"input_audio_transcription": {"model": "gpt-4o-transcribe-diarize"}}},
    )
    logged = collect(client, "realtime.event")
    silence = np.zeros(24_000, dtype=np.int16)
    speech = np.asarray(synthesize("hello there").samples, dtype=np.int16)
    audio = np.concatenate([silence, speech, silence])
    for start in range(0, audio.size, 2400):
        client.append_input_audio(audio[start : start + 2400])
    user = await next_completed(client, "user", timeout=10)
    await eventually(lambda: user["formatted"]["transcript"] == "hello there")
    (segment,) = server_events(logged, "conversation.item.input_audio_transcription.segment")
    assert user["formatted"]["segments"] == [
        {
            "id": segment["id"],
            "start": 0.0,
            "end": segment["end"],
            "text": "hello there",
            "speaker": "A",
        }
    ]
    assert segment["end"] > 0
    await client.disconnect()


async def test_a_failed_transcription_is_marked_on_its_item(server: LocalRealtimeServer) -> None:
    client = await connected(
        server,
        session_type="transcription",
        config={"hearing": {"turn_detection": None}},
    )
    logged = collect(client, "realtime.event")
    client.append_input_audio(np.zeros(12_000, dtype=np.int16))
    client.realtime.send("input_audio_buffer.commit")
    user = await next_completed(client, "user")
    await eventually(lambda: "transcription_error" in user["formatted"])
    (failed,) = server_events(logged, "conversation.item.input_audio_transcription.failed")
    assert user["formatted"]["transcription_error"] == failed["error"]
    assert failed["error"]["code"] == "audio_unintelligible"
    assert not user["formatted"]["transcript"]
    await asyncio.sleep(0.1)
    await client.disconnect()
