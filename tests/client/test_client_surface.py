"""What a RealtimeClient shows of its connection, and the events it dispatches on itself for
what it sends and what the server changes, against the local server over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from realtime_widget.client.client import RealtimeClient
from realtime_widget.server import LocalRealtimeServer

pytestmark = pytest.mark.asyncio

KEY = "sk-surface-secret-0123456789"


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.01)


async def test_url_model_and_redactor_are_the_connections_and_read_only(
    server: LocalRealtimeServer,
) -> None:
    client = RealtimeClient(url=server.url, api_key=KEY, model="gpt-realtime-mini")
    assert client.url == server.url
    assert client.model == "gpt-realtime-mini"
    assert client.redactor(f"key {KEY}") == "key <redacted>"
    assert client.redactor.value({"auth": KEY}) == {"auth": "<redacted>"}
    for name in ("url", "model", "redactor"):
        with pytest.raises(AttributeError):
            setattr(client, name, None)
    client.realtime.url = f"{server.url}?api_key=another-token-123456"
    assert client.url == f"{server.url}?api_key=<redacted>"
    assert client.redactor("another-token-123456") == "<redacted>"


async def test_every_session_update_sent_is_dispatched_as_sent(
    server: LocalRealtimeServer,
) -> None:
    client = RealtimeClient(url=server.url, api_key=KEY)
    sent: list[dict[str, Any]] = []
    client.on("session.update.sent", sent.append)
    await client.connect()
    client.update_session(instructions="Be brief.")
    conn = server.connections[-1]

    def received() -> list[dict[str, Any]]:
        return [e for e in conn.received if e["type"] == "session.update"]

    await eventually(lambda: len(received()) == 2)
    assert [e["type"] for e in sent] == ["session.update", "session.update"]
    assert [e["event_id"] for e in sent] == [e["event_id"] for e in received()]
    assert sent[1]["session"] == received()[1]["session"]
    assert sent[1]["session"]["instructions"] == "Be brief."
    await client.disconnect()


async def test_truncated_and_deleted_items_are_dispatched_once_applied(
    server: LocalRealtimeServer,
) -> None:
    client = RealtimeClient(url=server.url, api_key=KEY)
    await client.connect()
    client.send_user_message_content("hi")
    answer = await client.wait_for_answer(5)
    assert answer is not None and len(answer["formatted"]["audio"]) > 2400
    order: list[str] = []
    seen: list[tuple[str, dict[str, Any], int, bool]] = []

    def on_update(event: dict[str, Any]) -> None:
        if event["item"]["id"] == answer["id"]:
            order.append("conversation.updated")

    def recorder(kind: str) -> Callable[[dict[str, Any]], None]:
        def record(event: dict[str, Any]) -> None:
            order.append(kind)
            audio = len(answer["formatted"]["audio"])
            seen.append((kind, event, audio, answer["id"] in client.conversation))

        return record

    client.on("conversation.updated", on_update)
    client.on("conversation.item.truncated", recorder("truncated"))
    client.on("conversation.item.deleted", recorder("deleted"))

    client.cancel_response(answer["id"], 2400)  # 100 ms played: the rest is cut
    await eventually(lambda: len(seen) == 1)
    kind, event, audio, held = seen[0]
    assert kind == "truncated" and held
    assert event["type"] == "conversation.item.truncated"
    assert (event["item_id"], event["audio_end_ms"]) == (answer["id"], 100)
    assert audio == 2400  # the conversation applied it first

    client.realtime.send("conversation.item.delete", {"item_id": answer["id"]})
    await eventually(lambda: len(seen) == 2)
    kind, event, _, held = seen[1]
    assert kind == "deleted" and not held
    assert (event["type"], event["item_id"]) == ("conversation.item.deleted", answer["id"])
    # each after the conversation.updated of the same event
    assert order == ["conversation.updated", "truncated", "conversation.updated", "deleted"]
    await client.disconnect()
