"""Benchmarks of the conversation state machine and the input audio path.

(a) One assistant audio response of 60 s, 300 s and 1,200 s (24 kHz, 100 ms deltas with one
    transcript delta each), fed as JSON text through the whole GA event sequence: events/s,
    multiple of real time, and the per-event cost at 1,200 s over the cost at 60 s (alone,
    and over the same for the floor: the target, since the floor's grows too). The floor
    of each figure is a bare loop over the same JSON text that does the least any client
    must: parse every event, decode each audio delta into a preallocated array and keep each
    transcript delta (:class:`BareLoop`); ours and the floor take turns of 50 events
    (:func:`feed_both`), and the target is our throughput over the floor's.
(b) Sixty minutes of 100 ms input chunks appended to an :class:`InputAudioBuffer` in server
    VAD mode, with a speech_started / speech_stopped pair and its user item every 10 s, and
    early on a speech the server clears before it ends: the per-append cost in the last
    minute over the first, and the input audio still kept at the end (a speech left open
    must not keep the buffer from dropping what is no longer needed).

The JSON text is generated before the clock starts. The response figures are the fastest of
repeats (pure computation: another process's work only ever adds time, so the fastest is
the steadiest figure of what the code costs), their ratios the median of the repeats'
ratios; the input figures are medians.
"""

from __future__ import annotations

import base64
import binascii
import gc
import json
import statistics
import time
from typing import Any

import numpy as np

from realtime_widget.audio.buffers import InputAudioBuffer
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.protocol import Dialect, dialect_event_type, dialect_part_type

from .bench_relay import row

__all__ = ["BareLoop", "feed_both", "run"]

RATE = 24_000
CHUNK = RATE // 10  # 100 ms
GROUP = "conversation"
TARGET_FLOOR_RATIO = 0.7  # our throughput over the bare loop's, at least
_WORDS = ("hello ", "there, ", "this ", "is ", "a ", "fairly ", "long ", "answer. ")


def response_events(seconds: int, dialect: Dialect = "ga") -> list[str]:
    """The event sequence of one audio response lasting ``seconds``, as JSON text.

    ``dialect`` names the events and content parts as GA or beta does (beta has no
    ``conversation.item.added`` / ``.done``: it sends ``conversation.item.created``).
    """
    rng = np.random.default_rng(seconds)
    payloads = [
        base64.b64encode(
            rng.integers(-8000, 8000, CHUNK, dtype=np.int16).astype("<i2").tobytes()
        ).decode("ascii")
        for _ in range(16)
    ]
    counter = 0

    def event(kind: str, **fields: Any) -> str:
        nonlocal counter
        counter += 1
        name = dialect_event_type(kind, dialect)
        return json.dumps({"type": name, "event_id": f"event_{counter:08d}", **fields})

    audio_part = dialect_part_type("output_audio", dialect)

    ids = {"response_id": "resp_1", "item_id": "item_1", "output_index": 0, "content_index": 0}
    item = {
        "id": "item_1",
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    out = [
        event("response.created", response={"id": "resp_1", "status": "in_progress", "output": []}),
        event("response.output_item.added", response_id="resp_1", output_index=0, item=item),
        event(
            "conversation.item.added" if dialect == "ga" else "conversation.item.created",
            previous_item_id=None,
            item=item,
        ),
        event("response.content_part.added", **ids, part={"type": audio_part, "transcript": ""}),
    ]
    transcript = []
    for index in range(seconds * 10):
        word = _WORDS[index % len(_WORDS)]
        transcript.append(word)
        out.append(event("response.output_audio.delta", **ids, delta=payloads[index % 16]))
        out.append(event("response.output_audio_transcript.delta", **ids, delta=word))
    text = "".join(transcript)
    done_part = {"type": audio_part, "transcript": text}
    done_item = {**item, "status": "completed", "content": [done_part]}
    out += [
        event("response.output_audio.done", **ids),
        event("response.output_audio_transcript.done", **ids, transcript=text),
        event("response.content_part.done", **ids, part=done_part),
        event("response.output_item.done", response_id="resp_1", output_index=0, item=done_item),
    ]
    if dialect == "ga":
        out.append(event("conversation.item.done", item=done_item))
    out += [
        event(
            "response.done",
            response={"id": "resp_1", "status": "completed", "output": [done_item], "usage": {}},
        ),
    ]
    return out


class BareLoop:
    """The floor: the least work any client must do with an answer's events. It parses each
    event, decodes each audio delta into a preallocated array and keeps each transcript
    delta."""

    def __init__(self, events: int) -> None:
        self.audio = np.empty(events * CHUNK, dtype=np.int16)  # more than enough: no growth
        self.end = 0
        self.transcript: list[str] = []

    def feed(self, texts: list[str]) -> None:
        audio, end = self.audio, self.end
        loads, decode, keep = json.loads, binascii.a2b_base64, self.transcript.append
        for text in texts:
            event = loads(text)
            kind = event["type"]
            if kind == _AUDIO_DELTA:
                samples = np.frombuffer(decode(event["delta"]), dtype="<i2")
                audio[end : end + len(samples)] = samples
                end += len(samples)
            elif kind == _TRANSCRIPT_DELTA:
                keep(event["delta"])
        self.end = end


_AUDIO_DELTA = "response.output_audio.delta"
_TRANSCRIPT_DELTA = "response.output_audio_transcript.delta"
SLICE = 50  # events each side takes in turn: about half a millisecond of work


def feed_both(texts: list[str]) -> tuple[float, float]:
    """Seconds for ours (parse, then apply to a fresh conversation) and for the floor
    (:class:`BareLoop`) to take ``texts``, in turns of :data:`SLICE` events.

    Taking turns this often puts both under the same machine: a neighbour's burst of memory
    traffic or a slower spell of the host lasts longer than a turn, so it lands on both. Fed
    one after the other, a whole answer each, the two saw different spells, and the ratio of
    the fastest of seven of each moved by a third from one run to the next on one machine.
    """
    conversation = RealtimeConversation()
    process, loads, clock = conversation.process_event, json.loads, time.perf_counter
    bare = BareLoop(len(texts))
    ours = floor = 0.0
    gc.collect()
    for start in range(0, len(texts), SLICE):
        part = texts[start : start + SLICE]
        began = clock()
        for text in part:
            process(loads(text))
        middle = clock()
        bare.feed(part)
        ours, floor = ours + middle - began, floor + clock() - middle
    samples = (len(texts) - 10) // 2 * CHUNK
    item = conversation.get_item("item_1")
    assert item is not None and len(item["formatted"]["audio"]) == samples
    assert bare.end == samples
    return ours, floor


def _response_rows(quick: bool) -> list[dict[str, Any]]:
    lengths = (60, 1_200) if quick else (60, 300, 1_200)
    repeats = 3 if quick else 7
    texts = {seconds: response_events(seconds) for seconds in lengths}
    # Warm-up: the first feeds pay for caches, specialisation and growing the heap.
    for _ in range(2):
        feed_both(texts[60])
    # Sizes take turns too, so a slow spell of the machine does not land on one size only.
    times: dict[int, list[tuple[float, float]]] = {seconds: [] for seconds in lengths}
    for _ in range(repeats):
        for seconds in lengths:
            times[seconds].append(feed_both(texts[seconds]))
    rows: list[dict[str, Any]] = []
    per_event: dict[int, float] = {}
    ratios: dict[int, float] = {}
    target = f"ratio >= {TARGET_FLOOR_RATIO:g}"
    for seconds in lengths:
        # the figures: the fastest of each side; the ratio: the median of the repeats' ratios
        elapsed = min(mine for mine, _ in times[seconds])
        floor = min(bare for _, bare in times[seconds])
        ratio = statistics.median(bare / mine for mine, bare in times[seconds])
        per_event[seconds], ratios[seconds] = elapsed / len(texts[seconds]), ratio
        events = len(texts[seconds])
        name = f"audio response {seconds} s"
        note = f"{repeats} repeats, turns of {SLICE} events; ratio: the median of the repeats'"
        rows.append(
            _row(
                f"{name}: events/s",
                events / elapsed,
                "events/s",
                floor=events / floor,
                ratio=ratio,
            )
        )
        rows.append(
            _row(
                f"{name}: real time",
                seconds / elapsed,
                "x",
                target,
                ratio >= TARGET_FLOOR_RATIO,
                note,
                floor=seconds / floor,
                ratio=ratio,
            )
        )
    raw = per_event[1_200] / per_event[60]
    rows.append(_row("per-event cost 1200 s / 60 s", raw, "ratio"))
    # The same over the floor's: how much more our per-event cost grew than the bare loop's,
    # which also slows down when an answer's text outgrows the caches (the machine, not us).
    grown = ratios[60] / ratios[1_200]
    rows.append(
        _row(
            "per-event cost 1200 s / 60 s, over the floor's", grown, "ratio", "<= 1.2", grown <= 1.2
        )
    )
    return rows


def _input_session(minutes: int) -> tuple[list[float], int, int]:
    """Per-append seconds of each minute of a server-VAD session, the items created, and the
    samples the input buffer still holds at the end.

    Each 10 s window (100 appends and the events falling in it) is timed on its own and a
    minute's figure is the median of its six windows: one window that a busy machine
    stalls does not decide the minute.
    """
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    rng = np.random.default_rng(7)
    chunks = [rng.integers(-8000, 8000, CHUNK, dtype=np.int16) for _ in range(16)]
    # Each 10 s: speech from 2.0 s to 5.5 s, then commit and the user item.
    schedule: dict[int, list[dict[str, Any]]] = {}
    for turn in range(minutes * 6):
        base_ms = turn * 10_000
        item_id = f"item_{turn:05d}"
        started = {
            "type": "input_audio_buffer.speech_started",
            "audio_start_ms": base_ms + 2_000,
            "item_id": item_id,
        }
        stopped = {
            "type": "input_audio_buffer.speech_stopped",
            "audio_end_ms": base_ms + 5_500,
            "item_id": item_id,
        }
        committed = {"type": "input_audio_buffer.committed", "item_id": item_id}
        user_item = {
            "id": item_id,
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        added = {"type": "conversation.item.added", "previous_item_id": None, "item": user_item}
        schedule[(base_ms + 2_100) // 100] = [started]
        schedule[(base_ms + 6_000) // 100] = [stopped, committed, added]
    # In the second turn a speech starts and the input buffer is cleared before it ends.
    abandoned = {
        "type": "input_audio_buffer.speech_started",
        "audio_start_ms": 17_000,
        "item_id": "item_abandoned",
    }
    schedule[171] = [abandoned]
    schedule[180] = [{"type": "input_audio_buffer.cleared"}]
    window = 100  # appends per 10 s
    per_window: list[float] = []
    process, append, clock = conversation.process_event, buffer.append, time.perf_counter
    gc.collect()
    for first in range(0, minutes * 600, window):
        start = clock()
        for tick in range(first, first + window):
            append(chunks[tick % 16])
            for event in schedule.get(tick, ()):
                process(event, buffer)
        per_window.append((clock() - start) / window)
    per_minute = [statistics.median(per_window[i : i + 6]) for i in range(0, len(per_window), 6)]
    item = conversation.get_item(f"item_{minutes * 6 - 1:05d}")
    assert item is not None and len(item["formatted"]["audio"]) == 3_500 * RATE // 1000
    return per_minute, len(conversation), len(buffer)


def _input_rows(quick: bool) -> list[dict[str, Any]]:
    repeats = 3 if quick else 5
    minutes = 60
    _input_session(2)  # warm-up: the first measured minute should not pay for it
    firsts, lasts = [], []
    kept = 0
    for _ in range(repeats):
        per_minute, items, kept = _input_session(minutes)
        assert items == minutes * 6
        firsts.append(per_minute[0])
        lasts.append(per_minute[-1])
    first, last = statistics.median(firsts), statistics.median(lasts)
    ratio = last / first
    kept_s = kept / RATE
    return [
        _row("input append, first minute", first * 1e6, "us/append"),
        _row("input append, last minute", last * 1e6, "us/append"),
        _row("input append cost min 60 / min 1", ratio, "ratio", "<= 1.2", ratio <= 1.2),
        _row("input audio kept after 60 min", kept_s, "s", "<= 15", kept_s <= 15),
    ]


def _row(
    name: str,
    value: float,
    unit: str,
    target: str | None = None,
    ok: bool | None = None,
    note: str | None = None,
    *,
    floor: float | None = None,
    ratio: float | None = None,
) -> dict[str, Any]:
    return row(GROUP, name, value, unit, target, ok, note, floor=floor, ratio=ratio)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run every measurement; returns one row per figure (``ok`` says if a target holds)."""
    return _response_rows(quick) + _input_rows(quick)


if __name__ == "__main__":
    for result in run(quick=True):
        print(result)
