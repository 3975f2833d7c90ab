"""Responses with parameters, out-of-band responses, retrieve and delete, over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from reliability import collect, eventually

from realtime_widget.client.client import RealtimeClient
from realtime_widget.client.requested import ResponseResult
from realtime_widget.core.errors import AnswerTimeoutError, ServerError, UsageError
from realtime_widget.server import LocalRealtimeServer

pytestmark = pytest.mark.asyncio

_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
    "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


async def connected(server: LocalRealtimeServer) -> RealtimeClient:
    client = RealtimeClient(url=server.url, config={"hearing": {"turn_detection": None}})
    await client.connect()
    return client


def sent(server: LocalRealtimeServer, kind: str) -> list[dict[str, Any]]:
    return [e for e in server.connections[-1].received if e.get("type") == kind]


async def test_create_response_sends_the_checked_fields_and_returns_true(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    done = collect(client.realtime, "server.response.done")
    assert client.create_response(
        instructions="answer in one word",
        output_modalities=["text"],
        metadata={"topic": "greeting"},
        max_output_tokens=50,
        tool_choice="none",
        audio={"output": {"voice": "marin", "format": "pcm16"}},
    )
    await eventually(lambda: bool(done))
    create = sent(server, "response.create")[-1]
    assert create["response"]["metadata"] == {"topic": "greeting"}
    assert create["response"]["audio"] == {
        "output": {"voice": "marin", "format": {"type": "audio/pcm", "rate": 24000}}
    }
    assert done[0]["response"]["metadata"] == {"topic": "greeting"}
    assert done[0]["response"]["output_modalities"] == ["text"]
    await client.disconnect()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"conversation": "other"}, "conversation"),
        ({"output_modalities": ["text", "audio"]}, "output_modalities"),
        ({"metadata": {"k": 1}}, "metadata['k']"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"audio": {"output": {"voice": 3}}}, "audio.output.voice"),
        ({"input": [{"type": "item_reference"}]}, "input[0].id"),
        ({"temperature": 0.7}, "'temperature'"),
        ({"reasoning": {"effort": "huge"}}, "reasoning.effort"),
    ],
)
async def test_a_bad_response_field_is_refused_naming_it(
    server: LocalRealtimeServer, fields: dict[str, Any], named: str
) -> None:
    client = await connected(server)
    with pytest.raises(UsageError, match=named.replace("[", r"\[").replace("]", r"\]")):
        client.create_response(**fields)
    await asyncio.sleep(0.05)
    assert sent(server, "response.create") == []
    await client.disconnect()


async def test_an_out_of_band_response_returns_its_result_and_stays_out(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    client.send_user_message_content("hello there")
    await client.realtime.wait_for_next("server.response.done", 5)
    before = [item["id"] for item in client.get_conversation_items()]
    appended = collect(client, "conversation.item.appended")
    updated = collect(client, "conversation.updated")
    result = await client.respond_out_of_band(
        instructions="classify the conversation",
        input=[
            {"type": "item_reference", "id": before[0]},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "one word please"}],
            },
        ],
        metadata={"purpose": "classification"},
        output_modalities=["text"],
        timeout=5,
    )
    assert isinstance(result, ResponseResult)
    assert result.status == "completed"
    assert result.metadata == {"purpose": "classification"}
    assert result.text and result.output[0]["formatted"]["text"] == result.text
    assert result.usage is not None and result.usage["total_tokens"] > 0
    # never in the conversation, its events, or what a reconnect replays
    assert [item["id"] for item in client.get_conversation_items()] == before
    assert appended == [] and updated == []
    item_id = result.output[0]["id"]
    assert client.conversation.get_out_of_band_item(item_id) is result.output[0]
    assert item_id not in [stored.id for stored in server.connections[-1].conversation.items()]
    await client.disconnect()


async def test_an_out_of_band_audio_response_has_its_audio_and_transcript(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    result = await client.respond_out_of_band(
        input=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ],
        output_modalities=["audio"],
        timeout=10,
    )
    formatted = result.output[0]["formatted"]
    assert formatted["transcript"] and len(formatted["audio"]) > 0
    assert result.text == formatted["transcript"]
    assert client.get_conversation_items() == []
    await client.disconnect()


async def test_a_refused_out_of_band_response_raises_for_its_caller_alone(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    server.stall_responses = True  # the first response never finishes on its own
    client.send_user_message_content("a long answer")
    await client.realtime.wait_for_next("server.response.created", 5)
    with pytest.raises(ServerError, match="conversation_already_has_active_response") as refused:
        await client.respond_out_of_band(instructions="summarise", timeout=5)
    assert refused.value.code == "conversation_already_has_active_response"
    assert errors == []  # the caller heard of it: not dispatched as well
    creates = len(sent(server, "response.create"))
    client.cancel_response()
    await client.realtime.wait_for_next("server.response.done", 5)
    await asyncio.sleep(0.1)
    assert len(sent(server, "response.create")) == creates  # never asked again, in any form
    await client.disconnect()


async def test_waiting_for_an_out_of_band_response_times_out_and_ends_with_the_session(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    server.stall_responses = True
    with pytest.raises(AnswerTimeoutError, match=r"no response within 0\.2s"):
        await client.respond_out_of_band(instructions="slow", timeout=0.2)
    client.cancel_response()
    await client.realtime.wait_for_next("server.response.done", 5)
    waiting = asyncio.ensure_future(client.respond_out_of_band(instructions="again"))
    await client.realtime.wait_for_next("server.response.created", 5)
    await client.disconnect()
    with pytest.raises(Exception, match="disconnect"):
        await waiting


async def test_retrieve_item_returns_the_item_and_delete_item_removes_it(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    client.send_user_message_content("keep this")
    await client.realtime.wait_for_next("server.response.done", 5)
    first = client.get_conversation_items()[0]
    item = await client.retrieve_item(first["id"], timeout=5)
    assert item is client.conversation.get_item(first["id"])
    assert item["content"][0]["text"] == "keep this"
    with pytest.raises(ServerError) as missing:
        await client.retrieve_item("item_nothing", timeout=5)
    assert "item_nothing" in str(missing.value)
    deleted = collect(client, "conversation.item.deleted")
    assert client.delete_item(first["id"])
    await eventually(lambda: bool(deleted))
    assert first["id"] not in client.conversation
    with pytest.raises(UsageError, match="item_id"):
        client.delete_item("")
    await client.disconnect()


async def test_an_image_keeps_its_detail(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    client.send_user_message_content([{"type": "input_image", "image": _PNG, "detail": "low"}])
    await client.realtime.wait_for_next("server.response.done", 5)
    part = sent(server, "conversation.item.create")[-1]["item"]["content"][0]
    assert part["detail"] == "low"
    stored = server.connections[-1].conversation.items()[0].item["content"][0]
    assert stored["detail"] == "low"
    with pytest.raises(UsageError, match="detail"):
        client.send_user_message_content([{"type": "input_image", "image": _PNG, "detail": "x"}])
    await client.disconnect()
