"""Transcription sessions: the client's GA transcription session against the local server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from test_client import collect, connected, eventually, next_completed, speech_with_silence

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import UsageError
from realtime_widget.server import LocalRealtimeServer

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


async def test_speech_becomes_transcribed_user_items_and_no_response(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(
        server,
        session_type="transcription",
        config={"hearing": {"input_audio_transcription": {"model": "gpt-4o-transcribe"}}},
    )
    errors = collect(client, "error")
    wire = collect(client.realtime, "server.*")
    audio = speech_with_silence("hello there")
    for start in range(0, audio.size, 2400):
        client.append_input_audio(audio[start : start + 2400])
    user = await next_completed(client, "user", timeout=10)
    await eventually(lambda: user["formatted"]["transcript"] == "hello there")
    await asyncio.sleep(0.3)
    kinds = [e["type"] for e in wire]
    assert "conversation.item.input_audio_transcription.delta" in kinds
    assert "conversation.item.input_audio_transcription.completed" in kinds
    assert not [k for k in kinds if k.startswith("response.")]
    received = server.connections[-1].received
    assert [e["type"] for e in received].count("response.create") == 0
    session = [e for e in received if e["type"] == "session.update"][-1]["session"]
    assert session["type"] == "transcription"
    assert session["audio"]["input"]["turn_detection"]["create_response"] is False
    updated = [e for e in wire if e["type"] == "session.updated"][-1]["session"]
    assert updated["type"] == "transcription"
    assert updated["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
    assert errors == []
    await client.disconnect()


async def test_a_transcription_session_asks_for_no_response(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, session_type="transcription")
    with pytest.raises(UsageError, match="creates no responses"):
        client.create_response()
    assert client.send_user_message_content("kept, not answered")
    await next_completed(client, "user")
    await asyncio.sleep(0.3)
    assert [e["type"] for e in server.connections[-1].received].count("response.create") == 0
    await client.disconnect()


async def test_a_transcription_session_speaks_ga_or_beta() -> None:
    with pytest.raises(UsageError, match="a transcription session speaks GA or beta"):
        RealtimeClient(url="ws://127.0.0.1:1", dialect="nested", session_type="transcription")
    with pytest.raises(UsageError, match="session_type must be"):
        RealtimeClient(url="ws://127.0.0.1:1", session_type="chat")  # type: ignore[arg-type]


async def test_the_server_refuses_response_create_in_a_transcription_session(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, session_type="transcription")
    errors = collect(client, "error")
    client.realtime.send("response.create")
    await eventually(lambda: len(errors) == 1)
    assert "creates no responses" in str(errors[0]["error"])
    await client.disconnect()


async def test_the_sdk_types_take_the_transcription_session_both_ways(
    server: LocalRealtimeServer,
) -> None:
    pytest.importorskip("openai")
    from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
    from pydantic import TypeAdapter

    client = await connected(server, session_type="transcription")
    wire = collect(client.realtime, "server.session.updated")
    client.update_session(include=["item.input_audio_transcription.logprobs"])
    await eventually(lambda: any(e["session"].get("include") for e in wire))
    sent = [e for e in server.connections[-1].received if e["type"] == "session.update"][-1]
    TypeAdapter(RealtimeClientEvent).validate_python(sent)
    parsed = TypeAdapter(RealtimeServerEvent).validate_python(wire[-1])
    assert parsed.session.type == "transcription"  # type: ignore[union-attr]
    await client.disconnect()


# -- beta transcription sessions --------------------------------------------------------------


async def test_a_beta_transcription_session_keeps_live_transcripts_and_asks_nothing(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(
        server,
        dialect="beta",
        session_type="transcription",
        config={"hearing": {"input_audio_transcription": {"model": "gpt-4o-transcribe"}}},
    )
    assert "intent=transcription" in client.realtime.connect_url()
    assert "model=" not in client.realtime.connect_url()
    errors = collect(client, "error")
    wire = collect(client.realtime, "server.*")
    sent = collect(client, "session.update.sent")
    client.update_session(include=["item.input_audio_transcription.logprobs"])
    await eventually(lambda: [e["type"] for e in wire].count("transcription_session.updated") >= 2)
    audio = speech_with_silence("hello there")
    for start in range(0, audio.size, 2400):
        client.append_input_audio(audio[start : start + 2400])
    user = await next_completed(client, "user", timeout=10)
    await eventually(lambda: user["formatted"]["transcript"] == "hello there")
    deltas = [e for e in wire if e["type"].endswith("input_audio_transcription.delta")]
    assert deltas and all(e["item_id"] == user["id"] for e in deltas)
    await asyncio.sleep(0.3)
    assert not [e for e in wire if e["type"].startswith("response.")]
    received = [e["type"] for e in server.connections[-1].received]
    assert "session.update" not in received and "response.create" not in received
    updates = server.connections[-1].received
    session = [e for e in updates if e["type"] == "transcription_session.update"][-1]["session"]
    assert session == {
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"model": "gpt-4o-transcribe"},
        "turn_detection": {"type": "server_vad"},
        "include": ["item.input_audio_transcription.logprobs"],
    }
    assert sent[-1]["type"] == "transcription_session.update"
    assert client.session_created and client.session is not None
    assert client.session["input_audio_transcription"] == {"model": "gpt-4o-transcribe"}
    assert errors == []
    with pytest.raises(UsageError, match="creates no responses"):
        client.create_response()
    await client.disconnect()


async def test_a_beta_transcription_session_sends_only_what_beta_takes(
    server: LocalRealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    hearing = {
        "input_audio_format": "g711_alaw",
        "input_audio_transcription": {"model": "whisper-1", "language": "en", "delay": "low"},
        "input_audio_noise_reduction": {"type": "far_field", "strength": 0.5},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300, "idle_timeout_ms": 9},
    }
    client = await connected(
        server, dialect="beta", session_type="transcription", config={"hearing": hearing}
    )
    update = await server.connections[-1].wait_for_received("transcription_session.update")
    assert update["session"] == {
        "input_audio_format": "g711_alaw",
        "input_audio_transcription": {"model": "whisper-1", "language": "en"},
        "input_audio_noise_reduction": {"type": "far_field"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
    }
    for dropped in ("delay", "strength", "idle_timeout_ms"):
        assert dropped in caplog.text
    await eventually(lambda: (client.session or {}).get("input_audio_format") == "g711_alaw")
    assert server.connections[-1].session.input_audio_format == "g711_alaw"
    await client.disconnect()


async def test_a_refused_beta_transcription_field_is_reported(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, dialect="beta", session_type="transcription")
    errors = collect(client, "error")
    client.update_session(transcription={"model": "gpt-4o-transcribe-diarize"})
    await eventually(lambda: len(errors) == 1)
    assert errors[0]["error"].param == "session.input_audio_transcription.model"
    await client.disconnect()
