"""`TurnClock`: how long each answer took, from the protocol's events as the kernel saw them.

A turn ends when the server's voice detection hears the speech stop
(``input_audio_buffer.speech_stopped``), when the client commits the audio
(``input_audio_buffer.commit``, push-to-talk) or sends a user message
(``conversation.item.create``). The next response started (``response.created``) is its
answer: its first audio delta and its ``response.done`` give a :class:`TurnTiming`. A
response with no turn before it (a tool's follow-up) is timed from its start.

The last :data:`MAX_TURNS` timings are kept. Each event costs O(1).

Pure: no traitlets, no I/O; times come in as arguments (``time.monotonic()`` for the spans,
epoch seconds for the record).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

__all__ = ["MAX_TURNS", "TurnClock", "TurnTiming"]

MAX_TURNS: Final = 200
_AUDIO_DELTAS: Final = frozenset({"response.output_audio.delta", "response.audio.delta"})
_TURN_ENDS: Final = frozenset({"input_audio_buffer.speech_stopped", "input_audio_buffer.commit"})


@dataclass(frozen=True, slots=True)
class TurnTiming:
    """One answer's timing, in milliseconds as the kernel saw the events.

    ``to_first_audio_ms``: from the end of the user's turn (or the response's start, when no
    turn came before it) to the first audio delta; ``audio_ms``: from the first audio delta
    to ``response.done``. Either is ``None`` for an answer without audio. ``status`` is the
    response's (``completed``, ``cancelled``, ``incomplete``, ``failed``).
    """

    response_id: str
    item_id: str  # the answer's audio item, "" when it had none
    ended_at: float  # epoch seconds of response.done
    to_first_audio_ms: int | None
    audio_ms: int | None
    status: str
    after_turn: bool  # timed from the end of the user's turn, not from the response's start

    def as_dict(self) -> dict[str, Any]:
        """The timing as a JSON-safe dict (the ``turn_timings`` trait's entries)."""
        return asdict(self)


@dataclass(slots=True)
class _Running:
    start: float  # monotonic: the end of the turn, or the response's start
    after_turn: bool
    first_audio: float | None = None
    item_id: str = ""


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class TurnClock:
    """The timings of one client's answers (see the module's rules)."""

    def __init__(self, size: int = MAX_TURNS) -> None:
        self._done: deque[TurnTiming] = deque(maxlen=size)
        self._turn_end: float | None = None
        self._running: dict[str, _Running] = {}

    @property
    def timings(self) -> list[TurnTiming]:
        """The answers timed, oldest first (a copy)."""
        return list(self._done)

    def clear(self) -> None:
        """Forget every timing and what is under way."""
        self._done.clear()
        self._turn_end = None
        self._running.clear()

    def sent(self, event: Mapping[str, Any], now: float) -> None:
        """The client sent ``event`` at monotonic ``now``."""
        kind = event.get("type")
        if kind in _TURN_ENDS:
            self._turn_end = now
        elif kind == "conversation.item.create":
            item = event.get("item")
            if isinstance(item, Mapping) and item.get("role") == "user":
                self._turn_end = now

    def received(self, event: Mapping[str, Any], now: float, epoch: float) -> TurnTiming | None:
        """The client received ``event`` at monotonic ``now`` (epoch ``epoch``); returns the
        timing it completes, if any."""
        kind = event.get("type")
        if kind in _TURN_ENDS:
            self._turn_end = now
            return None
        if kind == "response.created":
            response_id = _response_id(event)
            if response_id and len(self._running) < 64:
                after = self._turn_end is not None
                start = self._turn_end if self._turn_end is not None else now
                self._running[response_id] = _Running(start, after)
                self._turn_end = None
            return None
        if kind in _AUDIO_DELTAS:
            running = self._running.get(str(event.get("response_id")))
            if running is not None and running.first_audio is None:
                running.first_audio = now
                running.item_id = str(event.get("item_id") or "")
            return None
        if kind == "response.done":
            response_id = _response_id(event)
            running = self._running.pop(response_id, None)
            if running is None:
                return None
            first = running.first_audio
            response = event.get("response")
            status = response.get("status") if isinstance(response, Mapping) else None
            timing = TurnTiming(
                response_id=response_id,
                item_id=running.item_id,
                ended_at=epoch,
                to_first_audio_ms=None if first is None else _ms(first - running.start),
                audio_ms=None if first is None else _ms(now - first),
                status=str(status or ""),
                after_turn=running.after_turn,
            )
            self._done.append(timing)
            return timing
        return None


def _response_id(event: Mapping[str, Any]) -> str:
    response = event.get("response")
    value = response.get("id") if isinstance(response, Mapping) else None
    return value if isinstance(value, str) else ""
