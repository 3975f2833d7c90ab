"""Every client event is valid on the wire: GA shapes by default, beta shapes on request.

Each event the client sends while exercising its whole surface is checked against the fields
the protocol allows for its type (see PROTOCOL.md), and the local server (which validates
like the real service) must answer none of them with an ``error``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from reliability import eventually

from realtime_widget.client.client import RealtimeClient
from realtime_widget.server import LocalRealtimeServer, synthesize

ALLOWED: dict[str, set[str]] = {
    "session.update": {"session"},
    "input_audio_buffer.append": {"audio"},
    "input_audio_buffer.commit": set(),
    "input_audio_buffer.clear": set(),
    "conversation.item.create": {"item", "previous_item_id"},
    "conversation.item.retrieve": {"item_id"},
    "conversation.item.truncate": {"item_id", "content_index", "audio_end_ms"},
    "conversation.item.delete": {"item_id"},
    "response.create": {"response"},
    "response.cancel": {"response_id"},
}
GA_SESSION = {
    "type",
    "model",
    "instructions",
    "output_modalities",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "truncation",
    "prompt",
    "include",
}
BETA_SESSION = {
    "modalities",
    "instructions",
    "voice",
    "input_audio_format",
    "output_audio_format",
    "input_audio_transcription",
    "input_audio_noise_reduction",
    "turn_detection",
    "tools",
    "tool_choice",
    "temperature",
    "max_response_output_tokens",
    "speed",
}
PARTS = {
    "ga": {"input_text", "input_audio", "input_image", "output_text"},
    "beta": {"input_text", "input_audio", "input_image", "text"},
}


def check_event(event: dict[str, Any], dialect: str) -> None:
    kind = event["type"]
    assert kind in ALLOWED, f"unknown client event {kind}"
    extra = set(event) - ALLOWED[kind] - {"type", "event_id"}
    assert not extra, f"{kind} has fields {extra}"
    assert isinstance(event["event_id"], str) and len(event["event_id"]) <= 32
    if kind == "session.update":
        session = event["session"]
        allowed = GA_SESSION if dialect == "ga" else BETA_SESSION
        assert set(session) <= allowed, f"session fields {set(session) - allowed}"
        if dialect == "ga":
            assert session["type"] == "realtime"
            assert session["output_modalities"] in (["audio"], ["text"])
            assert set(session["audio"]) <= {"input", "output"}
            assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
        for tool in session.get("tools", []):
            assert set(tool) <= {"type", "name", "description", "parameters"}
    if kind == "conversation.item.create":
        item = event["item"]
        if item["type"] == "message":
            assert {p["type"] for p in item["content"]} <= PARTS[dialect]
        elif item["type"] == "function_call_output":
            assert isinstance(item["output"], str) and isinstance(item["call_id"], str)
    if kind == "conversation.item.truncate":
        assert isinstance(event["audio_end_ms"], int) and event["audio_end_ms"] >= 0


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_every_client_event_is_valid(dialect: str) -> None:
    # ten times real time: fast, yet an answer is still streaming when it is cancelled
    async with LocalRealtimeServer(pace=10.0) as server:
        client = RealtimeClient(
            url=server.url,
            dialect=dialect,  # type: ignore[arg-type]
            reconnect=True,
            reconnect_delays=(0.01,),
            config={
                "model": {"instructions": "Be brief.", "temperature": 0.7},
                "hearing": {"input_audio_transcription": {"model": "gpt-4o-mini-transcribe"}},
                "knowledge": {
                    "scripts": [
                        {
                            "dialogues": [
                                {
                                    "prompts": ["ping"],
                                    "responses": [{"type": "message", "message": "pong"}],
                                }
                            ]
                        }
                    ]
                },
            },
        )
        sent: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        client.realtime.on("client.*", sent.append)
        client.on("error", errors.append)

        @client.tool
        def lookup(term: str) -> str:
            """Look a term up."""
            return f"{term}!"

        await client.connect()
        client.update_session(voice="cedar", turn_detection={"type": "server_vad"})
        client.send_user_message_content("ping")
        assert await client.wait_for_answer(10) is not None
        client.send_user_message_content("lookup for owls")
        assert await client.wait_for_answer(10) is not None
        pixels = np.full((4, 4, 3), 200, dtype=np.uint8)
        speech = np.asarray(synthesize("hi").samples, dtype=np.int16)
        client.send_user_message_content(
            [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image": pixels},
                {"type": "input_audio", "audio": speech},
            ]
        )
        assert await client.wait_for_answer(10) is not None
        # manual turn with audio, then an interrupted answer truncated where it was heard
        client.update_session(turn_detection=None)
        client.append_input_audio(speech)
        client.create_response()
        answer = await client.wait_for_answer(10)
        assert answer is not None
        client.send_user_message_content("a long enough answer to cut short please")
        await asyncio.sleep(0)
        await client.realtime.wait_for_next(
            "server.response.output_audio.delta"
            if dialect == "ga"
            else "server.response.audio.delta",
            5,
        )
        streaming = client.get_conversation_items()[-1]
        client.cancel_response(streaming["id"], 2400)
        await asyncio.sleep(0.2)
        # a reconnect replays the conversation: those events must be valid too
        waiting = asyncio.ensure_future(client.wait_for_next("reconnected", 5))
        await server.close_connections(1011, "blip")
        assert await waiting is not None
        await asyncio.sleep(0.2)
        await client.disconnect()

    assert [e for e in errors if e["type"] == "server_error"] == []
    kinds = {e["type"] for e in sent}
    assert {
        "session.update",
        "conversation.item.create",
        "response.create",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "response.cancel",
        "conversation.item.truncate",
    } <= kinds
    for event in sent:
        check_event(event, dialect)


@pytest.mark.parametrize("dialect", ["ga", "beta", "nested"])
async def test_a_function_tool_choice_is_accepted_by_the_server(dialect: str) -> None:
    async with LocalRealtimeServer(pace="fast") as server:
        client = RealtimeClient(url=server.url, dialect=dialect)  # type: ignore[arg-type]
        errors: list[dict[str, Any]] = []
        client.on("error", errors.append)

        @client.tool
        def lookup(term: str) -> str:
            """Look a term up."""
            return f"{term}!"

        await client.connect()
        client.update_session(tool_choice={"type": "function", "name": "lookup"})
        forced = {"type": "function", "name": "lookup"}
        await eventually(lambda: (client.session or {}).get("tool_choice") == forced)
        conn = server.connections[-1]
        sent = [e for e in conn.received if e["type"] == "session.update"][-1]
        if dialect != "nested":
            check_event(sent, dialect)
        await client.disconnect()
    assert errors == []
