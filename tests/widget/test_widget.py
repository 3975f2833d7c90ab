"""The widget at the message level: a real client on the local server over loopback, a
recording comm in place of the kernel's (``comm.create_comm`` is the documented hook), and
browser messages delivered through the comm as the kernel would deliver them."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
import threading
import traceback
import tracemalloc
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from widget_wire import (
    SECRET,
    Wire,
    by_role,
    last_answer,
    make_widget,
    recording_comm,
    server,
    text_turn,
    until,
)

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import AuthenticationError
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.synth import synthesize
from realtime_widget.widget import options as _widget_options
from realtime_widget.widget import widget as widget_module
from realtime_widget.widget.frontend import assemble_css, assemble_esm, find_js_dir, strip_exports
from realtime_widget.widget.host import CONNECTION_STATES, MIC_STATES, TURN_MODES, WidgetHost
from realtime_widget.widget.options import ipykernel_too_old
from realtime_widget.widget.widget import RealtimeWidget, Underruns

FIXTURES = (make_widget, recording_comm, server)  # pytest finds them here by name


def item(widget: RealtimeWidget, item_id: str) -> dict[str, Any]:
    found = widget.client.conversation.get_item(item_id)
    assert found is not None
    return found


def received(server: LocalRealtimeServer, kind: str) -> list[dict[str, Any]]:
    return [e for c in server.connections for e in c.received if e.get("type") == kind]


def speech_chunks(text: str, silence_ms: int = 900, chunk_ms: int = 80) -> list[memoryview]:
    samples = np.concatenate(
        [synthesize(text).samples, np.zeros(silence_ms * 24, dtype=np.int16)]
    ).astype("<i2")
    step = chunk_ms * 24
    return [memoryview(samples[i : i + step].tobytes()) for i in range(0, samples.size, step)]


# -- the frontend module ---------------------------------------------------------------------


def test_esm_is_the_lib_files_stripped_then_the_widget_files() -> None:
    js = find_js_dir()
    esm = RealtimeWidget._esm
    assert esm == assemble_esm(js)
    assert RealtimeWidget._css == assemble_css(js) and ".rtw" in RealtimeWidget._css
    for path in sorted((js / "lib").glob("*.js")):
        assert strip_exports(path.read_text("utf-8")) in esm
    lib = esm.split("// ---- widget/")[0]
    assert "\nexport " not in lib and "class JitterPlayer" in lib
    for path in sorted((js / "widget").glob("*.js")):
        assert path.read_text("utf-8") in esm  # kept whole, exports and all
    assert esm.rstrip().endswith("};")  # widget.js's export default closes the module
    assert esm.index("export class RtwView") < esm.index("export default {")
    assert strip_exports("export function f() {}\n  export x\nexport const y = 1;") == (
        "function f() {}\n  export x\nconst y = 1;"
    )


def test_assembly_order_and_stripping(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "widget").mkdir()
    (tmp_path / "lib" / "b.js").write_text("export const B = 2;\n")
    (tmp_path / "lib" / "a.js").write_text("export function a() {}\n")
    (tmp_path / "widget" / "view.js").write_text("export class View {}\n")
    (tmp_path / "widget.js").write_text("export default { render() {} };\n")
    (tmp_path / "widget.css").write_text(".rtw {}\n")
    esm = assemble_esm(tmp_path)
    body = [line for line in esm.splitlines() if line and not line.startswith("// ----")]
    assert body == [
        "function a() {}",
        "const B = 2;",
        "export class View {}",
        "export default { render() {} };",
    ]
    assert assemble_css(tmp_path) == ".rtw {}\n"


# -- connection and traits --------------------------------------------------------------------


def test_the_widget_is_the_host_its_parts_use() -> None:
    """The parts hold the widget as a ``WidgetHost``; anywidget's base class is untyped, so
    this checks what the type checker cannot: each member is there, each trait synced and
    allowing the host's states."""
    traits = RealtimeWidget.class_traits()
    for name in WidgetHost.__annotations__:
        assert name in traits and traits[name].metadata.get("sync"), name
    assert tuple(traits["connection"].values) == CONNECTION_STATES
    assert tuple(traits["mic"].values) == MIC_STATES
    assert tuple(traits["turn_detection"].values) == TURN_MODES
    assert isinstance(RealtimeWidget.client, property)
    for side in (RealtimeWidget.input_device, RealtimeWidget.output_device):
        assert isinstance(side, property) and side.fset is not None
    assert inspect.iscoroutinefunction(RealtimeWidget.connect)
    assert callable(RealtimeWidget.disconnect)


async def test_connect_sets_traits_and_tools(make_widget: Callable[..., RealtimeWidget]) -> None:
    def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city."""
        return {"city": city, "forecast": "sunny"}

    widget = make_widget(tools=[get_weather], instructions="Be brief.")
    wire = Wire(widget)
    assert widget.connection == "disconnected"
    assert [t["name"] for t in widget.tools] == ["get_weather"]
    assert widget.tools[0]["description"] == "The weather in a city."
    assert widget.tools[0]["parameters"]["properties"]["city"]["type"] == "string"
    await widget.connect()
    assert widget.connection == "connected" and widget.error == ""
    assert [s["connection"] for s in wire.updates("connection")] == ["connecting", "connected"]
    assert widget.turn_detection == "server_vad"

    @widget.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    assert add(2, 3) == 5
    assert [t["name"] for t in widget.tools] == ["get_weather", "add"]
    assert [t["name"] for t in wire.updates("tools")[-1]["tools"]] == ["get_weather", "add"]
    await widget.connect()  # connected already: nothing happens
    assert widget.connection == "connected"
    await widget.disconnect()
    assert widget.connection == "disconnected"


async def test_connect_failure_sets_error() -> None:
    widget = RealtimeWidget(url="ws://127.0.0.1:9/v1/realtime", api_key=SECRET)
    with pytest.raises(Exception, match="cannot connect"):
        await widget.connect()
    assert widget.connection == "error"
    assert "cannot connect" in widget.error
    widget.close()


async def test_connect_and_disconnect_from_the_browser(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    wire.browser({"type": "connect"})  # schedules connect() on the running loop
    assert widget.connection == "disconnected"
    await until(lambda: widget.connection == "connected")
    assert widget.client.is_connected()
    wire.browser({"type": "connect"})
    wire.browser({"type": "disconnect"})
    assert widget.connection == "disconnected"
    await until(lambda: not widget.client.is_connected())


# -- a text turn ------------------------------------------------------------------------------


async def test_text_turn_streams_deltas_and_binary_audio(
    make_widget: Callable[..., RealtimeWidget], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widget_module, "ITEMS_SYNC_SECONDS", 30.0)  # a slow machine's turn
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    start = wire.mark()
    answer = await text_turn(widget, "hello")
    turn = wire.since(start)

    user = by_role(widget, "user")[-1]
    assert (user["text"], user["status"]) == ("hello", "completed")
    assert answer["transcript"] == "You said: hello."
    stored = item(widget, answer["id"])
    received_samples = len(stored["formatted"]["audio"])
    assert answer["audio_ms"] == received_samples * 1000 // 24000 > 0

    deltas = [c for c, _ in turn.custom("delta") if c["item_id"] == answer["id"]]
    assert "".join(d["delta"] for d in deltas) == "You said: hello."
    assert all(set(d) == {"type", "item_id", "field", "delta"} for d in deltas)
    assert {d["field"] for d in deltas} == {"transcript"}

    audio = [(c, b) for c, b in turn.custom("audio")]
    assert audio and all(c == {"type": "audio", "item_id": answer["id"]} for c, _ in audio)
    assert all(len(b) == 1 and isinstance(b[0], bytes | memoryview) for _, b in audio)
    pcm = b"".join(bytes(b[0]) for _, b in audio)
    assert len(pcm) == 2 * received_samples
    assert np.array_equal(np.frombuffer(pcm, "<i2"), stored["formatted"]["audio"].to_numpy())

    done = turn.custom("audio_done")
    assert [c for c, _ in done] == [{"type": "audio_done", "item_id": answer["id"]}]
    kinds = [c["type"] for c, _ in turn.custom()]
    assert kinds.index("audio_done") > max(i for i, k in enumerate(kinds) if k == "audio")

    # Per item event one item message; the whole items list goes out later, once quiet.
    summaries = [c["item"] for c, _ in turn.custom("item")]
    assert {s["id"] for s in summaries} == {user["id"], answer["id"]}
    assert [s["rev"] for s in summaries] == sorted({s["rev"] for s in summaries})
    assert summaries[-1] == answer  # the last message says what the kernel's list says
    assert turn.updates("items") == []
    await until(lambda: wire.since(start).updates("items"))
    state = wire.since(start).updates("items")[-1]["items"]
    assert state == {"rev": summaries[-1]["rev"], "items": widget.items}


async def test_per_delta_traffic_does_not_grow_with_the_conversation(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()

    def turn_costs(mark: int) -> tuple[int, int, int]:
        turn = wire.since(mark)
        streamed = turn.custom("delta") + turn.custom("audio")
        sizes = [len(json.dumps(c)) + sum(len(bytes(b)) for b in bufs) for c, bufs in streamed]
        # the revision's digits aside
        item_messages = [len(json.dumps({**c["item"], "rev": 0})) for c, _ in turn.custom("item")]
        return max(sizes), len(turn.custom("item")), max(item_messages)

    mark = wire.mark()
    await text_turn(widget, "tell me a story")
    first = turn_costs(mark)
    for _ in range(6):
        await text_turn(widget, "tell me a story")
    mark = wire.mark()
    await text_turn(widget, "tell me a story")
    last = turn_costs(mark)
    assert len(widget.items) == 16
    assert last[0] == first[0]  # the largest streamed message is the same size
    assert last[1] == first[1]  # the same number of item messages per turn
    assert last[2] == first[2]  # item messages carry one item, whatever came before


async def test_hello_answers_with_items_still_streaming(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    async with LocalRealtimeServer(pace=1.0) as slow:
        widget = make_widget(url=slow.url)
        wire = Wire(widget)
        await widget.connect()
        widget.send_text("hello there my friend")
        await until(lambda: len(wire.custom("delta")) >= 2)
        streamed = "".join(c["delta"] for c, _ in wire.custom("delta"))
        wire.browser({"type": "hello"})
        snapshot = wire.custom("snapshot")[-1][0]
        flying = [s for s in snapshot["items"] if s["role"] == "assistant"]
        assert len(flying) == 1
        assert flying[0]["status"] == "in_progress"
        assert flying[0]["transcript"].startswith(streamed) and streamed
        trait_ids = {s["id"] for s in widget.items}
        assert flying[0]["id"] in trait_ids
        trait_copy = next(s for s in widget.items if s["id"] == flying[0]["id"])
        assert trait_copy["transcript"] == ""  # the trait holds the item as appended
        # How much of its audio went out before: a page opened now counts from there.
        sent = sum(
            len(b[0]) // 2 for c, b in wire.custom("audio") if c["item_id"] == flying[0]["id"]
        )
        assert sent > 0 and snapshot["audio_sent"] == {flying[0]["id"]: sent}
        await until(lambda: item(widget, flying[0]["id"])["status"] == "completed", 15)
        wire.browser({"type": "hello"})
        assert wire.custom("snapshot")[-1][0]["audio_sent"] == {}
        await widget.client.aclose()


# -- an audio turn ----------------------------------------------------------------------------


async def test_audio_turn_with_server_vad(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    for chunk in speech_chunks("what is the weather like"):
        wire.browser({"type": "audio"}, [chunk])
    await until(lambda: last_answer(widget).get("status") == "completed")
    user = by_role(widget, "user")[-1]
    assert user["audio_ms"] > 1000
    assert user["transcript"] == "what is the weather like"  # the local model hears its synth
    assert wire.custom("interrupt"), "speech_started becomes an interrupt for the browser"
    assert by_role(widget, "assistant")[-1]["transcript"] == "You said: what is the weather like."
    appended = received(server, "input_audio_buffer.append")
    assert len(appended) == len(speech_chunks("what is the weather like"))


async def test_audio_before_connect_is_dropped(make_widget: Callable[..., RealtimeWidget]) -> None:
    widget = make_widget()
    Wire(widget).browser({"type": "audio"}, [memoryview(bytes(3840))])
    assert widget.error == ""
    assert widget._browser.dropped_audio_chunks == 1


# -- interruption -----------------------------------------------------------------------------


async def test_interrupted_after_the_response_truncates_at_the_played_position(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    answer = await text_turn(widget, "hello there")
    wire.browser({"type": "played", "item_id": answer["id"], "played_samples": 6000})
    wire.browser({"type": "interrupted", "item_id": answer["id"], "played_samples": 12_000})
    await until(lambda: received(server, "conversation.item.truncate"))
    truncate = received(server, "conversation.item.truncate")[-1]
    assert truncate["item_id"] == answer["id"]
    assert truncate["audio_end_ms"] == 500
    assert not received(server, "response.cancel"), "no response was active"
    await until(lambda: by_role(widget, "assistant")[-1]["truncated_ms"] == 500)
    cut = by_role(widget, "assistant")[-1]
    assert cut["audio_ms"] == 500
    assert cut["transcript"] == "You said: hello there."  # what was said stays readable
    assert widget.played_samples[answer["id"]] == 12_000
    assert widget.interruptions[-1].played_samples == 12_000
    assert widget.error == ""


async def test_underruns_the_browser_reports_are_kept_per_item(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    assert widget.underruns == {}
    wire.browser({"type": "underruns", "item_id": "item_a", "count": 3, "fill_samples": 4800.0})
    wire.browser({"type": "underruns", "item_id": "item_b", "count": 1, "fill_samples": 240})
    assert widget.underruns == {"item_a": Underruns(3, 4800), "item_b": Underruns(1, 240)}
    wire.browser({"type": "underruns", "item_id": "item_a", "count": 4, "fill_samples": 5000})
    assert widget.underruns["item_a"] == Underruns(4, 5000), "the latest report"
    widget.underruns.clear()
    assert len(widget.underruns) == 2, "a copy"
    assert widget.error == ""


async def test_interrupt_during_a_response_cancels_and_truncates(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    async with LocalRealtimeServer(pace=1.0) as slow:
        widget = make_widget(url=slow.url)
        wire = Wire(widget)
        await widget.connect()
        widget.send_text("a fairly long sentence to say out loud")
        await until(lambda: len(wire.custom("audio")) >= 2)
        item_id = wire.custom("audio")[0][0]["item_id"]
        wire.browser({"type": "interrupted", "item_id": item_id, "played_samples": 2400})
        await until(lambda: received(slow, "conversation.item.truncate"))
        assert received(slow, "response.cancel")
        assert received(slow, "conversation.item.truncate")[-1]["audio_end_ms"] == 100
        mark = wire.mark()
        await until(lambda: item(widget, item_id)["status"] == "incomplete")
        await asyncio.sleep(0.3)
        late = [c for c, _ in wire.since(mark).custom("audio") if c["item_id"] == item_id]
        assert late == [], "audio of an interrupted item is not sent any more"
        assert widget.error == ""
        await widget.client.aclose()


async def test_interrupted_with_nothing_playing_only_cancels(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    await text_turn(widget, "hi")
    wire.browser({"type": "interrupted", "item_id": None, "played_samples": 0})
    wire.browser({"type": "stop"})
    user_id = by_role(widget, "user")[-1]["id"]
    wire.browser({"type": "interrupted", "item_id": user_id, "played_samples": 10})
    await asyncio.sleep(0.1)
    assert not received(server, "conversation.item.truncate")
    assert not received(server, "response.cancel")
    assert widget.error == ""


def test_reports_of_items_that_do_not_exist_keep_no_memory() -> None:
    """A page reporting interruptions of ever new item ids (a bug, or a hostile page)."""
    widget = RealtimeWidget(url="ws://127.0.0.1:9/v1/realtime", api_key=SECRET)
    wire = Wire(widget)

    def interrupt(first: int, count: int) -> None:
        for n in range(first, first + count):
            message = {"type": "interrupted", "item_id": f"item_{n:09d}", "played_samples": n}
            wire.browser(message)

    interrupt(0, 3_000)  # the bounded reports (interruptions, played positions) fill up
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        interrupt(3_000, 20_000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    widget.close()
    assert grown < 256 * 1024, f"{grown:,} bytes kept for 20,000 reports"


# -- push to talk -----------------------------------------------------------------------------


async def test_push_to_talk(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget(turn_detection="manual")
    wire = Wire(widget)
    assert widget.turn_detection == "manual"
    assert widget.client.get_turn_detection_type() is None
    await widget.connect()
    wire.browser({"type": "ptt_start"})
    for chunk in speech_chunks("hello", silence_ms=0):
        wire.browser({"type": "audio"}, [chunk])
    await asyncio.sleep(0.1)
    assert not received(server, "input_audio_buffer.commit"), "no turn before the release"
    assert not by_role(widget, "assistant")
    wire.browser({"type": "ptt_stop"})
    await until(lambda: last_answer(widget).get("status") == "completed")
    assert len(received(server, "input_audio_buffer.commit")) == 1
    assert by_role(widget, "user")[-1]["audio_ms"] > 300
    assert by_role(widget, "assistant")[-1]["transcript"] == "You said: hello."

    # A tap too short to hold speech asks for nothing, and its audio is dropped.
    wire.browser({"type": "ptt_start"})
    wire.browser({"type": "audio"}, [memoryview(bytes(960))])
    wire.browser({"type": "ptt_stop"})
    await until(lambda: received(server, "input_audio_buffer.clear"))
    assert len(received(server, "input_audio_buffer.commit")) == 1
    assert "too short" in widget.status
    # ptt_stop without ptt_start is ignored.
    wire.browser({"type": "ptt_stop"})
    assert len(received(server, "response.create")) == 1

    # The next turn holds its own speech only, not the tap before it.
    await asyncio.sleep(0.1)  # the server's input_audio_buffer.cleared is back
    chunks = speech_chunks("again", silence_ms=0)
    wire.browser({"type": "ptt_start"})
    for chunk in chunks:
        wire.browser({"type": "audio"}, [chunk])
    wire.browser({"type": "ptt_stop"})
    await until(lambda: len(by_role(widget, "assistant")) == 2)
    await until(lambda: last_answer(widget).get("status") == "completed")
    user = by_role(widget, "user")[-1]
    assert user["transcript"] == "again"  # the server heard the speech alone
    assert len(item(widget, user["id"])["formatted"]["audio"]) == sum(c.nbytes for c in chunks) // 2


async def test_turn_detection_follows_the_browser(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget(turn_detection={"type": "server_vad", "silence_duration_ms": 800})
    wire = Wire(widget)
    await widget.connect()
    wire.browser_sets(turn_detection="manual")
    assert widget.turn_detection == "manual"
    assert widget.client.get_turn_detection_type() is None
    wire.browser_sets(turn_detection="server_vad")
    detection = widget.client.config.turn_detection()
    assert detection is not None and detection["silence_duration_ms"] == 800
    wire.browser_sets(turn_detection="semantic_vad")
    await until(lambda: len(received(server, "session.update")) >= 4)
    last = received(server, "session.update")[-1]["session"]
    assert last["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    manual = received(server, "session.update")[-3]["session"]
    assert manual["audio"]["input"]["turn_detection"] is None
    wire.browser_sets(mic="on")
    assert widget.mic == "on"


async def test_the_page_sets_only_the_traits_it_owns(
    make_widget: Callable[..., RealtimeWidget], caplog: pytest.LogCaptureFixture
) -> None:
    """``mic``, the turn mode and clearing ``error``: the rest is the kernel's, and a page
    that sends it is logged and answered with the kernel's value."""
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    await text_turn(widget, "first")
    tools, key = list(widget.tools), widget._session_key
    widget.error = "a real error"
    mark = wire.mark()
    with caplog.at_level(logging.WARNING, logger="realtime_widget.widget"):
        wire.browser_sets(
            items=[],
            tools=[{"name": "evil", "description": "", "parameters": {}}],
            connection="disconnected",
            status="forged",
            error="forged error",
            _session_key="another",
            mic="on",
            turn_detection="manual",
        )
    assert widget.mic == "on" and widget.turn_detection == "manual"  # the page's own
    assert widget.connection == "connected" and widget.status == ""
    assert widget.tools == tools and widget._session_key == key
    assert widget.error == "a real error"
    dropped = " ".join(r.getMessage() for r in caplog.records)
    for name in ("items", "tools", "connection", "status", "error", "_session_key"):
        assert repr(name) in dropped
    assert "'mic'" not in dropped and "'turn_detection'" not in dropped
    # the page's copy is set back to the kernel's
    restored = {k: v for state in wire.since(mark).updates() for k, v in state.items()}
    assert restored["connection"] == "connected" and restored["error"] == "a real error"
    assert [t["name"] for t in restored["tools"]] == [t["name"] for t in tools]
    assert [s["id"] for s in restored["items"]["items"]] == [s["id"] for s in widget.items]
    # items still follows the conversation
    await text_turn(widget, "second")
    assert len(widget.items) == 4
    assert widget.items is widget._items.summaries
    # the page may clear the error (its close button), and only clear it
    wire.browser_sets(error="")
    assert widget.error == ""
    # a value the trait does not allow is dropped and named, not raised into the comm
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="realtime_widget.widget"):
        wire.browser_sets(mic="loud", turn_detection="sometimes")
    assert widget.mic == "on" and widget.turn_detection == "manual"
    dropped = " ".join(r.getMessage() for r in caplog.records)
    assert "'loud'" in dropped and "'sometimes'" in dropped


async def test_turn_detection_follows_the_client(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget(turn_detection={"type": "server_vad", "silence_duration_ms": 700})
    wire = Wire(widget)
    await widget.connect()
    await until(lambda: len(received(server, "session.update")) == 1)
    widget.client.update_session(turn_detection=None)  # from a cell, on the client
    assert widget.turn_detection == "manual"
    assert wire.updates("turn_detection")[-1] == {"turn_detection": "manual"}
    widget.client.update_session(turn_detection={"type": "semantic_vad", "eagerness": "low"})
    assert widget.turn_detection == "semantic_vad"
    # One session.update per change: following the client sends nothing back.
    await asyncio.sleep(0.1)
    assert len(received(server, "session.update")) == 3
    # The browser switches back and forth; each mode keeps the settings it last had.
    wire.browser_sets(turn_detection="server_vad")
    assert widget.client.config.turn_detection() == {
        "type": "server_vad",
        "silence_duration_ms": 700,
    }
    wire.browser_sets(turn_detection="semantic_vad")
    assert widget.client.config.turn_detection() == {"type": "semantic_vad", "eagerness": "low"}
    await until(lambda: len(received(server, "session.update")) == 5)
    # Changed while disconnected, it shows when the session is sent again.
    await widget.disconnect()
    widget.client.update_session(turn_detection=None)
    await widget.connect()
    assert widget.turn_detection == "manual"


async def test_a_page_starting_while_the_mic_reads_on_finds_out_who_holds_it(
    make_widget: Callable[..., RealtimeWidget], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("realtime_widget.widget.widget.MIC_CHECK_SECONDS", 0.1)
    widget = make_widget()
    wire = Wire(widget)
    wire.browser_sets(mic="on")
    # a second page: the first one answers that it captures, and the mic stays on
    wire.browser({"type": "mic_check"})
    assert [c for c, _ in wire.custom("mic_check")] == [{"type": "mic_check"}]
    wire.browser({"type": "mic_held"})
    await asyncio.sleep(0.3)
    assert widget.mic == "on"
    # a reloaded page: nobody answers, so the mic the old page left on is turned off
    wire.browser({"type": "mic_check"})
    assert len(wire.custom("mic_check")) == 2
    await asyncio.sleep(0.05)
    assert widget.mic == "on"
    await until(lambda: widget.mic == "off")
    # with the mic off there is nothing to check
    wire.browser({"type": "mic_check"})
    assert len(wire.custom("mic_check")) == 2


# -- tools ------------------------------------------------------------------------------------


async def test_tool_call_cards(make_widget: Callable[..., RealtimeWidget]) -> None:
    widget = make_widget()
    wire = Wire(widget)

    @widget.tool
    async def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city."""
        await asyncio.sleep(0.05)
        return {"city": city, "forecast": "sunny"}

    @widget.tool
    def explode(reason: str) -> str:
        """Fails on purpose."""
        raise RuntimeError(f"kaboom: {reason}")

    await widget.connect()
    widget.send_text("please call get_weather for Paris")
    await until(lambda: "get_weather returned" in last_answer(widget).get("transcript", ""))
    calls = [i for i in widget.items if i["type"] == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    assert call["tool_state"] == "done"
    assert call["tool_ms"] is not None and call["tool_ms"] >= 40
    assert json.loads(call["output"]) == {"city": "Paris", "forecast": "sunny"}
    states = [
        c["item"]["tool_state"] for c, _ in wire.custom("item") if c["item"]["id"] == call["id"]
    ]
    assert "running" in states and states[-1] == "done"
    arguments = "".join(c["delta"] for c, _ in wire.custom("delta") if c["field"] == "arguments")
    assert json.loads(arguments) == {"city": "Paris"}

    widget.send_text("call explode for fun")
    await until(lambda: "explode failed" in last_answer(widget).get("transcript", ""))
    failed = next(i for i in widget.items if i["name"] == "explode")
    assert failed["tool_state"] == "error"
    assert "kaboom" in failed["output"]
    assert "kaboom" in widget.error


# -- browser messages -------------------------------------------------------------------------


async def test_malformed_browser_messages_are_ignored(
    server: LocalRealtimeServer,
    make_widget: Callable[..., RealtimeWidget],
    caplog: pytest.LogCaptureFixture,
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    bad: list[tuple[Any, list[Any]]] = [
        ("not a dict", []),
        ({}, []),
        ({"type": "nope"}, []),
        ({"type": "audio"}, []),
        ({"type": "audio"}, [memoryview(b"abc")]),
        ({"type": "audio"}, [b"ab", b"cd"]),
        ({"type": "audio"}, ["text"]),
        ({"type": "audio"}, [bytes(2 * 1024 * 1024)]),
        ({"type": "interrupted", "item_id": "x", "played_samples": -1}, []),
        ({"type": "interrupted", "item_id": 5, "played_samples": 1}, []),
        ({"type": "interrupted", "item_id": "x", "played_samples": True}, []),
        ({"type": "played", "item_id": None, "played_samples": 1}, []),
        ({"type": "played", "item_id": "x", "played_samples": "1"}, []),
        ({"type": "underruns", "item_id": "x", "count": -1, "fill_samples": 1}, []),
        ({"type": "underruns", "item_id": "x", "count": 1}, []),
        ({"type": "underruns", "item_id": None, "count": 1, "fill_samples": 1}, []),
        ({"type": "text", "text": ""}, []),
        ({"type": "text", "text": ["hi"]}, []),
        ({"type": "text", "text": "x" * 20_001}, []),
    ]
    await asyncio.sleep(0.05)
    before = sum(len(c.received) for c in server.connections)
    with caplog.at_level(logging.WARNING, logger="realtime_widget.widget"):
        for content, buffers in bad:
            wire.browser(content, buffers)
    warnings = [r for r in caplog.records if "ignored a browser message" in r.getMessage()]
    assert len(warnings) == len(bad)
    await asyncio.sleep(0.1)
    assert sum(len(c.received) for c in server.connections) == before, "nothing reached the server"
    assert widget.error == "" and widget.connection == "connected"

    # An item the conversation does not hold has nothing to truncate: no error either.
    wire.browser({"type": "interrupted", "item_id": "item_unknown", "played_samples": 5})
    assert widget.error == ""
    # Floats that are whole numbers are fine (JSON from the browser).
    wire.browser({"type": "played", "item_id": "item_x", "played_samples": 48000.0})
    assert widget.played_samples["item_x"] == 48000


async def test_text_from_the_browser(make_widget: Callable[..., RealtimeWidget]) -> None:
    widget = make_widget()
    wire = Wire(widget)
    wire.browser({"type": "text", "text": "too early"})
    assert "not connected" in widget.error
    await widget.connect()
    wire.browser({"type": "text", "text": "<b>bold</b>"})
    await until(lambda: last_answer(widget).get("status") == "completed")
    assert by_role(widget, "user")[-1]["text"] == "<b>bold</b>"


# -- the key ----------------------------------------------------------------------------------


async def test_the_api_key_never_reaches_the_browser(
    make_widget: Callable[..., RealtimeWidget],
    server: LocalRealtimeServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every surface at once: state, messages, buffers, reprs, logs, error events, tracebacks."""

    def echo(city: str) -> str:
        return city

    caplog.set_level(logging.DEBUG)
    widget = make_widget(tools=[echo])
    widget.client.realtime.debug = True
    errors: list[Any] = []
    widget.client.on("error", errors.append)
    wire = Wire(widget)
    await widget.connect()
    await text_turn(widget, f"my key is not {SECRET[:6]}")
    for chunk in speech_chunks("hi"):
        wire.browser({"type": "audio"}, [chunk])
    await until(lambda: len(by_role(widget, "assistant")) >= 2)
    widget.client.dispatch("error", {"type": "x", "message": f"bad key {SECRET} rejected"})
    assert widget.error == "bad key <redacted> rejected"
    widget.client.realtime.url = f"ws://127.0.0.1:1/v1/realtime?key={SECRET}"

    texts = [json.dumps(widget.get_state(), default=str), repr(widget), str(widget)]
    texts.append(json.dumps(widget._repr_mimebundle_(), default=str))
    for msg_type, data, buffers in wire.comm.published:
        texts.append(msg_type + json.dumps(data, default=str))
        texts.extend(bytes(b).decode("latin-1") for b in buffers)
    assert len(wire.comm.published) > 20
    # a refused key: the exception, its traceback and the error event it becomes
    async with LocalRealtimeServer(pace="fast", api_key="another-key") as strict:
        refused = RealtimeWidget(url=strict.url, api_key=SECRET)
        with pytest.raises(AuthenticationError) as info:
            await refused.connect()
        texts.append("".join(traceback.format_exception(info.value)))
        texts.extend([refused.error, repr(refused), json.dumps(refused.get_state(), default=str)])
        refused.close()
    texts.extend(repr(e) for e in errors if e.get("type") != "x")  # "x" is the test's own
    texts.extend(r.getMessage() for r in caplog.records)
    assert any("Authorization" in r.getMessage() for r in caplog.records)  # headers were logged
    for text in texts:
        assert SECRET not in text
    assert "sk-test-SECRET" not in repr(widget)


async def test_a_given_client_is_used_as_is(server: LocalRealtimeServer) -> None:
    client = RealtimeClient(url=server.url, api_key=SECRET)
    client.update_session(turn_detection={"type": "semantic_vad"})
    widget = RealtimeWidget(client)
    assert widget.client is client
    assert widget.turn_detection == "semantic_vad"
    with pytest.raises(ValueError, match="either client"):
        RealtimeWidget(client, url=server.url)
    with pytest.raises(ValueError, match="turn_detection"):
        RealtimeWidget(client, turn_detection="sometimes")
    await client.connect()
    widget2 = RealtimeWidget(client)
    assert widget2.connection == "connected"
    widget.close()
    widget2.close()
    await client.aclose()


async def test_browser_messages_from_another_thread_run_on_the_clients_loop(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    """JupyterLab delivers widget messages on a kernel subshell: another thread."""
    widget = make_widget()
    wire = Wire(widget)
    await asyncio.to_thread(wire.browser, {"type": "connect"})
    await until(lambda: widget.connection == "connected")
    senders: list[int] = []
    widget.client.on(
        "realtime.event",
        lambda e: senders.append(threading.get_ident()) if e["source"] == "client" else None,
    )
    await asyncio.to_thread(wire.browser, {"type": "text", "text": "hi"})
    await until(lambda: last_answer(widget).get("status") == "completed")
    await asyncio.to_thread(wire.browser, {"type": "audio"}, [memoryview(bytes(3840))])
    await asyncio.to_thread(wire.browser_sets, turn_detection="manual")
    await until(lambda: widget.client.get_turn_detection_type() is None and len(senders) >= 4)
    assert set(senders) == {threading.get_ident()}


async def test_a_lost_connection_reconnects(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget()
    widget.client.reconnect_delays = (0.05, 0.05)
    wire = Wire(widget)
    await widget.connect()
    await text_turn(widget, "remember me")
    mark = wire.mark()
    await server.close_connections(1011, "server restart")
    await until(lambda: widget.connection == "connected" and len(server.connections) == 1)
    # Straight to reconnecting: the browser keeps its mic open through a reconnect, and
    # stops it only on "disconnected" or a final "error".
    states = [s["connection"] for s in wire.since(mark).updates("connection")]
    assert states == ["reconnecting", "connected"]
    assert widget.error == "" and widget.status == ""
    assert len(widget.items) == 2
    answer = await text_turn(widget, "and now")
    assert answer["transcript"] == "You said: and now."


async def test_a_client_made_without_reconnect_stays_closed(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget(reconnect=False)
    wire = Wire(widget)
    await widget.connect()
    mark = wire.mark()
    await server.close_connections(1011, "gone")
    await until(lambda: widget.connection == "error")
    await asyncio.sleep(0.2)
    assert widget.connection == "error" and "1011" in widget.error
    assert [s["connection"] for s in wire.since(mark).updates("connection")] == ["error"]


async def test_a_close_event_that_says_whether_a_reconnect_follows_is_believed(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    await widget.client.realtime.disconnect()  # no close event for this one
    mark = wire.mark()
    closed = {"code": 1006, "reason": "", "error": True, "exception": None}
    widget.client.dispatch("close", {**closed, "reconnecting": True})
    assert widget.connection == "reconnecting"  # at once, not after an "error"
    assert "reconnecting" in widget.status
    widget.client.dispatch("close", {**closed, "code": 1008, "reconnecting": False})
    assert widget.connection == "error" and "1008" in widget.error
    await asyncio.sleep(0.1)
    states = [s["connection"] for s in wire.since(mark).updates("connection")]
    assert states == ["reconnecting", "error"]


def test_tools_trait_follows_the_client_however_tools_are_registered(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()

    @widget.tool
    def first(x: int) -> int:
        """The first tool."""
        return x

    def second(y: str) -> str:
        """The second tool."""
        return y

    widget.client.register_tool(second)  # straight on the client, as a notebook might
    widget.client.add_tool({"name": "manual", "description": "Answered by hand."})
    assert [t["name"] for t in widget.tools] == ["manual", "first", "second"]
    assert widget.tools[1]["description"] == "The first tool."
    widget.client.unregister_tool("first")
    widget.client.remove_tool("manual")
    assert [t["name"] for t in widget.tools] == ["second"]


def test_an_old_ipykernel_is_warned_about_once(
    server: LocalRealtimeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ipykernel_too_old("6.29.5") and ipykernel_too_old("5.0")
    assert not ipykernel_too_old("7.0.0") and not ipykernel_too_old("7.4.0b1")
    assert not ipykernel_too_old("dev")
    kernel = types.ModuleType("ipykernel")
    kernel.__version__ = "6.29.5"  # type: ignore[attr-defined]
    kernel.version_info = (6, 29, 5)  # type: ignore[attr-defined]  # ipywidgets reads it
    monkeypatch.setitem(sys.modules, "ipykernel", kernel)
    monkeypatch.setattr(_widget_options, "_ipykernel_warned", False)
    with pytest.warns(RuntimeWarning, match=r"ipykernel 6\.29\.5 .* ipykernel>=7\.4"):
        first = RealtimeWidget(url=server.url, api_key=SECRET)
    # the warning is a RuntimeWarning (ipywidgets 8.1.0 adds DeprecationWarnings of its own)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        second = RealtimeWidget(url=server.url, api_key=SECRET)  # once per process
    kernel.__version__ = "7.1.0"  # type: ignore[attr-defined]
    kernel.version_info = (7, 1, 0)  # type: ignore[attr-defined]
    monkeypatch.setattr(_widget_options, "_ipykernel_warned", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        third = RealtimeWidget(url=server.url, api_key=SECRET)
    for made in (first, second, third):
        made.close()
