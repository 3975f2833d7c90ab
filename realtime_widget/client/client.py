"""`RealtimeClient`: config, tools, audio, responses and waits over one realtime session.

Rules:

- The client owns a :class:`RealtimeAPI` (the socket), a :class:`RealtimeConversation` (the
  items), a :class:`SessionConfig` and a :class:`ToolRegistry`. Every server event goes
  through the conversation; the client only adds the decisions the reference client makes:
  when to send the session, run tools, ask for responses, cancel and truncate.
- The client is the public surface and the pump (the socket's events come in through its
  handlers); each concern keeps its state in a part of its own: the options
  (:mod:`realtime_widget.client.options`), the user's audio
  (:mod:`realtime_widget.client.inputaudio`), the
  responses running (:mod:`realtime_widget.client.responses`), the function calls
  (:mod:`realtime_widget.client.toolrunner`), the calls held for a session
  (:mod:`realtime_widget.client.deferred`), and what a lost session leaves for the next
  (:mod:`realtime_widget.client.resume`, :mod:`realtime_widget.client.reconnect`).
- Events it dispatches: ``tools.updated`` ``{tools}`` after every change of the tools,
  ``realtime.event`` ``{time, source, event}`` for every event both
  ways, ``conversation.updated`` ``{item, delta}``, ``conversation.item.appended``
  ``{item}`` once per new item, ``conversation.item.completed`` ``{item}`` once per
  finished item, ``conversation.interrupted`` when the user starts speaking, ``error`` (a
  server ``error`` event as :class:`ServerError`, an event the conversation could not apply
  as :class:`ProtocolError`, a tool failure as :class:`ToolError`) and ``close`` (the
  socket layer's ``{code, reason, error, exception, time}`` plus ``reconnecting``: whether a
  reconnect follows); ``session.update.sent`` (the ``session.update`` event it sent), and
  ``conversation.item.truncated`` / ``conversation.item.deleted`` (the server's event, once
  the conversation applied it).
- One bad event never ends the session: it becomes an ``error`` event.
- Tools: when a ``function_call`` item is done, its handler runs (sync handlers in a thread,
  async ones as tasks, each with its timeout) and its output, or ``{"error": ...}``, is sent
  as a ``function_call_output`` item. Once every call of a response is answered and that
  response is done, exactly one ``response.create`` follows
  (:mod:`realtime_widget.client.toolrunner`).
- Input audio is kept in an :class:`InputAudioBuffer` addressed by session-absolute samples,
  so voice activity events can slice the user's utterance out of it; old audio is dropped
  (:mod:`realtime_widget.client.inputaudio`).
- Audio is 24 kHz PCM16 throughout the client; on the wire it is the session's format
  (:mod:`realtime_widget.audio.formats`): with G.711 the user's audio is resampled to 8 kHz and
  coded as it is sent (input format as configured), and the model's audio is decoded and
  brought back to 24 kHz as it arrives (output format as the server's session states it).
- ``disconnect()`` keeps the conversation (``reset()`` clears it) and never reconnects.
- A session is *ready* once its ``session.update`` is sent (after a reconnect: once the
  conversation is replayed and the server has answered that update, or, from a server that
  never answers, once ``connect_timeout`` has passed). Until then, on an open
  connection, user messages, audio appends, ``create_response`` and input clears are held, in
  order and bounded (:mod:`realtime_widget.client.deferred`), and tool outputs wait beside
  them (sent
  first: the model asked for them); all go once it is ready, so nothing reaches a new session
  before its configuration and history.
- With ``reconnect=True``, a ready session lost abnormally (close codes 1001, 1006, 1011,
  1012, 1013, a network failure, or the service's session-length limit) is reopened after
  ``reconnect_delays``: the new session gets the same configuration and tools, and the
  conversation so far is replayed into it (:mod:`realtime_widget.client.replay`), so the model keeps
  its context while the items stay as they were. :attr:`RealtimeClient.reconnecting` is true
  from the moment the loss is seen (the ``close`` event already carries ``reconnecting:
  True``) until the reconnect ends. Each try dispatches ``reconnecting`` ``{attempt, delay,
  code}``; a try fails when the new connection cannot open, closes or times out before it is
  ready. The reconnect ends either with ``reconnected`` ``{attempt, replayed}`` (connected
  and ready) or with an ``error`` of type ``reconnect_failed`` (every try failed, or one
  failed in a way a retry cannot mend: refused credentials, a normal close; see
  :mod:`realtime_widget.client.reconnect`). A ``connect()`` while a reconnect is pending takes it
  over: the reconnect stops and ``connect()`` resumes the session itself, replaying the
  conversation, as does the ``connect()`` after a reconnect that failed.
- ``$OPENAI_API_KEY`` is used only over ``wss://`` to OpenAI's hosts (``api.openai.com``,
  ``*.openai.com``) and Azure OpenAI's (``*.openai.azure.com``); any other server gets a key
  only when one is given (``api_key=``).
- Manual turns: ``create_response()`` commits the audio appended since the last commit; the
  client moves its commit point when the server confirms (``input_audio_buffer.committed``),
  so a commit the server refuses (too short) leaves the audio to the next one, as on the
  server. ``clear_input_audio()`` discards the audio not yet committed.
- Answers cut short by ``cancel_response`` (or any ``conversation.item.truncated``) are
  replayed holding what was heard of them (see :mod:`realtime_widget.client.resume`).
- At most :data:`MAX_ACTIVE_RESPONSES` responses are tracked as running at once: a server
  that starts responses and never finishes them makes the client forget the oldest (logged;
  :mod:`realtime_widget.client.responses`).
- ``max_audio_seconds`` bounds the audio kept across the conversation's items: past it, the
  audio of the oldest items is emptied (``formatted["audio_dropped"]`` set); text and
  transcripts are always kept. The default, :data:`DEFAULT_MAX_AUDIO_SECONDS` (an hour of
  audio, 165 MB), keeps a long session whole while a server that streams without end cannot
  exhaust memory; ``None`` keeps all audio.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar, overload

from realtime_widget.audio.buffers import AudioRetention, InputAudioBuffer
from realtime_widget.audio.formats import OutputAudioDecoder, session_audio_format
from realtime_widget.audio.utils import generate_id, to_int16
from realtime_widget.client.api import RealtimeAPI
from realtime_widget.client.content import user_message
from realtime_widget.client.deferred import HeldCall, HeldCalls
from realtime_widget.client.inputaudio import InputAudio
from realtime_widget.client.options import client_options, non_negative_int
from realtime_widget.client.reconnect import Reconnector, lost_abnormally
from realtime_widget.client.responses import (
    ITEM_CREATED,
    ITEM_DONE,
    ActiveResponses,
    event_item_id,
    is_finished_input,
)
from realtime_widget.client.responses import (
    MAX_ACTIVE_RESPONSES as MAX_ACTIVE_RESPONSES,  # the bound it keeps
)
from realtime_widget.client.resume import Resume
from realtime_widget.client.toolrunner import ToolCalls
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.errors import (
    ConnectionClosedError,
    ConnectTimeoutError,
    ProtocolError,
    RealtimeError,
    ServerError,
    ToolError,
    UsageError,
)
from realtime_widget.core.events import EventCallback, RealtimeEventHandler
from realtime_widget.core.protocol import (
    DEFAULT_MODEL,
    SAMPLE_RATE,
    AudioFormat,
    canonical_event_type,
)
from realtime_widget.core.redaction import Redactor
from realtime_widget.core.session import SessionConfig, SessionShape, session_payload, session_tools
from realtime_widget.tools.registry import (
    DEFAULT_TIMEOUT,
    Tool,
    ToolRegistry,
    as_tool,
    run_tool,
    validate_definition,
)
from realtime_widget.tools.registry import tool as make_tool

__all__ = ["DEFAULT_MAX_AUDIO_SECONDS", "RealtimeClient"]

logger = logging.getLogger("realtime_widget.client")

DEFAULT_MAX_AUDIO_SECONDS: Final = 3600.0
"""The audio the conversation's items keep by default, in seconds, across items."""

F = TypeVar("F", bound=Callable[..., Any])


class RealtimeClient(RealtimeEventHandler):
    """A realtime session with config, tools, audio and conversation state.

    ``settings`` is the seed's settings dict (``url``, ``apiKey`` / ``api_key``, ``debug``,
    ``model``, ``dialect``); the same settings may be given as keyword arguments, which win.
    ``config`` is the grouped session config (``model``, ``speech``, ``hearing``, ``vision``,
    ``knowledge``). ``dialect`` is ``"ga"`` (default), ``"beta"``, or ``"nested"`` (GA
    events with the grouped config sent as the session). ``api_key`` defaults to
    ``$OPENAI_API_KEY`` for OpenAI's and Azure OpenAI's ``wss://`` hosts only (see the module
    docstring). ``connect_timeout`` bounds the whole of ``connect()`` (and of each reconnect
    try): opening the socket and the session. ``transport`` passes limits to the
    :class:`RealtimeAPI` under the client (``max_frame_bytes``, ``max_send_queue_bytes``,
    ``max_receive_queue_frames``, ``ping_interval``, ``ping_timeout``, ``close_timeout``;
    see there for their defaults). A value of the wrong type or range raises
    :class:`UsageError` naming it.
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
        transport: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
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
        )
        self.debug = options.debug
        self.session_shape: SessionShape = options.shape
        self.config = options.config
        self.connect_timeout = options.connect_timeout
        self.reconnect = options.reconnect
        self.reconnect_delays = options.reconnect_delays
        self._reconnector = Reconnector(
            functools.partial(self._open_session, resume=True),
            lambda: self.reconnect_delays,
            self.dispatch,
            functools.partial(self._drop_held, "the reconnect failed"),
        )
        self._user_closed = False
        self._connecting = False
        self._resume = Resume()
        self._ready = False  # the session is set up: sends go straight out
        self._held = HeldCalls()
        self.max_audio_seconds = options.max_audio_seconds
        self._retention = (
            AudioRetention(int(options.max_audio_seconds * SAMPLE_RATE))
            if options.max_audio_seconds is not None
            else None
        )
        self.realtime = RealtimeAPI(
            options.url,
            options.api_key,
            model=str(self.config.get("model", "name") or DEFAULT_MODEL),
            dialect="beta" if options.shape == "beta" else "ga",
            azure=azure,
            headers=headers,
            debug=self.debug,
            open_timeout=self.connect_timeout,
            **options.transport,
        )
        self._input = InputAudio(options.input_audio_retention_seconds)
        self._audio_out = OutputAudioDecoder(
            lambda: self._wire_format("output"), lambda: self._wire_format("input")
        )
        self.conversation = RealtimeConversation(audio_decoder=self._audio_out)
        self.tools = ToolRegistry()
        self.session_created = False
        self.session: dict[str, Any] | None = None
        self._session_waiter: asyncio.Future[dict[str, Any]] | None = None
        self._update_waiter: asyncio.Future[None] | None = None
        self._update_id: str | None = None
        self._active = ActiveResponses()
        self._completed: set[str] = set()
        self._tool_calls = ToolCalls(self.realtime, self.dispatch, lambda: self._ready)
        self._install_handlers()

    def __repr__(self) -> str:
        state = "connected" if self.is_connected() else "disconnected"
        return (
            f"RealtimeClient(url={self.realtime.url!r}, model={self.realtime.model!r}, "
            f"dialect={self.session_shape!r}, {len(self.conversation.get_items())} items, "
            f"{len(self.tools)} tools, {state})"
        )

    @property
    def url(self) -> str:
        """The server's address, credentials in it reading ``<redacted>`` (read-only)."""
        return self.realtime.url

    @property
    def model(self) -> str:
        """The model the connection asks for (read-only)."""
        return self.realtime.model

    @property
    def redactor(self) -> Redactor:
        """Blanks every credential the connection sends, in text or in values (read-only)."""
        return self.realtime.redactor

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
        self.realtime.on("error", self._on_api_error)
        self.realtime.on("close", self._on_close)

    # -- connection -----------------------------------------------------------------------

    def is_connected(self) -> bool:
        """Whether the socket is open (the session may still be being set up)."""
        return self.realtime.is_connected()

    @property
    def reconnecting(self) -> bool:
        """Whether a lost session is being reopened.

        True from the moment the loss is seen (before the ``close`` event is dispatched)
        until the reconnect ends: just before ``reconnected`` (connected and ready) or the
        ``reconnect_failed`` error is dispatched, or when ``connect()`` / ``disconnect()``
        takes over. Calls made while it is true and the socket is open are held and sent once
        the session is ready; while the socket is closed they raise :class:`UsageError`.
        """
        return self._reconnector.running

    async def connect(self) -> None:
        """Connect, wait for ``session.created``, then send the session.

        A reconnect under way is stopped first and this call resumes the session in its
        place (replaying the conversation), as it does after a reconnect that failed; when
        that reconnect had already set the session up, this call returns at once.
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
            self._drop_held("the connection could not be set up")
            raise
        finally:
            self._connecting = False

    async def _open_session(self, *, resume: bool) -> int:
        """Open a connection and set its session up; returns how many items were replayed.

        ``resume``: replay the conversation, and count the session as set up only once the
        server has answered its ``session.update`` (or, for a server that never does, once
        ``connect_timeout`` has passed with the connection still open). Whatever was opened
        is closed again when this fails.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_timeout
        self._ready = False
        self.session_created = False
        self._reset_input()
        created: asyncio.Future[dict[str, Any]] = loop.create_future()
        answered: asyncio.Future[None] = loop.create_future()
        self._session_waiter = created
        replayed = 0
        try:
            self.realtime.open_timeout = self.connect_timeout
            await self.realtime.connect()
            await self._wait(created, deadline, "no session.created")
            self._check_open()
            self._update_waiter = answered
            self._send_session()
            if resume:
                replayed = await self._replay()
                try:
                    await self._wait(answered, deadline, "no answer to session.update")
                except ConnectTimeoutError:
                    logger.info("the server did not answer session.update: going on")
                self._check_open()
        except BaseException:
            self.realtime.disconnect()
            raise
        finally:
            self._session_waiter = None
            self._update_waiter = None
            for waiter in (created, answered):
                # a failure set on a wait that never came (the try was cancelled) is known
                if waiter.done() and not waiter.cancelled():
                    waiter.exception()
                waiter.cancel()
        self._ready = True
        self._resume.pending = False
        if resume:
            self._tool_calls.send_unsent()
        self._run_held()
        return replayed

    async def _wait(self, future: asyncio.Future[Any], deadline: float, what: str) -> Any:
        remaining = max(deadline - asyncio.get_running_loop().time(), 0.0)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancellation that
            # arrives as the future completes, and a stopped reconnect would go on
            async with asyncio.timeout(remaining):
                return await asyncio.shield(future)
        except TimeoutError:
            raise ConnectTimeoutError(
                f"{what} within {self.connect_timeout:g} s", url=self.realtime.url
            ) from None

    def _check_open(self) -> None:
        if not self.realtime.is_connected():
            self.realtime.raise_if_closed("set the session up")  # the code and reason
            raise ConnectionClosedError(None, "closed before the session was set up")

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

        Never followed by a reconnect; a reconnect under way is stopped, a ``connect()``
        under way fails with :class:`ConnectionClosedError`, and calls held for the session
        are dropped.
        """
        self._user_closed = True
        self._reconnector.cancel()
        self._resume.pending = False
        self._end_session(ConnectionClosedError(1000, "disconnect() was called"))
        self._tool_calls.drop_unsent()
        self._drop_held("disconnect() was called")
        self._tool_calls.cancel()
        return self.realtime.disconnect()

    def reset(self) -> bool:
        """Disconnect, and clear the conversation, config, tools and event handlers.

        The config goes back to the defaults, with the model the connection was made for.
        """
        self.disconnect()
        self.clear_event_handlers()
        self.conversation.clear()
        self.config = SessionConfig({"model": {"name": self.realtime.model}})
        self.tools = ToolRegistry()
        self._reset_input()
        self._tool_calls.clear()
        self._completed.clear()
        self._resume.clear()
        if self._retention is not None:
            self._retention = AudioRetention(self._retention.max_samples)
        return True

    # -- holding calls until the session is ready -----------------------------------------

    def _when_ready(self, what: str, run: Callable[[], object], samples: int = 0) -> bool:
        """Run ``run`` now if the session is ready, else hold it; ``False`` if audio dropped.

        Raises UsageError when the socket is closed, or when too many calls are held.
        """
        self._require_connected(what)
        if self._ready and not self._held:
            run()
            return True
        if self._held.hold(HeldCall(what, run, samples)):
            return True
        if samples:
            logger.warning(
                "dropped %d samples of input audio: %d are already held for the session",
                samples,
                self._held.samples,
            )
            return False
        raise UsageError(
            f"cannot {what}: the session is being set up and {len(self._held)} calls "
            "already wait for it"
        )

    def _run_held(self) -> None:
        while (call := self._held.pop()) is not None:
            try:
                call.run()
            except RealtimeError as exc:
                logger.warning("a held %s failed: %s", call.what, exc)
                self.dispatch("error", {"type": "internal_error", "error": exc, "call": call.what})

    def _drop_held(self, why: str) -> int:
        dropped = self._held.clear()
        if dropped:
            logger.warning("dropped %d calls held for the session: %s", dropped, why)
        return dropped

    # -- configuration --------------------------------------------------------------------

    def update_config(self, updates: Mapping[str, Any]) -> None:
        """Deep-merge grouped config ``updates``, then send the session if connected.

        The merge rules, and which fields each dialect sends (GA has no ``temperature``),
        are :mod:`realtime_widget.core.session`'s.
        """
        self.config.update_config(updates)
        self._send_session_if_connected()

    def update_session(self, **fields: Any) -> bool:
        """Set flat session fields (``instructions``, ``voice``, ``turn_detection``, ...).

        Each replaces its whole value (see :mod:`realtime_widget.core.session`; GA sessions take
        no ``temperature``). Sends the whole session when connected. Returns ``True``.
        """
        if fields:
            self.config.update_session(**fields)
        self._send_session_if_connected()
        return True

    def _send_session_if_connected(self) -> None:
        # before session.created the session is sent as soon as it is
        if self.is_connected() and self.session_created:
            self._send_session()

    def _send_session(self) -> None:
        self._update_id = generate_id("evt_")
        payload = {"event_id": self._update_id, **self.get_session_payload()}
        self.realtime.send("session.update", payload)
        self.dispatch("session.update.sent", {"type": "session.update", **payload})

    def get_session_payload(self) -> dict[str, Any]:
        """``{"session": ...}`` in the client's dialect shape, with every tool."""
        return {
            "session": session_payload(
                self.config, self.session_shape, tools=self.tools.definitions()
            )
        }

    def get_turn_detection_type(self) -> str | None:
        """``"server_vad"``, ``"semantic_vad"`` or ``None`` (manual turns)."""
        return self.config.turn_detection_type()

    # -- tools ----------------------------------------------------------------------------

    def add_tool(self, definition: Mapping[str, Any]) -> None:
        """Add a tool definition without a handler (the caller answers its calls with
        :meth:`send_function_call_output`)."""
        checked = validate_definition(definition)
        tools = [t for t in self.config.get("model", "tools") if t.get("name") != checked["name"]]
        tools.append(dict(checked))
        self.update_config({"model": {"tools": tools}})
        self._tools_changed()

    def remove_tool(self, name: str) -> None:
        """Remove a definition added with :meth:`add_tool`; UsageError when there is none."""
        tools = self.config.get("model", "tools")
        kept = [t for t in tools if t.get("name") != name]
        if len(kept) == len(tools):
            raise UsageError(f"no tool named {name!r} was added")
        self.update_config({"model": {"tools": kept}})
        self._tools_changed()

    def register_tool(self, definition: Any, handler: Callable[..., Any] | None = None) -> Tool:
        """Register a tool with its handler; a name registered again is replaced.

        ``definition`` is a tool definition dict (with ``handler``), a function (its schema
        built from its signature and docstring) or a :class:`Tool`. With a definition dict,
        a handler of one parameter that is not a property gets the arguments dict
        (``register_tool({...}, lambda args: eval(args["expression"]))``); any other handler
        gets keyword arguments and must match the properties, else :class:`UsageError`.
        """
        registered = self.tools.register(definition, handler)
        self._send_session_if_connected()
        self._tools_changed()
        return registered

    def unregister_tool(self, name: str) -> None:
        """Remove a registered tool; UsageError when there is none."""
        self.tools.unregister(name)
        self._send_session_if_connected()
        self._tools_changed()

    def _tools_changed(self) -> None:
        self.dispatch("tools.updated", {"tools": self.get_tools()})

    def get_tools(self) -> list[dict[str, Any]]:
        """Every tool definition: added ones, then registered ones."""
        return session_tools(self.config, self.tools.definitions())

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = ...,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> Any:
        """Register a function as a tool: ``@client.tool`` or ``@client.tool(name=...)``.

        The function is returned unchanged. Registering a name again (re-running a notebook
        cell) replaces the tool and updates the session.
        """

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            decorated = make_tool(name=name, description=description, timeout=timeout)(function)
            self.register_tool(as_tool(decorated))
            return decorated

        return register(fn) if fn is not None else register

    async def execute_tool(self, name: str, args: Mapping[str, Any] | str) -> Any:
        """Run a registered tool with ``args`` and return its value.

        Raises :class:`ToolError` when the tool is unknown, the arguments are invalid, it
        fails or times out.
        """
        registered = self.tools.get(name)
        if registered is None:
            raise ToolError(f"tool {name!r} is not registered", tool=name)
        arguments = args if isinstance(args, str) else json.dumps(dict(args))
        result = await run_tool(registered, name, arguments)
        if not result.ok:
            raise ToolError(result.error or f"tool {name!r} failed", tool=name)
        return result.value

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
        self._ask_response()

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

    def _input_format(self) -> AudioFormat:
        """The input audio format the session was asked for (what the server now expects)."""
        return self.config.audio("input_audio_format") or "pcm16"

    def _wire_format(self, side: Literal["input", "output"]) -> AudioFormat:
        """The audio format the server uses on ``side``: its session's, else as configured."""
        stated = session_audio_format(self.session, side)
        if stated is not None:
            return stated
        return self.config.audio(f"{side}_audio_format") or "pcm16"

    def create_response(self) -> bool:
        """Ask for a response; in manual turns, commit pending user audio first.

        If the server refuses it because a response is still running, it is asked for again
        once that response is done. Held until the session is ready.
        """
        self._when_ready("create_response", self._ask_response)
        return True

    def _ask_response(self) -> None:
        if self.get_turn_detection_type() is None:
            self._input.commit(self.realtime.send)
        self.realtime.send("response.create")

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
        item = self.conversation.get_item(id) if id is not None else None
        if id is not None:
            if item is None:
                raise UsageError(f"cannot cancel: no item {id!r} in the conversation")
            if item.get("type") != "message" or item.get("role") != "assistant":
                raise UsageError(f"can only truncate assistant messages, {id!r} is not one")
        if self._active and self._ready:
            self._active.cancel_sent = True
            self.realtime.send("response.cancel")
        if id is None or item is None:
            return {"item": None}
        cut = self._resume.cut(id, item, count)
        if cut is not None and self._ready:
            index, played = cut
            self.realtime.send(
                "conversation.item.truncate",
                {
                    "item_id": id,
                    "content_index": index,
                    "audio_end_ms": played * 1000 // SAMPLE_RATE,
                },
            )
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

    # -- waiting --------------------------------------------------------------------------

    async def wait_for_next_item(self, timeout: float | None = None) -> dict[str, Any]:
        """``{"item": item}`` for the next item appended (``None`` on timeout)."""
        event = await self.wait_for_next("conversation.item.appended", timeout)
        return {"item": event["item"] if event else None}

    async def wait_for_next_completed_item(self, timeout: float | None = None) -> dict[str, Any]:
        """``{"item": item}`` for the next item completed (``None`` on timeout)."""
        event = await self.wait_for_next("conversation.item.completed", timeout)
        return {"item": event["item"] if event else None}

    async def wait_for_answer(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next assistant message to complete, or ``None`` after ``timeout`` seconds.

        Tool calls on the way are run as usual, so after ``send_user_message_content`` this
        returns the answer that follows them. Call it right after sending: it sees every item
        completed from the moment it is called, none missed.
        """
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def on_completed(event: dict[str, Any]) -> None:
            item = event["item"]
            is_answer = item.get("type") == "message" and item.get("role") == "assistant"
            if is_answer and not future.done():
                future.set_result(item)

        self.on("conversation.item.completed", on_completed)
        try:
            async with asyncio.timeout(timeout):  # a cancellation is never lost (see _wait)
                return await future
        except TimeoutError:
            return None
        finally:
            self.off("conversation.item.completed", on_completed)

    def get_conversation_items(self) -> list[dict[str, Any]]:
        """Every item of the conversation, in order."""
        return self.conversation.get_items()

    # -- events from the api --------------------------------------------------------------

    def _log_event(self, source: str, event: dict[str, Any]) -> None:
        if self._matching("realtime.event"):
            self.dispatch(
                "realtime.event",
                {"time": datetime.now(UTC).isoformat(), "source": source, "event": event},
            )

    def _on_client_event(self, event: dict[str, Any]) -> None:
        self._log_event("client", event)

    def _end_session(self, error: BaseException) -> None:
        """The session is over: nothing is ready, and what waits for its setup fails."""
        self._ready = False
        self.session_created = False
        self._active.end_session()
        for waiter in (self._session_waiter, self._update_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)

    def _on_api_error(self, event: dict[str, Any]) -> None:
        self.dispatch("error", event)

    def _on_close(self, event: dict[str, Any]) -> None:
        was_ready = self._ready
        code = event.get("code")
        self._end_session(event["exception"])
        # what was streaming when the connection went will never finish: close it as the
        # server would, so it is kept, replayed and ordered before what comes next
        for item in self.conversation.close_in_progress():
            self.dispatch("conversation.updated", {"item": item, "delta": None})
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
            self._drop_held(f"the connection closed (code {code})")
        self.dispatch("close", {**event, "reconnecting": self.reconnecting})

    def _on_server_event(self, event: dict[str, Any]) -> None:
        try:
            self._apply_server_event(event)
        except Exception as exc:  # one event never ends the session: it becomes an error
            logger.exception("failed to handle %s", event.get("type"))
            self.dispatch("error", {"type": "internal_error", "error": exc, "event": event})

    def _apply_server_event(self, event: dict[str, Any]) -> None:
        self._log_event("server", event)
        kind = canonical_event_type(event["type"])
        if kind == "error":
            self._on_server_error(event)
            return
        if kind in ("session.created", "session.updated"):
            self._on_session(kind, event)
            return
        if self._resume.is_echo(kind, event, self.session_shape):
            return
        is_new = kind in ITEM_CREATED and event_item_id(event) not in self.conversation
        commit: tuple[int, int] | None = None
        if kind == "input_audio_buffer.committed" and isinstance(event.get("item_id"), str):
            # our manual commit, confirmed: its audio goes to the item it makes
            commit = self._input.committed()
            if commit is not None:
                self.conversation.queue_input_audio(self._input.buffer.slice(*commit))
        heard = (
            self._resume.before_truncation(event, self.conversation)
            if kind == "conversation.item.truncated"
            else None
        )
        try:
            item, delta = self.conversation.process_event(event, self._input.buffer)
        except ProtocolError as exc:
            logger.warning("could not apply %s: %s", event.get("type"), exc)
            self.dispatch("error", {"type": "protocol_error", "error": exc, "event": event})
            return
        if kind == "input_audio_buffer.speech_started":
            detection = self.config.turn_detection() or {}
            if detection.get("interrupt_response", True):
                # the server cancels the response itself: a response.cancel would be refused
                self._active.clear()
            self.dispatch("conversation.interrupted", {"event": event})
        elif kind == "input_audio_buffer.speech_stopped":
            self._input.speech_stopped(event)  # a later manual commit starts after it
        elif kind == "input_audio_buffer.committed" and commit is not None:
            self._input.discard_committed(commit)
        elif kind == "input_audio_buffer.cleared":
            self._input.cleared()
        elif kind == "conversation.item.truncated" and heard is not None:
            self._resume.truncated(heard)
        elif kind == "conversation.item.deleted" and item is not None:
            self._resume.forget(str(item.get("id")))
        elif kind == "response.created":
            self._active.started(event)
        elif kind == "response.done":
            self._on_response_done(event)
        if item is None:
            return
        if self._retention is not None:
            if kind == "conversation.item.deleted":
                self._retention.forget(str(item.get("id")))
            else:
                self._retention.observe(item)
        if is_new:
            self.dispatch("conversation.item.appended", {"item": item})
        self.dispatch("conversation.updated", {"item": item, "delta": delta})
        if kind in ITEM_DONE:
            self._on_item_done(item, event)
        elif kind in ITEM_CREATED and is_finished_input(item):
            self._complete(item)
        elif kind in ("conversation.item.truncated", "conversation.item.deleted"):
            self.dispatch(kind, event)

    def _on_server_error(self, event: dict[str, Any]) -> None:
        error = ServerError(event)
        details = event.get("error")
        refused = details.get("event_id") if isinstance(details, Mapping) else None
        if refused is not None and refused == self._update_id:
            # the session update was refused, but answered: the session is up
            self._answer_update()
        if self._input.refused(refused, error.code):
            # the server keeps that audio: it goes with the next commit
            logger.debug("a commit or clear of input audio was refused: %s", error)
        if error.code == "conversation_already_has_active_response":
            # asked while one was running: ask again once it is done
            self._active.deferred = True
            logger.debug("response.create refused while a response runs: deferred")
            return
        if error.code == "response_cancel_not_active" and self._active.cancel_sent:
            # our cancel crossed the response's own end on the wire: nothing to report
            self._active.cancel_sent = False
            logger.debug("response.cancel arrived after the response ended")
            return
        self.dispatch("error", {"type": "server_error", "error": error})

    def _on_session(self, kind: str, event: dict[str, Any]) -> None:
        session = event.get("session")
        if isinstance(session, dict):
            self.session = session
        if kind == "session.created":
            self.session_created = True
            if self._session_waiter is not None and not self._session_waiter.done():
                self._session_waiter.set_result(event)
        else:
            self._answer_update()

    def _answer_update(self) -> None:
        if self._update_waiter is not None and not self._update_waiter.done():
            self._update_waiter.set_result(None)

    def _complete(self, item: dict[str, Any]) -> None:
        item_id = item.get("id")
        if item_id in self._completed:
            return
        self._completed.add(str(item_id))
        self.dispatch("conversation.item.completed", {"item": item})

    def _on_item_done(self, item: dict[str, Any], event: Mapping[str, Any]) -> None:
        if item.get("status") in ("completed", "incomplete") or item.get("type") != "message":
            self._complete(item)
        response_id = event.get("response_id") or self._active.newest() or "unknown"
        self._tool_calls.call_done(item, str(response_id), self.tools, self.config)

    def _on_response_done(self, event: Mapping[str, Any]) -> None:
        finished = self._active.done(event)
        # one response.create once every call of a finished response is answered, or once
        # the response that was running when one was asked for is over
        ready = finished is not None and self._tool_calls.response_done(finished)
        if (ready or self._active.create_due()) and self._ready:
            self._active.deferred = False
            self.realtime.send("response.create")

    # -- events to handlers ---------------------------------------------------------------

    def report_handler_error(
        self, event_name: str, callback: EventCallback, exc: BaseException
    ) -> None:
        super().report_handler_error(event_name, callback, exc)
        if event_name != "error":
            self.dispatch("error", {"type": "handler_error", "error": exc, "event": event_name})

    async def aclose(self) -> None:
        """Disconnect and wait until tool tasks and the socket are finished."""
        await self.disconnect()
        await self._tool_calls.wait()

    async def __aenter__(self) -> RealtimeClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
