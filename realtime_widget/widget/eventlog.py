"""`EventLog`: the events both ways, as the view's log panel lists them.

Each event the client sends or receives becomes a :class:`LogEntry`: when, which way, its
type and a short summary (ids, statuses, sizes; never an audio payload, never a credential:
the summary goes through the widget's scrub). Streamed events (an audio or text ``.delta``,
an ``input_audio_buffer.append``) make one entry per type and direction whose ``count``
grows for as long as only streamed events come, however they interleave (an answer's audio
and transcript deltas, the microphone's appends beside them): a long answer costs an entry
or two, not one per delta.

The log keeps the last :data:`MAX_LOG_ENTRIES` entries; what changed since :meth:`take` last
ran is sent in one ``log`` message (the widget flushes on a timer), so the traffic does not
follow the deltas. Each event costs O(1).

Pure: no traitlets, no I/O; times come in as arguments.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, TypedDict

__all__ = ["MAX_LOG_ENTRIES", "Direction", "EventLog", "LogEntry", "summarize_event"]

MAX_LOG_ENTRIES: Final = 500
_MAX_SUMMARY: Final = 120
_JOIN_BACK: Final = 4  # how far back a streamed event looks for the entry of its run

Direction = Literal["sent", "received"]


class LogEntry(TypedDict):
    """One event, or a run of the same streamed event type, as the log panel shows it."""

    seq: int  # increases by one per entry; an entry that grows keeps its seq
    time: float  # epoch seconds of the first event of the entry
    direction: Direction  # sent: client to server; received: server to client
    type: str
    summary: str
    count: int  # events in the entry (a run of deltas or appends)


def _streamed(event_type: str) -> bool:
    return event_type.endswith(".delta") or event_type == "input_audio_buffer.append"


def _clip(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def summarize_event(event: Mapping[str, Any]) -> str:
    """A short summary of a protocol event: the ids, states and sizes it names. An audio
    payload shows as its size only; text as a clipped excerpt."""
    parts: list[str] = []
    item = event.get("item")
    if isinstance(item, Mapping):
        kind = "/".join(str(item[k]) for k in ("type", "role") if item.get(k))
        parts.append(f"{kind} {item.get('id') or ''}".strip())
    for key in ("item_id", "response_id", "call_id"):
        value = event.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
    response = event.get("response")
    if isinstance(response, Mapping):
        parts.append(" ".join(str(response[k]) for k in ("id", "status") if response.get(k)))
    error = event.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        parts.append(_clip(str(error["message"]), 80))
    for key in ("audio", "delta"):
        value = event.get(key)
        if isinstance(value, str) and value:
            audio = key == "audio" or event.get("type", "").endswith("audio.delta")
            parts.append(f"{len(value) * 3 // 4} bytes" if audio else f"“{_clip(value)}”")
    if isinstance(event.get("transcript"), str):
        parts.append(f"“{_clip(event['transcript'])}”")
    if isinstance(event.get("audio_end_ms"), int):
        parts.append(f"at {event['audio_end_ms']} ms")
    session = event.get("session")
    if isinstance(session, Mapping):
        turns = session.get("turn_detection")
        shown = [f"{k} {session[k]}" for k in ("voice", "model") if isinstance(session.get(k), str)]
        if isinstance(turns, Mapping) and turns.get("type"):
            shown.append(f"turns {turns['type']}")
        parts.append(", ".join(shown))
    return _clip(" · ".join(p for p in parts if p), _MAX_SUMMARY)


class EventLog:
    """The last :data:`MAX_LOG_ENTRIES` events; summaries go through ``scrub``."""

    def __init__(self, scrub: Callable[[str], str], size: int = MAX_LOG_ENTRIES) -> None:
        self._scrub = scrub
        self._entries: deque[LogEntry] = deque(maxlen=size)
        self._changed: dict[int, LogEntry] = {}  # by seq, since the last take()
        self._seq = 0

    @property
    def entries(self) -> list[LogEntry]:
        """The entries kept, oldest first (a copy of the list; the entries are shared)."""
        return list(self._entries)

    @property
    def pending(self) -> bool:
        """Whether an entry changed since the last :meth:`take`."""
        return bool(self._changed)

    def add(self, direction: Direction, event: Mapping[str, Any], now: float) -> None:
        """Log ``event`` (sent or received at epoch ``now``): a streamed one joins the entry
        of its run when there is one (see :meth:`join`)."""
        if self.join(direction, event):
            return
        event_type = str(event.get("type") or "?")
        self._seq += 1
        entry: LogEntry = {
            "seq": self._seq,
            "time": now,
            "direction": direction,
            "type": event_type,
            "summary": self._scrub(summarize_event(event)),
            "count": 1,
        }
        if len(self._entries) == self._entries.maxlen:  # the oldest goes, sent or not
            self._changed.pop(self._entries[0]["seq"], None)
        self._entries.append(entry)
        self._changed[entry["seq"]] = entry

    def join(self, direction: Direction, event: Mapping[str, Any]) -> bool:
        """Count a streamed ``event`` in the entry of its type and ``direction`` among the
        last few, when only streamed entries came after it; returns whether it did (else
        :meth:`add` makes a new entry)."""
        event_type = event.get("type")
        if not isinstance(event_type, str) or not _streamed(event_type):
            return False
        for back, entry in enumerate(reversed(self._entries)):
            if back == _JOIN_BACK or not _streamed(entry["type"]):
                return False
            if entry["type"] == event_type and entry["direction"] == direction:
                entry["count"] += 1
                self._changed[entry["seq"]] = entry
                return True
        return False

    def take(self) -> list[LogEntry]:
        """The entries added or grown since the last call, oldest first (copies)."""
        changed = [dict(entry) for _, entry in sorted(self._changed.items())]
        self._changed = {}
        return changed  # type: ignore[return-value]

    def clear(self) -> None:
        """Forget every entry (the sequence numbers go on)."""
        self._entries.clear()
        self._changed = {}
