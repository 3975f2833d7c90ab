"""`InputAudio`: the user's audio of one session on the client's side, and its commits.

The caller's 24 kHz PCM16 is sent in the session's input format
(:class:`~realtime_widget.audio.formats.InputAudioEncoder`) and kept in
:attr:`InputAudio.buffer`, addressed by session-absolute samples, so voice activity events can
slice the user's utterance out of it. Commits and clears are requests
(:class:`~realtime_widget.client.commits.InputCommits`): the commit point moves only when the
server answers. Everything goes out through the ``send`` given, before anything is recorded,
so a send that raises changes nothing. No I/O but that ``send``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from realtime_widget.audio.buffers import InputAudioBuffer, Int16Array
from realtime_widget.audio.formats import InputAudioEncoder
from realtime_widget.client.commits import InputCommits
from realtime_widget.core.checks import is_number
from realtime_widget.core.ids import generate_id
from realtime_widget.core.protocol import SAMPLE_RATE, AudioFormat

__all__ = ["InputAudio", "Send"]

Send = Callable[[str, Mapping[str, Any]], object]
"""How a client event goes out: ``send(event_type, payload)``."""


class InputAudio:
    """The user's audio of the current session and the commits of it (see the module docstring).

    ``retention_seconds`` is how much audio the buffer keeps (``0``: no limit; read at each
    :meth:`reset`); the conversation lets it drop sooner what no speech needs.
    """

    def __init__(self, retention_seconds: float) -> None:
        self.retention_seconds = retention_seconds
        self.buffer = self._new_buffer()
        self._encoder = InputAudioEncoder()
        self._commits = InputCommits()

    def _new_buffer(self) -> InputAudioBuffer:
        limit = int(self.retention_seconds * SAMPLE_RATE)
        return InputAudioBuffer(max_samples=limit if limit > 0 else None)

    def reset(self) -> None:
        """A new session: a new buffer and encoder, nothing committed."""
        self.buffer = self._new_buffer()
        self._encoder = InputAudioEncoder()
        self._commits.reset()

    # -- what the caller does ---------------------------------------------------------------

    def append(self, samples: Int16Array, audio_format: AudioFormat, send: Send) -> None:
        """Send ``samples`` in ``audio_format`` (unless the filter holds them), then keep them.

        ``samples`` are kept as they are, not copied: the caller hands them over (a fresh
        array, as :func:`~realtime_widget.audio.pcm.to_int16` makes) and never changes them.
        """
        encoded = self._encoder.encode(samples, audio_format)
        if encoded:
            send("input_audio_buffer.append", {"audio": encoded})
        self.buffer.append(samples, copy=False)

    def commit(self, send: Send) -> None:
        """Commit the audio appended since the last commit; nothing when there is none."""
        end = self.buffer.end
        if end > self._commits.cursor:
            tail = self._encoder.flush()
            if tail:
                send("input_audio_buffer.append", {"audio": tail})
            event_id = generate_id("evt_")
            send("input_audio_buffer.commit", {"event_id": event_id})
            self._commits.commit(event_id, end)

    def clear(self, send: Send) -> None:
        """Discard the audio not committed yet, what the encoder holds back with it."""
        self._encoder.flush()
        event_id = generate_id("evt_")
        send("input_audio_buffer.clear", {"event_id": event_id})
        self._commits.clear(event_id, self.buffer.end)

    # -- what the server answers ------------------------------------------------------------

    def committed(self) -> tuple[int, int] | None:
        """``input_audio_buffer.committed`` arrived: the span of our commit it confirms, or
        ``None`` (the server's own). Hand its audio (:meth:`InputAudioBuffer.slice`) to the
        item, then call :meth:`discard_committed` once the event is applied."""
        return self._commits.committed()

    def discard_committed(self, span: tuple[int, int]) -> None:
        """Drop the audio of a confirmed commit (its item holds it now)."""
        self.buffer.discard_before(span[1])

    def speech_stopped(self, event: Mapping[str, Any]) -> None:
        """The server commits up to the ``audio_end_ms`` of ``event``."""
        end_ms = event.get("audio_end_ms")
        if is_number(end_ms):
            self._commits.advance(int(end_ms * SAMPLE_RATE) // 1000)

    def cleared(self) -> None:
        """``input_audio_buffer.cleared`` arrived: drop what the server dropped."""
        offset = self._commits.cleared(self.buffer.end)
        self.buffer.discard_before(offset)

    def refused(self, event_id: object, code: str | None) -> bool:
        """An ``error`` refused a commit or clear (named by ``event_id``, or an empty commit
        by its ``code``); ``True`` when one of ours was: its audio goes with the next commit."""
        return self._commits.refuse(event_id) or (
            code == "input_audio_buffer_commit_empty" and self._commits.refuse_oldest_commit()
        )
