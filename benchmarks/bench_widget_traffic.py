"""Widget traffic per delta and per item: bytes sent to the browser and kernel CPU, with 10
and 1,000 items.

Two widgets, each on its own :class:`RealtimeClient` (never connected) and a counting comm
(see ``bench_relay``), are given a conversation of 10 and of 1,000 items (user text
messages and one-second assistant audio answers, alternating), by dispatching server events
on the client's API object exactly as its reader does after parsing a frame. Then a new
assistant answer streams on both, in alternating batches of audio deltas (100 ms, base64) and
of transcript deltas: per delta, the bytes the comm was given (the message's JSON plus its
binary buffers) and the kernel CPU from the JSON text to the comm (parsing, conversation,
client, widget, serialisation). A delta's cost must not depend on the conversation's length:
target, the 1,000-item figures at most 1.1x the 10-item ones (medians of batches).

Per item, on two more widgets of both sizes (whose open answer does not stream, so its
summary stays small): assistant message items are appended (``conversation.item.added``, in
progress), then completed (``conversation.item.done``), in batches of 10, then deleted again
(not measured) so the conversation keeps its size: per appended and per completed item, the
bytes the comm was given and the kernel CPU. Same target: the 1,000-item figures at most
1.1x the 10-item ones. Everything runs inside one event loop that the measurements never
yield to, as a kernel's handlers run; what the widget defers to the loop is not in these
figures.

For information (no target), on both sizes: the bytes and CPU of the four events that open
an answer (one run), and of sending the whole ``items`` list once (what the widget does when
the conversation is quiet, coalescing the changes since it last did).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from realtime_widget.client.client import RealtimeClient
from realtime_widget.widget.widget import RealtimeWidget

from .bench_relay import CountingComm, counting_comms, row

__all__ = ["run"]

GROUP = "widget traffic"
RATE = 24_000
CHUNK = RATE // 10
SIZES = (10, 1_000)
RATIO_TARGET = 1.1
_PAYLOADS = [
    base64.b64encode(
        rng.integers(-8000, 8000, CHUNK, dtype=np.int16).astype("<i2").tobytes()
    ).decode("ascii")
    for rng in map(np.random.default_rng, range(16))
]


def _word(index: int) -> str:
    return ("hello ", "there, ", "this ", "is ", "a ", "fairly ", "long ", "answer. ")[index % 8]


class _Stream:
    """Server events as JSON text, with increasing event ids."""

    def __init__(self) -> None:
        self.count = 0

    def event(self, kind: str, **fields: Any) -> str:
        self.count += 1
        return json.dumps({"type": kind, "event_id": f"event_{self.count:09d}", **fields})

    @staticmethod
    def message(
        item_id: str, role: str, status: str, content: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        return {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": role,
            "status": status,
            "content": content or [],
        }

    def user_text(self, item_id: str, text: str) -> list[str]:
        item = self.message(item_id, "user", "completed", [{"type": "input_text", "text": text}])
        return [
            self.event("conversation.item.added", previous_item_id=None, item=item),
            self.event("conversation.item.done", item=item),
        ]

    def answer_start(self, response_id: str, item_id: str) -> list[str]:
        item = self.message(item_id, "assistant", "in_progress")
        return [
            self.event("response.created", response={"id": response_id, "status": "in_progress"}),
            self.event(
                "response.output_item.added", response_id=response_id, output_index=0, item=item
            ),
            self.event("conversation.item.added", previous_item_id=None, item=item),
            self.event(
                "response.content_part.added",
                **self.ids(response_id, item_id),
                part={"type": "output_audio", "transcript": ""},
            ),
        ]

    @staticmethod
    def ids(response_id: str, item_id: str) -> dict[str, Any]:
        return {
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
        }

    def audio(self, response_id: str, item_id: str, index: int) -> str:
        return self.event(
            "response.output_audio.delta",
            **self.ids(response_id, item_id),
            delta=_PAYLOADS[index % len(_PAYLOADS)],
        )

    def transcript(self, response_id: str, item_id: str, index: int) -> str:
        return self.event(
            "response.output_audio_transcript.delta",
            **self.ids(response_id, item_id),
            delta=_word(index),
        )

    def answer_end(self, response_id: str, item_id: str, transcript: str) -> list[str]:
        ids = self.ids(response_id, item_id)
        part = {"type": "output_audio", "transcript": transcript}
        item = self.message(item_id, "assistant", "completed", [part])
        return [
            self.event("response.output_audio.done", **ids),
            self.event("response.output_audio_transcript.done", **ids, transcript=transcript),
            self.event("response.content_part.done", **ids, part=part),
            self.event(
                "response.output_item.done", response_id=response_id, output_index=0, item=item
            ),
            self.event("conversation.item.done", item=item),
            self.event(
                "response.done",
                response={"id": response_id, "status": "completed", "output": [item]},
            ),
        ]


class _Setup:
    """A widget whose conversation holds ``size`` items, and its event stream."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.stream = _Stream()
        self.client = RealtimeClient(url="ws://127.0.0.1:9/v1/realtime")
        with counting_comms():
            self.widget = RealtimeWidget(client=self.client)
        self.comm: CountingComm = self.widget.comm
        self.dispatch = self.client.realtime.dispatch
        for n in range(size // 2):
            self.feed(self.stream.user_text(f"item_u{n:06d}", f"question number {n}"))
            response_id, item_id = f"resp_{n:06d}", f"item_a{n:06d}"
            self.feed(self.stream.answer_start(response_id, item_id))
            for i in range(10):
                self.feed([self.stream.audio(response_id, item_id, i)])
                self.feed([self.stream.transcript(response_id, item_id, i)])
            transcript = "".join(_word(i) for i in range(10))
            self.feed(self.stream.answer_end(response_id, item_id, transcript))
        assert len(self.client.conversation) == size
        # The answer measured below: its item is appended (item size + 1) and stays open.
        self.response_id, self.item_id = "resp_measured", "item_measured"
        opening = self.stream.answer_start(self.response_id, self.item_id)
        self.append_cpu, self.append_bytes = self.measure(opening)
        self.index = 0
        self.extra = 0

    def feed(self, texts: list[str]) -> None:
        loads, dispatch = json.loads, self.dispatch
        for text in texts:
            event = loads(text)
            dispatch(f"server.{event['type']}", event)

    def batch(self, kind: str, count: int) -> tuple[float, float]:
        """Feed ``count`` deltas of ``kind``; returns (CPU s, bytes) per delta."""
        make = self.stream.audio if kind == "audio" else self.stream.transcript
        texts = [make(self.response_id, self.item_id, self.index + i) for i in range(count)]
        self.index += count
        expected = "audio" if kind == "audio" else "delta"
        typed_before = self.comm.totals(expected)[0]
        cpu, size = self.measure(texts)
        sent = self.comm.totals(expected)[0] - typed_before
        assert sent == count, f"{sent} {expected} messages for {count} deltas"
        return cpu / count, size / count

    def items_batch(self, count: int) -> tuple[float, float, float, float]:
        """Append ``count`` items, complete them, delete them again.

        Returns (CPU s, bytes) per appended item, then per completed item.
        """
        first = self.extra
        self.extra += count
        ids = [f"item_x{n:06d}" for n in range(first, first + count)]
        added, done = [], []
        for n, item_id in enumerate(ids):
            item = self.stream.message(item_id, "assistant", "in_progress")
            added.append(self.stream.event("conversation.item.added", item=item))
            part = {"type": "output_text", "text": f"answer number {first + n}"}
            item = self.stream.message(item_id, "assistant", "completed", [part])
            done.append(self.stream.event("conversation.item.done", item=item))
        deleted = [self.stream.event("conversation.item.deleted", item_id=i) for i in ids]
        size = len(self.client.conversation)
        add_cpu, add_bytes = self.measure(added)
        done_cpu, done_bytes = self.measure(done)
        assert len(self.client.conversation) == size + count
        self.feed(deleted)
        assert len(self.client.conversation) == size
        return add_cpu / count, add_bytes / count, done_cpu / count, done_bytes / count

    def measure(self, texts: list[str]) -> tuple[float, int]:
        """Feed ``texts``; returns the CPU seconds and the bytes the comm was given."""
        return self._timed(lambda: self.feed(texts))

    def whole_list(self) -> tuple[float, int]:
        """Send the whole ``items`` list as the widget does once quiet: (CPU s, bytes)."""
        return self._timed(self.widget._items.send_all)

    def _timed(self, action: Callable[[], None]) -> tuple[float, int]:
        """Run ``action``; returns its CPU seconds and the bytes the comm was given."""
        before = self.comm.totals()
        gc.collect()
        cpu = time.process_time()
        action()
        cpu = time.process_time() - cpu
        after = self.comm.totals()
        return cpu, (after[1] - before[1]) + (after[2] - before[2])

    def close(self) -> None:
        self.widget.close()


def _ratio_rows(
    label: str, what: str, small: float, large: float, unit: str
) -> list[dict[str, Any]]:
    """The figure at both sizes, then their ratio against the target."""
    low, high = SIZES
    ratio = large / small
    return [
        row(GROUP, f"{label}, {low} items: {what}", small, unit),
        row(GROUP, f"{label}, {high} items: {what}", large, unit),
        row(
            GROUP,
            f"{label} {what} {high} / {low} items",
            ratio,
            "ratio",
            f"<= {RATIO_TARGET:g}",
            ratio <= RATIO_TARGET,
        ),
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run every measurement; returns one row per figure (``ok`` says if a target holds)."""
    return asyncio.run(_run(quick))


async def _run(quick: bool) -> list[dict[str, Any]]:
    # A coroutine that never awaits: handlers find a running loop, as in a kernel, and
    # nothing the widget schedules on it runs before the measurements end.
    rounds = 7 if quick else 21
    count = 200 if quick else 400
    item_count = 10  # per batch: the small conversation stays near its size
    setups = {size: _Setup(size) for size in SIZES}
    # Items are added on conversations of their own, whose open answer does not stream: the
    # deltas above would grow its text, and the summaries with it.
    item_setups = {size: _Setup(size) for size in SIZES}
    cpu: dict[tuple[int, str], list[float]] = {}
    size_of: dict[tuple[int, str], float] = {}
    try:
        for setup in setups.values():  # warm-up
            setup.batch("audio", count)
            setup.batch("transcript", count)
        for setup in item_setups.values():
            setup.items_batch(item_count)
        for turn in range(rounds):
            # The sizes take turns (in alternating order), so a slow spell hits both.
            order = list(SIZES) if turn % 2 == 0 else list(reversed(SIZES))
            for kind in ("audio", "transcript"):
                for size in order:
                    per_cpu, per_bytes = setups[size].batch(kind, count)
                    cpu.setdefault((size, kind), []).append(per_cpu)
                    size_of[(size, kind)] = per_bytes
            for size in order:
                add_cpu, add_bytes, done_cpu, done_bytes = item_setups[size].items_batch(item_count)
                cpu.setdefault((size, "appended"), []).append(add_cpu)
                cpu.setdefault((size, "completed"), []).append(done_cpu)
                size_of[(size, "appended")] = add_bytes
                size_of[(size, "completed")] = done_bytes
        for size in SIZES:
            list_cpu, list_bytes = item_setups[size].whole_list()
            cpu[(size, "list")] = [list_cpu]
            size_of[(size, "list")] = list_bytes
    finally:
        for setup in [*setups.values(), *item_setups.values()]:
            setup.close()
    rows: list[dict[str, Any]] = []
    small, large = SIZES
    for kind, label in (
        ("transcript", "transcript delta"),
        ("audio", "audio delta"),
        ("appended", "per item appended"),
        ("completed", "per item completed"),
    ):
        rows += _ratio_rows(label, "bytes", size_of[(small, kind)], size_of[(large, kind)], "B")
        low, high = (statistics.median(cpu[(size, kind)]) * 1e6 for size in SIZES)
        rows += _ratio_rows(label, "kernel CPU", low, high, "us")
    for size in SIZES:
        setup = setups[size]
        name = f"answer opened (4 events, one run), {size} items"
        rows.append(row(GROUP, f"{name}: bytes", setup.append_bytes, "B"))
        rows.append(row(GROUP, f"{name}: kernel CPU", setup.append_cpu * 1e3, "ms"))
    for size in SIZES:
        name = f"whole items list sent once quiet, {size} items"
        rows.append(row(GROUP, f"{name}: bytes", size_of[(size, "list")], "B"))
        rows.append(row(GROUP, f"{name}: kernel CPU", cpu[(size, "list")][0] * 1e3, "ms"))
    return rows


if __name__ == "__main__":
    for result in run(quick="--full" not in sys.argv):
        print(result)
