"""Records that wait for an item the conversation does not hold yet, bounded in count and size.

Some server events may come before the item they belong to: the user's speech
(``speech_started`` / ``speech_stopped``), the audio of a manual commit, and input
transcriptions. :class:`~realtime_widget.core.conversation.RealtimeConversation` keeps them here
until the item appears. A broken or hostile server may name items that never come, so what
is kept is bounded, whatever it sends:

- at most :data:`MAX_PENDING` records of each kind; the oldest go first;
- :class:`PendingSpeech` keeps at most ``max_samples`` samples of audio in all; past that
  the oldest records holding audio go first, but never the one just stored (its audio was
  cut from an input buffer that is bounded itself);
- :class:`PendingTranscripts` keeps text as a list of pieces, so a delta costs the same
  however much came before. A piece costs its length plus :data:`PIECE_COST` characters (its
  bookkeeping). One item's pending text may cost :data:`MAX_PENDING_TEXT` at most: an event
  that would go past it is refused with :class:`InvalidEventError`. All of them together
  may cost :data:`MAX_PENDING_TEXT_TOTAL`: past that the oldest records go first.
  A transcription error counts as one record.

Every method that may refuse checks before it changes anything. Plain data (dataclasses that
compare by value); no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.core.errors import InvalidEventError
from realtime_widget.core.eventfields import short

__all__ = [
    "MAX_PENDING",
    "MAX_PENDING_TEXT",
    "MAX_PENDING_TEXT_TOTAL",
    "PIECE_COST",
    "PendingSpeech",
    "PendingTranscripts",
    "Speech",
    "Transcript",
]

MAX_PENDING: Final = 256
MAX_PENDING_TEXT: Final = 1 << 20
MAX_PENDING_TEXT_TOTAL: Final = 4 << 20
PIECE_COST: Final = 64


@dataclass(frozen=True, slots=True)
class Speech:
    """A user utterance seen by voice activity detection, or committed audio, waiting for its
    item. ``end_ms`` is ``None`` while the speech is still open."""

    start_ms: float | None = None
    end_ms: float | None = None
    audio: Int16Array | None = None

    @property
    def is_open(self) -> bool:
        return self.end_ms is None and self.audio is None


@dataclass
class PendingSpeech:
    """Speech records by item id, oldest first, holding at most ``max_samples`` of audio."""

    max_samples: int
    records: dict[str, Speech] = field(default_factory=dict)
    samples: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def get(self, item_id: str) -> Speech | None:
        return self.records.get(item_id)

    def put(self, item_id: str, speech: Speech) -> None:
        """Store ``speech`` for ``item_id`` (replacing its record), then enforce the bounds."""
        self.pop(item_id)
        self.records[item_id] = speech
        self.samples += _size(speech)
        if len(self.records) > MAX_PENDING:
            self.pop(next(iter(self.records)))
        while self.samples > self.max_samples:
            oldest = next(
                (key for key, kept in self.records.items() if kept.audio is not None), item_id
            )
            if oldest == item_id:
                break
            self.pop(oldest)

    def pop(self, item_id: str) -> Speech | None:
        speech = self.records.pop(item_id, None)
        if speech is not None:
            self.samples -= _size(speech)
        return speech

    def open_starts(self) -> Iterator[float]:
        """The ``start_ms`` of every speech still open."""
        for speech in self.records.values():
            if speech.is_open and speech.start_ms is not None:
                yield speech.start_ms

    def drop_open(self) -> None:
        """Forget every speech still open (its ``speech_stopped`` will not come now)."""
        for item_id in [key for key, speech in self.records.items() if speech.is_open]:
            del self.records[item_id]

    def clear(self) -> None:
        self.records.clear()
        self.samples = 0


def _size(speech: Speech) -> int:
    return int(speech.audio.size) if speech.audio is not None else 0


@dataclass(slots=True)
class Transcript:
    """An input transcription that arrived before its item."""

    pieces: list[str] = field(default_factory=list)
    cost: int = 0
    content_index: int | None = None
    error: dict[str, Any] | None = None

    @property
    def text(self) -> str | None:
        """The text so far, or ``None`` when no text came (only an error)."""
        return "".join(self.pieces) if self.pieces else None


@dataclass
class PendingTranscripts:
    """Transcription records by item id, oldest first, bounded as the module says."""

    records: dict[str, Transcript] = field(default_factory=dict)
    cost: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def append(self, etype: str, item_id: str, delta: str, index: int | None) -> None:
        """Add a transcription delta for ``item_id``; raises :class:`InvalidEventError`
        (changing nothing) when that would take its text past :data:`MAX_PENDING_TEXT`."""
        record = self.records.get(item_id)
        before = record.cost if record is not None else 0
        self._check(etype, "delta", item_id, before + len(delta) + PIECE_COST)
        if record is None:
            record = self._new(item_id)
        record.pieces.append(delta)
        record.content_index = index
        self._grow(item_id, record, len(delta) + PIECE_COST)

    def replace(self, etype: str, item_id: str, text: str, index: int | None) -> None:
        """Set the whole text for ``item_id`` (a ``.completed`` transcript); raises like
        :meth:`append` when ``text`` alone is over the limit."""
        self._check(etype, "transcript", item_id, len(text) + PIECE_COST)
        record = self.records.get(item_id) or self._new(item_id)
        grown = len(text) + PIECE_COST - record.cost
        record.pieces = [text]
        record.content_index = index
        self._grow(item_id, record, grown)

    def fail(self, item_id: str, error: dict[str, Any]) -> None:
        """Record the transcription error for ``item_id``."""
        record = self.records.get(item_id) or self._new(item_id)
        record.error = error
        self._grow(item_id, record, 0)

    def pop(self, item_id: str) -> Transcript | None:
        record = self.records.pop(item_id, None)
        if record is not None:
            self.cost -= record.cost
        return record

    def clear(self) -> None:
        self.records.clear()
        self.cost = 0

    @staticmethod
    def _check(etype: str, key: str, item_id: str, cost: int) -> None:
        if cost > MAX_PENDING_TEXT:
            raise InvalidEventError(
                etype,
                key,
                f"would take the pending transcript of item {short(item_id)} past "
                f"{MAX_PENDING_TEXT} characters",
            )

    def _new(self, item_id: str) -> Transcript:
        record = self.records[item_id] = Transcript()
        return record

    def _grow(self, item_id: str, record: Transcript, cost: int) -> None:
        record.cost += cost
        self.cost += cost
        while len(self.records) > MAX_PENDING or self.cost > MAX_PENDING_TEXT_TOTAL:
            oldest = next(iter(self.records))
            if oldest == item_id:
                break
            self.pop(oldest)
