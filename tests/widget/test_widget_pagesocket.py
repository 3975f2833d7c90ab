"""The page socket (``realtime_widget.widget.pagesocket``): a page's messages over a websocket
to the kernel instead of the comm. A real client on the local server over loopback, and a
real websockets client playing the page."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from widget_wire import (
    SECRET,
    Wire,
    by_role,
    last_answer,
    make_widget,
    recording_comm,
    server,
    until,
)

from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.synth import synthesize
from realtime_widget.widget import pagesocket
from realtime_widget.widget.pagesocket import MAX_HELD_FRAMES
from realtime_widget.widget.widget import RealtimeWidget
from realtime_widget.widget.wire import is_page_id

FIXTURES = (make_widget, recording_comm, server)  # pytest finds them here by name
URL = re.compile(r"ws://127\.0\.0\.1:\d+/[A-Za-z0-9_-]{16,}")


async def offered(wire: Wire) -> str:
    """The page says hello; returns the socket's URL the kernel answers with."""
    wire.browser({"type": "hello"})
    await until(lambda: wire.custom("page_socket"))
    url = str(wire.custom("page_socket")[-1][0]["url"])
    assert URL.fullmatch(url), url
    return url


async def open_page(url: str, page: str = "page-1") -> ClientConnection:
    """A page's socket; it keeps reading whatever the test does not (as a page would)."""
    socket = await connect(f"{url}?page={page}", max_queue=None)
    assert json.loads(await asyncio.wait_for(socket.recv(), 5)) == {"type": "ready"}
    return socket


async def connected_page(
    make_widget: Callable[..., RealtimeWidget], page: str, *, switch: bool = True
) -> tuple[RealtimeWidget, Wire, ClientConnection]:
    """A connected widget and a page on its socket, switched to it unless ``switch=False``."""
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    socket = await open_page(await offered(wire), page)
    if switch:
        wire.browser({"type": "socket_switch", "id": page})
    return widget, wire, socket


def appended(server: LocalRealtimeServer) -> bytes:
    return b"".join(
        base64.b64decode(e["audio"])
        for c in server.connections
        for e in c.received
        if e.get("type") == "input_audio_buffer.append"
    )


def speech_chunks(text: str) -> list[bytes]:
    samples = np.concatenate([synthesize(text).samples, np.zeros(21_600)])
    pcm = samples.astype("<i2").tobytes()
    step = 80 * 24 * 2
    return [pcm[i : i + step] for i in range(0, len(pcm), step)]


async def test_a_page_s_speech_over_the_socket_becomes_its_turn(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget, _, socket = await connected_page(make_widget, "page-1")
    chunks = speech_chunks("what is the weather like")
    for chunk in chunks:
        await socket.send(chunk)
    await until(lambda: last_answer(widget).get("status") == "completed", 15)
    assert by_role(widget, "user")[-1]["transcript"] == "what is the weather like"
    assert appended(server) == b"".join(chunks)
    assert widget._page_socket.messages == len(chunks)
    await socket.send(json.dumps({"type": "text", "text": "and tomorrow?"}))  # JSON: as by comm
    await until(lambda: len(by_role(widget, "user")) == 2, 10)
    await socket.close()


async def test_what_the_socket_brings_before_the_switch_waits_for_the_comm(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget, wire, socket = await connected_page(make_widget, "page-2", switch=False)
    first, second = b"\x01\x00" * 1920, b"\x02\x00" * 1920
    await socket.send(second)  # sent after `first`, which the comm still carries
    await asyncio.sleep(0.2)
    assert widget._page_socket.messages == 0, "held until the comm's socket_switch"
    wire.browser({"type": "audio"}, [memoryview(first)])
    wire.browser({"type": "socket_switch", "id": "page-2"})
    await until(lambda: len(appended(server)) == len(first) + len(second))
    assert appended(server) == first + second
    await socket.close()


async def test_a_page_whose_socket_closes_before_its_switch_loses_nothing(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget, _, socket = await connected_page(make_widget, "page-3", switch=False)
    chunk = b"\x03\x00" * 1920
    await socket.send(chunk)
    await socket.close()
    await until(lambda: appended(server) == chunk)
    await until(lambda: widget._page_socket.pages == 0)


async def test_a_page_that_never_switches_is_let_through_after_the_held_limit(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget, _, socket = await connected_page(make_widget, "page-4", switch=False)
    chunk = b"\x00\x00" * 240
    for _ in range(MAX_HELD_FRAMES + 1):
        await socket.send(chunk)
    await until(lambda: widget._page_socket.messages == MAX_HELD_FRAMES + 1, 10)
    await socket.close()


async def test_a_wrong_token_or_a_missing_page_is_refused_before_the_handshake(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    url = await offered(Wire(widget))
    port = url.split(":")[2].split("/")[0]
    for bad, status in (
        (f"ws://127.0.0.1:{port}/not-the-token-at-all-0000?page=p", 403),
        (f"ws://127.0.0.1:{port}/?page=p", 403),
        (url, 400),
        (f"{url}?page=a%20b", 400),
        (f"{url}?page=p&page=q", 400),
    ):
        with pytest.raises(InvalidStatus) as refused:
            await connect(bad)
        assert refused.value.response.status_code == status, bad
    assert widget._page_socket.pages == 0


async def test_bad_frames_are_dropped_and_the_socket_stays(
    make_widget: Callable[..., RealtimeWidget], caplog: pytest.LogCaptureFixture
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    socket = await open_page(await offered(wire), "page-5")
    wire.browser({"type": "socket_switch", "id": "page-5"})
    await socket.send("{not json")
    await socket.send(json.dumps({"type": "no_such_message"}))
    await socket.send(json.dumps(["a", "list"]))
    await socket.send(b"\x00")  # an odd number of bytes is no PCM16
    await socket.send(json.dumps({"type": "transcript", "format": "json"}))
    await until(lambda: wire.custom("transcript"))  # still heard after the bad ones
    logged = caplog.text
    assert "not json" in logged and "unknown type 'no_such_message'" in logged
    assert "even number of bytes" in logged
    await socket.close()


async def test_the_url_is_never_in_the_widget_s_state_and_closing_stops_the_socket(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    url = await offered(wire)
    token = url.rsplit("/", 1)[1]
    assert token not in json.dumps(widget.get_state(), default=str)
    assert token not in repr(widget)
    assert SECRET not in url
    wire.browser({"type": "hello"})  # a second page: the same socket
    await until(lambda: len(wire.custom("page_socket")) == 2)
    assert wire.custom("page_socket")[-1][0]["url"] == url
    socket = await open_page(url, "page-6")
    widget.close()
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(socket.recv(), 5)
    with pytest.raises(OSError):
        await connect(f"{url}?page=page-7", open_timeout=2)


async def test_page_socket_false_offers_none(make_widget: Callable[..., RealtimeWidget]) -> None:
    widget = make_widget(page_socket=False)
    wire = Wire(widget)
    wire.browser({"type": "hello"})
    await until(lambda: wire.custom("snapshot"))
    await asyncio.sleep(0.1)
    assert wire.custom("page_socket") == [] and widget._page_socket.port is None


def test_page_ids_are_short_plain_names() -> None:
    assert is_page_id("probe-abc123-x_y") and is_page_id("a" * 64)
    for bad in ("", "a" * 65, "a b", "é", None, 5, "a/b"):
        assert not is_page_id(bad), bad


async def test_a_switch_from_a_page_without_a_socket_changes_nothing(
    make_widget: Callable[..., RealtimeWidget], caplog: pytest.LogCaptureFixture
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    caplog.set_level("INFO", "realtime_widget.widget")
    wire.browser({"type": "socket_switch", "id": "nobody"})
    wire.browser({"type": "socket_switch", "id": "bad id!"})
    assert "page nobody, which has no socket" in caplog.text
    assert "id must be a page id" in caplog.text and "bad id!" in caplog.text
    assert widget._page_socket.messages == 0


async def read_audio_path(socket: ClientConnection, until_type: str) -> list[dict[str, Any]]:
    """The kernel's messages on ``socket`` up to one of ``until_type`` (binary ones with
    their buffer's length as ``bytes``)."""
    found: list[dict[str, Any]] = []
    while not found or found[-1]["type"] != until_type:
        frame = await asyncio.wait_for(socket.recv(), 15)
        if isinstance(frame, bytes):
            (length,) = struct.unpack_from("<I", frame)
            found.append({**json.loads(frame[4 : 4 + length]), "bytes": len(frame) - 4 - length})
        else:
            found.append(json.loads(frame))
    return found


async def test_a_switched_page_gets_the_model_s_audio_over_its_socket_and_not_by_the_comm(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget, wire, socket = await connected_page(make_widget, "page-8")
    assert wire.custom("comm_off") == [({"type": "comm_off", "id": "page-8"}, [])]
    mark = wire.mark()
    widget.send_text("say something")
    found = await read_audio_path(socket, "audio_done")
    audio = [m for m in found if m["type"] == "audio"]
    assert audio and all(m["bytes"] > 0 and m["item_id"] == audio[0]["item_id"] for m in audio)
    answer = widget.client.conversation.get_item(audio[0]["item_id"])
    assert answer is not None
    assert sum(m["bytes"] for m in audio) == 2 * len(answer["formatted"]["audio"])
    later = wire.since(mark)
    assert later.custom("audio") == [] and later.custom("audio_done") == []
    assert later.custom("delta"), "the rest still goes by the comm"
    await socket.close()


async def test_the_comm_carries_the_audio_too_while_a_page_has_no_socket(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget, wire, socket = await connected_page(make_widget, "page-9")
    wire.browser({"type": "probe", "id": "remote-page"}, [bytes(range(256))])  # no socket
    mark = wire.mark()
    widget.send_text("say something")
    by_socket = [m for m in await read_audio_path(socket, "audio_done") if m["type"] == "audio"]
    await until(lambda: wire.since(mark).custom("audio_done"))
    assert len(wire.since(mark).custom("audio")) == len(by_socket)
    await socket.close()
    # the switched page's socket closed: it hears the comm again
    await until(lambda: widget._page_socket.pages == 0)
    wire.browser({"type": "socket_switch", "id": "remote-page"})  # never had a socket
    mark = wire.mark()
    widget.send_text("once more")
    await until(lambda: wire.since(mark).custom("audio_done"), 10)


async def test_a_page_that_does_not_read_its_socket_is_closed_and_hears_the_comm(
    make_widget: Callable[..., RealtimeWidget], monkeypatch: pytest.MonkeyPatch
) -> None:
    widget, wire, socket = await connected_page(make_widget, "page-10")
    monkeypatch.setattr(pagesocket, "MAX_OUTBOX_FRAMES", 0)  # every frame is one too many
    mark = wire.mark()
    widget.send_text("say something")
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    await until(lambda: wire.since(mark).custom("audio_done"), 10)  # by the comm instead
    assert wire.since(mark).custom("audio")


async def test_a_reloaded_page_leaves_no_trace_that_keeps_the_comm_carrying_the_audio(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    url = await offered(wire)
    wire.browser({"type": "probe", "id": "first-load"}, [bytes(range(256))])
    old = await open_page(url, "first-load")
    wire.browser({"type": "socket_switch", "id": "first-load"})
    await old.close()  # the reload
    await until(lambda: widget._page_socket.pages == 0)
    mark = wire.mark()
    widget.send_text("say something")  # no page switched: the comm carries it
    await until(lambda: wire.since(mark).custom("audio_done"), 10)
    wire.browser({"type": "probe", "id": "second-load"}, [bytes(range(256))])
    new = await open_page(url, "second-load")
    wire.browser({"type": "socket_switch", "id": "second-load"})
    mark = wire.mark()
    widget.send_text("once more")
    by_socket = await read_audio_path(new, "audio_done")
    assert [m for m in by_socket if m["type"] == "audio"]
    assert wire.since(mark).custom("audio") == [], "the first load is gone: no comm copy"
    await new.close()
