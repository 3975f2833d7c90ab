"""The binary-buffer probe and the base64 fallback, at the message level: the kernel's answer
to a page's probe, its audio as buffers or as text as the pages' results say, and the page's
microphone audio read in either form (a real client on the local server over loopback)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from widget_wire import (
    Wire,
    by_role,
    last_answer,
    make_widget,
    recording_comm,
    server,
    text_turn,
    until,
)

from realtime_widget.core.errors import ProtocolError
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.synth import synthesize
from realtime_widget.widget.messages import parse_browser_message
from realtime_widget.widget.widget import RealtimeWidget
from realtime_widget.widget.wire import (
    PROBE_BYTES,
    PROBE_SECONDS,
    PageWire,
    buffer_intact,
    decode_audio,
    encode_audio,
)

FIXTURES = (make_widget, recording_comm, server)  # pytest finds them here by name


def pcm_of(found: list[tuple[dict[str, Any], list[Any]]]) -> bytes:
    """The PCM the audio messages carry, whichever form each took."""
    return b"".join(base64.b64decode(c["data"]) if "data" in c else bytes(b[0]) for c, b in found)


# -- the pure parts ---------------------------------------------------------------------------


def test_only_one_buffer_of_exactly_the_probe_bytes_is_intact() -> None:
    assert buffer_intact([PROBE_BYTES]) and buffer_intact([memoryview(PROBE_BYTES)])
    assert buffer_intact([bytearray(PROBE_BYTES)])
    assert not buffer_intact([])
    assert not buffer_intact([PROBE_BYTES, PROBE_BYTES])
    assert not buffer_intact([PROBE_BYTES[:-1]])
    assert not buffer_intact([PROBE_BYTES.decode("latin-1").encode("utf-8")])  # re-encoded
    assert not buffer_intact(["text"])


def test_audio_round_trips_through_the_fallback_text() -> None:
    pcm = np.arange(-3000, 3000, dtype="<i2").tobytes()
    assert decode_audio(encode_audio(pcm)) == pcm
    assert decode_audio(encode_audio(memoryview(pcm))) == pcm
    with pytest.raises(ValueError, match="not base64: 'no!'"):
        decode_audio("no!")
    with pytest.raises(ValueError, match="must be base64 text, got int"):
        decode_audio(5)


def test_the_page_wire_holds_text_while_a_probe_is_unanswered_and_after_a_page_lacks_buffers() -> (
    None
):
    now = [100.0]
    wire = PageWire(clock=lambda: now[0])
    assert wire.binary
    wire.probed("a")
    assert not wire.binary  # the page may not get buffers: text until it says
    wire.result("a", True)
    assert wire.binary
    wire.probed("b")
    now[0] += PROBE_SECONDS + 1  # a page that never answers holds nothing for long
    assert wire.binary
    wire.result("c", False)
    assert not wire.binary and wire.fallback
    wire.probed("d")
    wire.result("d", True)
    assert not wire.binary, "one page without buffers keeps the text for every page"


def test_probe_messages_are_checked() -> None:
    parsed = parse_browser_message({"type": "probe", "id": "p1"}, [memoryview(PROBE_BYTES)])
    assert parsed == {"type": "probe", "id": "p1", "intact": True}
    assert parse_browser_message({"type": "probe", "id": "p1"})["intact"] is False  # type: ignore[typeddict-item]
    result = parse_browser_message({"type": "probe_result", "id": "p1", "intact": False})
    assert result == {"type": "probe_result", "id": "p1", "intact": False}
    for bad, problem in (
        ({"type": "probe"}, "id must be a non-empty string"),
        ({"type": "probe_result", "id": "p", "intact": "yes"}, "intact must be true or false"),
        ({"type": "audio", "data": "%%%"}, "not base64"),
        ({"type": "audio", "data": base64.b64encode(b"abc").decode()}, "even number of bytes"),
        ({"type": "audio", "data": 7}, "must be base64 text"),
    ):
        with pytest.raises(ProtocolError, match=problem):
            parse_browser_message(bad)
    text = parse_browser_message({"type": "audio", "data": base64.b64encode(b"abcd").decode()})
    assert bytes(text["data"]) == b"abcd"  # type: ignore[typeddict-item]


# -- the kernel's side of the probe ----------------------------------------------------------


async def test_a_page_that_keeps_buffers_gets_them_back_and_the_audio_stays_binary(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    wire.browser({"type": "probe", "id": "page-1"}, [memoryview(PROBE_BYTES)])
    ((echo, buffers),) = wire.custom("probe_echo")
    assert echo == {"type": "probe_echo", "id": "page-1", "intact": True}
    assert len(buffers) == 1 and bytes(buffers[0]) == PROBE_BYTES
    wire.browser({"type": "probe_result", "id": "page-1", "intact": True})
    await widget.connect()
    mark = wire.mark()
    answer = await text_turn(widget, "hello")
    audio = wire.since(mark).custom("audio")
    assert audio and all(c == {"type": "audio", "item_id": answer["id"]} for c, _ in audio)
    assert all(len(b) == 1 for _, b in audio)
    stored = widget.client.conversation.get_item(answer["id"])
    assert stored is not None
    assert pcm_of(audio) == stored["formatted"]["audio"].to_numpy().astype("<i2").tobytes()


async def test_a_page_that_loses_buffers_gets_the_audio_and_replays_as_text(
    make_widget: Callable[..., RealtimeWidget], caplog: pytest.LogCaptureFixture
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    wire.browser({"type": "probe", "id": "page-2"})  # the host dropped its buffer
    ((echo, buffers),) = wire.custom("probe_echo")
    assert echo["intact"] is False and bytes(buffers[0]) == PROBE_BYTES
    with caplog.at_level(logging.INFO, logger="realtime_widget.widget"):
        wire.browser({"type": "probe_result", "id": "page-2", "intact": False})
    assert any("drops binary buffers" in r.getMessage() for r in caplog.records)
    await widget.connect()
    mark = wire.mark()
    answer = await text_turn(widget, "hello")
    audio = wire.since(mark).custom("audio")
    assert audio and all(b == [] and set(c) == {"type", "item_id", "data"} for c, b in audio)
    stored = widget.client.conversation.get_item(answer["id"])
    assert stored is not None
    expected = stored["formatted"]["audio"].to_numpy().astype("<i2").tobytes()
    assert pcm_of(audio) == expected

    wire.browser({"type": "item_audio", "item_id": answer["id"], "purpose": "play"})
    ((reply, buffers),) = wire.custom("item_audio")
    assert buffers == [] and base64.b64decode(reply["data"]) == expected
    assert reply["purpose"] == "play"


async def test_audio_sent_before_a_page_s_result_goes_as_text(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    wire.browser({"type": "probe", "id": "page-3"})
    mark = wire.mark()
    await text_turn(widget, "hello")
    early = wire.since(mark).custom("audio")
    assert early and all("data" in c and b == [] for c, b in early)
    wire.browser({"type": "probe_result", "id": "page-3", "intact": True})
    mark = wire.mark()
    await text_turn(widget, "again")
    later = wire.since(mark).custom("audio")
    assert later and all("data" not in c and len(b) == 1 for c, b in later)


async def test_microphone_audio_as_text_is_heard_as_buffers_are(
    server: LocalRealtimeServer, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    samples = np.concatenate([synthesize("what is the weather like").samples, np.zeros(21_600)])
    pcm = samples.astype("<i2").tobytes()
    step = 80 * 24 * 2
    chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
    for index, chunk in enumerate(chunks):  # the two forms mixed, as while a probe is out
        if index % 2:
            wire.browser({"type": "audio"}, [memoryview(chunk)])
        else:
            wire.browser({"type": "audio", "data": base64.b64encode(chunk).decode()})

    await until(lambda: last_answer(widget).get("status") == "completed", 15)
    user = by_role(widget, "user")[-1]
    assert user["transcript"] == "what is the weather like"
    appended = [
        base64.b64decode(e["audio"])
        for c in server.connections
        for e in c.received
        if e.get("type") == "input_audio_buffer.append"
    ]
    assert b"".join(appended) == pcm
