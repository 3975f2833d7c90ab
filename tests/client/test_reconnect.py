"""Reconnect with context: abnormal closes reopen the session and replay the conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from relay import FaultRelay
from reliability import eventually, speech

from realtime_widget.client.client import RealtimeClient
from realtime_widget.client.replay import HeardAudio, heard_text, replay_items
from realtime_widget.core.errors import ConnectionClosedError
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


# -- sessions that fail while they are set up ---------------------------------------------


@pytest.fixture
async def relay(server: LocalRealtimeServer) -> AsyncIterator[FaultRelay]:
    async with FaultRelay(f"ws://127.0.0.1:{server.port}") as running:
        yield running


def _record(client: RealtimeClient, *names: str) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        client.on(name, lambda e, name=name: seen.append((name, e)))
    return seen


@pytest.mark.parametrize("codes", [[1012], [1013], [1012, 1013, 1012]])
async def test_sessions_closed_right_after_created_are_tried_again(
    server: LocalRealtimeServer, relay: FaultRelay, codes: list[int]
) -> None:
    client = RealtimeClient(url=relay.url, reconnect=True, reconnect_delays=(0.01,) * 4)
    events = _record(client, "close", "reconnecting", "reconnected", "error")
    await client.connect()
    await _talk(client, "remember the harbour")
    ids_before = [i["id"] for i in client.get_conversation_items()]
    relay.close_after_created = list(codes)
    await server.close_connections(1011, "restarting")
    await eventually(lambda: any(name in ("reconnected", "error") for name, _ in events))
    assert not client.reconnecting and client.is_connected()
    names = [name for name, _ in events]
    assert names == ["close", "reconnecting"] + ["close", "reconnecting"] * len(codes) + [
        "reconnected"
    ]
    closes = [e for name, e in events if name == "close"]
    assert [c["code"] for c in closes] == [1011, *codes]
    assert all(c["reconnecting"] for c in closes)
    assert events[-1][1]["attempt"] == len(codes) + 1
    # the session that lasted got the configuration and the whole conversation
    await asyncio.sleep(0.1)
    last = server.connections[-1]
    assert last.received[0]["type"] == "session.update"
    assert [i["id"] for i in _created_items(last.received)] == ids_before
    assert [i["id"] for i in client.get_conversation_items()] == ids_before
    await _talk(client, "still there?")
    await client.disconnect()


async def test_reconnect_gives_up_when_every_session_closes_after_created(
    server: LocalRealtimeServer, relay: FaultRelay
) -> None:
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
    client = RealtimeClient(url=relay.url, reconnect=True, reconnect_delays=(0.01, 0.02, 0.03))
    events = _record(client, "close", "reconnecting", "reconnected", "error")
    await client.connect()
    await _talk(client, "one turn")
    relay.close_after_created = [1013, 1012, 1013]
    await server.close_connections(1012, "restarting")
    await eventually(lambda: any(name == "error" for name, _ in events))
    await asyncio.sleep(0.05)
    assert [name for name, _ in events] == ["close", "reconnecting"] * 3 + ["close", "error"]
    failed = events[-1][1]
    assert failed["type"] == "reconnect_failed"
    assert isinstance(failed["error"], ConnectionClosedError) and failed["error"].code == 1013
    assert not client.reconnecting and not client.is_connected()
    assert relay.opened == 4  # the first connection and every try
    assert loop_errors == []
    # a connect() afterwards resumes the session: the conversation is replayed
    await client.connect()
    await asyncio.sleep(0.1)
    assert len(_created_items(server.connections[-1].received)) == 2
    await client.disconnect()


@pytest.mark.parametrize("code", [1001, 1006, 1011, 1012, 1013])
async def test_every_abnormal_close_code_reconnects(server: LocalRealtimeServer, code: int) -> None:
    client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=FAST)
    closes = _record(client, "close")
    await client.connect()
    await _talk(client, "before the drop")
    waiting = asyncio.ensure_future(client.wait_for_next("reconnected", 5))
    if code == 1006:
        await server.break_connections()
    else:
        await server.close_connections(code, "going")
    assert await waiting is not None
    assert closes[0][1]["code"] == code and closes[0][1]["reconnecting"] is True
    assert len(_created_items(server.connections[-1].received)) == 2
    await client.disconnect()


async def test_close_event_says_whether_a_reconnect_follows(server: LocalRealtimeServer) -> None:
    async def close_seen(client: RealtimeClient, code: int) -> tuple[Any, bool]:
        seen: list[tuple[Any, bool]] = []
        client.on("close", lambda e: seen.append((e["reconnecting"], client.reconnecting)))
        await client.connect()
        await server.close_connections(code, "x")
        await eventually(lambda: bool(seen))
        await client.disconnect()
        return seen[0]

    assert await close_seen(RealtimeClient(url=server.url, reconnect=True), 1011) == (True, True)
    assert await close_seen(RealtimeClient(url=server.url, reconnect=True), 1000) == (False, False)
    assert await close_seen(RealtimeClient(url=server.url), 1011) == (False, False)


# -- nothing reaches a new session before its configuration and history -------------------


async def test_a_tool_finishing_before_the_session_is_set_up_waits_for_it(
    server: LocalRealtimeServer, relay: FaultRelay
) -> None:
    client = RealtimeClient(url=relay.url, reconnect=True, reconnect_delays=(0.01,))
    errors = _record(client, "error")
    release = asyncio.Event()

    @client.tool
    async def slow_lookup(term: str) -> str:
        await release.wait()
        return f"found {term}"

    await client.connect()
    client.send_user_message_content("slow_lookup for cats")
    await eventually(
        lambda: any(
            i["type"] == "function_call" and i["status"] == "completed"
            for i in client.get_conversation_items()
        )
    )
    relay.hold_created = asyncio.Event()
    await server.close_connections(1011, "blip")
    # the new socket is open, its session.created held back by the relay
    await eventually(lambda: client.is_connected() and relay.opened == 2)
    assert client.reconnecting
    release.set()
    await asyncio.sleep(0.05)  # the tool has finished: its output waits for the session
    second = server.connections[-1]
    assert second.received == []
    relay.hold_created.set()
    await client.wait_for_next("reconnected", 5)
    await eventually(
        lambda: any(
            i.get("role") == "assistant" and "found cats" in i["formatted"]["transcript"]
            for i in client.get_conversation_items()
        )
    )
    kinds = [(e["type"], e.get("item", {}).get("type")) for e in second.received]
    assert kinds[0] == ("session.update", None)
    outputs = kinds.index(("conversation.item.create", "function_call_output"))
    replayed = [k for k in kinds[1:outputs] if k[0] == "conversation.item.create"]
    assert replayed == [
        ("conversation.item.create", "message"),
        ("conversation.item.create", "function_call"),
    ]
    assert kinds[outputs + 1] == ("response.create", None)
    assert errors == []
    await client.disconnect()


async def test_text_and_audio_sent_while_the_session_is_set_up_follow_the_replay(
    server: LocalRealtimeServer, relay: FaultRelay
) -> None:
    client = RealtimeClient(url=relay.url, reconnect=True, reconnect_delays=(0.01,))
    client.update_session(instructions="Remember everything.")
    errors = _record(client, "error")
    await client.connect()
    await _talk(client, "my name is Ada")
    relay.hold_created = asyncio.Event()
    await server.close_connections(1011, "blip")
    await eventually(lambda: client.is_connected() and relay.opened == 2)
    assert client.reconnecting
    client.append_input_audio(np.zeros(2400, dtype=np.int16))
    client.send_user_message_content("what is my name?")
    client.create_response()
    relay.hold_created.set()
    await client.wait_for_next("reconnected", 5)
    assert await client.wait_for_answer(5) is not None
    await asyncio.sleep(0.1)
    second = server.connections[-1]
    kinds = [e["type"] for e in second.received]
    assert kinds[:3] == ["session.update", "conversation.item.create", "conversation.item.create"]
    assert kinds[3:7] == [
        "input_audio_buffer.append",
        "conversation.item.create",
        "response.create",
        "response.create",
    ]
    said = [
        (s.item.get("role"), s.item["content"][0].get("text")) for s in second.conversation.items()
    ]
    assert said[:3] == [
        ("user", "my name is Ada"),
        ("assistant", "You said: my name is Ada."),
        ("user", "what is my name?"),
    ]
    # the second response.create was refused while the first ran: asked again, not reported
    assert [e for e in errors if e[1]["type"] != "server_error"] == []
    assert not [e for _, e in errors if "expected an id not in use" in str(e["error"])]
    await client.disconnect()


async def test_calls_held_for_a_session_that_closes_wait_for_the_next_one(
    server: LocalRealtimeServer, relay: FaultRelay
) -> None:
    client = RealtimeClient(url=relay.url, reconnect=True, reconnect_delays=(0.01, 0.01))
    await client.connect()
    await _talk(client, "first")
    relay.hold_created = asyncio.Event()
    relay.close_after_created = [1013]
    await server.close_connections(1011, "blip")
    await eventually(lambda: client.is_connected() and relay.opened == 2)
    client.send_user_message_content("held across a failed try")
    relay.hold_created.set()  # this try's session closes right after session.created
    relay.hold_created = None
    await client.wait_for_next("reconnected", 5)
    await eventually(lambda: len(server.connections[-1].conversation.items()) >= 4)
    texts = [s.item["content"][0].get("text") for s in server.connections[-1].conversation.items()]
    assert texts[:3] == ["first", "You said: first.", "held across a failed try"]
    await client.disconnect()


# -- connect() and disconnect() while a reconnect is pending --------------------------------


@pytest.mark.parametrize("when", ["waiting", "opening"])
async def test_connect_during_a_pending_reconnect_takes_it_over(
    server: LocalRealtimeServer, relay: FaultRelay, when: str
) -> None:
    delays = (0.3, 0.3) if when == "waiting" else (0.01, 0.01)
    client = RealtimeClient(url=relay.url, reconnect=True, reconnect_delays=delays)
    events = _record(client, "reconnecting", "reconnected", "error")
    await client.connect()
    await _talk(client, "remember this")
    if when == "opening":
        relay.hold_created = asyncio.Event()  # the try's socket opens and waits
    closed = asyncio.ensure_future(client.wait_for_next("close", 5))
    await server.close_connections(1011, "blip")
    assert await closed is not None
    if when == "opening":
        await eventually(lambda: relay.opened == 2)
        relay.hold_created = None
    assert client.reconnecting
    await client.connect()  # e.g. the widget's Connect button
    assert client.is_connected() and not client.reconnecting
    await asyncio.sleep(0.7)
    assert [name for name, _ in events] == ["reconnecting"]  # no other try, no failure
    assert client.is_connected()
    assert len(_created_items(server.connections[-1].received)) == 2  # replayed
    assert len(server.connections) == 1
    await _talk(client, "and now?")
    await client.disconnect()


async def test_disconnect_while_a_try_waits_for_its_session(
    server: LocalRealtimeServer, relay: FaultRelay
) -> None:
    client = RealtimeClient(url=relay.url, reconnect=True, reconnect_delays=(0.01, 0.01))
    events = _record(client, "reconnecting", "reconnected", "error")
    await client.connect()
    relay.hold_created = asyncio.Event()
    await server.close_connections(1011, "blip")
    await eventually(lambda: client.is_connected() and relay.opened == 2)
    client.send_user_message_content("never sent")
    await client.disconnect()
    assert not client.reconnecting and not client.is_connected()
    relay.hold_created.set()
    await asyncio.sleep(0.2)
    assert [name for name, _ in events] == ["reconnecting"]
    assert relay.opened == 2 and server.connections == []


# -- interrupted answers ------------------------------------------------------------------


async def test_an_answer_cut_short_is_replayed_as_far_as_it_was_heard(
    server: LocalRealtimeServer,
) -> None:
    client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=FAST)
    await client.connect()
    answer = await _talk(client, "the ship sails north over quiet water to a small town")
    said = answer["formatted"]["transcript"]
    received = len(answer["formatted"]["audio"])
    # the answer was done when the user stopped it: the truncate is answered after the end
    truncated = asyncio.ensure_future(
        client.realtime.wait_for_next("server.conversation.item.truncated", 5)
    )
    client.cancel_response(answer["id"], received // 2)
    assert await truncated is not None
    assert answer["formatted"]["transcript"] == ""  # the server dropped it
    waiting = asyncio.ensure_future(client.wait_for_next("reconnected", 5))
    await server.close_connections(1011, "blip")
    assert await waiting is not None
    await asyncio.sleep(0.1)
    replayed = {i["id"]: i for i in _created_items(server.connections[-1].received)}
    text = replayed[answer["id"]]["content"][0]["text"]
    assert text.endswith("…") and said.startswith(text[:-1])
    heard = len(text) - 1
    assert abs(heard - len(said) / 2) <= max(len(w) for w in said.split()) + 1
    await client.disconnect()


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


async def test_a_replay_larger_than_the_send_queue_is_paced(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=FAST)
    await client.connect()
    seconds = 2.0
    clip = (np.sin(np.arange(int(24_000 * seconds)) / 7) * 8000).astype(np.int16)
    for _ in range(3):
        client.send_user_message_content([{"type": "input_audio", "audio": clip}])
        assert await client.wait_for_answer(60) is not None
    # each replayed audio item (~130 KB of base64) fits the queue, two of them do not
    client.realtime.max_send_queue_bytes = 200_000
    ids_before = [i["id"] for i in client.get_conversation_items()]
    waiting = asyncio.ensure_future(client.wait_for_next("reconnected", 10))
    await server.close_connections(1011, "server restarting")
    assert await waiting is not None, "the reconnect did not get through"
    await asyncio.sleep(0.1)
    replayed = _created_items(server.connections[-1].received)
    assert [i["id"] for i in replayed] == ids_before
    audio_parts = [p for i in replayed for p in i.get("content", []) if p["type"] == "input_audio"]
    assert len(audio_parts) == 3
    await client.disconnect()


async def test_a_speech_open_when_the_connection_dropped_holds_no_audio_after(
    server: LocalRealtimeServer,
) -> None:
    client = RealtimeClient(url=server.url, reconnect=True, reconnect_delays=FAST)
    await client.connect()
    started = asyncio.ensure_future(
        client.realtime.wait_for_next("server.input_audio_buffer.speech_started", 5)
    )
    voiced = speech("an utterance cut off by the network", tail_s=0.0)
    client.append_input_audio(voiced)
    assert await started is not None
    waiting = asyncio.ensure_future(client.wait_for_next("reconnected", 5))
    await server.close_connections(1011, "network blip")
    assert await waiting is not None
    # two whole turns in the new session: after them, old input audio is dropped again
    for text in ("first turn after the drop", "second turn after the drop"):
        answered = asyncio.ensure_future(client.wait_for_answer(10))
        client.append_input_audio(speech(text))
        assert await answered is not None
    buffer = client.input_audio_buffer
    kept_s = (buffer.end - buffer.start) / 24_000
    assert buffer.start > 0 and kept_s < 3.0, f"{kept_s:.1f} s of input audio kept"
    await client.disconnect()
