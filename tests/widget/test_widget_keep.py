"""What happened, when, and what a user keeps: the event log, the turn timings, the
transcript, an item's audio and images, and a new conversation, through a real widget on the
local server (and the pure parts alone)."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from widget_wire import SECRET, Wire, make_widget, recording_comm, server, text_turn, until

from realtime_widget.core.errors import UsageError
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.widget.eventlog import EventLog, summarize_event
from realtime_widget.widget.keep import item_images, transcript
from realtime_widget.widget.messages import parse_browser_message
from realtime_widget.widget.timings import TurnClock

__all__ = ["make_widget", "recording_comm", "server"]  # fixtures, used by name


# -- the parts alone --------------------------------------------------------------------------


def test_a_run_of_deltas_is_one_entry_whose_count_grows() -> None:
    log = EventLog(str, size=4)
    log.add("sent", {"type": "response.create"}, 1.0)
    for _ in range(50):
        log.add("received", {"type": "response.output_audio.delta", "delta": "AAAA"}, 2.0)
    log.add("received", {"type": "response.done", "response": {"id": "r1"}}, 3.0)
    entries = log.entries
    assert [(e["type"], e["count"]) for e in entries] == [
        ("response.create", 1),
        ("response.output_audio.delta", 50),
        ("response.done", 1),
    ]
    assert [e["seq"] for e in log.take()] == [1, 2, 3]
    assert log.take() == [] and not log.pending
    log.add("received", {"type": "response.output_audio.delta"}, 4.0)  # a new run
    for i in range(6):
        log.add("sent", {"type": f"t{i}"}, 5.0)
    assert len(log.entries) == 4, "bounded"
    assert [e["seq"] for e in log.take()] == [7, 8, 9, 10], "what was pushed out is not sent"


def test_interleaved_streams_grow_one_entry_each_until_another_event_comes() -> None:
    log = EventLog(str)
    audio = {"type": "response.output_audio.delta", "delta": "AAAA"}
    words = {"type": "response.output_audio_transcript.delta", "delta": "hi"}
    mic = {"type": "input_audio_buffer.append", "audio": "AAAA"}
    for _ in range(30):
        log.add("received", audio, 1.0)
        log.add("received", words, 1.0)
        log.add("sent", mic, 1.0)
    log.add("sent", mic, 1.0)
    assert [(e["type"], e["direction"], e["count"]) for e in log.entries] == [
        ("response.output_audio.delta", "received", 30),
        ("response.output_audio_transcript.delta", "received", 30),
        ("input_audio_buffer.append", "sent", 31),
    ]
    assert [e["seq"] for e in log.take()] == [1, 2, 3]
    log.add("received", words, 2.0)  # an older entry grows: still sent in order of seq
    log.add("sent", mic, 2.0)
    log.add("received", audio, 2.0)
    assert [(e["seq"], e["count"]) for e in log.take()] == [(1, 31), (2, 31), (3, 32)]
    log.add("received", {"type": "response.done"}, 3.0)
    log.add("received", audio, 4.0)  # after another event: a new run
    assert [(e["type"], e["count"]) for e in log.entries[-2:]] == [
        ("response.done", 1),
        ("response.output_audio.delta", 1),
    ]


def test_a_summary_names_ids_and_sizes_never_audio_or_the_key() -> None:
    payload = "QUJD" * 1000
    append = summarize_event({"type": "input_audio_buffer.append", "audio": payload})
    assert append == "3000 bytes"
    delta = summarize_event(
        {"type": "response.output_audio.delta", "item_id": "item_1", "delta": payload}
    )
    assert delta == "item_1 · 3000 bytes"
    text = summarize_event({"type": "response.output_text.delta", "delta": "Hello there"})
    assert text == "“Hello there”"
    log = EventLog(lambda s: s.replace(SECRET, "***"))
    log.add("received", {"type": "error", "error": {"message": f"bad key {SECRET}"}}, 0.0)
    assert SECRET not in json.dumps(log.entries) and "***" in log.entries[0]["summary"]


def test_turn_timings_run_from_the_end_of_the_turn_to_first_audio_and_to_done() -> None:
    clock = TurnClock()
    clock.received({"type": "input_audio_buffer.speech_stopped"}, 10.0, 0)
    clock.received({"type": "response.created", "response": {"id": "r1"}}, 10.2, 0)
    audio = {"type": "response.output_audio.delta", "response_id": "r1", "item_id": "i1"}
    clock.received(audio, 10.8, 0)
    clock.received(audio, 11.0, 0)
    done = {"type": "response.done", "response": {"id": "r1", "status": "completed"}}
    timing = clock.received(done, 12.5, 1000.0)
    assert timing is not None
    assert (timing.to_first_audio_ms, timing.audio_ms) == (800, 1700)
    assert (timing.item_id, timing.status, timing.after_turn) == ("i1", "completed", True)
    # a tool's follow-up, with no turn before it, is timed from its start; no audio: None
    clock.received({"type": "response.created", "response": {"id": "r2"}}, 20.0, 0)
    second = clock.received({"type": "response.done", "response": {"id": "r2"}}, 21.0, 0)
    assert second is not None and second.to_first_audio_ms is None and not second.after_turn
    assert [t.response_id for t in clock.timings] == ["r1", "r2"]


def test_the_browser_asks_are_checked() -> None:
    assert parse_browser_message({"type": "transcript", "format": "json"}) == {
        "type": "transcript",
        "format": "json",
    }
    asked = parse_browser_message({"type": "item_audio", "item_id": "i", "purpose": "download"})
    assert asked == {"type": "item_audio", "item_id": "i", "purpose": "download"}
    assert parse_browser_message({"type": "new_conversation"}) == {"type": "new_conversation"}
    for bad in (
        {"type": "transcript", "format": "html"},
        {"type": "item_audio", "item_id": ""},
        {"type": "item_images", "item_id": "i", "purpose": "steal"},
    ):
        with pytest.raises(Exception, match="browser message"):
            parse_browser_message(bad)


def test_transcript_formats_and_a_bad_one() -> None:
    items: list[dict[str, Any]] = [
        {
            "id": "u1",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}],
            "formatted": {"text": "what is this?"},
        },
        {"id": "a1", "type": "message", "role": "assistant", "formatted": {"transcript": "A cat."}},
        {"id": "f1", "type": "function_call", "name": "look", "arguments": '{"x": 1}'},
    ]
    markdown = transcript(items, "markdown")
    assert markdown.startswith("# Conversation\n")
    assert "**You** (image)\n\nwhat is this?" in markdown
    assert "**Assistant**\n\nA cat." in markdown and "`look`" in markdown
    entries = json.loads(transcript(items, "json"))
    assert [(e["id"], e["role"], e["text"]) for e in entries] == [
        ("u1", "user", "what is this?"),
        ("a1", "assistant", "A cat."),
        ("f1", "", ""),
    ]
    assert item_images(items[0]) == ["data:image/png;base64,AAAA"]
    with pytest.raises(UsageError, match="'html'"):
        transcript(items, "html")


# -- through a widget on the local server --------------------------------------------------


async def test_the_log_reaches_the_page_batched_and_a_page_starting_gets_it_whole(
    make_widget: Any,
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    await text_turn(widget, "hello")

    def kinds() -> set[tuple[str, str]]:
        return {(e["direction"], e["type"]) for c, _ in wire.custom("log") for e in c["entries"]}

    await until(lambda: ("received", "response.done") in kinds())
    assert ("sent", "conversation.item.create") in kinds()
    deltas = [e for e in widget.event_log if e["type"].endswith("audio.delta")]
    assert deltas and all(e["count"] >= 1 for e in deltas)
    assert len(wire.custom("log")) < len(widget.event_log) + 5, "not a message per event"
    assert SECRET not in json.dumps(wire.custom("log"))
    mark = wire.mark()
    wire.browser({"type": "hello"})
    (snapshot,) = [c for c, _ in wire.since(mark).custom("snapshot")]
    assert [e["seq"] for e in snapshot["log"]] == [e["seq"] for e in widget.event_log]


async def test_each_answer_is_timed_in_python_and_in_the_trait(make_widget: Any) -> None:
    widget = make_widget()
    await widget.connect()
    answer = await text_turn(widget, "time me")
    await until(lambda: widget.turns)
    (timing,) = widget.turns
    assert timing.item_id == answer["id"] and timing.status == "completed"
    assert timing.after_turn and timing.to_first_audio_ms is not None
    assert timing.audio_ms is not None and timing.audio_ms >= 0
    assert widget.turn_timings == [timing.as_dict()]


async def test_transcript_and_audio_for_python_and_for_the_page(
    make_widget: Any, tmp_path: Path
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    answer = await text_turn(widget, "keep this")
    assert "keep this" in widget.transcript() and "You said: keep this." in widget.transcript()
    path = tmp_path / "answer.wav"
    widget.save_audio(answer["id"], path)
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24_000, 1, 2)
        frames = wav.getnframes()
    assert frames * 1000 // 24_000 == answer["audio_ms"]
    with pytest.raises(UsageError, match="'nope'"):
        widget.save_audio("nope", tmp_path / "x.wav")

    wire.browser({"type": "transcript", "format": "json"})
    await until(lambda: wire.custom("transcript"))
    (reply, _), *_ = wire.custom("transcript")
    assert json.loads(reply["text"]) == json.loads(widget.transcript("json"))
    wire.browser({"type": "item_audio", "item_id": answer["id"], "purpose": "download"})
    await until(lambda: wire.custom("item_audio"))
    (reply, buffers), *_ = wire.custom("item_audio")
    assert reply == {"type": "item_audio", "item_id": answer["id"], "purpose": "download"}
    pcm = np.frombuffer(bytes(buffers[0]), dtype="<i2")
    with wave.open(io.BytesIO(path.read_bytes())) as wav:
        assert np.array_equal(pcm, np.frombuffer(wav.readframes(frames), dtype="<i2"))
    user = next(i for i in widget.items if i["role"] == "user")
    wire.browser({"type": "item_audio", "item_id": user["id"]})
    await until(lambda: widget.error)
    assert "holds no audio" in widget.error


async def test_a_new_conversation_deletes_every_item_on_the_server(
    make_widget: Any, server: LocalRealtimeServer
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    await text_turn(widget, "first")
    await text_turn(widget, "second")
    assert len(widget.items) >= 4 and widget.turns
    wire.browser({"type": "new_conversation"})
    await until(lambda: not widget.items and not widget.client.get_conversation_items())
    assert widget.turns == [] and widget.turn_timings == []
    assert wire.custom("interrupt"), "pages stop playing"
    assert widget.error == ""
    answer = await text_turn(widget, "third")  # the session goes on
    assert answer["transcript"] == "You said: third."


async def test_a_new_conversation_while_disconnected_clears_it_here(make_widget: Any) -> None:
    widget = make_widget()
    await widget.connect()
    await text_turn(widget, "before")
    await widget.disconnect()
    widget.new_conversation()
    assert widget.items == [] and widget.client.get_conversation_items() == []
    await widget.connect()
    answer = await text_turn(widget, "after")
    assert [i["id"] for i in widget.items][-1] == answer["id"] and len(widget.items) == 2
