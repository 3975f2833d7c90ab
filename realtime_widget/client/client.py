"""`RealtimeClient`: config, tools, audio, responses and waits over one realtime session.

The client is the public surface and the pump: its transport
(:class:`~realtime_widget.client.transport.Transport`, by default a :class:`RealtimeAPI`) hands
it every event, each server event goes through its decisions
(:mod:`~realtime_widget.client.decisions`), which say what to dispatch and what to send, and it
sends only what they return. One bad event never ends the session: it becomes an ``error``.
Its parts: the session's setup (:mod:`~realtime_widget.client.setup`), the calls held until
then (:mod:`~realtime_widget.client.deferred`), the user's audio
(:mod:`~realtime_widget.client.inputaudio`), the function calls
(:mod:`~realtime_widget.client.toolrunner`), the reconnect
(:mod:`~realtime_widget.client.reconnect`) and what it asks and waits for: responses with
parameters, items, client secrets (:mod:`~realtime_widget.client.asking`).

Events it dispatches, each typed in :data:`realtime_widget.core.protocol.CLIENT_EVENTS`:
``conversation.updated`` ``{item, delta}``; ``conversation.item.appended`` ``{item}`` once per
new item; ``conversation.item.completed`` ``{item}`` once per finished item;
``conversation.interrupted`` ``{event}`` when the user starts speaking;
``conversation.item.truncated`` and ``conversation.item.deleted``, the server's event once the
conversation has applied it; ``session.update.sent``, the ``session.update`` event as sent;
``realtime.event`` ``{time, source, event}`` for every event both ways; ``tools.updated``
``{tools}`` after every change of the tools; ``error``, one shape ``{type, error, ...}`` (a
server ``error`` event as :class:`ServerError`, an event the conversation could not apply as
:class:`ProtocolError`, a tool failure as :class:`ToolError`, ...); ``close``, the transport's
``{code, reason, error, exception, time}`` plus ``reconnecting`` (whether a reconnect
follows); ``reconnecting`` and ``reconnected``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

from realtime_widget.audio.buffers import AudioRetention, InputAudioBuffer
from realtime_widget.audio.formats import OutputAudioDecoder, session_audio_format
from realtime_widget.audio.utils import generate_id, to_int16
from realtime_widget.client.api import RealtimeAPI
from realtime_widget.client.asking import Asking
from realtime_widget.client.configuration import SessionConfiguration
from realtime_widget.client.content import user_message
from realtime_widget.client.decisions import Decisions, Outgoing
from realtime_widget.client.deferred import HeldCall, HeldCalls
from realtime_widget.client.inputaudio import InputAudio
from realtime_widget.client.mcpapprovals import McpApprovals
from realtime_widget.client.options import client_options, non_negative_int
from realtime_widget.client.reconnect import Reconnector, lost_abnormally
from realtime_widget.client.responses import MAX_ACTIVE_RESPONSES
from realtime_widget.client.setup import SessionSetup
from realtime_widget.client.toolrunner import ToolCalls
from realtime_widget.client.transport import Transport
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.errors import (
    ConnectionClosedError,
    ProtocolError,
    RealtimeError,
    UsageError,
)
from realtime_widget.core.protocol import (
    DEFAULT_MODEL,
    SAMPLE_RATE,
    AudioFormat,
    CloseEvent,
    InterruptedEvent,
    ServerEvent,
    TransportCloseEvent,
    canonical_event_type,
)
from realtime_widget.core.redaction import Redactor
from realtime_widget.core.session import SessionConfig, SessionShape
from realtime_widget.tools.registry import ToolRegistry

__all__ = ["DEFAULT_MAX_AUDIO_SECONDS", "MAX_ACTIVE_RESPONSES", "RealtimeClient"]

logger = logging.getLogger("realtime_widget.client")

DEFAULT_MAX_AUDIO_SECONDS: Final = 3600.0
"""The audio the conversation's items keep by default, in seconds, across items."""


class RealtimeClient(SessionConfiguration, Asking):
    """A realtime session with config, tools, audio and conversation state.

    ``settings`` is the seed's settings dict (``url``, ``apiKey`` / ``api_key``, ``debug``,
    ``model``, ``dialect``); the same settings may be given as keyword arguments, which win.
    ``config`` is the grouped session config (``model``, ``speech``, ``hearing``, ``vision``,
    ``knowledge``). ``dialect`` is ``"ga"`` (default), ``"beta"``, or ``"nested"`` (GA
    events with the grouped config sent as the session). ``api_key`` defaults to
    ``$OPENAI_API_KEY`` for OpenAI's and Azure OpenAI's ``wss://`` hosts only (see
    :class:`RealtimeAPI`). ``connect_timeout`` bounds the whole of ``connect()`` (and of each
    reconnect try): opening the socket and the session. ``transport`` is the connection to use, a
    :class:`~realtime_widget.client.transport.Transport` (then ``url``, ``api_key``,
    ``headers`` and ``azure`` are its own), or the limits of the :class:`RealtimeAPI` the
    client opens (``max_frame_bytes``, ``max_send_queue_bytes``,
    ``max_receive_queue_frames``, ``ping_interval``, ``ping_timeout``, ``close_timeout``;
    see there for their defaults). ``max_audio_seconds`` bounds the audio the items keep, in
    all: past it the oldest items' audio is emptied (``formatted["audio_dropped"]`` set; text
    and transcripts stay); the default, an hour (165 MB), keeps a long session whole while a
    server that streams without end cannot exhaust memory; ``None`` keeps all. A value of the
    wrong type or range raises :class:`UsageError` naming it. ``session_type="transcription"``
    opens a transcription session (beta: ``?intent=transcription``): its input audio settings
    and ``include`` are sent, the user's items get live transcripts, no response is asked for.
    """

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        dialect: SessionShape | None = None,
        debug: bool | None = None,
        headers: Mapping[str, str] | None = None,
        azure: bool | None = None,
        input_audio_retention_seconds: float = 300.0,
        connect_timeout: float = 10.0,
        reconnect: bool = False,
        reconnect_delays: Sequence[float] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0),
        max_audio_seconds: float | None = DEFAULT_MAX_AUDIO_SECONDS,
        transport: Mapping[str, Any] | Transport | None = None,
        session_type: Literal["realtime", "transcription"] = "realtime",
    ) -> None:
        options = client_options(
            settings,
            config,
            url=url,
            api_key=api_key,
            model=model,
            dialect=dialect,
            debug=debug,
            reconnect=reconnect,
            connect_timeout=connect_timeout,
            reconnect_delays=reconnect_delays,
            max_audio_seconds=max_audio_seconds,
            input_audio_retention_seconds=input_audio_retention_seconds,
            transport=transport,
            headers=headers,
            azure=azure,
        )
        super().__init__(options.config, options.shape, session_type)
        self.debug = options.debug
        self.connect_timeout = options.connect_timeout
        self.reconnect = options.reconnect
        self.reconnect_delays = options.reconnect_delays
        self._reconnector = Reconnector(
            functools.partial(self._open_session, resume=True),
            lambda: self.reconnect_delays,
            self.dispatch,
            lambda: self._held.drop("the reconnect failed"),
        )
        self._user_closed = False
        self._connecting = False
        self._ready = False  # the session is set up: sends go straight out
        self._held = HeldCalls()
        self.max_audio_seconds = options.max_audio_seconds
        self._retention = (
            AudioRetention(int(options.max_audio_seconds * SAMPLE_RATE))
            if options.max_audio_seconds is not None
            else None
        )
        self.realtime: Transport = options.connection or RealtimeAPI(
            options.url,
            options.api_key,
            model=str(self.config.get("model", "name") or DEFAULT_MODEL),
            dialect="beta" if options.shape == "beta" else "ga",
            azure=azure,
            headers=headers,
            debug=self.debug,
            open_timeout=self.connect_timeout,
            intent="transcription" if session_type == "transcription" else None,
            **options.transport,
        )
        self._input = InputAudio(options.input_audio_retention_seconds)
        self._audio_out = OutputAudioDecoder(
            lambda: self._wire_format("output"), lambda: self._wire_format("input")
        )
        self.conversation = RealtimeConversation(audio_decoder=self._audio_out)
        self._setup = SessionSetup()
        self._decisions = Decisions(
            self.conversation,
            input_audio=self._input,
            retention=self._retention,
            config=lambda: self.config,
            shape=lambda: self.session_shape,
        )
        self._resume, self._active = self._decisions.resume, self._decisions.active
        calls = self._decisions.calls
        self._tool_calls = ToolCalls(self.realtime, self.dispatch, lambda: self._ready, calls)
        ready, approvers = (lambda: self._ready), self.mcp_approvers
        self.mcp_approvals = McpApprovals(
            self.realtime, self.dispatch, ready, approvers, self._active
        )
        self._tell_secrets_to(self.redactor.add)  # the MCP servers' credentials
        self._install_handlers()

    def __repr__(self) -> str:
        state = "connected" if self.is_connected() else "disconnected"
        return (
            f"RealtimeClient(url={self.url!r}, model={self.model!r}, "
            f"dialect={self.session_shape!r}, {len(self.conversation.get_items())} items, "
            f"{len(self.tools)} tools, {state})"
        )

    @property
    def url(self) -> str:
        """The server's address as displayed (credentials in it read ``<redacted>``)."""
        return self.realtime.url

    @property
    def model(self) -> str:
        """The model the connection asks for."""
        return self.realtime.model

    @property
    def redactor(self) -> Redactor:
        """Blanks every credential the connection sends (for what is shown elsewhere)."""
        return self.realtime.redactor

    @property
    def session_created(self) -> bool:
        """Whether the server has said ``session.created`` for the current connection."""
        return self._setup.created

    @property
    def session(self) -> dict[str, Any] | None:
        """The server's session, as its last ``session.created`` / ``.updated`` stated it."""
        return self._setup.session

    @property
    def input_audio_buffer(self) -> InputAudioBuffer:
        """The user's audio of the current session (a new buffer for each session)."""
        return self._input.buffer

    @property
    def input_audio_retention_seconds(self) -> float:
        """How much input audio the buffer keeps (``0``: no limit), from the next session."""
        return self._input.retention_seconds

    @input_audio_retention_seconds.setter
    def input_audio_retention_seconds(self, value: float) -> None:
        self._input.retention_seconds = value

    def _reset_input(self) -> None:
        """A new session counts input audio from zero again, with nothing committed and no
        speech open."""
        self._input.reset()
        self.conversation.reset_input()

    def _install_handlers(self) -> None:
        self.realtime.on("server.*", self._on_server_event)
        self.realtime.on("client.*", self._on_client_event)
        self.realtime.on("error", self._report)
        self.realtime.on("close", self._on_close)

    # -- connection -----------------------------------------------------------------------

    def is_connected(self) -> bool:
        """Whether the socket is open (the session may still be being set up)."""
        return self.realtime.is_connected()

    @property
    def reconnecting(self) -> bool:
        """Whether a lost session is being reopened (see :mod:`~realtime_widget.client.reconnect`).

        Calls made while it is true and the socket is open are held and sent once the
        session is ready; while the socket is closed they raise :class:`UsageError`.
        """
        return self._reconnector.running

    async def connect(self) -> None:
        """Connect, wait for ``session.created``, then send the session.

        A reconnect under way or failed is taken over (:mod:`~realtime_widget.client.reconnect`).
        Raises :class:`UsageError` when already connected or connecting, the
        :class:`ConnectError` family when the socket cannot open,
        :class:`ConnectTimeoutError` when the session is not set up within
        ``connect_timeout``, and :class:`ConnectionClosedError` when the connection closes
        (or ``disconnect()`` is called) first.
        """
        taking_over = self._reconnector.running
        await self._reconnector.stop()
        if self.is_connected():
            if taking_over and self._ready:
                return  # the reconnect set the session up before it could be stopped
            raise UsageError("already connected: call disconnect() first")
        if self._connecting:
            raise UsageError("already connecting: await the connect() under way")
        self._user_closed = False
        self._connecting = True
        try:
            await self._open_session(resume=self._resume.pending)
        except BaseException:
            self._held.drop("the connection could not be set up")
            raise
        finally:
            self._connecting = False

    async def _open_session(self, *, resume: bool) -> int:
        """Open a connection and set its session up (:mod:`~realtime_widget.client.setup`);
        ``resume`` replays the conversation. Returns how many items were replayed."""
        self._ready = False
        self._reset_input()
        replay = self._replay if resume else None
        replayed = await self._setup.open(
            self.realtime, self.connect_timeout, self._send_session, replay
        )
        self._ready = True
        self._resume.pending = False
        if resume:
            self._tool_calls.send_unsent()
        self._held.run_all(self._held_failed)
        return replayed

    async def _replay(self) -> int:
        """Send the conversation so far into the new session; returns how many items.

        Paced by the send queue: an item that would overfill it waits for it to drain, so a
        long conversation (minutes of untranscribed audio, large images) still goes through.
        """
        items = self._resume.replay(
            self.conversation.get_items(), self.realtime.dialect, self._input_format()
        )
        for item in items:
            self._resume.replayed(item["id"])
            await self.realtime.send_paced("conversation.item.create", {"item": item})
        return len(items)

    def disconnect(self) -> asyncio.Future[None]:
        """Close the connection; the conversation is kept. Returns an awaitable future.

        A ``connect()`` under way fails with :class:`ConnectionClosedError`; calls held for
        the session are dropped; no reconnect follows.
        """
        self._user_closed = True
        self._reconnector.cancel()
        self._resume.pending = False
        self._end_session(ConnectionClosedError(1000, "disconnect() was called"))
        self._tool_calls.drop_unsent()
        self._held.drop("disconnect() was called")
        self._tool_calls.cancel()
        self.mcp_approvals.cancel()
        return asyncio.ensure_future(self.realtime.disconnect())

    def reset(self) -> bool:
        """Disconnect, and clear the conversation, config, tools and event handlers.

        The config goes back to the defaults, with the model the connection was made for.
        """
        self.disconnect()
        self.clear_event_handlers()
        self.conversation.clear()
        name = {"model": {"name": self.realtime.model}}
        self.config = SessionConfig(name, shape=self.session_shape)
        self.tools = ToolRegistry()
        self.mcp_approvals.clear()  # the requests, and who answers them
        self._reset_input()
        self._tool_calls.clear()
        self._forget_completed()
        self._resume.clear()
        if self._retention is not None:
            self._retention = AudioRetention(self._retention.max_samples)
            self._decisions.retention = self._retention
        return True

    # -- holding calls until the session is ready -----------------------------------------

    def _when_ready(self, what: str, run: Callable[[], object], samples: int = 0) -> bool:
        """Run ``run`` now if the session is ready, else hold it (see
        :mod:`~realtime_widget.client.deferred`); ``False`` if its audio was dropped.

        Raises UsageError when the socket is closed, or when too many calls are held.
        """
        self._require_connected(what)
        return self._held.submit(HeldCall(what, run, samples), self._ready)

    def _held_failed(self, call: HeldCall, error: RealtimeError) -> None:
        self._report({"type": "internal_error", "error": error, "call": call.what})

    # -- the session's configuration ------------------------------------------------------

    def _send_session_if_connected(self) -> None:
        # before session.created the session is sent as soon as it is
        if self.is_connected() and self.session_created:
            self._send_session()

    def _send_session(self) -> None:
        event_id = self._setup.next_update_id()
        self.realtime.send(self.session_update_type, self.get_session_payload(event_id))

    # -- sending content ------------------------------------------------------------------

    def send_user_message_content(self, content: Sequence[Mapping[str, Any]] | str) -> bool:
        """Send a user message, then ask for a response (as the reference client does).

        ``content`` is a string or a list of parts: ``{"type": "input_text", "text": ...}``,
        ``{"type": "input_audio", "audio": samples}`` (array, bytes or base64 string),
        ``{"type": "input_image", "image": path | bytes | PIL image | figure | array}``
        (or ``image_url``). Held until the session is ready. Returns ``True``.
        """
        audio_format = self._input_format()
        item = user_message(content, audio_format)
        if any(part["type"] == "input_audio" for part in item["content"]):
            # the server does not echo audio back: kept for the item, for replays among others
            item["id"] = generate_id("item_")
            self.conversation.expect_item(item, audio_format)
        self._when_ready("send_user_message_content", functools.partial(self._send_user, item))
        return True

    def _send_user(self, item: dict[str, Any]) -> None:
        self.realtime.send("conversation.item.create", {"item": item})
        self._ask_response()  # refused while a response runs: dispatched as an error

    def append_input_audio(self, data: Any) -> bool:
        """Send user audio (int16/float arrays, bytes, memoryview, ...; 24 kHz mono PCM).

        It goes out in the session's input format (G.711 is resampled to 8 kHz and coded;
        the filter holds the last ~5 ms until more audio, or a manual commit, comes). Keeps
        it in the input buffer for voice activity slicing. Held until the session is ready;
        returns ``False`` when the chunk was dropped because too much audio is already held
        (30 s: neither the buffer nor the server gets it), else ``True``.
        """
        samples = to_int16(data)
        if samples.size == 0:
            return True
        if self._ready and not self._held:
            self._require_connected("append_input_audio")
            self._append(samples)
            return True
        # to_int16 made a copy: the caller may reuse its buffer while this waits
        return self._when_ready(
            "append_input_audio", functools.partial(self._append, samples), samples.size
        )

    def _append(self, samples: Any) -> None:
        self._input.append(samples, self._input_format(), self.realtime.send)

    def _wire_format(self, side: Literal["input", "output"]) -> AudioFormat:
        """The audio format the server uses on ``side``: its session's, else as configured."""
        stated = session_audio_format(self.session, side)
        if stated is not None:
            return stated
        return self.config.audio(f"{side}_audio_format") or "pcm16"

    def _commit_if_manual(self) -> None:
        if self.get_turn_detection_type() is None:
            self._input.commit(self.realtime.send)

    def clear_input_audio(self) -> bool:
        """Discard the input audio not yet committed (``input_audio_buffer.clear``).

        For a push-to-talk press too short to send: the next manual commit starts after the
        audio appended so far. Held until the session is ready. Returns ``True``.
        """
        self._when_ready("clear_input_audio", self._clear_input)
        return True

    def _clear_input(self) -> None:
        self._input.clear(self.realtime.send)

    def cancel_response(self, id: str | None = None, sample_count: int = 0) -> dict[str, Any]:
        """Cancel the response in progress and truncate item ``id`` where playback stopped.

        ``sample_count`` (any integer, numpy's too) is how many 24 kHz samples of the item
        were played. The truncate is clamped to the audio received, skipped when nothing was
        played or when playback had already finished. What was heard is kept for a replay
        into a later session; while the session is being set up nothing is sent (nothing of
        the new session is playing). Returns ``{"item": item}`` (``None`` without ``id``).
        """
        count = non_negative_int("sample_count", sample_count)
        self._require_connected("cancel_response")
        item, events = self._decisions.cancel(id, count, ready=self._ready)
        for outgoing in events:
            self._send(outgoing)
        return {"item": item}

    def send_function_call_output(self, call_id: str, output: Any) -> bool:
        """Answer a function call yourself (for tools added without a handler).

        ``output`` is sent as is when a string, else as JSON. Held until the session is
        ready. Returns ``True``.
        """
        self._require_connected("send_function_call_output")
        text = output if isinstance(output, str) else json.dumps(output, default=str)
        self._tool_calls.answer(call_id, text)
        return True

    def _require_connected(self, what: str) -> None:
        if not self.is_connected():
            self.realtime.raise_if_closed(what)  # the close code and reason, when lost
            raise UsageError(f"cannot {what}: not connected (await client.connect() first)")

    def get_conversation_items(self) -> list[dict[str, Any]]:
        """Every item of the conversation, in order."""
        return self.conversation.get_items()

    # -- events from the transport -------------------------------------------------------

    def _on_client_event(self, event: dict[str, Any]) -> None:
        self._log_event("client", event)
        if event.get("type") == self.session_update_type:
            self.dispatch("session.update.sent", event)

    def _send(self, outgoing: Outgoing) -> None:
        payload = {key: value for key, value in outgoing.items() if key != "type"}
        if outgoing["type"] == "response.create":  # the client's own, after function calls
            payload["event_id"] = self._decisions.requests.sent("automatic")
        self.realtime.send(outgoing["type"], payload)

    def _end_session(self, error: BaseException) -> None:
        """The session is over: nothing is ready, and what waits for its setup fails."""
        self._ready = False
        self._active.end_session()
        self._setup.end(error)
        self._fail_waiting(error)

    def _on_close(self, event: TransportCloseEvent) -> None:
        was_ready = self._ready
        code = event.get("code")
        self._end_session(event["exception"])
        # what was streaming when the connection went will never finish: close it as the
        # server would, so it is kept, replayed and ordered before what comes next
        for item in self.conversation.close_in_progress():
            self._dispatch_updated(item, None)
            self._complete(item)
        if (
            was_ready
            and self.reconnect
            and not self._user_closed
            and not self._reconnector.running
            and lost_abnormally(code)
        ):
            self._resume.pending = True
            self._reconnector.start(code)
        elif not self._reconnector.running and not self._connecting:
            self._held.drop(f"the connection closed (code {code})")
        closed: CloseEvent = {**event, "reconnecting": self.reconnecting}
        self.dispatch("close", closed)

    def _on_server_event(self, event: ServerEvent) -> None:
        try:
            self._apply_server_event(event)
        except Exception as exc:  # one event never ends the session: it becomes an error
            logger.exception("failed to handle %s", event.get("type"))
            self._report({"type": "internal_error", "error": exc, "event": event})

    def _apply_server_event(self, event: ServerEvent) -> None:
        self._log_event("server", event)
        kind = canonical_event_type(event["type"])
        if kind in ("session.created", "session.updated"):
            self._setup.on_session(kind, event)
            return
        if kind == "error":
            self._setup.on_error(event)
        try:
            reply = self._decisions.server_event(event, ready=self._ready)
        except ProtocolError as exc:
            logger.warning("could not apply %s: %s", event.get("type"), exc)
            self._report({"type": "protocol_error", "error": exc, "event": event})
            return
        for outgoing in reply.send:
            self._send(outgoing)
        if not self._settle(reply, event) and reply.error is not None:
            self._report({"type": "server_error", "error": reply.error})
        if reply.interrupted:
            interrupted: InterruptedEvent = {"event": event}
            self.dispatch("conversation.interrupted", interrupted)
        item = reply.item
        if item is None:
            return
        if reply.appended:
            self._dispatch_item("conversation.item.appended", item)
        self._dispatch_updated(item, reply.delta)
        if kind in ("conversation.item.truncated", "conversation.item.deleted"):
            self.dispatch(kind, event)
        if reply.completed:
            if item.get("type") == "mcp_approval_request":
                self.mcp_approvals.requested(item)  # pending (or answered) once it shows
            self._complete(item)
        if reply.done_in is not None:
            self._tool_calls.call_done(item, reply.done_in, self.tools, self.config)

    # -- closing --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Disconnect and wait until tool tasks and the socket are finished."""
        await self.disconnect()
        await self._tool_calls.wait()
        await self.mcp_approvals.wait()

    async def __aenter__(self) -> RealtimeClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
