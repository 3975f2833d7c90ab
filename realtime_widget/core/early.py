"""What arrives before its item: the user's speech and input transcriptions, kept bounded.

Some server events may come before the item they belong to (``speech_started`` /
``speech_stopped``, the audio of a manual commit, input transcriptions).
:class:`~realtime_widget.core.conversation.RealtimeConversation` keeps them here until the
item appears: :class:`SpeechRecord` records in :class:`EarlySpeech`, :class:`TranscriptRecord`
records in :class:`EarlyTranscripts`. A server may name items that never come, so each
store is bounded (see their docstrings); a method that may refuse checks before it changes
anything. Plain data, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.core.errors import InvalidEventError
from realtime_widget.core.eventfields import short

__all__ = [
    "MAX_EARLY_RECORDS",
    "MAX_EARLY_TEXT",
    "MAX_EARLY_TEXT_TOTAL",
    "PIECE_COST",
    "EarlySpeech",
    "EarlyTranscripts",
    "SpeechRecord",
    "TranscriptRecord",
]

MAX_EARLY_RECORDS: Final = 256
MAX_EARLY_TEXT: Final = 1 << 20
MAX_EARLY_TEXT_TOTAL: Final = 4 << 20
PIECE_COST: Final = 64


@dataclass(frozen=True, slots=True)
class SpeechRecord:
    """A user utterance seen by voice activity detection, or committed audio, waiting for its
    item. ``end_ms`` is ``None`` while the speech is still open."""

    start_ms: float | None = None
    end_ms: float | None = None
    audio: Int16Array | None = None

    @property
    def is_open(self) -> bool:
        return self.end_ms is None and self.audio is None


@dataclass
class EarlySpeech:
    """Speech records by item id, oldest first: at most :data:`MAX_EARLY_RECORDS` of them and
    ``max_samples`` samples of audio in all. Past that the oldest records holding audio go
    first, but never the one just stored (its audio was cut from a bounded input buffer)."""

    max_samples: int
    records: dict[str, SpeechRecord] = field(default_factory=dict)
    samples: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def get(self, item_id: str) -> SpeechRecord | None:
        return self.records.get(item_id)

    def put(self, item_id: str, speech: SpeechRecord) -> None:
        """Store ``speech`` for ``item_id`` (replacing its record), then enforce the bounds."""
        self.pop(item_id)
        self.records[item_id] = speech
        self.samples += _size(speech)
        if len(self.records) > MAX_EARLY_RECORDS:
            self.pop(next(iter(self.records)))
        while self.samples > self.max_samples:
            oldest = next(
                (key for key, kept in self.records.items() if kept.audio is not None), item_id
            )
            if oldest == item_id:
                break
            self.pop(oldest)

    def pop(self, item_id: str) -> SpeechRecord | None:
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


def _size(speech: SpeechRecord) -> int:
    return int(speech.audio.size) if speech.audio is not None else 0


@dataclass(slots=True)
class TranscriptRecord:
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
class EarlyTranscripts:
    """Transcription records by item id, oldest first.

    Text is kept as a list of pieces, so a delta costs the same however much came before;
    a piece costs its length plus :data:`PIECE_COST` (its bookkeeping), an error counts as
    one record. One item's text may cost :data:`MAX_EARLY_TEXT` at most (past it an event is
    refused with :class:`InvalidEventError`); all of them together
    :data:`MAX_EARLY_TEXT_TOTAL`, and at most :data:`MAX_EARLY_RECORDS` records are kept
    (past either, the oldest go first).
    """

    records: dict[str, TranscriptRecord] = field(default_factory=dict)
    cost: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def append(self, etype: str, item_id: str, delta: str, index: int | None) -> None:
        """Add a transcription delta for ``item_id``; raises :class:`InvalidEventError`
        (changing nothing) when that would take its text past :data:`MAX_EARLY_TEXT`."""
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

    def pop(self, item_id: str) -> TranscriptRecord | None:
        record = self.records.pop(item_id, None)
        if record is not None:
            self.cost -= record.cost
        return record

    def clear(self) -> None:
        self.records.clear()
        self.cost = 0

    @staticmethod
    def _check(etype: str, key: str, item_id: str, cost: int) -> None:
        if cost > MAX_EARLY_TEXT:
            raise InvalidEventError(
                etype,
                key,
                f"would take the transcript kept for item {short(item_id)} past "
                f"{MAX_EARLY_TEXT} characters",
            )

    def _new(self, item_id: str) -> TranscriptRecord:
        record = self.records[item_id] = TranscriptRecord()
        return record

    def _grow(self, item_id: str, record: TranscriptRecord, cost: int) -> None:
        record.cost += cost
        self.cost += cost
        while len(self.records) > MAX_EARLY_RECORDS or self.cost > MAX_EARLY_TEXT_TOTAL:
            oldest = next(iter(self.records))
            if oldest == item_id:
                break
            self.pop(oldest)
