"""`InputSpeech`: the user's audio the conversation cuts out of the input buffer for its items.

It follows the conversation's rules for ``speech_started`` / ``speech_stopped``, the input
buffer's ``keep_input_ms``, and the audio of a manual commit (:attr:`InputSpeech.queued`);
speech waits for its item in a :class:`~realtime_widget.core.early.EarlySpeech`. Plain data
(a dataclass that compares by value); no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from realtime_widget.audio.buffers import InputAudioBuffer, Int16Array
from realtime_widget.core.early import EarlySpeech, SpeechRecord
from realtime_widget.core.errors import InvalidEventError
from realtime_widget.core.protocol import ConversationItem

__all__ = ["InputSpeech"]


@dataclass
class InputSpeech:
    """The speech of one session's input audio (see the module docstring)."""

    sample_rate: int
    keep_input_ms: int | None
    pending: EarlySpeech
    queued: Int16Array | None = None

    def samples(self, ms: float) -> int:
        """``ms`` milliseconds as a sample offset."""
        return int(ms * self.sample_rate // 1000)

    def clear(self) -> None:
        """Forget the speeches open or waiting, and the queued commit audio."""
        self.pending.clear()
        self.queued = None

    def start(self, item_id: str, start_ms: float) -> None:
        """``speech_started``: a speech of item ``item_id`` opens at ``start_ms``."""
        self.pending.put(item_id, SpeechRecord(start_ms=start_ms))

    def stop(
        self, etype: str, item_id: str, end_ms: float, buffer: InputAudioBuffer | None
    ) -> SpeechRecord:
        """``speech_stopped``: the speech of ``item_id`` closed at ``end_ms``, its audio
        sliced out of ``buffer`` when there is one and the start is known.

        Raises :class:`InvalidEventError` when ``end_ms`` is before the start.
        """
        speech = self.pending.get(item_id) or SpeechRecord()
        start_ms = speech.start_ms
        if start_ms is not None and end_ms < start_ms:
            raise InvalidEventError(
                etype, "audio_end_ms", f"is before audio_start_ms ({end_ms} < {start_ms})"
            )
        audio = None
        if buffer is not None and start_ms is not None:
            audio = buffer.slice(self.samples(start_ms), self.samples(end_ms))
        return replace(speech, end_ms=end_ms, audio=audio)

    def drop_input(self, buffer: InputAudioBuffer, end: int) -> None:
        """Let ``buffer`` drop audio older than ``keep_input_ms`` before sample ``end``,
        except what a speech still open needs (unless its start is gone already)."""
        if self.keep_input_ms is None:
            return
        horizon = end - self.samples(self.keep_input_ms)
        kept_from = buffer.start
        for start_ms in self.pending.open_starts():
            start = self.samples(start_ms)
            if kept_from <= start < horizon:
                horizon = start
        buffer.discard_before(horizon)

    def commit(self, item_id: str) -> None:
        """``input_audio_buffer.committed`` for ``item_id``, an item not held yet: the
        queued audio, if any, waits for it (unless audio already does)."""
        if self.queued is None:
            return
        speech = self.pending.get(item_id) or SpeechRecord()
        if speech.audio is None:
            self.pending.put(item_id, replace(speech, audio=self.queued))
            self.queued = None

    def take(self, item: ConversationItem) -> Int16Array | None:
        """The audio a new ``item`` gets: its closed speech, else the queued audio for a
        user message with an ``input_audio`` part; taken out of here. ``None``: none."""
        item_id = item["id"]
        has_audio = bool(len(item["formatted"]["audio"]))
        speech = self.pending.get(item_id)
        if speech is not None:
            if speech.is_open:
                return None
            self.pending.pop(item_id)
            return None if has_audio else speech.audio
        if (
            self.queued is not None
            and item.get("type") == "message"
            and item.get("role") == "user"
            and not has_audio
            and any(p.get("type") == "input_audio" for p in item.get("content") or ())
        ):
            audio, self.queued = self.queued, None
            return audio
        return None
