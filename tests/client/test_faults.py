"""Faults survived: the local server misbehaves on purpose and the client ends each fault in
an ``error`` event or a clean state, never in a dead session or a lost item.

Each test injects one kind of fault, then checks three things: what the client reported (an
``error`` event carrying a :class:`RealtimeError`, or a ``close`` event), that the items held
before the fault are all still there and unchanged, and that a text turn still gets its
answer afterwards. Events are awaited with waits started before the action that causes them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest
from reliability import (
    FAST_RECONNECT,
    audio_delta,
    closed_by_loss,
    collect,
    created_items,
    eventually,
    function_outputs,
    item_ids,
    snapshot,
    talk,
)
from websockets.asyncio.server import ServerConnection, serve

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import (
    ConnectionClosedError,
    InvalidEventError,
    ProtocolError,
    RealtimeError,
    ToolError,
    UnknownItemError,
)
from realtime_widget.server import LocalRealtimeServer, serve_in_thread, synthesize


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


async def connected(server: LocalRealtimeServer, **options: Any) -> RealtimeClient:
    client = RealtimeClient(url=server.url, **options)
    await client.connect()
    return client


async def stalled_answer(
    client: RealtimeClient, server: LocalRealtimeServer, text: str
) -> dict[str, Any]:
    """Start a turn whose answer sends one audio chunk and then hangs; returns that item."""
    server.stall_responses = True
    first_delta = asyncio.ensure_future(
        client.realtime.wait_for_next("server.response.output_audio.delta", 5)
    )
    client.send_user_message_content(text)
    delta = await first_delta
    assert delta is not None, "the stalled answer sent no audio"
    server.stall_responses = False  # later responses run normally
    item = client.conversation.get_item(delta["item_id"])
    assert item is not None and item["status"] == "in_progress"
    assert len(item["formatted"]["audio"]) == 2400  # one 100 ms chunk
    return item


def only_realtime_errors(errors: list[dict[str, Any]]) -> None:
    assert all(isinstance(e["error"], RealtimeError) for e in errors), errors


# -- the transport -----------------------------------------------------------------------------


async def test_server_closing_mid_response_keeps_items_and_reconnects(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, reconnect=True, reconnect_delays=FAST_RECONNECT)
    closes = collect(client, "close")
    errors = collect(client, "error")
    await talk(client, "before the fault")
    partial = await stalled_answer(client, server, "a reply cut in the middle")
    before = snapshot(client)
    first = server.connections[-1]

    reconnected = asyncio.ensure_future(client.wait_for_next("reconnected", 5))
    await server.close_connections(1011, "internal error")
    assert await reconnected is not None, "no reconnected event"
    assert [(c["code"], c["reason"], c["error"]) for c in closes] == [
        (1011, "internal error", True)
    ]
    assert isinstance(closes[0]["exception"], ConnectionClosedError)
    # every item is kept, the half-said answer with the audio that arrived, closed incomplete
    assert snapshot(client) == closed_by_loss(before)
    assert client.conversation.get_item(partial["id"]) is partial
    assert partial["status"] == "incomplete"

    second = server.connections[-1]
    assert second is not first
    await talk(client, "after the fault")
    kept = {row[0]: row for row in snapshot(client)}
    assert all(kept[row[0]][3:] == row[3:] for row in before)  # same audio and words
    assert len(kept) == len(before) + 2
    # every item, the cut answer with what was said of it, was replayed with its id
    replayed_ids = {i.get("id") for i in created_items(second.received)}
    assert {row[0] for row in before} <= replayed_ids
    assert errors == []
    await client.disconnect()


async def test_half_written_frame_is_an_abnormal_close(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    await talk(client, "one whole turn")
    before = snapshot(client)

    closing = asyncio.ensure_future(client.wait_for_next("close", 5))
    await server.break_connections()
    close = await closing
    assert close is not None, "no close event"
    assert close["code"] == 1006 and close["error"] is True
    assert isinstance(close["exception"], ConnectionClosedError)
    assert close["exception"].code == 1006
    assert not client.is_connected()
    assert snapshot(client) == before
    assert errors == []  # the cut frame is the transport's loss, not a protocol error
    # nothing is left half-open: the client connects again and goes on
    await client.connect()
    await talk(client, "a new session")
    assert item_ids(client)[:2] == [row[0] for row in before]
    await client.disconnect()


async def test_sending_after_a_lost_connection_says_why(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    closing = asyncio.ensure_future(client.wait_for_next("close", 5))
    await server.close_connections(1011, "injected failure")
    assert await closing is not None
    with pytest.raises(ConnectionClosedError, match="injected failure") as info:
        client.send_user_message_content("anyone there?")
    assert info.value.code == 1011
    await client.disconnect()


async def test_a_clean_close_before_the_session_keeps_its_reason() -> None:
    async def refuse(ws: ServerConnection) -> None:
        await ws.close(1000, "down for maintenance")

    async with serve(refuse, "127.0.0.1", 0) as running:
        port = running.sockets[0].getsockname()[1]
        client = RealtimeClient(url=f"ws://127.0.0.1:{port}/v1/realtime")
        with pytest.raises(ConnectionClosedError) as info:
            await client.connect()
        assert (info.value.code, info.value.reason) == (1000, "down for maintenance")


@pytest.mark.wire_faults
async def test_bad_frames_in_a_row_leave_one_connection_open(server: LocalRealtimeServer) -> None:
    client = await connected(server, reconnect=True, reconnect_delays=FAST_RECONNECT)
    errors = collect(client, "error")
    closes = collect(client, "close")
    deep = '{"type": "x", "a": ' + "[" * 50_000 + "]" * 50_000 + "}"
    for _ in range(3):
        await server.send_raw(deep)
        await server.send_raw('{"type": "x", "n": ' + "1" * 5000 + "}")
    await talk(client, "still the same session")
    assert len(errors) == 6 and closes == []
    assert len(server.connections) == 1
    await client.disconnect()


async def test_half_written_frame_mid_answer_reconnects_with_items(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, reconnect=True, reconnect_delays=FAST_RECONNECT)
    closes = collect(client, "close")
    errors = collect(client, "error")
    await talk(client, "first turn")
    await stalled_answer(client, server, "second turn cut short")
    before = snapshot(client)

    reconnected = asyncio.ensure_future(client.wait_for_next("reconnected", 5))
    await server.break_connections()
    event = await reconnected
    assert event is not None, "no reconnected event"
    assert event["replayed"] >= 3  # first turn (2 items) and the second user message
    assert [(c["code"], c["error"]) for c in closes] == [(1006, True)]
    assert snapshot(client) == closed_by_loss(before)
    await talk(client, "third turn")
    kept = {row[0]: row for row in snapshot(client)}
    assert all(kept[row[0]][3:] == row[3:] for row in before)
    assert len(kept) == len(before) + 2
    assert errors == []
    await client.disconnect()


async def test_an_answer_cut_by_a_lost_connection_keeps_its_place(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, reconnect=True, reconnect_delays=FAST_RECONNECT)
    await talk(client, "before the fault")
    partial = await stalled_answer(client, server, "a reply cut in the middle")
    reconnected = asyncio.ensure_future(client.wait_for_next("reconnected", 5))
    await server.close_connections(1011, "internal error")
    assert await reconnected is not None, "no reconnected event"
    await talk(client, "after the fault")
    try:
        # nothing will ever finish the cut answer: it is closed as incomplete ...
        assert partial["status"] == "incomplete"
        # ... and the conversation keeps its order: the next turn comes after it
        ids = item_ids(client)
        assert ids.index(partial["id"]) == 3 and len(ids) == 6
    finally:
        await client.disconnect()


# -- frames the client cannot apply ----------------------------------------------------------

_GHOST = "item_ghost"
BAD_FRAMES: dict[str, tuple[str | bytes, type[ProtocolError], str]] = {
    "binary frame": (b"\x00\x01\x02\x03", ProtocolError, "binary frame of 4 bytes"),
    "invalid json": ('{"type": "response.done", ', ProtocolError, "invalid json"),
    # json.loads raises RecursionError and ValueError for these, not JSONDecodeError
    "json nested too deeply": (
        '{"type": "response.done", "a": ' + "[" * 100_000 + "]" * 100_000 + "}",
        ProtocolError,
        "nested too deeply",
    ),
    "a number of 5,000 digits": (
        '{"type": "rate_limits.updated", "n": ' + "9" * 5000 + "}",
        ProtocolError,
        "5000 digits",
    ),
    "json not an object": ('["response.done"]', InvalidEventError, "must be a json object"),
    "no type": ('{"event_id": "event_1", "delta": "hi"}', InvalidEventError, "'type'"),
    "type not a string": ('{"type": 7}', InvalidEventError, "'type'"),
    "delta for an unknown item": (audio_delta(_GHOST, "AAAA"), UnknownItemError, _GHOST),
    "truncate of an unknown item": (
        json.dumps(
            {
                "type": "conversation.item.truncated",
                "item_id": _GHOST,
                "content_index": 0,
                "audio_end_ms": 10,
            }
        ),
        UnknownItemError,
        _GHOST,
    ),
    "done of an unknown content part": (
        json.dumps(
            {
                "type": "response.output_text.done",
                "response_id": "resp_x",
                "item_id": _GHOST,
                "output_index": 0,
                "content_index": 0,
                "text": "never streamed",
            }
        ),
        UnknownItemError,
        _GHOST,
    ),
}


@pytest.mark.wire_faults
@pytest.mark.parametrize("name", list(BAD_FRAMES))
async def test_a_bad_frame_is_an_error_event_and_the_session_goes_on(
    server: LocalRealtimeServer, name: str
) -> None:
    frame, kind, named = BAD_FRAMES[name]
    client = await connected(server)
    await talk(client, "before the bad frame")
    before = snapshot(client)
    errors = collect(client, "error")

    failing = asyncio.ensure_future(client.wait_for_next("error", 5))
    await server.send_raw(frame)
    assert await failing is not None, "no error event"
    assert len(errors) == 1
    assert isinstance(errors[0]["error"], kind)
    assert named in str(errors[0]["error"])
    assert client.is_connected()
    assert snapshot(client) == before
    await talk(client, "after the bad frame")
    assert len(errors) == 1
    await client.disconnect()


@pytest.mark.wire_faults
async def test_unknown_event_types_are_dispatched_not_errors(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    before = snapshot(client)
    newcomers = collect(client.realtime, "server.response.brand_new.*")
    arrived = asyncio.ensure_future(
        client.realtime.wait_for_next("server.response.brand_new.delta", 5)
    )
    await server.send_raw(
        json.dumps({"event_id": "event_1", "type": "response.brand_new.delta", "item_id": _GHOST})
    )
    await server.send_raw(json.dumps({"event_id": "event_2", "type": "response.brand_new.done"}))
    event = await arrived
    assert event is not None and event["item_id"] == _GHOST
    await talk(client, "after the newcomers")
    assert [e["type"] for e in newcomers] == ["response.brand_new.delta", "response.brand_new.done"]
    assert errors == []
    assert snapshot(client)[: len(before)] == before
    await client.disconnect()


@pytest.mark.parametrize(
    ("delta", "problem"),
    [
        ("AAAA", "odd number of bytes (3)"),  # 3 bytes: not whole PCM16 samples
        ("AQID", "odd number of bytes (3)"),
        ("not base64!", "is not valid base64"),
        ("AAA", "is not valid base64"),  # bad padding
    ],
)
async def test_a_bad_audio_delta_leaves_the_item_unchanged(
    server: LocalRealtimeServer, delta: str, problem: str
) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    item = await stalled_answer(client, server, "hold that thought")
    audio_before = np.asarray(item["formatted"]["audio"]).copy()

    failing = asyncio.ensure_future(client.wait_for_next("error", 5))
    await server.send_raw(audio_delta(item["id"], delta))
    assert await failing is not None, "no error event"
    error = errors[0]["error"]
    assert isinstance(error, InvalidEventError) and error.field == "delta"
    assert problem in str(error) and "response.output_audio.delta" in str(error)
    np.testing.assert_array_equal(np.asarray(item["formatted"]["audio"]), audio_before)
    # a valid delta for the same item still lands: the item was not poisoned
    grown = asyncio.ensure_future(client.wait_for_next("conversation.updated", 5))
    await server.send_raw(audio_delta(item["id"], "AQACAA=="))
    assert await grown is not None
    assert np.asarray(item["formatted"]["audio"])[-2:].tolist() == [1, 2]
    # the hung answer can still be cancelled, and the session goes on
    done = asyncio.ensure_future(client.realtime.wait_for_next("server.response.done", 5))
    client.cancel_response(item["id"], 1200)
    finished = await done
    assert finished is not None and finished["response"]["status"] == "cancelled"
    await talk(client, "and now?")
    assert len(errors) == 1
    await client.disconnect()


# -- a response that never finishes ----------------------------------------------------------


async def test_a_response_that_never_finishes(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    completed = collect(client, "conversation.item.completed")
    item = await stalled_answer(client, server, "this answer will hang")
    assert await client.wait_for_answer(0.3) is None
    assert item["status"] == "in_progress"

    done = asyncio.ensure_future(client.realtime.wait_for_next("server.response.done", 5))
    truncated = asyncio.ensure_future(
        client.realtime.wait_for_next("server.conversation.item.truncated", 5)
    )
    result = client.cancel_response(item["id"], 1200)
    assert result["item"] is item
    assert await truncated is not None, "no truncation"
    finished = await done
    assert finished is not None
    assert finished["response"]["status"] == "cancelled"
    assert finished["response"]["status_details"]["reason"] == "client_cancelled"
    await eventually(lambda: item["status"] == "incomplete")
    await eventually(lambda: any(e["item"] is item for e in completed))
    assert len(item["formatted"]["audio"]) == 1200  # truncated where playback stopped
    sent = [e["type"] for e in server.connections[-1].received]
    assert sent[-2:] == ["response.cancel", "conversation.item.truncate"]
    answer = await talk(client, "are you back?")
    assert answer["status"] == "completed"
    assert errors == []
    await client.disconnect()


# -- tools that misbehave --------------------------------------------------------------------

_RELEASE = threading.Event()


class _Opaque:
    def __str__(self) -> str:
        return "an opaque object"


class _BrokenModel:
    """Looks like a pydantic model whose dump fails."""

    def model_dump(self) -> dict[str, Any]:
        raise RuntimeError("cannot dump")


def _circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


async def _hang_async() -> str:
    await asyncio.sleep(30)
    return "too late"


def _hang_sync() -> str:
    _RELEASE.wait(30)
    return "too late"


def _raises() -> str:
    raise KeyError("no such record")


# name -> (handler, timeout, check of the output the server received, is it a failure)
TOOL_FAULTS: dict[str, tuple[Callable[..., Any], float, Callable[[str], bool], bool]] = {
    "raises": (_raises, 5.0, lambda out: "no such record" in json.loads(out)["error"], True),
    "hangs_async": (_hang_async, 0.2, lambda out: "timed out" in json.loads(out)["error"], True),
    "hangs_sync": (_hang_sync, 0.2, lambda out: "timed out" in json.loads(out)["error"], True),
    "huge": (
        lambda: "x" * 10_000_000,
        5.0,
        lambda out: "is over the limit of" in json.loads(out)["error"],
        True,
    ),
    "circular": (
        _circular,
        5.0,
        lambda out: "cannot be serialised" in json.loads(out)["error"],
        True,
    ),
    # documented conversions (tools.serialise_result): a set is a sorted array, an object
    # its str(); the model gets a readable output, not an error
    "gives_set": (lambda: {3, 1, 2}, 5.0, lambda out: json.loads(out) == [1, 2, 3], False),
    "gives_object": (
        lambda: _Opaque(),
        5.0,
        lambda out: json.loads(out) == "an opaque object",
        False,
    ),
}


@pytest.mark.parametrize("name", list(TOOL_FAULTS))
async def test_a_misbehaving_tool_still_answers_the_model(
    server: LocalRealtimeServer, name: str
) -> None:
    handler, timeout, check, fails = TOOL_FAULTS[name]
    _RELEASE.clear()
    client = await connected(server)
    errors = collect(client, "error")
    client.tool(name=name, timeout=timeout)(handler)
    started = time.monotonic()
    client.send_user_message_content(f"call {name}")
    answer = await client.wait_for_answer(10)
    assert answer is not None, "the model was left waiting"
    assert time.monotonic() - started < 5
    said = answer["formatted"]["transcript"]
    assert said.startswith(f"{name} failed:" if fails else f"{name} returned"), said
    outputs = function_outputs(server.connections[-1].received)
    assert len(outputs) == 1 and check(outputs[0]["output"]), outputs[0]["output"][:200]
    tool_errors = [e for e in errors if e["type"] == "tool_error"]
    assert len(tool_errors) == (1 if fails else 0)
    only_realtime_errors(errors)
    if fails:
        assert isinstance(tool_errors[0]["error"], ToolError)
        assert tool_errors[0]["error"].tool == name
    await talk(client, "and the session goes on")
    assert len(errors) == (1 if fails else 0)
    _RELEASE.set()
    await client.disconnect()


async def test_a_result_that_fails_to_serialise_still_answers(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    client.tool(name="broken_dump")(lambda: _BrokenModel())
    client.send_user_message_content("call broken_dump")
    answer = await client.wait_for_answer(20)
    try:
        assert answer is not None, "the model was left waiting"
        assert answer["formatted"]["transcript"].startswith("broken_dump failed:")
    finally:
        await client.disconnect()


# -- the kernel's loop busy ------------------------------------------------------------------


async def test_a_busy_kernel_loses_no_audio() -> None:
    """The server streams at real time in its own thread while the kernel's loop is blocked
    for 2 s mid-answer: once the loop runs again, every chunk is applied, in order."""
    server = serve_in_thread(pace="realtime")
    # the tone voice: its answer's length is known to the sample
    client = RealtimeClient(url=server.url, config={"speech": {"voice": "tones"}})
    try:
        await client.connect()
        errors = collect(client, "error")
        deltas: list[int] = []
        client.on(
            "conversation.updated",
            lambda e: (
                deltas.append(e["delta"]["audio"].size)
                if e["delta"] and "audio" in e["delta"]
                else None
            ),
        )
        text = "count the ships in the harbour tonight"
        first = asyncio.ensure_future(
            client.realtime.wait_for_next("server.response.output_audio.delta", 5)
        )
        answering = asyncio.ensure_future(client.wait_for_answer(20))
        client.send_user_message_content(text)
        assert await first is not None
        blocked = time.monotonic()
        time.sleep(2)  # a notebook cell computing without yielding
        assert time.monotonic() - blocked >= 2
        answer = await answering
        assert answer is not None and answer["status"] == "completed"
        spoken = synthesize(f"You said: {text}.").samples.size
        assert spoken > 3 * 24_000  # the answer outlasts the busy time
        connection = server.connections[-1]

        async def sent_samples() -> int:
            return connection.conversation.get(answer["id"]).audio_sent

        assert server.call_in_thread(sent_samples()) == spoken
        assert len(answer["formatted"]["audio"]) == sum(deltas) == spoken
        assert len(deltas) == -(-spoken // 2400)  # every 100 ms chunk, none twice
        assert answer["formatted"]["transcript"] == f"You said: {text}."
        assert errors == []
    finally:
        await client.disconnect()
        server.stop_thread()
