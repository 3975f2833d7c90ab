"""Every GA session field from the client through the local server, and back in session.updated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from session_samples import EVERY_FIELD, undeclared
from test_client import collect, connected, eventually

from realtime_widget.client.client import RealtimeClient
from realtime_widget.server import LocalRealtimeServer

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


async def update_every_field(client: RealtimeClient) -> dict[str, Any]:
    """Set every field and return the server's answer to that update."""
    seen = collect(client.realtime, "server.session.updated")
    client.update_session(**EVERY_FIELD)

    def answered() -> bool:
        return any(e["session"]["instructions"] == EVERY_FIELD["instructions"] for e in seen)

    await eventually(answered)
    return next(e for e in seen if e["session"]["instructions"] == EVERY_FIELD["instructions"])


async def test_every_field_round_trips_through_the_local_server(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    updated = await update_every_field(client)
    assert errors == []
    session = updated["session"]
    audio = session["audio"]
    assert audio["output"]["voice"] == {"id": "voice_1234"}
    assert audio["output"]["speed"] == 1.2
    assert audio["output"]["format"] == {"type": "audio/pcma"}
    assert audio["input"]["format"] == {"type": "audio/pcmu"}
    assert audio["input"]["transcription"] == EVERY_FIELD["transcription"]
    assert audio["input"]["noise_reduction"] == EVERY_FIELD["noise_reduction"]
    assert audio["input"]["turn_detection"] == EVERY_FIELD["turn_detection"]
    assert session["instructions"] == "Be brief."
    assert session["output_modalities"] == ["text"]
    assert session["tool_choice"] == {"type": "function", "name": "add"}
    assert session["max_output_tokens"] == 4096
    for name in ("tracing", "truncation", "prompt", "include", "parallel_tool_calls", "reasoning"):
        assert session[name] == EVERY_FIELD[name], name
    await client.disconnect()


async def test_the_sdk_types_take_what_the_client_sent_and_the_server_answered(
    server: LocalRealtimeServer,
) -> None:
    pytest.importorskip("openai")
    from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
    from pydantic import TypeAdapter

    client = await connected(server)
    updated = await update_every_field(client)
    sent = [e for e in server.connections[-1].received if e["type"] == "session.update"][-1]
    parsed: Any = TypeAdapter(RealtimeClientEvent).validate_python(sent)
    assert undeclared(parsed) == []
    parsed = TypeAdapter(RealtimeServerEvent).validate_python(updated)
    assert parsed.session.reasoning.effort == "low"
    assert parsed.session.truncation.retention_ratio == 0.8
    await client.disconnect()
