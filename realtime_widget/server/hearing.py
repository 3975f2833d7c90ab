"""The audio a client sends on one connection: appends, voice activity, commits, transcripts.

Input audio is counted in session-absolute samples (24 kHz; G.711 input is decoded and
resampled as one stream, flushed at a commit). The uncommitted buffer starts at the last
commit. With server or semantic VAD the detector (see :mod:`~realtime_widget.server.vad`)
announces ``speech_started`` / ``speech_stopped`` with session-absolute milliseconds and
commits the utterance itself; audio heard while idle is dropped beyond the prefix padding.
A commit creates a user item with one ``input_audio`` part, announced by
``input_audio_buffer.committed`` then ``conversation.item.added`` (beta:
``conversation.item.created``); with transcription configured, the transcription events
follow (partial words while the user speaks, when a recognizer listens) and
``conversation.item.done`` (GA) carries the transcript.

Transcription: with the diarizing model (``gpt-4o-transcribe-diarize``) each utterance also
gets one ``.segment`` (speaker ``"A"``: the local recognizer tells no voices apart; start and
end in seconds within the item's audio) before ``.completed``. When recognition fails (the
recognizer raises), or a transcription session commits audio holding no speech (RMS under
-50 dBFS), ``.failed`` replaces the deltas and ``.completed``; the item keeps no transcript
and the model takes its speech as missed.

Idle timeout (server_vad's ``idle_timeout_ms``): armed when a response ends, disarmed when
speech starts, the buffer is committed or another response starts. When it fires,
``input_audio_buffer.timeout_triggered`` (``audio_start_ms``: the input's end when it was
armed; ``audio_end_ms``: its end now) is followed by the commit of the uncommitted buffer
(however short) and, with ``create_response``, a response.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from realtime_widget.audio.buffers import InputAudioBuffer, Int16Array
from realtime_widget.audio.formats import StreamDecoder, encode_clip, pcm_from_wire
from realtime_widget.core.ids import generate_id
from realtime_widget.core.protocol import SAMPLE_RATE, Dialect
from realtime_widget.server.listener import Listener
from realtime_widget.server.perceive import describe_audio
from realtime_widget.server.sessionstate import SessionState
from realtime_widget.server.store import Conversation, StoredItem, render_item
from realtime_widget.server.synth import decode
from realtime_widget.server.vad import EnergyVad, VadEvent
from realtime_widget.server.vocabulary import Vocabulary
from realtime_widget.server.wire import ClientEventError, Emit

__all__ = ["DIARIZING_MODEL", "Hearing"]

logger = logging.getLogger("realtime_widget.server")

DIARIZING_MODEL = "gpt-4o-transcribe-diarize"
_SILENCE_RMS = 32768 * 10 ** (-50 / 20)  # -50 dBFS: quieter than any speech

_MIN_COMMIT_SAMPLES = SAMPLE_RATE // 10  # the service refuses commits under 100 ms
_SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 600, "high": 250, "auto": 500}


class Hearing:
    """One connection's input audio (see the module doc). Owned by its connection.

    ``spawn`` runs a coroutine in a task the connection owns; ``barge_in`` is called when the
    user starts speaking while interruptions are on (a running response is cancelled);
    ``answer(respond)`` when voice activity committed a turn (``respond``: the session wants
    a response to it).
    """

    def __init__(
        self,
        *,
        session: SessionState,
        conversation: Conversation,
        dialect: Dialect,
        emit: Emit,
        spawn: Callable[[Awaitable[Any]], asyncio.Task[Any]],
        barge_in: Callable[[], None],
        answer: Callable[[bool], Awaitable[None]],
        vocabulary: Callable[[], Vocabulary],
        listener: Listener | None,
    ) -> None:
        self._session = session
        self._conversation = conversation
        self._dialect: Dialect = dialect
        self._emit = emit
        self._spawn = spawn
        self._barge_in = barge_in
        self._answer = answer
        self._vocabulary = vocabulary
        self.listener = listener
        self._input = InputAudioBuffer()
        self._input_stream = StreamDecoder("pcm16")  # the appends, decoded to 24 kHz
        self._commit_offset = 0
        self._vad = EnergyVad()
        self._vad_item_id: str | None = None
        self._partial: list[str] = []  # transcription words sent while the user speaks
        self._partial_item: str | None = None  # the item they were sent for
        self._idle: asyncio.Task[Any] | None = None  # the idle timeout, while armed
        self.configure()

    def configure(self) -> None:
        """Follow the session's turn detection (after each ``session.update``)."""
        detection = self._session.turn_detection
        if detection is None:
            self._vad.reset()
            self._vad_item_id = None
            return
        if detection["type"] == "semantic_vad":
            silence = _SEMANTIC_SILENCE_MS[detection.get("eagerness", "auto")]
            self._vad.configure(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=silence)
        else:
            self._vad.configure(
                threshold=detection["threshold"],
                prefix_padding_ms=detection["prefix_padding_ms"],
                silence_duration_ms=detection["silence_duration_ms"],
            )

    def _wire_audio(self, value: Any, param: str) -> bytes:
        """Client audio as the bytes of the session's input format, checked."""
        if not isinstance(value, str):
            raise ClientEventError.invalid_type(param, "a base64 string", value)
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ClientEventError(
                "invalid base64 audio", code="invalid_value", param=param
            ) from None
        if self._session.input_audio_format == "pcm16" and len(raw) % 2:
            raise ClientEventError(
                f"pcm16 audio must have an even number of bytes, got {len(raw)}",
                code="invalid_value",
                param=param,
            )
        return raw

    def decode_audio(self, value: Any, param: str) -> Int16Array:
        """A client's clip (base64 in the session's input format) as 24 kHz int16 samples."""
        return pcm_from_wire(self._wire_audio(value, param), self._session.input_audio_format)

    def encode_input_audio(self, samples: Int16Array) -> str:
        """24 kHz samples as base64 in the session's input format."""
        return encode_clip(samples, self._session.input_audio_format)

    async def append(self, audio: Any) -> None:
        """Take in an ``input_audio_buffer.append``'s ``audio``; voice activity may commit."""
        raw = self._wire_audio(audio, "audio")
        audio_format = self._session.input_audio_format
        if self._input_stream.audio_format != audio_format:
            self._input_stream = StreamDecoder(audio_format)
        await self.feed(self._input_stream.decode(raw))

    async def feed(self, samples: Int16Array) -> None:
        """Take in 24 kHz samples (an append's, or a call's microphone track)."""
        self._input.append(samples)
        detection = self._session.turn_detection
        if detection is None:
            self._vad.skip(samples.size)
            return
        for vad_event in self._vad.feed(samples, floor=self._commit_offset):
            await self._on_vad(vad_event, detection)
        listener = self.listener
        if listener is not None and listener.streaming and self._vad.speaking:
            self._stream_partial(listener, self._input.end)
        if not self._vad.speaking:
            padding = detection.get("prefix_padding_ms", 300) * SAMPLE_RATE // 1000
            self._input.discard_before(max(self._commit_offset, self._vad.position - padding))

    def _stream_partial(self, listener: Listener, end: int) -> None:
        """Feed the utterance's new audio; its partial transcript goes out as it comes."""
        if end <= listener.fed:
            return
        partial = listener.feed(self._input.slice(listener.fed, end), end)
        item_id = self._vad_item_id
        if item_id is not None and self._session.transcription is not None:
            self._spawn(self._send_partial(item_id, partial))

    async def _send_partial(self, item_id: str, partial: Awaitable[str]) -> None:
        """Send the words of a partial hypothesis that extend those already sent.

        The last word of a partial hypothesis still changes as audio arrives: it waits.
        """
        words = (await partial).split()[:-1]
        sent = self._partial
        if words[: len(sent)] != sent:
            return
        for word in words[len(sent) :]:
            if item_id != self._vad_item_id:
                return  # the utterance ended: the commit sends the rest
            sent.append(word)
            await self._transcription_delta(item_id, word if len(sent) == 1 else " " + word)

    async def _transcription_delta(self, item_id: str, delta: str) -> None:
        await self._emit(
            {
                "type": "conversation.item.input_audio_transcription.delta",
                "item_id": item_id,
                "content_index": 0,
                "delta": delta,
            }
        )

    async def _on_vad(self, vad_event: VadEvent, detection: dict[str, Any]) -> None:
        if vad_event.kind == "started":
            self.disarm_idle()
            self._vad_item_id = self._partial_item = generate_id("item_")
            self._partial = []
            if self.listener is not None:
                self.listener.begin(self._vocabulary(), vad_event.sample)
            await self._emit(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": vad_event.ms,
                    "item_id": self._vad_item_id,
                }
            )
            if detection.get("interrupt_response", True):
                self._barge_in()
            return
        item_id = self._vad_item_id or generate_id("item_")
        self._vad_item_id = None
        await self._emit(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": vad_event.ms,
                "item_id": item_id,
            }
        )
        listener = self.listener
        streamed = listener is not None and listener.streaming
        if listener is not None and streamed:
            self._stream_partial(listener, vad_event.sample)
        await self._commit(vad_event.utterance_start, vad_event.sample, item_id, streamed)
        await self._answer(detection.get("create_response", True))

    async def commit(self) -> None:
        """Commit the buffer (``input_audio_buffer.commit``): a user item of its audio."""
        held = self._input_stream.flush()  # what the resampler held back belongs to the commit
        self._input.append(held)
        self._vad.skip(held.size)
        end = self._input.end
        size = end - max(self._commit_offset, self._input.start)
        if size < _MIN_COMMIT_SAMPLES:
            raise ClientEventError(
                "buffer too small: expected at least 100 ms of audio, "
                f"got {size * 1000 / SAMPLE_RATE:.2f} ms",
                code="input_audio_buffer_commit_empty",
            )
        self._vad.reset()
        self.disarm_idle()
        item_id = self._vad_item_id or generate_id("item_")
        self._vad_item_id = None
        await self._commit(self._commit_offset, end, item_id)

    # -- the idle timeout ----------------------------------------------------------------

    def arm_idle(self) -> None:
        """A response ended: start server_vad's ``idle_timeout_ms``, when the session has one."""
        self.disarm_idle()
        detection = self._session.turn_detection
        if detection is None or detection["type"] != "server_vad":
            return
        timeout_ms = detection.get("idle_timeout_ms")
        if timeout_ms is not None:
            self._idle = self._spawn(self._idle_timeout(timeout_ms / 1000, self._input.end))

    def disarm_idle(self) -> None:
        """Stop the idle timeout (speech, a commit or a response came first)."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    async def _idle_timeout(self, seconds: float, armed_at: int) -> None:
        await asyncio.sleep(seconds)
        self._idle = None  # from here on the commit and response run to their end
        detection = self._session.turn_detection
        if detection is None or self._vad.speaking:
            return
        held = self._input_stream.flush()
        self._input.append(held)
        self._vad.skip(held.size)
        end = self._input.end
        item_id = generate_id("item_")
        await self._emit(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": armed_at * 1000 // SAMPLE_RATE,
                "audio_end_ms": end * 1000 // SAMPLE_RATE,
                "item_id": item_id,
            }
        )
        self._vad.reset()
        self._vad_item_id = None
        await self._commit(self._commit_offset, end, item_id)
        await self._answer(detection.get("create_response", True))

    async def listen_to_last_user(self, context: Sequence[StoredItem]) -> None:
        """Recognize the audio parts of the last user message that have no transcript yet.

        Audio items a client creates are heard only when a response needs them, so creating
        (or replaying) many of them costs no recognition.
        """
        for stored in reversed(context):
            if stored.item.get("type") == "message" and stored.item.get("role") == "user":
                for index, samples in stored.audio.items():
                    part = stored.item["content"][index]
                    if part.get("transcript") is None and index not in stored.heard:
                        heard = await self.hear(samples)
                        if heard is not None:
                            stored.heard[index] = heard
                return

    async def hear(self, samples: Int16Array, streamed: bool = False) -> str | None:
        """What ``samples`` say: tone speech decoded exactly, else recognized (``""`` when
        nothing was made out); ``None`` without a recognizer.

        ``streamed``: the same audio was fed to the listener as it arrived; it is finished
        (or abandoned, for tone speech) here.
        """
        tones = decode(samples)
        listener = self.listener
        if listener is None:
            return tones
        if tones is not None:
            if streamed:
                listener.abandon()
            return tones
        if streamed:
            return (await listener.finish()).text
        return (await listener.recognize(self._vocabulary(), samples)).text

    async def _recognize(
        self, samples: Int16Array, streamed: bool
    ) -> tuple[str | None, dict[str, Any] | None]:
        """``(what the samples say, None)``, or ``(None, the error)`` when recognition failed
        or a transcription session's audio holds no speech."""
        if self._session.transcribing_only and _silent(samples):
            seconds = samples.size / SAMPLE_RATE
            return None, {
                "type": "invalid_request_error",
                "code": "audio_unintelligible",
                "message": f"the audio holds no speech ({seconds:.1f} s of silence)",
                "param": None,
            }
        try:
            return await self.hear(samples, streamed), None
        except Exception as exc:
            logger.exception("recognizing %d samples failed", samples.size)
            return None, {
                "type": "server_error",
                "code": "transcription_failed",
                "message": f"the recognizer failed: {exc}",
                "param": None,
            }

    async def _commit(
        self,
        start: int,
        end: int,
        item_id: str,
        streamed: bool = False,
    ) -> None:
        samples = self._input.slice(start, end)
        self._commit_offset = end
        self._input.discard_before(end)
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        heard, failure = await self._recognize(samples, streamed)
        stored = StoredItem(item, audio={0: samples})
        if heard is not None or failure is not None:
            stored.heard[0] = heard or ""  # a failed recognition made nothing out
        previous = self._conversation.insert(stored)
        await self._emit(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        added = "conversation.item.added" if self._dialect == "ga" else "conversation.item.created"
        await self._emit(
            {"type": added, "previous_item_id": previous, "item": render_item(item, self._dialect)}
        )
        transcription = self._session.transcription
        if transcription is not None and failure is not None:
            self._partial = []
            await self._emit(
                {
                    "type": "conversation.item.input_audio_transcription.failed",
                    "item_id": item_id,
                    "content_index": 0,
                    "error": failure,
                }
            )
        elif transcription is not None:
            transcript = heard if heard is not None else describe_audio(samples.size)
            item["content"][0]["transcript"] = transcript
            words = transcript.split()
            sent = self._partial if item_id == self._partial_item else []
            if words[: len(sent)] != sent:
                sent = []  # the final words differ from the partial ones: completed says so
            for index in range(len(sent), len(words)):
                await self._transcription_delta(
                    item_id, words[index] if not index else " " + words[index]
                )
            self._partial = []
            if transcription.get("model") == DIARIZING_MODEL and transcript:
                await self._emit(
                    {
                        "type": "conversation.item.input_audio_transcription.segment",
                        "item_id": item_id,
                        "content_index": 0,
                        "id": generate_id("seg_"),
                        "speaker": "A",
                        "start": 0.0,
                        "end": round(samples.size / SAMPLE_RATE, 3),
                        "text": transcript,
                    }
                )
            await self._emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": transcript,
                    "usage": {"type": "duration", "seconds": round(samples.size / SAMPLE_RATE, 3)},
                }
            )
        if self._dialect == "ga":
            await self._emit(
                {
                    "type": "conversation.item.done",
                    "previous_item_id": previous,
                    "item": render_item(item, self._dialect),
                }
            )

    async def clear(self) -> None:
        """Drop the buffer (``input_audio_buffer.clear``)."""
        self._input_stream.flush()
        self._commit_offset = self._input.end
        self._input.clear()
        self._vad.reset()
        if self.listener is not None:
            self.listener.streaming = False
        self._vad_item_id = None
        await self._emit({"type": "input_audio_buffer.cleared"})


def _silent(samples: Int16Array) -> bool:
    """Whether ``samples`` hold no speech: none at all, or all quieter than -50 dBFS."""
    if not samples.size:
        return True
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return rms < _SILENCE_RMS
