"""``RealtimeWidget(transport="webrtc")`` at the message level: the recording comm plays the
page, a real aiortc peer in the test process (on loopback) makes the call the widget asks
for, with the client secret it was given; the widget's client joins the call's sideband."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import traitlets
from widget_wire import SECRET, Wire, make_widget, recording_comm, until

from realtime_widget.core.errors import UsageError
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.synth import synthesize
from realtime_widget.widget.callwire import parse_call_message
from realtime_widget.widget.widget import RealtimeWidget

pytest.importorskip("aiortc", reason="the webrtc extra (aiortc)")
sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
from call_peer import Caller, loopback_only

FIXTURES = (make_widget, recording_comm)  # pytest finds them here by name


@pytest.fixture
def loopback() -> Iterator[None]:
    with loopback_only():
        yield


@pytest.fixture
async def server(loopback: None) -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="realtime", api_key=SECRET) as started:
        yield started


@pytest.fixture
async def caller(loopback: None) -> AsyncIterator[Caller]:
    peer = Caller()
    yield peer
    await peer.close()


async def asked_call(wire: Wire, mark: int = 0) -> dict[str, Any]:
    """The ``call`` the widget sent the pages (after ``mark``)."""
    await until(lambda: wire.since(mark).custom("call"), timeout=10)
    return wire.since(mark).custom("call")[-1][0]


async def place_call(caller: Caller, server: LocalRealtimeServer, call: dict[str, Any]) -> None:
    """What the page does with a ``call``: post the offer to its URL with its secret."""
    assert call["url"] == f"http://127.0.0.1:{server.port}/v1/realtime/calls"
    answer = await caller.call(server, token=call["secret"])
    assert answer.status_code == 201


def test_a_bad_transport_is_refused_naming_it() -> None:
    with pytest.raises(UsageError, match="'carrier-pigeon'"):
        RealtimeWidget(url="ws://127.0.0.1:9/v1/realtime", transport="carrier-pigeon")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="audio='kernel'"):
        RealtimeWidget(url="ws://127.0.0.1:9/v1/realtime", transport="webrtc", audio="kernel")


def test_the_transport_is_fixed_when_the_widget_is_made(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget(transport="webrtc")
    assert widget.transport == "webrtc" and widget.transport_in_use == "websocket"
    with pytest.raises(traitlets.TraitError, match="read-only"):
        widget.transport = "websocket"
    assert widget.get_state()["transport"] == "webrtc"
    assert make_widget().transport == "websocket"


def test_the_pages_answers_are_checked() -> None:
    started = parse_call_message("call_started", {"request": "r1", "call_id": "rtc_1"})
    assert started == {"type": "call_started", "request": "r1", "call_id": "rtc_1"}
    failed = parse_call_message("call_failed", {"request": "r1", "reason": "x" * 900})
    assert failed["type"] == "call_failed" and len(failed["reason"]) == 500
    with pytest.raises(Exception, match="call_id"):
        parse_call_message("call_started", {"request": "r1", "call_id": ""})


@pytest.mark.asyncio
async def test_the_page_makes_the_call_and_the_kernel_joins_it_keeping_the_tools(
    make_widget: Callable[..., RealtimeWidget], server: LocalRealtimeServer, caller: Caller
) -> None:
    widget = make_widget(transport="webrtc", instructions="be brief")

    @widget.tool
    def add(a: float, b: float) -> float:
        """Add two numbers."""
        return a + b

    wire = Wire(widget)
    connecting = asyncio.ensure_future(widget.connect())
    call = await asked_call(wire)
    assert call["secret"].startswith("ek_") and SECRET not in json.dumps(call)
    await place_call(caller, server, call)
    wire.browser({"type": "call_started", "request": call["request"], "call_id": caller.call_id})
    await asyncio.wait_for(connecting, 20)
    assert widget.connection == "connected" and widget.transport_in_use == "webrtc"
    session = server.calls[caller.call_id].connection.session.to_wire()
    assert session["instructions"] == "be brief" and session["tools"][0]["name"] == "add"
    mark = wire.mark()
    await caller.send(
        type="conversation.item.create",
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "please add 2 and 40"}],
        },
    )
    await caller.send(type="response.create")
    await caller.next("output_audio_buffer.started", timeout=20)
    await until(
        lambda: any("add returned" in (i.get("transcript") or "") for i in widget.items),
        timeout=20,
    )
    outputs = [
        i for i in widget.client.get_conversation_items() if i["type"] == "function_call_output"
    ]
    assert json.loads(outputs[0]["output"]) == 42
    # The answer played on the call's track: the kernel relayed no audio to the page.
    sent = wire.since(mark)
    assert sent.custom("audio") == [] and sent.custom("interrupt") == []
    # The Stop button in a call cuts the answer playing: cancelled, its audio cleared.
    await caller.send(
        type="conversation.item.create",
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "tell me a long story about the sea"}],
        },
    )
    await caller.send(type="response.create")
    playing = await caller.next("output_audio_buffer.started", timeout=20)
    await until(lambda: widget._webrtc._playing == playing["response_id"], timeout=10)
    wire.browser({"type": "stop"})
    cleared = await caller.next("output_audio_buffer.cleared", timeout=10)
    assert cleared["response_id"] == playing["response_id"]
    # A second page's call is hung up.
    wire.browser({"type": "call_started", "request": call["request"], "call_id": "rtc_other"})
    assert wire.custom("hang_up")[-1][0] == {"type": "hang_up", "call_id": "rtc_other"}
    await widget.disconnect()
    assert wire.custom("hang_up")[-1][0] == {"type": "hang_up", "call_id": None}
    assert widget.client.realtime.call_id is None  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_page_that_cannot_make_the_call_makes_the_widget_fall_back(
    make_widget: Callable[..., RealtimeWidget], server: LocalRealtimeServer
) -> None:
    widget = make_widget(transport="webrtc")
    wire = Wire(widget)
    connecting = asyncio.ensure_future(widget.connect())
    call = await asked_call(wire)
    wire.browser(
        {"type": "call_failed", "request": call["request"], "reason": "no RTCPeerConnection"}
    )
    await asyncio.wait_for(connecting, 20)
    assert widget.connection == "connected" and widget.transport_in_use == "websocket"
    assert "WebRTC unavailable" in widget.status and "no RTCPeerConnection" in widget.status
    errors = [e for e in widget.event_log if e["type"] == "error"]
    assert errors and "no RTCPeerConnection" in errors[-1]["summary"]
    assert server.calls == {}
    await until(lambda: wire.custom("log"))
    logged = [e for content, _ in wire.custom("log") for e in content["entries"]]
    assert any("no RTCPeerConnection" in e["summary"] for e in logged)


@pytest.mark.asyncio
async def test_no_page_answering_in_time_falls_back_too(
    make_widget: Callable[..., RealtimeWidget], server: LocalRealtimeServer
) -> None:
    widget = make_widget(transport="webrtc")
    widget._webrtc.timeout = 0.1  # and the kernel's 5 s of slack
    await asyncio.wait_for(widget.connect(), 20)
    assert widget.transport_in_use == "websocket"
    assert "no page made the call" in widget.status


@pytest.mark.asyncio
async def test_a_calls_route_that_refuses_makes_the_page_fail_and_the_widget_fall_back(
    make_widget: Callable[..., RealtimeWidget], server: LocalRealtimeServer, caller: Caller
) -> None:
    widget = make_widget(transport="webrtc")
    wire = Wire(widget)
    connecting = asyncio.ensure_future(widget.connect())
    call = await asked_call(wire)
    refused = await caller.call(server, token="ek_not_issued")
    assert refused.status_code == 401
    reason = f"the calls endpoint answered {refused.status_code}: {refused.text}"
    wire.browser({"type": "call_failed", "request": call["request"], "reason": reason})
    await asyncio.wait_for(connecting, 20)
    assert widget.transport_in_use == "websocket" and "401" in widget.status


@pytest.mark.asyncio
async def test_a_call_that_ends_by_itself_disconnects_and_connect_makes_a_new_one(
    make_widget: Callable[..., RealtimeWidget], server: LocalRealtimeServer, caller: Caller
) -> None:
    widget = make_widget(transport="webrtc")
    wire = Wire(widget)

    async def connect(peer: Caller) -> None:
        mark = wire.mark()
        connecting = asyncio.ensure_future(widget.connect())
        call = await asked_call(wire, mark)
        await place_call(peer, server, call)
        wire.browser({"type": "call_started", "request": call["request"], "call_id": peer.call_id})
        await asyncio.wait_for(connecting, 20)

    await connect(caller)
    await caller.pc.close()  # the page went away
    await until(lambda: widget.connection == "disconnected", timeout=20)
    assert "the WebRTC call ended" in widget.status
    second = Caller()
    try:
        await connect(second)
        assert widget.transport_in_use == "webrtc" and widget.status == ""
        assert list(server.calls) == [second.call_id]
    finally:
        await second.close()


@pytest.mark.asyncio
async def test_push_to_talk_in_a_call_answers_what_was_said_while_held(
    make_widget: Callable[..., RealtimeWidget], server: LocalRealtimeServer, caller: Caller
) -> None:
    widget = make_widget(transport="webrtc", turn_detection=None)
    wire = Wire(widget)
    connecting = asyncio.ensure_future(widget.connect())
    call = await asked_call(wire)
    await place_call(caller, server, call)
    wire.browser({"type": "call_started", "request": call["request"], "call_id": caller.call_id})
    await asyncio.wait_for(connecting, 20)
    assert widget.turn_detection == "manual"
    await asyncio.sleep(1.0)  # silence on the call before the turn: not part of it
    wire.browser({"type": "ptt_start"})
    speech = synthesize("what time is it").samples
    caller.microphone.speak(speech)
    await asyncio.sleep(speech.size / 24_000 + 0.5)
    wire.browser({"type": "ptt_stop"})
    assert widget.status == ""  # not "too short"
    committed = await caller.next("input_audio_buffer.committed", timeout=10)
    await caller.next("response.done", timeout=20)
    kind = "conversation.item.input_audio_transcription.completed"
    await until(lambda: [e for e in caller.seen if e["type"] == kind], timeout=10)
    heard = next(e for e in caller.seen if e["type"] == kind)
    assert heard["item_id"] == committed["item_id"]
    said = speech.size / 24_000
    assert said * 0.8 <= heard["usage"]["seconds"] <= said + 1.0  # the held part only
    user = widget.client.conversation.get_item(committed["item_id"])
    assert user is not None and user["role"] == "user"


@pytest.mark.asyncio
async def test_a_page_shown_while_the_call_is_asked_for_is_asked_again(
    make_widget: Callable[..., RealtimeWidget], server: LocalRealtimeServer, caller: Caller
) -> None:
    widget = make_widget(transport="webrtc")
    wire = Wire(widget)
    connecting = asyncio.ensure_future(widget.connect())
    call = await asked_call(wire)  # sent before any view showed: no page got it
    mark = wire.mark()
    wire.browser({"type": "hello"})
    again = await asked_call(wire, mark)
    assert again == call
    await place_call(caller, server, again)
    wire.browser({"type": "call_started", "request": again["request"], "call_id": caller.call_id})
    await asyncio.wait_for(connecting, 20)
    assert widget.transport_in_use == "webrtc" and widget.connection == "connected"
    mark = wire.mark()
    wire.browser({"type": "hello"})  # a page shown once the call is made is not asked
    await asyncio.sleep(0.2)
    assert not wire.since(mark).custom("call")
