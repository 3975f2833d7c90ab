"""The client against the local server in the beta and nested dialects.

The GA dialect is covered turn by turn in ``test_client.py``; these run the same kinds of
turn (text, tools, cancel, voice activity) in the other two shapes, end to end over loopback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from test_client import collect, connected, eventually, next_completed, speech_with_silence

from realtime_widget.server import LocalRealtimeServer, synthesize

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


# -- beta -----------------------------------------------------------------------------------


async def test_beta_tool_round_trip(server: LocalRealtimeServer) -> None:
    client = await connected(server, dialect="beta")
    wire = collect(client.realtime, "server.*")
    errors = collect(client, "error")

    @client.tool
    def get_weather(city: str) -> dict[str, Any]:
        """Get the weather.

        Args:
            city: The city to look up.
        """
        return {"city": city, "sky": "sunny"}

    client.register_tool(  # the reference client's way: the handler gets the arguments dict
        {"name": "calculate", "parameters": {"properties": {"expression": {"type": "string"}}}},
        lambda args: {"expression": args["expression"], "value": 4},
    )
    client.send_user_message_content("please get_weather for Paris")
    answer = await next_completed(client, "assistant", timeout=10)
    assert "sunny" in answer["formatted"]["transcript"]
    conn = server.connections[-1]
    assert conn.dialect == "beta"
    sessions = [e["session"] for e in conn.received if e["type"] == "session.update"]
    assert {t["name"] for t in sessions[-1]["tools"]} == {"get_weather", "calculate"}
    assert "type" not in sessions[-1]  # the flat beta shape
    outputs = [
        e["item"]
        for e in conn.received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    assert json.loads(outputs[0]["output"]) == {"city": "Paris", "sky": "sunny"}
    assert [e["type"] for e in conn.received].count("response.create") == 2
    kinds = {e["type"] for e in wire}
    assert "response.audio.delta" in kinds and "response.output_audio.delta" not in kinds
    assert "response.function_call_arguments.done" in kinds
    # the beta event names no function: the client takes the name from the item
    assert all("name" not in e for e in wire if e["type"].startswith("response.function_call_"))
    calls = [i for i in client.get_conversation_items() if i["type"] == "function_call"]
    assert calls[0]["formatted"]["tool"]["name"] == "get_weather"
    assert calls[0]["status"] == "completed"
    assert errors == []
    await client.disconnect()


async def test_beta_cancel_and_truncate_at_played_position() -> None:
    async with LocalRealtimeServer(pace="realtime") as paced:
        client = await connected(paced, dialect="beta")
        appended = collect(client, "conversation.item.appended")
        client.send_user_message_content("tell me a long story about the sea and the ships")
        await client.realtime.wait_for_next("server.response.audio.delta", 5)
        item = next(e["item"] for e in appended if e["item"]["role"] == "assistant")
        await asyncio.sleep(0.5)
        received = len(item["formatted"]["audio"])
        assert received > 0
        played = received // 2
        wire = collect(client.realtime, "server.*")
        assert client.cancel_response(item["id"], played)["item"] is item

        def first(kind: str) -> dict[str, Any] | None:
            return next((e for e in wire if e["type"] == kind), None)

        await eventually(lambda: first("conversation.item.truncated") is not None)
        await eventually(lambda: first("response.done") is not None)
        done = first("response.done")
        assert done is not None and done["response"]["status"] == "cancelled"
        truncated = first("conversation.item.truncated")
        assert truncated is not None and truncated["audio_end_ms"] == played * 1000 // 24_000
        assert len(item["formatted"]["audio"]) == played * 1000 // 24_000 * 24
        sent = [e["type"] for e in paced.connections[-1].received]
        assert sent.count("response.cancel") == 1
        await client.disconnect()


async def test_beta_voice_activity_audio_turn(server: LocalRealtimeServer) -> None:
    client = await connected(
        server,
        dialect="beta",
        config={"hearing": {"input_audio_transcription": {"model": "whisper-1"}}},
    )
    errors = collect(client, "error")
    interrupted = collect(client, "conversation.interrupted")
    audio = speech_with_silence("hello there")
    for start in range(0, audio.size, 2400):
        client.append_input_audio(audio[start : start + 2400])
    user = await next_completed(client, "user", timeout=10)
    answer = await next_completed(client, "assistant", timeout=10)
    assert len(interrupted) == 1
    heard = np.asarray(user["formatted"]["audio"])
    assert len(synthesize("hello there").samples) <= heard.size <= audio.size
    assert np.abs(heard.astype(np.int32)).max() > 1000
    assert answer["formatted"]["transcript"] == "You said: hello there."
    await eventually(lambda: user["formatted"]["transcript"] == "hello there")
    assert [e["type"] for e in server.connections[-1].received].count("response.create") == 0
    assert errors == []
    await client.disconnect()


# -- nested ---------------------------------------------------------------------------------


async def test_nested_session_with_ga_format_objects_is_accepted(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(
        server,
        dialect="nested",
        config={
            "model": {"instructions": "Be brief.", "tool_choice": "auto"},
            "speech": {"voice": "sage", "output_audio_format": {"type": "audio/pcm"}},
            "hearing": {"input_audio_format": {"type": "audio/pcm", "rate": 24000}},
        },
    )
    errors = collect(client, "error")
    updated = await client.realtime.wait_for_next("server.session.updated", 5)
    assert updated is not None
    session = updated["session"]
    assert session["instructions"] == "Be brief."
    assert session["audio"]["output"]["voice"] == "sage"
    conn = server.connections[-1]
    sent = (await conn.wait_for_received("session.update"))["session"]
    assert sent["speech"]["output_audio_format"] == "pcm16"  # the seed's own spelling
    assert client.send_user_message_content("good evening")
    answer = await next_completed(client, "assistant")
    assert answer["formatted"]["transcript"] == "You said: good evening."
    assert errors == []
    await client.disconnect()
