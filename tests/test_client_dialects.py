"""The client against the local server in the beta and nested dialects.

The GA dialect is covered turn by turn in ``test_client.py``; these run the same kinds of
turn (text, tools, cancel, voice activity) in the other two shapes, end to end over loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from test_client import collect, connected, next_completed

from realtime_widget.server import LocalRealtimeServer

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


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
