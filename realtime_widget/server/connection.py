"""One client connection of the local server: the protocol's event loop.

Rules:

- On open the server sends ``session.created`` (beta also ``conversation.created``), then
  handles client frames one at a time, in order. A response streams in its own task, so
  ``response.cancel`` and audio appends are handled while it runs.
- Any client frame the server cannot apply becomes an ``error`` event echoing the client's
  ``event_id``: a binary frame (``invalid_frame``), text that is not JSON (nesting too deep
  and numbers too long included) or not an object (``invalid_json``), no ``type``
  (``missing_required_parameter``), an unknown type or value (``invalid_value``), an
  unknown field (``unknown_parameter``), a wrong type (``invalid_type``). Nothing a client
  sends ends the connection or the server.
- Input audio is counted in session-absolute samples (24 kHz; G.711 input is decoded and
  resampled). The uncommitted buffer starts at the last commit. With server or semantic VAD
  the detector (see :mod:`~realtime_widget.server.vad`) announces ``speech_started`` /
  ``speech_stopped`` with session-absolute milliseconds and commits the utterance itself;
  audio heard while idle is dropped beyond the prefix padding.
- A commit creates a user item with one ``input_audio`` part, announced by
  ``input_audio_buffer.committed`` then ``conversation.item.added`` (beta:
  ``conversation.item.created``); with transcription configured, the transcription events
  follow and ``conversation.item.done`` (GA) carries the transcript. GA connections do not
  receive ``conversation.item.created``: ``added`` / ``done`` replace it.
- One response at a time: ``response.create`` while one is active is refused with
  ``conversation_already_has_active_response``. Speech starting during a response cancels it
  when ``interrupt_response`` is on (reason ``turn_detected``); the utterance then gets its
  own response once the cancelled one is done. With ``interrupt_response`` off, an utterance
  ending while a response still runs gets no response of its own.
- ``received`` records every client event that parsed as a JSON object (a testing aid); it
  is capped at ``record_limit`` entries and ``record_bytes`` bytes of frames (see
  :class:`~realtime_widget.server.records.Records`: the oldest go first, the newest always
  stays), so a client streaming large frames cannot grow the server without bound.
- With the ``trace`` option (a measuring aid, off by default) ``trace`` also lists
  ``(time.time(), "received" | "sent", event)`` for each client event recorded (stamped when
  its frame is handled, before parsing) and each server event emitted (stamped just before
  it is written), capped the same way. Off, it is ``None`` and costs one check per event.
- Frame observers (a testing aid, none by default): each of ``options.observers`` is called
  as ``observer(connection, direction, frame)`` with every frame exactly as it crosses the
  socket, text or bytes: ``"received"``, each client frame, before it is handled;
  ``"sent"``, each server event, just before it is written; ``"raw"``, each frame of
  :meth:`Connection.send_raw`. An observer that raises is logged and the frame goes on.
  With none, it costs one check per frame.
- Misbehaving on purpose (testing aids): :meth:`Connection.send_raw` sends any frame;
  :meth:`Connection.break_transport` cuts the socket in the middle of a frame; with the
  ``stall`` option set, a response sends its first audio chunk (or word) and then nothing
  until it is cancelled.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from realtime_widget.audio.buffers import InputAudioBuffer, Int16Array
from realtime_widget.core.protocol import Dialect
from realtime_widget.server.g711 import decode_g711, encode_g711
from realtime_widget.server.listener import Listener
from realtime_widget.server.model import ModelContext, decide
from realtime_widget.server.perceive import describe_audio
from realtime_widget.server.records import Records
from realtime_widget.server.response import ResponseParams, ResponseRun, parse_response_params
from realtime_widget.server.session import SessionState
from realtime_widget.server.store import Conversation, StoredItem, parse_client_item, render_item
from realtime_widget.server.synth import SAMPLE_RATE, decode
from realtime_widget.server.vad import EnergyVad, VadEvent
from realtime_widget.server.vocabulary import Vocabulary, build_vocabulary, session_texts
from realtime_widget.server.voice import VoiceSupport
from realtime_widget.server.wire import ClientEventError, error_event, new_id

__all__ = ["Connection", "ConnectionOptions", "Direction", "FrameObserver"]

logger = logging.getLogger("realtime_widget.server")

_MIN_COMMIT_SAMPLES = SAMPLE_RATE // 10  # the service refuses commits under 100 ms
_SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 600, "high": 250, "auto": 500}
Handler = Callable[[dict[str, Any]], Awaitable[None]]
Direction = Literal["received", "sent", "raw"]
FrameObserver = Callable[["Connection", Direction, str | bytes], None]


@dataclass(frozen=True)
class ConnectionOptions:
    """Server-wide settings every connection follows."""

    pace: float | None = 1.0  # None: as fast as possible
    chunk_ms: int = 100
    max_session_seconds: float | None = None
    record_limit: int = 10_000  # entries of each log (received, trace)
    record_bytes: int = 4 * 1024 * 1024  # bytes of frames in each log
    knowledge: Callable[[], dict[str, Any] | None] = lambda: None
    stall: Callable[[], bool] = lambda: False  # read when each response starts
    trace: bool = False  # keep Connection.trace: stamped events in and out
    voice: VoiceSupport = field(default_factory=VoiceSupport.tones_only)  # what the server found
    observers: Sequence[FrameObserver] = ()  # called with every frame in and out


def _half_frame() -> bytes:
    """The first half of an unmasked server text frame holding a plausible event."""
    payload = json.dumps({"type": "response.output_text.delta", "delta": "cut " * 40}).encode()
    header = bytes([0x81, 126]) + len(payload).to_bytes(2, "big")  # FIN, text; 16-bit length
    return header + payload[: len(payload) // 2]


class Connection:
    """The protocol state of one client (see the module rules).

    Attributes useful to tests: ``received`` (client events, oldest first), ``session``
    (:class:`~realtime_widget.server.session.SessionState`), ``conversation``
    (:class:`~realtime_widget.server.store.Conversation`), ``response`` (the latest
    :class:`~realtime_widget.server.response.ResponseRun`, maybe finished), ``dialect`` and
    ``websocket``.
    """

    def __init__(
        self,
        websocket: ServerConnection,
        *,
        dialect: Dialect,
        model: str,
        options: ConnectionOptions,
    ) -> None:
        self.websocket = websocket
        self.dialect: Dialect = dialect
        self.options = options
        self.session = SessionState(dialect, model=model)
        self.conversation = Conversation()
        self._received: Records[dict[str, Any]] = Records(
            options.record_limit, options.record_bytes
        )
        self._trace: Records[tuple[float, str, dict[str, Any]]] | None = (
            Records(options.record_limit, options.record_bytes) if options.trace else None
        )
        self.response: ResponseRun | None = None
        self._input = InputAudioBuffer()
        self._commit_offset = 0
        self._vad = EnergyVad()
        self._vad_item_id: str | None = None
        self._configure_vad()
        self._listener = Listener() if options.voice.recognizer else None
        self._partial: list[str] = []  # transcription words sent while the user speaks
        self._partial_item: str | None = None  # the item they were sent for
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[Any]]] = []
        self._handlers: dict[str, Handler] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit_event,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.delete": self._item_delete,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_audio_clear,
        }

    @property
    def received(self) -> list[dict[str, Any]]:
        """The client events recorded, oldest first (trimmed in place as it fills)."""
        return self._received.entries

    @property
    def trace(self) -> list[tuple[float, str, dict[str, Any]]] | None:
        """With the ``trace`` option, the stamped events in and out, oldest first."""
        return self._trace.entries if self._trace is not None else None

    # -- lifecycle -------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the client until the socket closes."""
        await self.emit({"type": "session.created", "session": self.session.to_wire()})
        if self.dialect == "beta":
            await self.emit(
                {
                    "type": "conversation.created",
                    "conversation": {"id": self.conversation.id, "object": "realtime.conversation"},
                }
            )
        if self.options.max_session_seconds is not None:
            self._spawn(self._expire(self.options.max_session_seconds))
        try:
            async for message in self.websocket:
                await self.handle_message(message)
        except ConnectionClosed:
            pass
        finally:
            for task in list(self._tasks):
                task.cancel()
            for _, future in self._waiters:
                if not future.done():
                    future.cancel()
            if self._listener is not None:
                self._listener.close()

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _expire(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.emit(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "session_expired",
                    "message": f"your session hit the maximum duration of {seconds:g} seconds",
                    "param": None,
                    "event_id": None,
                },
            }
        )
        await self.websocket.close(1001, "session expired")

    async def emit(self, event: dict[str, Any]) -> None:
        """Send a server event, giving it a fresh ``event_id``; a closed socket is ignored."""
        payload = {"event_id": new_id("event"), **event}
        text = json.dumps(payload, separators=(",", ":"))
        if self._trace is not None:
            self._trace.add((time.time(), "sent", payload), len(text))
        if self.options.observers:
            self._observe("sent", text)
        with contextlib.suppress(ConnectionClosed):
            await self.websocket.send(text)

    async def send_raw(self, data: str | bytes) -> None:
        """Send ``data`` as one frame, untouched (testing aid for malformed traffic)."""
        if self.options.observers:
            self._observe("raw", data)
        with contextlib.suppress(ConnectionClosed):
            await self.websocket.send(data)

    def _observe(self, direction: Direction, frame: str | bytes) -> None:
        for observer in self.options.observers:
            try:
                observer(self, direction, frame)
            except Exception:
                logger.exception("frame observer %r failed", observer)

    async def break_transport(self, timeout: float = 1.0) -> None:
        """Write the first half of a text frame to the socket, then drop it (testing aid).

        No close frame is sent: the peer sees a frame cut short and the connection lost, an
        abnormal closure (code 1006), as when a process dies or a proxy cuts a stream.
        """
        transport = self.websocket.transport
        if transport.is_closing():
            return
        transport.write(_half_frame())
        # abort() drops unsent data: let the half frame (and whatever precedes it) leave first
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while transport.get_write_buffer_size() and loop.time() < deadline:
            await asyncio.sleep(0.001)
        transport.abort()

    # -- the received log (testing aid) -----------------------------------------------

    def _record(self, event: dict[str, Any], size: int) -> None:
        self._received.add(event, size)
        for entry in list(self._waiters):
            predicate, future = entry
            if not future.done() and predicate(event):
                future.set_result(event)
                self._waiters.remove(entry)

    async def wait_for_received(self, event_type: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first recorded client event of ``event_type``, waiting for one if needed.

        Raises ``TimeoutError`` after ``timeout`` seconds. Valid on the server's loop only.
        """
        for event in self.received:
            if event.get("type") == event_type:
                return event
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        entry = (lambda e: e.get("type") == event_type, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    # -- dispatch ----------------------------------------------------------------------

    async def handle_message(self, message: str | bytes) -> None:
        """Apply one client frame; problems become ``error`` events."""
        stamp = time.time() if self._trace is not None else 0.0
        if self.options.observers:
            self._observe("received", message)
        if isinstance(message, bytes):
            await self._error(
                ClientEventError("binary frames are not supported", code="invalid_frame"), None
            )
            return
        try:
            event = json.loads(message)
        except json.JSONDecodeError as exc:
            await self._error(
                ClientEventError(f"invalid json: {exc.msg.lower()}", code="invalid_json"), None
            )
            return
        except RecursionError:
            await self._error(ClientEventError("json nested too deeply", code="invalid_json"), None)
            return
        except ValueError as exc:  # a number with more digits than int() converts
            problem = str(exc).split(";")[0].lower()
            await self._error(
                ClientEventError(f"invalid json: {problem}", code="invalid_json"), None
            )
            return
        if not isinstance(event, dict):
            error = ClientEventError("an event must be a json object", code="invalid_json")
            await self._error(error, None)
            return
        # the frame's length stands for the event's size: measured once, never re-serialised
        self._record(event, len(message))
        if self._trace is not None:
            self._trace.add((stamp, "received", event), len(message))
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        try:
            kind = event.get("type")
            if kind is None:
                raise ClientEventError.missing("type")
            if not isinstance(kind, str):
                raise ClientEventError.invalid_type("type", "a string", kind)
            handler = self._handlers.get(kind)
            if handler is None:
                raise ClientEventError(
                    f"unknown event type {kind!r}", code="invalid_value", param="type"
                )
            await handler(event)
        except ClientEventError as error:
            await self._error(error, event_id)
        except Exception:
            logger.exception("error handling %r", event.get("type"))
            internal = ClientEventError(
                "the server failed to handle the event",
                code="internal_error",
                error_type="server_error",
            )
            await self._error(internal, event_id)

    async def _error(self, error: ClientEventError, event_id: str | None) -> None:
        await self.emit(error_event(error, event_id))

    @staticmethod
    def _check_event(
        event: dict[str, Any], allowed: set[str], required: tuple[str, ...] = ()
    ) -> None:
        for key in event:
            if key not in allowed and key not in ("type", "event_id"):
                raise ClientEventError.unknown_parameter(key)
        for key in required:
            if key not in event:
                raise ClientEventError.missing(key)

    # -- session ---------------------------------------------------------------------

    def _configure_vad(self) -> None:
        detection = self.session.turn_detection
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

    async def _session_update(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"session"}, ("session",))
        self.session.apply_update(event["session"])
        self._configure_vad()
        if self._listener is not None:
            self._listener.prepare(self.vocabulary())
        await self.emit({"type": "session.updated", "session": self.session.to_wire()})

    # -- input audio -------------------------------------------------------------------

    def decode_audio(self, value: Any, param: str) -> Int16Array:
        """Client audio (base64 in the session's input format) as 24 kHz int16 samples."""
        if not isinstance(value, str):
            raise ClientEventError.invalid_type(param, "a base64 string", value)
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ClientEventError(
                "invalid base64 audio", code="invalid_value", param=param
            ) from None
        kind = self.session.input_format
        if kind == "audio/pcm":
            if len(raw) % 2:
                raise ClientEventError(
                    f"pcm16 audio must have an even number of bytes, got {len(raw)}",
                    code="invalid_value",
                    param=param,
                )
            return np.frombuffer(raw, dtype="<i2").astype(np.int16)
        return decode_g711(raw, kind)

    def encode_input_audio(self, samples: Int16Array) -> str:
        """24 kHz samples as base64 in the session's input format."""
        kind = self.session.input_format
        if kind == "audio/pcm":
            data = samples.astype("<i2", copy=False).tobytes()
        else:
            data = encode_g711(samples, kind)
        return base64.b64encode(data).decode("ascii")

    async def _append(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"audio"}, ("audio",))
        samples = self.decode_audio(event["audio"], "audio")
        self._input.append(samples)
        detection = self.session.turn_detection
        if detection is None:
            self._vad.skip(samples.size)
            return
        for vad_event in self._vad.feed(samples, floor=self._commit_offset):
            await self._on_vad(vad_event, detection)
        listener = self._listener
        if listener is not None and listener.streaming and self._vad.speaking:
            self._stream_partial(listener, self._input.end)
        if not self._vad.speaking:
            padding = detection.get("prefix_padding_ms", 300) * SAMPLE_RATE // 1000
            self._input.discard_before(max(self._commit_offset, self._vad.position - padding))

    def vocabulary(self) -> Vocabulary:
        """The words this session expects to hear (see :mod:`.vocabulary`)."""
        tools = self.session.tools
        knowledge = [k for k in (self.session.knowledge, self.options.knowledge()) if k]
        texts = session_texts(self.session.instructions, tools, knowledge)
        return build_vocabulary(texts, [str(t.get("name") or "") for t in tools])

    def _stream_partial(self, listener: Listener, end: int) -> None:
        """Feed the utterance's new audio; its partial transcript goes out as it comes."""
        if end <= listener.fed:
            return
        partial = listener.feed(self._input.slice(listener.fed, end), end)
        item_id = self._vad_item_id
        if item_id is not None and self.session.transcription is not None:
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
        await self.emit(
            {
                "type": "conversation.item.input_audio_transcription.delta",
                "item_id": item_id,
                "content_index": 0,
                "delta": delta,
            }
        )

    async def _on_vad(self, vad_event: VadEvent, detection: dict[str, Any]) -> None:
        if vad_event.kind == "started":
            self._vad_item_id = self._partial_item = new_id("item")
            self._partial = []
            if self._listener is not None:
                self._listener.begin(self.vocabulary(), vad_event.sample)
            await self.emit(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": vad_event.ms,
                    "item_id": self._vad_item_id,
                }
            )
            if detection.get("interrupt_response", True) and self.response is not None:
                self.response.cancel("turn_detected")
            return
        item_id = self._vad_item_id or new_id("item")
        self._vad_item_id = None
        await self.emit(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": vad_event.ms,
                "item_id": item_id,
            }
        )
        listener = self._listener
        streamed = listener is not None and listener.streaming
        if listener is not None and streamed:
            self._stream_partial(listener, vad_event.sample)
        await self._commit(vad_event.utterance_start, vad_event.sample, item_id, streamed)
        active = self._active_response()
        if active is not None and active.cancel_reason is not None:
            await active.finished.wait()  # a barged-in response is winding down
        if detection.get("create_response", True) and self._active_response() is None:
            await self._start_response(
                parse_response_params(None, self.session, self.conversation, self.decode_audio)
            )

    async def _commit_event(self, event: dict[str, Any]) -> None:
        self._check_event(event, set())
        end = self._input.end
        size = end - max(self._commit_offset, self._input.start)
        if size < _MIN_COMMIT_SAMPLES:
            raise ClientEventError(
                "buffer too small: expected at least 100 ms of audio, "
                f"got {size * 1000 / SAMPLE_RATE:.2f} ms",
                code="input_audio_buffer_commit_empty",
            )
        self._vad.reset()
        item_id = self._vad_item_id or new_id("item")
        self._vad_item_id = None
        await self._commit(self._commit_offset, end, item_id)

    async def _hear(self, samples: Int16Array, streamed: bool = False) -> str | None:
        """What ``samples`` say: tone speech decoded exactly, else recognized (``""`` when
        nothing was made out); ``None`` without a recognizer.

        ``streamed``: the same audio was fed to the listener as it arrived; it is finished
        (or abandoned, for tone speech) here.
        """
        tones = decode(samples)
        listener = self._listener
        if listener is None:
            return tones
        if tones is not None:
            if streamed:
                listener.abandon()
            return tones
        if streamed:
            return (await listener.finish()).text
        return (await listener.recognize(self.vocabulary(), samples)).text

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
        heard = await self._hear(samples, streamed)
        stored = StoredItem(item, audio={0: samples})
        if heard is not None:
            stored.heard[0] = heard
        previous = self.conversation.insert(stored)
        await self.emit(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        added = "conversation.item.added" if self.dialect == "ga" else "conversation.item.created"
        await self.emit(
            {"type": added, "previous_item_id": previous, "item": render_item(item, self.dialect)}
        )
        if self.session.transcription is not None:
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
            await self.emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": transcript,
                    "usage": {"type": "duration", "seconds": round(samples.size / SAMPLE_RATE, 3)},
                }
            )
        if self.dialect == "ga":
            await self.emit(
                {
                    "type": "conversation.item.done",
                    "previous_item_id": previous,
                    "item": render_item(item, self.dialect),
                }
            )

    async def _clear(self, event: dict[str, Any]) -> None:
        self._check_event(event, set())
        self._commit_offset = self._input.end
        self._input.clear()
        self._vad.reset()
        if self._listener is not None:
            self._listener.streaming = False
        self._vad_item_id = None
        await self.emit({"type": "input_audio_buffer.cleared"})

    async def _output_audio_clear(self, event: dict[str, Any]) -> None:
        raise ClientEventError(
            "output_audio_buffer.clear is only supported over webrtc and sip",
            code="invalid_value",
            param="type",
        )

    # -- items -------------------------------------------------------------------------

    async def _item_create(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"item", "previous_item_id"}, ("item",))
        stored = parse_client_item(event["item"], "item", self.dialect, self.decode_audio)
        previous_id = event.get("previous_item_id")
        if previous_id is not None and not isinstance(previous_id, str):
            raise ClientEventError.invalid_type("previous_item_id", "a string", previous_id)
        previous = self.conversation.insert(stored, previous_id)
        rendered = render_item(stored.item, self.dialect)
        if self.dialect == "ga":
            for kind in ("conversation.item.added", "conversation.item.done"):
                await self.emit({"type": kind, "previous_item_id": previous, "item": rendered})
        else:
            await self.emit(
                {
                    "type": "conversation.item.created",
                    "previous_item_id": previous,
                    "item": rendered,
                }
            )

    async def _item_retrieve(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"item_id"}, ("item_id",))
        stored = self.conversation.get(event["item_id"])
        rendered = render_item(stored.item, self.dialect)
        for index, samples in stored.audio.items():
            rendered["content"][index]["audio"] = self.encode_input_audio(samples)
        await self.emit({"type": "conversation.item.retrieved", "item": rendered})

    async def _item_delete(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"item_id"}, ("item_id",))
        stored = self.conversation.delete(event["item_id"])
        await self.emit({"type": "conversation.item.deleted", "item_id": stored.id})

    async def _item_truncate(self, event: dict[str, Any]) -> None:
        allowed = {"item_id", "content_index", "audio_end_ms"}
        self._check_event(event, allowed, ("item_id", "content_index", "audio_end_ms"))
        stored = self.conversation.truncate(
            event["item_id"], event["content_index"], event["audio_end_ms"]
        )
        await self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": stored.id,
                "content_index": event["content_index"],
                "audio_end_ms": event["audio_end_ms"],
            }
        )

    # -- responses -------------------------------------------------------------------

    def _active_response(self) -> ResponseRun | None:
        run = self.response
        return run if run is not None and not run.done else None

    async def _response_create(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"response"})
        active = self._active_response()
        if active is not None:
            raise ClientEventError(
                f"conversation already has an active response in progress: {active.id}",
                code="conversation_already_has_active_response",
            )
        params = parse_response_params(
            event.get("response"), self.session, self.conversation, self.decode_audio
        )
        await self._start_response(params)

    async def _listen_to_last_user(self, context: list[StoredItem]) -> None:
        """Recognize the audio parts of the last user message that have no transcript yet.

        Audio items a client creates are heard only when a response needs them, so creating
        (or replaying) many of them costs no recognition.
        """
        for stored in reversed(context):
            if stored.item.get("type") == "message" and stored.item.get("role") == "user":
                for index, samples in stored.audio.items():
                    part = stored.item["content"][index]
                    if part.get("transcript") is None and index not in stored.heard:
                        heard = await self._hear(samples)
                        if heard is not None:
                            stored.heard[index] = heard
                return

    async def _start_response(self, params: ResponseParams) -> None:
        context = params.input if params.input is not None else self.conversation.items()
        await self._listen_to_last_user(list(context))
        sources = [k for k in (self.session.knowledge, self.options.knowledge()) if k]
        outputs = decide(
            ModelContext(
                items=context,
                instructions=params.instructions,
                tools=params.tools,
                tool_choice=params.tool_choice,
                knowledge=sources,
            )
        )
        run = ResponseRun(
            response_id=new_id("resp"),
            params=params,
            context=context,
            outputs=outputs,
            conversation=self.conversation,
            dialect=self.dialect,
            emit=self.emit,
            pace=self.options.pace,
            chunk_ms=self.options.chunk_ms,
            stall=self.options.stall(),
            espeak=self.options.voice.espeak,
        )
        if params.output_modalities == ["audio"]:
            self.session.voice_locked = True
        self.response = run
        await self.emit({"type": "response.created", "response": run.response_object()})
        self._spawn(self._run_response(run))

    async def _run_response(self, run: ResponseRun) -> None:
        try:
            await run.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("response %s failed", run.id)
        finally:
            run.done = True
            run.finished.set()

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"response_id"})
        active = self._active_response()
        wanted = event.get("response_id")
        if active is None or (wanted is not None and wanted != active.id):
            raise ClientEventError(
                "cancellation failed: no active response found",
                code="response_cancel_not_active",
            )
        active.cancel("client_cancelled")
