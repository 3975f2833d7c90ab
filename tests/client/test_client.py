"""RealtimeClient against the local server over real loopback sockets."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from realtime_widget.client.client import (
    DEFAULT_MAX_AUDIO_SECONDS,
    MAX_ACTIVE_RESPONSES,
    RealtimeClient,
)
from realtime_widget.core.errors import (
    AuthenticationError,
    ConnectTimeoutError,
    ProtocolError,
    ServerError,
    ServerUnreachableError,
    ToolError,
    UsageError,
)
from realtime_widget.core.events import RealtimeEventHandler
from realtime_widget.server import LocalRealtimeServer, synthesize

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


@pytest.fixture
async def paced_server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="realtime") as running:
        yield running


_COMPLETED: dict[int, asyncio.Queue[dict[str, Any]]] = {}


def track(client: RealtimeClient) -> RealtimeClient:
    """Queue every completed item, so none is missed between two waits."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    _COMPLETED[id(client)] = queue
    client.on("conversation.item.completed", lambda event: queue.put_nowait(event["item"]))
    return client


async def connected(server: LocalRealtimeServer, **kwargs: Any) -> RealtimeClient:
    client = track(RealtimeClient(url=server.url, api_key="sk-test", **kwargs))
    await client.connect()
    return client


def collect(client: RealtimeEventHandler, name: str) -> list[Any]:
    seen: list[Any] = []
    client.on(name, seen.append)
    return seen


def server_event(**event: Any) -> str:
    """A server event for ``send_raw``, with the ``event_id`` every server event carries."""
    return json.dumps({"event_id": f"event_raw{next(_RAW_EVENTS)}", **event})


_RAW_EVENTS = itertools.count()


async def next_completed(client: RealtimeClient, role: str, timeout: float = 5.0) -> dict:
    """The next completed item whose role (or type) is ``role``, skipping others."""
    queue = _COMPLETED[id(client)]
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no completed {role} item"
        try:
            item = await asyncio.wait_for(queue.get(), remaining)
        except TimeoutError:
            raise AssertionError(f"no completed {role} item") from None
        if item.get("role") == role or item.get("type") == role:
            return item


async def eventually(condition: Any, timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds (for state another task or process updates)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.01)


def speech_with_silence(text: str, silence_s: float = 1.0) -> np.ndarray:
    speech = np.asarray(synthesize(text).samples, dtype=np.int16)
    pad = np.zeros(int(24_000 * silence_s), dtype=np.int16)
    return np.concatenate([pad, speech, pad])


# -- connection -----------------------------------------------------------------------------


async def test_connect_sends_session_after_session_created(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(url=server.url, config={"model": {"instructions": "Be brief."}})
    sent = collect(client, "realtime.event")
    await client.connect()
    assert client.is_connected() and client.session_created
    conn = await server.wait_for_connection()
    update = await conn.wait_for_received("session.update")
    assert update["session"]["type"] == "realtime"
    assert update["session"]["instructions"] == "Be brief."
    await client.realtime.wait_for_next("server.session.updated", 5)
    sources = [(e["source"], e["event"]["type"]) for e in sent]
    assert sources[0] == ("server", "session.created")
    assert ("client", "session.update") in sources
    assert all(isinstance(e["time"], str) for e in sent)
    await client.disconnect()
    assert not client.is_connected()


async def test_bad_key_is_an_authentication_error() -> None:
    async with LocalRealtimeServer(pace="fast", api_key="right") as server:
        client = RealtimeClient(url=server.url, api_key="wrong")
        with pytest.raises(AuthenticationError, match="401") as info:
            await client.connect()
        assert "wrong" not in str(info.value)
        ok = RealtimeClient(url=server.url, api_key="right")
        await ok.connect()
        await ok.disconnect()


async def test_refused_connection_is_a_clear_error() -> None:
    async with LocalRealtimeServer(pace="fast") as server:
        url = server.url
    client = RealtimeClient(url=url)
    with pytest.raises(ServerUnreachableError, match="cannot connect"):
        await client.connect()


async def test_api_key_never_in_repr_or_events(server: LocalRealtimeServer) -> None:
    secret = "sk-test-SECRET-123"
    client = track(RealtimeClient(url=server.url, api_key=secret))
    seen = collect(client, "realtime.event")
    await client.connect()
    client.send_user_message_content("hello")
    await next_completed(client, "assistant")
    assert secret not in repr(client) and secret not in repr(client.realtime)
    assert secret not in json.dumps([e["event"] for e in seen])
    await client.disconnect()


async def test_methods_need_a_connection() -> None:
    client = RealtimeClient(url="ws://127.0.0.1:9/v1/realtime")
    with pytest.raises(UsageError, match="not connected"):
        client.send_user_message_content("hi")
    with pytest.raises(UsageError, match="not connected"):
        client.append_input_audio(np.zeros(10, dtype=np.int16))


# -- turns ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_text_turn(server: LocalRealtimeServer, dialect: str) -> None:
    client = await connected(server, dialect=dialect)
    appended = collect(client, "conversation.item.appended")
    updates = collect(client, "conversation.updated")
    assert client.send_user_message_content([{"type": "input_text", "text": "good morning"}])
    user = await next_completed(client, "user")
    assert user["formatted"]["text"] == "good morning"
    answer = await next_completed(client, "assistant")
    assert answer["formatted"]["transcript"] == "You said: good morning."
    assert answer["status"] == "completed"
    audio = np.asarray(answer["formatted"]["audio"])
    assert audio.dtype == np.int16 and audio.size > 24_000 // 2
    assert [e["item"]["id"] for e in appended] == [user["id"], answer["id"]]
    deltas = [e["delta"] for e in updates if e["delta"]]
    assert sum(d["audio"].size for d in deltas if "audio" in d) == audio.size
    assert "".join(d["transcript"] for d in deltas if "transcript" in d) == (
        "You said: good morning."
    )
    assert client.get_conversation_items() == [user, answer]
    conn = server.connections[-1]
    assert conn.dialect == dialect
    await client.disconnect()


async def test_same_turn_gives_same_items_in_both_dialects() -> None:
    results = []
    for dialect in ("ga", "beta"):
        async with LocalRealtimeServer(pace="fast") as server:
            client = await connected(server, dialect=dialect)
            client.send_user_message_content("compare me")
            item = await next_completed(client, "assistant")
            results.append(
                (item["formatted"]["transcript"], np.asarray(item["formatted"]["audio"]).tobytes())
            )
            await client.disconnect()
    assert results[0] == results[1]


async def test_audio_turn_with_server_vad(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    client.update_session(input_audio_transcription={"model": "gpt-4o-mini-transcribe"})
    interrupted = collect(client, "conversation.interrupted")
    audio = speech_with_silence("hello there")
    for start in range(0, audio.size, 2400):
        client.append_input_audio(audio[start : start + 2400])
    user = await next_completed(client, "user", timeout=10)
    answer = await next_completed(client, "assistant", timeout=10)
    assert len(interrupted) == 1
    heard = np.asarray(user["formatted"]["audio"])
    # the user's item holds the utterance sliced by session-absolute ms: speech plus padding
    speech_len = np.asarray(synthesize("hello there").samples).size
    assert speech_len <= heard.size <= audio.size
    assert np.abs(heard.astype(np.int32)).max() > 1000
    assert answer["formatted"]["transcript"]
    await client.disconnect()


async def test_a_reused_audio_buffer_changes_neither_what_was_sent_nor_what_is_kept(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, config={"hearing": {"turn_detection": None}})
    audio = np.asarray(synthesize("reused buffer").samples, dtype=np.int16)
    mine = bytearray(4800)  # one 100 ms buffer, filled again for every chunk as a mic does
    for start in range(0, audio.size - audio.size % 2400, 2400):
        mine[:] = audio[start : start + 2400].astype("<i2").tobytes()
        client.append_input_audio(memoryview(mine))
    mine[:] = bytes(4800)
    sent = audio[: audio.size - audio.size % 2400]
    np.testing.assert_array_equal(client.input_audio_buffer.slice(0, sent.size), sent)
    client.create_response()
    user = await next_completed(client, "user")
    np.testing.assert_array_equal(np.asarray(user["formatted"]["audio"]), sent)
    await next_completed(client, "assistant")
    appends = [
        e for e in server.connections[-1].received if e["type"] == "input_audio_buffer.append"
    ]
    assert all(isinstance(e.get("event_id"), str) and e["event_id"] for e in appends)
    assert len({e["event_id"] for e in appends}) == len(appends)
    await client.disconnect()


async def test_manual_turn_commits_pending_audio(server: LocalRealtimeServer) -> None:
    client = await connected(server, config={"hearing": {"turn_detection": None}})
    assert client.get_turn_detection_type() is None
    audio = np.asarray(synthesize("manual turn").samples, dtype=np.int16)
    client.append_input_audio(audio.astype(np.float32) / 32768)  # floats are converted
    client.create_response()
    user = await next_completed(client, "user")
    np.testing.assert_array_equal(np.asarray(user["formatted"]["audio"]), audio)
    await next_completed(client, "assistant")
    sent = [e["type"] for e in server.connections[-1].received]
    assert sent.index("input_audio_buffer.commit") < sent.index("response.create")
    # nothing pending: no second commit
    client.create_response()
    await next_completed(client, "assistant")
    assert [e["type"] for e in server.connections[-1].received].count(
        "input_audio_buffer.commit"
    ) == 1
    await client.disconnect()


async def test_image_content(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    pixels = np.zeros((8, 12, 3), dtype=np.uint8)
    client.send_user_message_content(
        [{"type": "input_text", "text": "what is this"}, {"type": "input_image", "image": pixels}]
    )
    answer = await next_completed(client, "assistant")
    assert "12x8" in answer["formatted"]["transcript"]
    await client.disconnect()


async def test_bad_content_is_rejected_before_sending(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    with pytest.raises(UsageError, match="unknown content part type 'video'"):
        client.send_user_message_content([{"type": "video"}])
    with pytest.raises(UsageError, match="non-empty list"):
        client.send_user_message_content([])
    with pytest.raises(ValueError, match="odd byte length"):
        client.append_input_audio(b"\x00\x01\x02")
    await client.disconnect()


# -- tools ----------------------------------------------------------------------------------


async def test_tool_round_trip_sync_tool(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    loop_thread: list[bool] = []

    @client.tool
    def get_weather(city: str) -> dict[str, Any]:
        """Get the weather.

        Args:
            city: The city to look up.
        """
        loop_thread.append(threading.current_thread() is threading.main_thread())
        return {"city": city, "sky": "sunny"}

    assert get_weather("x")["sky"] == "sunny"  # still a plain function
    loop_thread.clear()
    conn = server.connections[-1]

    def tools_sent() -> list[list[dict[str, Any]]]:
        updates = [e for e in conn.received if e["type"] == "session.update"]
        return [u["session"]["tools"] for u in updates if u["session"]["tools"]]

    await eventually(lambda: bool(tools_sent()))
    [sent] = tools_sent()[-1]
    assert sent["name"] == "get_weather" and sent["description"] == "Get the weather."
    assert sent["parameters"]["properties"]["city"]["description"] == "The city to look up."
    client.send_user_message_content("please get_weather for Paris")
    answer = await next_completed(client, "assistant", timeout=10)
    assert loop_thread == [False]  # ran off the event loop
    assert "sunny" in answer["formatted"]["transcript"]
    received = server.connections[-1].received
    outputs = [
        e["item"]
        for e in received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    assert json.loads(outputs[0]["output"]) == {"city": "Paris", "sky": "sunny"}
    assert [e["type"] for e in received].count("response.create") == 2
    await client.disconnect()


async def test_two_calls_in_one_response_get_one_response_create(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)

    @client.tool
    async def add(a: float, b: float) -> float:
        await asyncio.sleep(0.05)
        return a + b

    @client.tool
    def multiply(a: float, b: float) -> float:
        time.sleep(0.02)
        return a * b

    client.send_user_message_content("use add and multiply with 2 and 3")
    answer = await client.wait_for_answer(10)
    assert answer is not None
    assert "add returned 5" in answer["formatted"]["transcript"]
    assert "multiply returned 6" in answer["formatted"]["transcript"]
    types = [e["type"] for e in server.connections[-1].received]
    # one after the user message, exactly one after both outputs
    assert types.count("response.create") == 2
    last_create = len(types) - 1 - types[::-1].index("response.create")
    outputs = [i for i, t in enumerate(types) if t == "conversation.item.create"][-2:]
    assert all(i < last_create for i in outputs)
    await client.disconnect()


async def test_failing_slow_and_unknown_tools_still_answer(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    errors = collect(client, "error")

    @client.tool
    def explode() -> str:
        raise ValueError("boom")

    @client.tool(timeout=0.1)
    async def dawdle() -> str:
        await asyncio.sleep(5)
        return "late"

    client.send_user_message_content("call explode")
    answer = await next_completed(client, "assistant", timeout=10)
    assert "explode failed" in answer["formatted"]["transcript"]
    assert "boom" in answer["formatted"]["transcript"]
    client.send_user_message_content("call dawdle")
    answer = await next_completed(client, "assistant", timeout=10)
    assert "dawdle failed" in answer["formatted"]["transcript"]
    tool_errors = [e["error"] for e in errors if e["type"] == "tool_error"]
    assert len(tool_errors) == 2 and all(isinstance(e, ToolError) for e in tool_errors)
    await client.disconnect()


async def test_unknown_tool_and_invalid_arguments_still_answer(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)

    @client.tool
    def square(x: int) -> int:
        return x * x

    # the session knows a tool the kernel does not
    session = client.get_session_payload()["session"]
    session["tools"].append({"type": "function", "name": "ghost", "parameters": {}})
    client.realtime.send("session.update", {"session": session})
    await client.realtime.wait_for_next("server.session.updated", 5)
    client.send_user_message_content("call ghost")
    answer = await next_completed(client, "assistant", timeout=10)
    assert "ghost failed" in answer["formatted"]["transcript"]
    assert "unknown tool" in answer["formatted"]["transcript"]
    client.send_user_message_content('square {"x": "not a number"}')
    answer = await next_completed(client, "assistant", timeout=10)
    assert "square failed" in answer["formatted"]["transcript"]
    await client.disconnect()


async def test_reregistering_replaces_and_updates_session(server: LocalRealtimeServer) -> None:
    client = await connected(server)

    def lookup(term: str) -> str:
        return "first"

    client.register_tool(lookup)

    @client.tool(name="lookup", description="Second version.")
    def lookup2(term: str) -> str:
        return "second"

    assert [t["name"] for t in client.get_tools()] == ["lookup"]
    assert client.get_tools()[0]["description"] == "Second version."
    assert await client.execute_tool("lookup", {"term": "x"}) == "second"
    with pytest.raises(ToolError, match="not registered"):
        await client.execute_tool("nope", {})
    conn = server.connections[-1]

    def newest_tools() -> list[Any]:
        updates = [e for e in conn.received if e["type"] == "session.update"]
        return list(updates[-1]["session"]["tools"]) if updates else []

    await eventually(
        lambda: len(newest_tools()) == 1 and newest_tools()[0]["description"] == ("Second version.")
    )
    await client.disconnect()


async def test_definition_only_tool_answered_by_caller(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    client.add_tool(
        {
            "name": "ring_bell",
            "description": "Ring the bell.",
            "parameters": {"type": "object", "properties": {}},
        }
    )
    client.send_user_message_content("ring_bell now")
    call = await next_completed(client, "function_call", timeout=10)
    assert call["formatted"]["tool"]["name"] == "ring_bell"
    # answered at once: the client sends response.create only after response.done
    client.send_function_call_output(call["call_id"], {"rang": True})
    answer = await next_completed(client, "assistant", timeout=10)
    assert (
        "True" in answer["formatted"]["transcript"] or "true" in answer["formatted"]["transcript"]
    )
    with pytest.raises(UsageError, match="already answered"):
        client.send_function_call_output(call["call_id"], "again")
    client.remove_tool("ring_bell")
    with pytest.raises(UsageError, match="no tool named 'ring_bell'"):
        client.remove_tool("ring_bell")
    await client.disconnect()


# -- cancel and truncate ------------------------------------------------------------------


async def test_cancel_and_truncate_at_played_position(paced_server: LocalRealtimeServer) -> None:
    client = await connected(paced_server)
    appended = collect(client, "conversation.item.appended")
    client.send_user_message_content("tell me a long story about the sea and the ships")
    await client.realtime.wait_for_next("server.response.output_audio.delta", 5)
    item = next(e["item"] for e in appended if e["item"]["role"] == "assistant")
    await asyncio.sleep(0.5)  # more audio arrives at real-time pace
    received = len(item["formatted"]["audio"])
    assert received > 0
    played = received // 2
    server_events = collect(client.realtime, "server.*")
    result = client.cancel_response(item["id"], played)
    assert result["item"] is item

    def first(kind: str) -> dict[str, Any] | None:
        return next((e for e in server_events if e["type"] == kind), None)

    await eventually(lambda: first("conversation.item.truncated") is not None)
    done = first("response.done")
    assert done is not None and done["response"]["status"] == "cancelled"
    truncated = first("conversation.item.truncated")
    assert truncated is not None
    assert truncated["audio_end_ms"] == played * 1000 // 24_000
    assert len(item["formatted"]["audio"]) == played * 1000 // 24_000 * 24
    await client.disconnect()


async def test_cancel_clamps_to_received_and_skips_when_nothing_played(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    client.send_user_message_content("hi")
    item = await next_completed(client, "assistant")
    conn = server.connections[-1]
    before = len(conn.received)
    client.cancel_response(item["id"], 0)
    client.cancel_response(item["id"], 10**9)  # finished and fully played: nothing to send
    await asyncio.sleep(0.05)
    assert [e["type"] for e in conn.received[before:]] == []
    with pytest.raises(UsageError, match="no item 'nope'"):
        client.cancel_response("nope", 10)
    with pytest.raises(UsageError, match="sample_count"):
        client.cancel_response(item["id"], -1)
    await client.disconnect()


# -- errors and faults ----------------------------------------------------------------------


async def test_server_error_event_is_dispatched(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    client.realtime.send("conversation.item.delete", {"item_id": "missing"})
    await client.realtime.wait_for_next("server.error", 5)
    assert isinstance(errors[0]["error"], ServerError)
    # the session goes on
    client.send_user_message_content("still there?")
    await next_completed(client, "assistant")
    await client.disconnect()


@pytest.mark.wire_faults
async def test_bad_frames_are_errors_not_crashes(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    await server.send_raw("{not json")
    await server.send_raw(b"\x00\x01")
    await server.send_raw(json.dumps({"no": "type"}))
    await server.send_raw(json.dumps({"type": "response.output_audio.delta", "item_id": "x"}))
    await server.send_raw(json.dumps({"type": "brand.new.event"}))
    client.send_user_message_content("after the noise")
    answer = await next_completed(client, "assistant")
    assert answer["formatted"]["transcript"] == "You said: after the noise."
    assert len(errors) == 4
    assert all(isinstance(e["error"], ProtocolError) for e in errors)
    await client.disconnect()


async def test_server_closing_mid_response(paced_server: LocalRealtimeServer) -> None:
    client = await connected(paced_server)
    closes = collect(client, "close")
    client.send_user_message_content("a reply long enough to be cut in the middle")
    await client.realtime.wait_for_next("server.response.output_audio.delta", 5)
    waiting = asyncio.ensure_future(client.wait_for_next("close", 5))
    await paced_server.close_connections(1011, "internal error")
    assert await waiting is not None, "no close event"
    assert closes[0]["code"] == 1011 and closes[0]["reason"] == "internal error"
    assert closes[0]["error"] is True
    assert not client.is_connected()
    # what was received is kept
    items = client.get_conversation_items()
    assert items and items[-1]["role"] == "assistant"
    assert len(items[-1]["formatted"]["audio"]) > 0


async def test_waits_time_out_with_none(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    assert await client.wait_for_next_item(0.05) == {"item": None}
    assert await client.wait_for_next_completed_item(0.05) == {"item": None}
    assert await client.wait_for_answer(0.05) is None
    await client.disconnect()


async def test_reset_clears_everything(server: LocalRealtimeServer) -> None:
    client = await connected(server)

    def one() -> int:
        return 1

    client.register_tool(one)
    with pytest.raises(UsageError, match="invalid tool name '<lambda>'"):
        client.register_tool(lambda: 1)
    client.send_user_message_content("hi")
    await next_completed(client, "assistant")
    assert client.reset() is True
    await asyncio.sleep(0.05)
    assert client.get_conversation_items() == []
    assert client.get_tools() == []
    assert not client.is_connected()


async def test_max_audio_seconds_bounds_audio_and_keeps_transcripts(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, max_audio_seconds=3.0)
    for n in range(4):
        client.send_user_message_content(f"this is sentence number {n} of a longer talk")
        assert await client.wait_for_answer(10) is not None
    items = client.get_conversation_items()
    answers = [i for i in items if i.get("role") == "assistant"]
    kept = sum(len(i["formatted"]["audio"]) for i in items)
    assert len(answers) == 4
    assert all(a["formatted"]["transcript"].startswith("You said:") for a in answers)
    assert answers[0]["formatted"].get("audio_dropped") is True
    assert len(answers[-1]["formatted"]["audio"]) > 0
    longest = max(len(a["formatted"]["audio"]) for a in answers[1:])
    assert kept <= 3 * 24_000 + longest
    with pytest.raises(UsageError, match="max_audio_seconds"):
        RealtimeClient(url=server.url, max_audio_seconds=-1)
    await client.disconnect()


async def test_audio_is_bounded_by_default_and_unbounded_on_request() -> None:
    url = "ws://127.0.0.1:9/v1/realtime"
    assert RealtimeClient(url=url).max_audio_seconds == DEFAULT_MAX_AUDIO_SECONDS == 3600
    assert RealtimeClient(url=url, max_audio_seconds=None).max_audio_seconds is None


async def test_manual_commit_after_voice_turns_sends_only_new_audio(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    stops = collect(client.realtime, "server.input_audio_buffer.speech_stopped")
    audio = speech_with_silence("first with voice activity")
    for start in range(0, audio.size, 2400):
        client.append_input_audio(audio[start : start + 2400])
    assert await client.wait_for_answer(10) is not None
    await next_completed(client, "user")  # the voice turn's item
    client.update_session(turn_detection=None)
    manual = np.asarray(synthesize("then by hand").samples, dtype=np.int16)
    client.append_input_audio(manual)
    client.create_response()
    user = await next_completed(client, "user")
    # the server committed the voice turn up to audio_end_ms; the rest is still pending there
    pending = audio[stops[0]["audio_end_ms"] * 24 :]
    expected = np.concatenate([pending, manual])
    np.testing.assert_array_equal(np.asarray(user["formatted"]["audio"]), expected)
    await client.disconnect()


async def test_no_cancel_after_the_server_interrupted_the_response(
    paced_server: LocalRealtimeServer,
) -> None:
    client = await connected(paced_server)
    errors = collect(client, "error")
    client.send_user_message_content("say something long enough to be interrupted")
    await client.realtime.wait_for_next("server.response.output_audio.delta", 5)
    item = client.get_conversation_items()[-1]
    speech = speech_with_silence("stop", silence_s=0.3)
    waiting = asyncio.ensure_future(client.wait_for_next("conversation.interrupted", 5))
    for start in range(0, speech.size, 2400):
        client.append_input_audio(speech[start : start + 2400])
    assert await waiting is not None
    client.cancel_response(item["id"], 2400)  # what a browser does on barge-in
    await asyncio.sleep(0.3)
    sent = [e["type"] for e in paced_server.connections[-1].received]
    assert "response.cancel" not in sent
    assert "conversation.item.truncate" in sent
    assert [e for e in errors if e["type"] == "server_error"] == []
    await client.disconnect()


async def test_overlapping_responses_are_all_tracked_and_a_refused_request_is_reported(
    paced_server: LocalRealtimeServer,
) -> None:
    client = await connected(paced_server)
    errors = collect(client, "error")
    client.send_user_message_content("a first answer that takes a while to say")
    await client.realtime.wait_for_next("server.response.output_audio.delta", 5)
    # an out-of-band response the server also runs: the first one is still active
    await paced_server.send_raw(
        server_event(type="response.created", response={"id": "resp_oob", "output": []})
    )
    await paced_server.send_raw(
        server_event(type="response.done", response={"id": "resp_oob", "status": "completed"})
    )
    await asyncio.sleep(0.05)
    conn = paced_server.connections[-1]

    # a request while a response runs is refused by the server: the caller hears of it,
    # and it is never asked again
    def creates() -> int:
        return [e["type"] for e in conn.received].count("response.create")

    before = creates()
    client.create_response()
    await eventually(lambda: creates() == before + 1)
    await eventually(lambda: any(e["type"] == "server_error" for e in errors))
    refused = [e["error"] for e in errors if e["type"] == "server_error"]
    assert [e.code for e in refused] == ["conversation_already_has_active_response"]
    client.cancel_response()  # the first answer is still known to be running: cancel sent
    await eventually(lambda: "response.cancel" in [e["type"] for e in conn.received])
    await client.realtime.wait_for_next("server.response.done", 5)
    await asyncio.sleep(0.1)
    assert creates() == before + 1
    await client.disconnect()


async def test_a_failure_inside_event_handling_is_an_error_event(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    errors = collect(client, "error")

    def broken(_: Any) -> None:
        raise RuntimeError("inside")

    client.conversation.process_event = broken  # type: ignore[method-assign]
    await server.send_raw(server_event(type="response.created", response={"id": "r"}))
    await eventually(lambda: any(e["type"] == "internal_error" for e in errors))
    assert client.is_connected()
    await client.disconnect()


async def test_a_cancel_that_crosses_the_responses_end_is_not_an_error(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    # the client believes a response is running; on the server it has already ended
    waiting = asyncio.ensure_future(client.realtime.wait_for_next("server.response.created", 5))
    await server.send_raw(server_event(type="response.created", response={"id": "r_gone"}))
    assert await waiting is not None
    refused = asyncio.ensure_future(client.realtime.wait_for_next("server.error", 5))
    client.cancel_response()
    event = await refused
    assert event is not None and event["error"]["code"] == "response_cancel_not_active"
    await asyncio.sleep(0.05)
    assert [e for e in errors if e["type"] == "server_error"] == []
    # a cancel the client did not send is still reported
    refused = asyncio.ensure_future(client.realtime.wait_for_next("server.error", 5))
    client.realtime.send("response.cancel")
    assert await refused is not None
    await eventually(lambda: any(e["type"] == "server_error" for e in errors))
    await client.disconnect()


async def test_a_cancel_left_in_flight_by_disconnect_does_not_hide_the_next_sessions_error(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server)
    errors = collect(client, "error")
    waiting = asyncio.ensure_future(client.realtime.wait_for_next("server.response.created", 5))
    await server.send_raw(server_event(type="response.created", response={"id": "r_old"}))
    assert await waiting is not None
    client.cancel_response()  # its answer never comes: the connection goes first
    await client.disconnect()
    await client.connect()
    refused = asyncio.ensure_future(client.realtime.wait_for_next("server.error", 5))
    client.realtime.send("response.cancel")  # a cancel of the new session's, not the client's
    assert await refused is not None
    await eventually(lambda: any(e["type"] == "server_error" for e in errors))
    await client.disconnect()


# -- manual commits the server refuses, and clearing input ----------------------------------


def _server_user_audio(server: LocalRealtimeServer) -> np.ndarray:
    users = [s for s in server.connections[-1].conversation.items() if s.item.get("role") == "user"]
    return np.asarray(users[-1].audio[0])


async def test_a_refused_commit_leaves_its_audio_to_the_next_one(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, config={"hearing": {"turn_detection": None}})
    errors = collect(client, "error")
    tap = np.full(1200, 3000, dtype=np.int16)  # 50 ms: too short to commit
    client.append_input_audio(tap)
    client.create_response()
    await next_completed(client, "assistant")
    refused = [e["error"] for e in errors if e["type"] == "server_error"]
    assert [e.code for e in refused] == ["input_audio_buffer_commit_empty"]
    speech = np.asarray(synthesize("second").samples, dtype=np.int16)
    client.append_input_audio(speech)
    client.create_response()
    user = await next_completed(client, "user")
    # the server kept the refused 50 ms: the item holds it, on both sides
    expected = np.concatenate([tap, speech])
    np.testing.assert_array_equal(_server_user_audio(server), expected)
    np.testing.assert_array_equal(np.asarray(user["formatted"]["audio"]), expected)
    await client.disconnect()


async def test_clear_input_audio_discards_what_is_not_committed(
    server: LocalRealtimeServer,
) -> None:
    client = await connected(server, config={"hearing": {"turn_detection": None}})
    errors = collect(client, "error")
    client.append_input_audio(np.full(1200, 3000, dtype=np.int16))  # a tap too short to send
    cleared = asyncio.ensure_future(
        client.realtime.wait_for_next("server.input_audio_buffer.cleared", 5)
    )
    assert client.clear_input_audio() is True
    speech = np.asarray(synthesize("after the tap").samples, dtype=np.int16)
    client.append_input_audio(speech)  # before the server's answer to the clear
    assert await cleared is not None
    client.create_response()
    user = await next_completed(client, "user")
    np.testing.assert_array_equal(np.asarray(user["formatted"]["audio"]), speech)
    np.testing.assert_array_equal(_server_user_audio(server), speech)
    assert errors == []
    await client.disconnect()
    with pytest.raises(UsageError, match="not connected"):
        client.clear_input_audio()


# -- connect timeout, constructor input, keys -------------------------------------------------


async def test_connect_timeout_bounds_the_handshake() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the TCP connection, never answers the handshake
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    client = RealtimeClient(url=f"ws://127.0.0.1:{port}/v1/realtime", connect_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ConnectTimeoutError, match=r"within 0\.3 s"):
        await client.connect()
    assert time.monotonic() - started < 2.0
    assert not client.is_connected()
    listener.close()
    await listener.wait_closed()


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True, "10"])
async def test_connect_timeout_must_be_positive_seconds(value: Any) -> None:
    with pytest.raises(UsageError, match=f"connect_timeout.*{re.escape(repr(value))}"):
        RealtimeClient(url="ws://127.0.0.1:9/v1/realtime", connect_timeout=value)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((["url"],), {}, "settings must be a dict, got ['url']"),
        (({"url": 5},), {}, "url must be a string, got 5"),
        (({"apiKey": 7},), {}, "api_key must be a string, got 7"),
        ((), {"model": 5}, "model must be a string, got 5"),
        ((), {"model": ""}, "model must be a non-empty string"),
        ((), {"debug": "no"}, "debug must be True or False, got 'no'"),
        (({"debug": 1},), {}, "debug must be True or False, got 1"),
        ((), {"reconnect": "yes"}, "reconnect must be True or False, got 'yes'"),
        ((), {"reconnect_delays": "abc"}, "reconnect_delays must be a list of seconds"),
        ((), {"reconnect_delays": [1, float("nan")]}, "reconnect_delays must be non-negative"),
        ((), {"input_audio_retention_seconds": -5}, "input_audio_retention_seconds must be"),
        ((), {"max_audio_seconds": "1"}, "max_audio_seconds must be a number"),
    ],
)
async def test_bad_constructor_input_is_named(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    if not args:
        kwargs = {"url": "ws://127.0.0.1:9/v1/realtime", **kwargs}
    with pytest.raises(UsageError, match=re.escape(message)):
        RealtimeClient(*args, **kwargs)


async def test_cancel_response_takes_any_integer(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    assert client.cancel_response(None, np.int64(5)) == {"item": None}
    for bad in (1.5, True, "5", -1, np.int64(-1)):
        with pytest.raises(UsageError, match="sample_count"):
            client.cancel_response(None, bad)
    await client.disconnect()
    # a bad value is named even before there is a connection to cancel on
    with pytest.raises(UsageError, match="sample_count"):
        client.cancel_response(None, -1)


async def test_reset_keeps_the_model(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(url=server.url, model="gpt-realtime-mini", config={"model": {}})
    client.update_session(instructions="dropped by reset")
    client.reset()
    assert client.get_session_payload()["session"]["model"] == "gpt-realtime-mini"
    assert client.get_session_payload()["session"].get("instructions") != "dropped by reset"
    await client.connect()
    conn = await server.wait_for_connection()
    update = await conn.wait_for_received("session.update")
    assert update["session"]["model"] == "gpt-realtime-mini"
    assert "model=gpt-realtime-mini" in client.realtime.connect_url()
    await client.disconnect()


async def test_environment_key_only_goes_to_openai_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key")
    async with LocalRealtimeServer(pace="fast", api_key="sk-env-key") as server:
        # a server that is not OpenAI's never sees the environment's key
        client = RealtimeClient(url=server.url)
        assert "key unset" in repr(client.realtime)
        with pytest.raises(AuthenticationError):
            await client.connect()
        explicit = RealtimeClient(url=server.url, api_key="sk-env-key")
        await explicit.connect()
        await explicit.disconnect()
    for url in (
        None,
        "wss://api.openai.com/v1/realtime",
        "wss://eu.api.openai.com/v1/realtime",
        "wss://myres.openai.azure.com/openai/realtime?deployment=x",
    ):
        assert "key set" in repr(RealtimeClient(url=url).realtime), url
    for url in (
        "ws://api.openai.com/v1/realtime",  # plaintext
        "wss://api.openai.com.evil.example/v1/realtime",
        "wss://openai.com.example/v1/realtime",
        "ws://10.0.0.5:8765/v1/realtime",
    ):
        assert "key unset" in repr(RealtimeClient(url=url).realtime), url


async def test_responses_that_never_finish_are_bounded(server: LocalRealtimeServer) -> None:
    client = await connected(server)
    frames = [
        server_event(type="response.created", response={"id": f"resp_h{n}", "output": []})
        for n in range(300)
    ]
    for frame in frames:
        await server.send_raw(frame)
    await eventually(lambda: "resp_h299" in client._active)
    assert len(client._active) == MAX_ACTIVE_RESPONSES
    assert "resp_h0" not in client._active
    assert client.is_connected()
    await client.disconnect()


async def test_transport_limits_reach_the_socket_layer(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(
        url=server.url, transport={"max_frame_bytes": 2_000, "ping_interval": 5.0}
    )
    assert client.realtime.max_frame_bytes == 2_000
    assert client.realtime.ping_interval == 5.0
    await client.connect()
    with pytest.raises(UsageError, match="max_frame_bytes"):
        client.send_user_message_content("x" * 5_000)
    client.send_user_message_content("short enough")  # nothing was lost: it still works
    assert await client.wait_for_answer(10) is not None
    await client.disconnect()


@pytest.mark.parametrize(
    ("transport", "message"),
    [
        ({"max_frame_byte": 10}, "unknown transport options"),
        ({"ping_timeout": float("nan")}, "ping_timeout must be positive"),
        ({"max_send_queue_bytes": 0}, "max_send_queue_bytes must be positive"),
        ("max_frame_bytes=10", "transport must be a dict"),
    ],
)
async def test_bad_transport_limits_are_named(transport: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        RealtimeClient(url="ws://127.0.0.1:1/v1/realtime", transport=transport)
