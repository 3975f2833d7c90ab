"""What a client offers above its transport: its own properties and the events it dispatches."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import realtime_widget.client.client as client_module
from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.protocol import CLIENT_EVENTS
from realtime_widget.server import LocalRealtimeServer

pytestmark = pytest.mark.asyncio

EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


def collect(client: RealtimeClient, name: str) -> list[Any]:
    seen: list[Any] = []
    client.on(name, seen.append)
    return seen


async def answered(client: RealtimeClient, text: str) -> dict[str, Any]:
    client.send_user_message_content(text)
    answer = await client.wait_for_answer(10)
    assert answer is not None
    return answer


async def test_url_model_and_redactor_are_the_connection_s_and_read_only() -> None:
    client = RealtimeClient(
        url="ws://127.0.0.1:1/v1/realtime?token=secret-token", model="gpt-realtime-mini"
    )
    assert client.url == client.realtime.url == "ws://127.0.0.1:1/v1/realtime?token=<redacted>"
    assert client.model == "gpt-realtime-mini"
    assert client.redactor is client.realtime.redactor
    assert client.redactor("the secret-token leaked") == "the <redacted> leaked"
    for name in ("url", "model", "redactor"):
        with pytest.raises(AttributeError):
            setattr(client, name, None)


async def test_session_update_sent_is_the_event_as_sent(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(url=server.url, config={"model": {"instructions": "Be brief."}})
    sent = collect(client, "session.update.sent")
    await client.connect()
    connection = await server.wait_for_connection()
    received = await connection.wait_for_received("session.update")
    assert len(sent) == 1
    assert sent[0]["type"] == "session.update"
    assert sent[0]["event_id"] == received["event_id"]
    assert sent[0]["session"] == received["session"]
    client.update_session(instructions="Be very brief.")
    assert len(sent) == 2 and sent[1]["session"]["instructions"] == "Be very brief."
    await client.disconnect()


async def test_item_truncated_comes_once_the_conversation_applied_it(
    server: LocalRealtimeServer,
) -> None:
    client = RealtimeClient(url=server.url)
    await client.connect()
    answer = await answered(client, "hello")
    assert len(answer["formatted"]["audio"]) > 2400
    seen: list[tuple[dict[str, Any], int]] = []
    client.on(
        "conversation.item.truncated",
        lambda event: seen.append((event, len(answer["formatted"]["audio"]))),
    )
    client.realtime.send(
        "conversation.item.truncate",
        {"item_id": answer["id"], "content_index": 0, "audio_end_ms": 100},
    )
    event = await client.wait_for_next("conversation.item.truncated", 5)
    assert event["type"] == "conversation.item.truncated"
    assert (event["item_id"], event["audio_end_ms"]) == (answer["id"], 100)
    assert seen[0][1] == 2400  # the item was already cut when handlers ran
    await client.disconnect()


async def test_item_deleted_comes_once_the_item_is_gone(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(url=server.url)
    await client.connect()
    answer = await answered(client, "hello")
    held: list[bool] = []
    client.on(
        "conversation.item.deleted", lambda e: held.append(e["item_id"] in client.conversation)
    )
    client.realtime.send("conversation.item.delete", {"item_id": answer["id"]})
    event = await client.wait_for_next("conversation.item.deleted", 5)
    assert (event["type"], event["item_id"]) == ("conversation.item.deleted", answer["id"])
    assert held == [False]
    await client.disconnect()


async def test_a_truncation_the_conversation_cannot_apply_is_an_error_not_an_event(
    server: LocalRealtimeServer,
) -> None:
    client = RealtimeClient(url=server.url)
    await client.connect()
    truncated = collect(client, "conversation.item.truncated")
    errors = collect(client, "error")
    unknown = {
        "event_id": "event_truncated_nowhere",
        "type": "conversation.item.truncated",
        "item_id": "item_nowhere",
        "content_index": 0,
        "audio_end_ms": 10,
    }
    await server.send_raw(json.dumps(unknown))
    await client.wait_for_next("error", 5)
    assert truncated == [] and errors[0]["type"] == "protocol_error"
    await client.disconnect()


async def test_every_dispatched_event_is_documented() -> None:
    documented = client_module.__doc__ or ""
    readme = EVENTS_DOC.read_text()
    for name in CLIENT_EVENTS:
        assert f"``{name}``" in documented, name
        assert re.search(rf"`{re.escape(name)}`", readme), name
