"""One client connection of the local server: the protocol's event loop.

Rules:

- On open the server sends ``session.created`` (beta also ``conversation.created``; a beta
  transcription session, ``?intent=transcription``, ``transcription_session.created`` and
  is updated with ``transcription_session.update``), then
  handles client frames one at a time, in order. A response streams in its own task, so
  ``response.cancel`` and audio appends are handled while it runs.
- Any client frame the server cannot apply becomes an ``error`` event echoing the client's
  ``event_id``: a binary frame (``invalid_frame``), text that is not JSON (nesting too deep
  and numbers too long included) or not an object (``invalid_json``), no ``type``
  (``missing_required_parameter``), an unknown type or value (``invalid_value``), an
  unknown field (``unknown_parameter``), a wrong type (``invalid_type``). Nothing a client
  sends ends the connection or the server.
- The client's audio (appends, voice activity, commits, transcripts) is
  :class:`~realtime_widget.server.hearing.Hearing`'s. GA connections do not receive
  ``conversation.item.created``: ``conversation.item.added`` / ``.done`` replace it.
- One response at a time: ``response.create`` while one is active is refused with
  ``conversation_already_has_active_response``. Speech starting during a response cancels it
  when ``interrupt_response`` is on (reason ``turn_detected``); the utterance then gets its
  own response once the cancelled one is done. With ``interrupt_response`` off, an utterance
  ending while a response still runs gets no response of its own.
- After each ``response.done``: ``rate_limits.updated`` (see
  :mod:`~realtime_widget.server.ratelimits`), and the idle timeout is armed (see
  :mod:`~realtime_widget.server.hearing`); a response starting disarms it.
- ``received`` records every client event that parsed (a testing aid), capped at
  ``record_limit`` entries and ``record_bytes`` bytes of frames (see
  :class:`~realtime_widget.server.records.Records`), so it cannot grow without bound.
- With the ``trace`` option (a measuring aid, off by default) ``trace`` also lists
  ``(time.time(), "received" | "sent", event)`` for each client event recorded (stamped when
  its frame is handled, before parsing) and each server event emitted (stamped just before
  it is written), capped the same way. Off, it is ``None`` and costs one check per event.
- A connection talks through a :class:`Link`: a websocket, or a WebRTC call's data channel
  and sideband websockets (:mod:`~realtime_widget.server.calls`). A call gives it a
  :class:`Media` too: the answer audio then plays on the call's track instead of going out as
  ``response.output_audio.delta`` events, barge-in clears it, and ``output_audio_buffer.clear``
  is accepted.
- Misbehaving on purpose (testing aids): :meth:`Connection.send_raw` sends any frame;
  :meth:`Connection.break_transport` cuts the socket in the middle of a frame; with the
  ``stall`` option set, a response sends its first audio chunk (or word) and then nothing
  until it is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from realtime_widget.core.frames import FrameError, parse_frame
from realtime_widget.core.ids import generate_id
from realtime_widget.core.protocol import SAMPLE_RATE, Dialect
from realtime_widget.server.hearing import Hearing
from realtime_widget.server.listener import Listener
from realtime_widget.server.mcp import McpTools
from realtime_widget.server.model import ModelContext, decide
from realtime_widget.server.ratelimits import RateLimits
from realtime_widget.server.records import Records
from realtime_widget.server.response import ResponseRun
from realtime_widget.server.responseparams import ResponseParams, parse_response_params
from realtime_widget.server.sessionstate import SessionState
from realtime_widget.server.store import Conversation, parse_client_item, render_item
from realtime_widget.server.vocabulary import Vocabulary, build_vocabulary, session_texts
from realtime_widget.server.voice import VoiceSupport
from realtime_widget.server.wire import ClientEventError, error_event, frame_error

__all__ = ["Connection", "ConnectionOptions", "Direction", "FrameObserver", "Link", "Media"]

logger = logging.getLogger("realtime_widget.server")

_MIN_COMMIT_SAMPLES = SAMPLE_RATE // 10  # the service refuses commits under 100 ms
_SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 600, "high": 250, "auto": 500}
Handler = Callable[[dict[str, Any]], Awaitable[None]]
Direction = Literal["received", "sent", "raw"]
FrameObserver = Callable[["Connection", Direction, str | bytes], None]
"""``observer(connection, direction, frame)``: a frame as it crosses the socket; one that
raises is logged and the frame goes on."""


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
    mcp_timeout: Callable[[], float] = lambda: 10.0  # seconds an MCP server has to answer
    observers: Sequence[FrameObserver] = ()  # testing aid: each sees every frame in and out


class Link(Protocol):
    """What a connection talks through (a websocket is one): client frames in, events out."""

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        """The client's frames, in order, until the link closes."""
        ...

    async def send(self, message: str | bytes) -> None:
        """Send one frame; raises ``ConnectionClosed`` when closed."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the link (its iteration ends)."""
        ...


class Media(Protocol):
    """The audio side of a call: where the answer audio plays instead of being sent."""

    def take(self, event: dict[str, Any]) -> bool:
        """See a server event before it is sent; True when it is kept off the wire (audio
        it plays itself)."""
        ...

    async def clear(self, reason: str) -> None:
        """Drop the audio not yet played (``reason``: ``"client"`` or ``"turn_detected"``)."""
        ...


def _half_frame() -> bytes:
    """The first half of an unmasked server text frame holding a plausible event."""
    payload = json.dumps({"type": "response.output_text.delta", "delta": "cut " * 40}).encode()
    header = bytes([0x81, 126]) + len(payload).to_bytes(2, "big")  # FIN, text; 16-bit length
    return header + payload[: len(payload) // 2]


class Connection:
    """The protocol state of one client (see the module rules).

    Attributes useful to tests: ``received`` (client events, oldest first), ``session``
    (:class:`~realtime_widget.server.sessionstate.SessionState`), ``conversation``
    (:class:`~realtime_widget.server.store.Conversation`), ``response`` (the latest
    :class:`~realtime_widget.server.response.ResponseRun`, maybe finished), ``dialect`` and
    ``websocket``.
    """

    def __init__(
        self,
        websocket: Link,
        *,
        dialect: Dialect,
        model: str,
        options: ConnectionOptions,
        transcription: bool = False,
    ) -> None:
        self.websocket = websocket
        self.media: Media | None = None
        self.dialect: Dialect = dialect
        self.options = options
        self.session = SessionState(dialect, model=model, transcription=transcription)
        self.conversation = Conversation()
        self._received: Records[dict[str, Any]] = Records(
            options.record_limit, options.record_bytes
        )
        self._trace: Records[tuple[float, str, dict[str, Any]]] | None = (
            Records(options.record_limit, options.record_bytes) if options.trace else None
        )
        self.response: ResponseRun | None = None
        self.rate_limits = RateLimits()
        self.hearing = Hearing(
            session=self.session,
            conversation=self.conversation,
            dialect=dialect,
            emit=self.emit,
            spawn=self._spawn,
            barge_in=self._barge_in,
            answer=self._answer,
            vocabulary=self.vocabulary,
            listener=Listener() if options.voice.recognizer else None,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self.mcp = McpTools(
            emit=self.emit,
            conversation=self.conversation,
            dialect=dialect,
            spawn=self._spawn,
            timeout=options.mcp_timeout,
        )
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[Any]]] = []
        self._handlers: dict[str, Handler] = {
            "session.update": self._session_update,
            "transcription_session.update": self._session_update,
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
        _, created, _ = self.session.event_names
        await self.emit({"type": created, "session": self.session.to_wire()})
        if self.dialect == "beta" and created == "session.created":
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
            if self.hearing.listener is not None:
                self.hearing.listener.close()

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
        payload = {"event_id": generate_id("event_"), **event}
        if self.media is not None and self.media.take(payload):
            return
        text = json.dumps(payload, separators=(",", ":"))
        if self._trace is not None:
            self._trace.add((time.time(), "sent", payload), len(text))
        self._observe("sent", text)
        with contextlib.suppress(ConnectionClosed):
            await self.websocket.send(text)

    async def send_raw(self, data: str | bytes) -> None:
        """Send ``data`` as one frame, untouched (testing aid for malformed traffic)."""
        self._observe("raw", data)
        with contextlib.suppress(ConnectionClosed):
            await self.websocket.send(data)

    def _observe(self, direction: Direction, frame: str | bytes) -> None:
        for observer in self.options.observers:  # none but in tests: a loop over nothing
            try:
                observer(self, direction, frame)
            except Exception:
                logger.exception("frame observer %r failed", observer)

    async def break_transport(self, timeout: float = 1.0) -> None:
        """Write the first half of a text frame to the socket, then drop it (testing aid).

        No close frame is sent: the peer sees a frame cut short and the connection lost, an
        abnormal closure (code 1006), as when a process dies or a proxy cuts a stream.
        """
        if not isinstance(self.websocket, ServerConnection):
            await self.websocket.close(1006)
            return
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
        self._observe("received", message)
        try:
            event = parse_frame(message)
        except FrameError as exc:
            await self._error(frame_error(exc), None)
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

    async def _session_update(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"session"}, ("session",))
        update, _, updated = self.session.event_names
        if event["type"] != update:
            message = f"this session takes {update}, not {event['type']}"
            raise ClientEventError(message, code="invalid_value", param="type")
        self.session.apply_update(event["session"])
        self.hearing.configure()
        if self.hearing.listener is not None:
            self.hearing.listener.prepare(self.vocabulary())
        await self.emit({"type": updated, "session": self.session.to_wire()})
        self.mcp.configure(self.session.tools)

    # -- input audio (see .hearing) ----------------------------------------------------

    async def _append(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"audio"}, ("audio",))
        await self.hearing.append(event["audio"])

    async def _commit_event(self, event: dict[str, Any]) -> None:
        self._check_event(event, set())
        await self.hearing.commit()

    async def _clear(self, event: dict[str, Any]) -> None:
        self._check_event(event, set())
        await self.hearing.clear()

    def vocabulary(self) -> Vocabulary:
        """The words this session expects to hear (see :mod:`.vocabulary`)."""
        tools = self.session.tools
        knowledge = [k for k in (self.session.knowledge, self.options.knowledge()) if k]
        texts = session_texts(self.session.instructions, tools, knowledge)
        return build_vocabulary(texts, [str(t.get("name") or "") for t in tools])

    async def _output_audio_clear(self, event: dict[str, Any]) -> None:
        if self.media is not None:
            self._check_event(event, set())
            await self.media.clear("client")
            return
        raise ClientEventError(
            "output_audio_buffer.clear is only supported over webrtc and sip",
            code="invalid_value",
            param="type",
        )

    # -- items -------------------------------------------------------------------------

    async def _item_create(self, event: dict[str, Any]) -> None:
        self._check_event(event, {"item", "previous_item_id"}, ("item",))
        stored = parse_client_item(event["item"], "item", self.dialect, self.hearing.decode_audio)
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
            rendered["content"][index]["audio"] = self.hearing.encode_input_audio(samples)
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
        if self.session.transcribing_only:
            raise ClientEventError(
                "a transcription session creates no responses", code="invalid_request_error"
            )
        active = self._active_response()
        if active is not None:
            raise ClientEventError(
                f"conversation already has an active response in progress: {active.id}",
                code="conversation_already_has_active_response",
            )
        params = parse_response_params(
            event.get("response"), self.session, self.conversation, self.hearing.decode_audio
        )
        await self._start_response(params)

    async def _start_response(self, params: ResponseParams) -> None:
        self.hearing.disarm_idle()
        context = params.input if params.input is not None else self.conversation.items()
        await self.hearing.listen_to_last_user(context)
        sources = [k for k in (self.session.knowledge, self.options.knowledge()) if k]
        await self.mcp.ready()
        tools, choice = self.mcp.model_choice(params.tools, params.tool_choice)
        outputs = self.mcp.approved(context) or self.mcp.take_over(
            decide(ModelContext(context, params.instructions, tools, choice, sources))
        )
        run = ResponseRun(
            response_id=generate_id("resp_"),
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
            if run.done:
                await self.emit(self.rate_limits.spend(run.total_tokens))
                self.hearing.arm_idle()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("response %s failed", run.id)
        finally:
            run.done = True
            run.finished.set()

    def _barge_in(self) -> None:
        if self.response is not None:
            self.response.cancel("turn_detected")
        if self.media is not None:
            self._spawn(self.media.clear("turn_detected"))

    async def _answer(self, respond: bool) -> None:
        """After a spoken turn: let a response it barged in on wind down, then respond."""
        active = self._active_response()
        if active is not None and active.cancel_reason is not None:
            await active.finished.wait()
        if respond and self._active_response() is None:
            await self._start_response(
                parse_response_params(
                    None, self.session, self.conversation, self.hearing.decode_audio
                )
            )

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
