"""Reconnect with context: abnormal closes reopen the session and replay the conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from realtime_widget.client import RealtimeClient
from realtime_widget.replay import HeardAudio, heard_text, replay_items
from realtime_widget.server import LocalRealtimeServer

FAST = (0.01, 0.05, 0.1)


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


async def _talk(client: RealtimeClient, text: str) -> dict[str, Any]:
    client.send_user_message_content(text)
    answer = await client.wait_for_answer(10)
    assert answer is not None
    return answer


def _created_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "conversation.item.create"]


async def test_abnormal_close_reconnects_and_replays(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=FAST)
    client.update_session(instructions="Remember everything.")

    @client.tool
    def add(a: int, b: int) -> int:
        return a + b

    events: list[tuple[str, Any]] = []
    for name in ("reconnecting", "reconnected", "close"):
        client.on(name, lambda e, name=name: events.append((name, e)))
    await client.connect()
    await _talk(client, "hello there")
    await _talk(client, "use add with 2 and 3")
    ids_before = [i["id"] for i in client.get_conversation_items()]
    first = server.connections[-1]

    waiting = asyncio.ensure_future(client.wait_for_next("reconnected", 5))
    await server.close_connections(1011, "server restarting")
    assert await waiting is not None, "no reconnected event"
    assert [name for name, _ in events] == ["close", "reconnecting", "reconnected"]
    assert events[0][1]["code"] == 1011
    assert client.is_connected()

    second = server.connections[-1]
    assert second is not first
    session = await second.wait_for_received("session.update")
    assert session["session"]["instructions"] == "Remember everything."
    assert [t["name"] for t in session["session"]["tools"]] == ["add"]
    await asyncio.sleep(0.1)
    replayed = _created_items(second.received)
    assert [i["id"] for i in replayed] == ids_before
    assert replayed[1]["content"] == [{"type": "output_text", "text": "You said: hello there."}]
    # the items never changed or doubled
    assert [i["id"] for i in client.get_conversation_items()] == ids_before
    # and the conversation goes on, with the server holding the whole context
    answer = await _talk(client, "still here?")
    assert answer["formatted"]["transcript"] == "You said: still here?"
    assert len(second.conversation.items()) == len(ids_before) + 2
    await client.disconnect()


async def test_session_length_limit_reconnects() -> None:
    async with LocalRealtimeServer(pace="fast", max_session_seconds=0.3) as server:
        client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=FAST)
        closes: list[dict[str, Any]] = []
        client.on("close", closes.append)
        await client.connect()
        await _talk(client, "quick one")
        await client.wait_for_next("reconnected", 5)
        assert closes[0]["code"] == 1001
        await _talk(client, "after the limit")
        await client.disconnect()


async def test_manual_disconnect_never_reconnects(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=FAST)
    tries: list[Any] = []
    client.on("reconnecting", tries.append)
    await client.connect()
    await client.disconnect()
    await asyncio.sleep(0.2)
    assert tries == [] and not client.is_connected()
    assert server.connections == []  # the one connection closed and none came back


async def test_normal_close_and_no_reconnect_option(server: LocalRealtimeServer) -> None:
    plain = RealtimeClient(url=server.url)
    tries: list[Any] = []
    plain.on("reconnecting", tries.append)
    await plain.connect()
    waiting = asyncio.ensure_future(plain.wait_for_next("close", 5))
    await server.close_connections(1011, "gone")
    assert await waiting is not None, "no close event"
    await asyncio.sleep(0.1)
    assert tries == [] and not plain.is_connected()
    # a normal close (1000) is not an abnormal one
    client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=FAST)
    client.on("reconnecting", tries.append)
    await client.connect()
    waiting = asyncio.ensure_future(client.wait_for_next("close", 5))
    await server.close_connections(1000, "bye")
    assert await waiting is not None, "no close event"
    await asyncio.sleep(0.1)
    assert tries == []


async def test_gives_up_after_the_last_delay() -> None:
    server = LocalRealtimeServer(pace="fast")
    await server.start()
    client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=(0.01, 0.01))
    errors: list[dict[str, Any]] = []
    client.on("error", errors.append)
    await client.connect()
    waiting = asyncio.ensure_future(client.wait_for_next("reconnecting", 2))
    await server.close_connections(1011, "down")
    await server.stop()
    assert await waiting is not None, "no reconnecting event"
    for _ in range(100):
        if any(e["type"] == "reconnect_failed" for e in errors):
            break
        await asyncio.sleep(0.02)
    failed = [e for e in errors if e["type"] == "reconnect_failed"]
    assert failed and "cannot connect" in str(failed[0]["error"])
    assert not client.is_connected()


async def test_tool_output_finished_while_disconnected_is_sent_after_reconnect(
    server: LocalRealtimeServer,
) -> None:
    client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=(0.3,))
    release = asyncio.Event()

    @client.tool
    async def slow_lookup(term: str) -> str:
        await release.wait()
        return f"found {term}"

    answers: list[dict[str, Any]] = []
    client.on(
        "conversation.item.completed",
        lambda e: answers.append(e["item"]) if e["item"].get("role") == "assistant" else None,
    )
    await client.connect()
    client.send_user_message_content("slow_lookup for cats")
    call = None
    while call is None:
        await asyncio.sleep(0.01)
        call = next(
            (i for i in client.get_conversation_items() if i["type"] == "function_call"), None
        )
    waiting = asyncio.ensure_future(client.wait_for_next("close", 5))
    await server.close_connections(1011, "blip")
    assert await waiting is not None, "no close event"
    release.set()
    await client.wait_for_next("reconnected", 5)
    for _ in range(500):
        if answers:
            break
        await asyncio.sleep(0.01)
    assert answers and "found cats" in answers[0]["formatted"]["transcript"]
    outputs = [
        i
        for i in _created_items(server.connections[-1].received)
        if i["type"] == "function_call_output" and i["call_id"] == call["call_id"]
    ]
    assert outputs
    await client.disconnect()


def test_replay_items_shapes() -> None:
    audio_item = {
        "id": "item_u1",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
        "formatted": {"audio": np.ones(4, dtype=np.int16), "transcript": "", "text": ""},
    }
    spoken = {
        "id": "item_a1",
        "type": "message",
        "role": "assistant",
        "status": "incomplete",
        "content": [{"type": "output_audio", "transcript": "cut here"}],
        "formatted": {"audio": np.ones(4, dtype=np.int16), "transcript": "cut here", "text": ""},
    }
    streaming = {**spoken, "id": "item_a2", "status": "in_progress"}
    silent = {**spoken, "id": "item_a3", "formatted": {"transcript": "", "text": ""}}
    ga = replay_items([audio_item, spoken, streaming, silent], "ga")
    assert [i["id"] for i in ga] == ["item_u1", "item_a1"]
    assert ga[0]["content"] == [{"type": "input_audio", "audio": "AQABAAEAAQA="}]
    assert ga[1]["content"] == [{"type": "output_text", "text": "cut here"}]
    beta = replay_items([spoken], "beta")
    assert beta[0]["content"] == [{"type": "text", "text": "cut here"}]
    assert replay_items([audio_item], "ga", include_audio=False) == []


def test_heard_text_cuts_in_proportion_at_a_word() -> None:
    item = {
        "id": "item_a",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "formatted": {"transcript": "", "text": "", "audio": np.zeros(600, dtype=np.int16)},
    }
    said = "The ships sail north over quiet water"
    # truncated after done: the transcript was dropped, the audio cut at 600 of 1000 samples
    assert heard_text(item, HeardAudio(600, said, 1000)) == "The ships sail north…"
    assert heard_text(item, HeardAudio(500, said, 1000)) == "The ships sail…"  # not "nor"
    assert heard_text(item, HeardAudio(0, said, 1000)) == ""
    assert heard_text(item, HeardAudio(1000, said, 1000)) == said
    assert heard_text(item, HeardAudio(20, said, 1000)) == ""  # not even the first word
    # truncated while streaming: what streamed in after it belongs to the answer too
    streaming = {**item, "formatted": {**item["formatted"], "transcript": " over quiet water"}}
    streaming["formatted"]["audio"] = np.zeros(600 + 300, dtype=np.int16)
    assert heard_text(streaming, HeardAudio(600, "The ships sail north", 700)) == (
        "The ships sail north…"
    )
    # not truncated (yet): the item's own transcript and audio
    whole = {**item, "formatted": {**item["formatted"], "transcript": said}}
    whole["formatted"]["audio"] = np.zeros(1000, dtype=np.int16)
    assert heard_text(whole, HeardAudio(600)) == "The ships sail north…"
    replayed = replay_items([item], "ga", heard={"item_a": HeardAudio(600, said, 1000)})
    assert replayed[0]["content"] == [{"type": "output_text", "text": "The ships sail north…"}]
    assert replay_items([item], "ga") == []  # without what was heard, nothing to say
