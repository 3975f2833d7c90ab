"""`RealtimeClient`: config, tools, audio, responses and waits over one realtime session.

Rules:

- The client owns a :class:`RealtimeAPI` (the socket), a :class:`RealtimeConversation` (the
  items), a :class:`SessionConfig` and a :class:`ToolRegistry`. Every server event goes
  through the conversation; the client only adds the decisions the reference client makes:
  when to send the session, run tools, ask for responses, cancel and truncate.
- Events it dispatches: ``tools.updated`` ``{tools}`` after every change of the tools,
  ``realtime.event`` ``{time, source, event}`` for every event both
  ways, ``conversation.updated`` ``{item, delta}``, ``conversation.item.appended``
  ``{item}`` once per new item, ``conversation.item.completed`` ``{item}`` once per
  finished item, ``conversation.interrupted`` when the user starts speaking, ``error`` (a
  server ``error`` event as :class:`ServerError`, an event the conversation could not apply
  as :class:`ProtocolError`, a tool failure as :class:`ToolError`) and ``close``.
- One bad event never ends the session: it becomes an ``error`` event.
- Tools: when a ``function_call`` item is done, its handler runs (sync handlers in a thread,
  async ones as tasks, each with its timeout) and its output, or ``{"error": ...}``, is sent
  as a ``function_call_output`` item. Once every call of a response is answered and that
  response is done, exactly one ``response.create`` follows.
- Input audio is kept in an :class:`InputAudioBuffer` addressed by session-absolute samples,
  so voice activity events can slice the user's utterance out of it; old audio is dropped.
- Audio is 24 kHz PCM16 throughout the client; on the wire it is the session's format
  (:mod:`realtime_widget.wireaudio`): with G.711 the user's audio is resampled to 8 kHz and
  coded as it is sent (input format as configured), and the model's audio is decoded and
  brought back to 24 kHz as it arrives (output format as the server's session states it).
- ``disconnect()`` keeps the conversation (``reset()`` clears it) and never reconnects.
- With ``reconnect=True``, a connection lost abnormally (close codes 1001, 1006, 1011,
  1012, 1013, a network failure, or the service's session-length limit) is reopened after
  ``reconnect_delays``: the new session gets the same configuration and tools, and the
  conversation so far is replayed into it (:mod:`realtime_widget.replay`), so the model keeps
  its context while the items stay as they were. It dispatches ``reconnecting``
  ``{attempt, delay, code}`` before each try, then ``reconnected`` ``{attempt, replayed}``,
  or an ``error`` of type ``reconnect_failed`` once every try failed.
- ``max_audio_seconds`` bounds the audio kept across the conversation's items: past it, the
  audio of the oldest items is emptied (``formatted["audio_dropped"]`` set); text and
  transcripts are always kept. ``None`` (the default) keeps all audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, overload

from .api import RealtimeAPI
from .audio import to_int16
from .buffers import AudioRetention, InputAudioBuffer
from .calls import PendingCalls
from .content import user_message
from .conversation import RealtimeConversation
from .errors import (
    ConnectionClosedError,
    ConnectTimeoutError,
    ProtocolError,
    RealtimeError,
    ServerError,
    ToolError,
    UsageError,
)
from .events import EventCallback, RealtimeEventHandler
from .protocol import DEFAULT_MODEL, SAMPLE_RATE, AudioFormat, canonical_event_type
from .replay import replay_items
from .session import SessionConfig, SessionShape, session_payload, session_tools
from .tools import (
    DEFAULT_TIMEOUT,
    Tool,
    ToolRegistry,
    ToolResult,
    as_tool,
    run_tool,
    validate_definition,
)
from .tools import tool as make_tool
from .wireaudio import InputAudioEncoder, OutputAudioDecoder, session_audio_format

__all__ = ["RealtimeClient"]

logger = logging.getLogger("realtime_widget.client")

F = TypeVar("F", bound=Callable[..., Any])

_ITEM_CREATED = frozenset(
    {
        "conversation.item.added",
        "conversation.item.created",
        "conversation.item.retrieved",
        "response.output_item.added",
    }
)
_ITEM_DONE = frozenset({"response.output_item.done", "conversation.item.done"})
_RECONNECT_CODES = frozenset({1001, 1006, 1011, 1012, 1013})
_SETTINGS_KEYS = frozenset(
    {"url", "api_key", "apiKey", "dangerouslyAllowAPIKeyInBrowser", "debug", "model", "dialect"}
)


class RealtimeClient(RealtimeEventHandler):
    """A realtime session with config, tools, audio and conversation state.

    ``settings`` is the seed's settings dict (``url``, ``apiKey`` / ``api_key``, ``debug``,
    ``model``, ``dialect``); the same settings may be given as keyword arguments, which win.
    ``config`` is the grouped session config (``model``, ``speech``, ``hearing``, ``vision``,
    ``knowledge``). ``dialect`` is ``"ga"`` (default), ``"beta"``, or ``"nested"`` (GA
    events with the grouped config sent as the session).
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
        max_audio_seconds: float | None = None,
    ) -> None:
        super().__init__()
        settings = dict(settings or {})
        unknown = set(settings) - _SETTINGS_KEYS
        if unknown:
            raise UsageError(f"unknown settings {sorted(unknown)!r}")
        url = url if url is not None else settings.get("url")
        if api_key is None:
            api_key = settings.get("api_key", settings.get("apiKey"))
        model = model or settings.get("model")
        shape: SessionShape = dialect or settings.get("dialect") or "ga"
        if shape not in ("ga", "beta", "nested"):
            raise UsageError(f"dialect must be 'ga', 'beta' or 'nested', got {shape!r}")
        self.debug = bool(debug if debug is not None else settings.get("debug", False))
        self.session_shape: SessionShape = shape
        self.config = SessionConfig(config)
        if model:
            self.config.update_config({"model": {"name": model}})
        self.connect_timeout = connect_timeout
        if any(not isinstance(d, int | float) or d < 0 for d in reconnect_delays):
            raise UsageError(f"reconnect_delays must be non-negative seconds: {reconnect_delays!r}")
        self.reconnect = reconnect
        self.reconnect_delays = tuple(float(d) for d in reconnect_delays)
        self._reconnect_task: asyncio.Task[None] | None = None
        self._user_closed = False
        self._replaying: set[str] = set()
        self._unsent_outputs: list[tuple[str, str]] = []
        if max_audio_seconds is not None and max_audio_seconds < 0:
            raise UsageError(f"max_audio_seconds must be non-negative, got {max_audio_seconds!r}")
        self.max_audio_seconds = max_audio_seconds
        self._retention = (
            AudioRetention(int(max_audio_seconds * SAMPLE_RATE))
            if max_audio_seconds is not None
            else None
        )
        self.input_audio_retention_seconds = input_audio_retention_seconds
        self.realtime = RealtimeAPI(
            url,
            api_key if api_key is not None else os.environ.get("OPENAI_API_KEY"),
            model=str(self.config.get("model", "name") or DEFAULT_MODEL),
            dialect="beta" if shape == "beta" else "ga",
            azure=azure,
            headers=headers,
            debug=self.debug,
        )
        self._audio_in = InputAudioEncoder()
        self._audio_out = OutputAudioDecoder(
            lambda: self._wire_format("output"), lambda: self._wire_format("input")
        )
        self.conversation = RealtimeConversation(audio_decoder=self._audio_out)
        self.tools = ToolRegistry()
        self.input_audio_buffer = self._new_input_buffer()
        self.session_created = False
        self.session: dict[str, Any] | None = None
        self._session_waiter: asyncio.Future[dict[str, Any]] | None = None
        self._commit_offset = 0
        # responses the server is running (out-of-band ones may overlap), oldest first
        self._active: dict[str, None] = {}
        self._deferred_create = False
        self._cancel_sent = False  # a response.cancel of ours may race the response's end
        self._calls = PendingCalls()
        self._completed: set[str] = set()
        self._tool_tasks: set[asyncio.Task[Any]] = set()
        self._install_handlers()

    def __repr__(self) -> str:
        state = "connected" if self.is_connected() else "disconnected"
        return (
            f"RealtimeClient(url={self.realtime.url!r}, model={self.realtime.model!r}, "
            f"dialect={self.session_shape!r}, {len(self.conversation.get_items())} items, "
            f"{len(self.tools)} tools, {state})"
        )

    def _new_input_buffer(self) -> InputAudioBuffer:
        limit = int(self.input_audio_retention_seconds * SAMPLE_RATE)
        return InputAudioBuffer(max_samples=limit if limit > 0 else None)

    def _install_handlers(self) -> None:
        self.realtime.on("server.*", self._on_server_event)
        self.realtime.on("client.*", self._on_client_event)
        self.realtime.on("error", self._on_api_error)
        self.realtime.on("close", self._on_close)

    # -- connection -----------------------------------------------------------------------

    def is_connected(self) -> bool:
        """Whether the socket is open."""
        return self.realtime.is_connected()

    async def connect(self) -> None:
        """Connect, wait for ``session.created``, then send the session.

        Raises the :class:`ConnectError` family when the socket cannot open, and
        :class:`ConnectTimeoutError` when no ``session.created`` arrives in time.
        """
        if self.is_connected():
            raise UsageError("already connected: call disconnect() first")
        self._user_closed = False
        await self._open_session()

    async def _open_session(self) -> None:
        self.session_created = False
        self._session_waiter = asyncio.get_running_loop().create_future()
        # a new session counts input audio from zero again
        self.input_audio_buffer = self._new_input_buffer()
        self._audio_in = InputAudioEncoder()
        self._commit_offset = 0
        await self.realtime.connect()
        try:
            await asyncio.wait_for(asyncio.shield(self._session_waiter), self.connect_timeout)
        except TimeoutError:
            await self.realtime.disconnect()
            raise ConnectTimeoutError(
                f"no session.created within {self.connect_timeout:g} s", url=self.realtime.url
            ) from None
        self.update_session()

    def disconnect(self) -> asyncio.Future[None]:
        """Close the connection; the conversation is kept. Returns an awaitable future.

        Never followed by a reconnect; a reconnect under way is stopped.
        """
        self._user_closed = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            self._reconnect_task = None
        self.session_created = False
        self._active.clear()
        self._deferred_create = False
        for task in list(self._tool_tasks):
            task.cancel()
        return self.realtime.disconnect()

    def reset(self) -> bool:
        """Disconnect, and clear the conversation, config, tools and event handlers."""
        self.disconnect()
        self.clear_event_handlers()
        self.conversation.clear()
        self.config = SessionConfig()
        self.tools = ToolRegistry()
        self.input_audio_buffer = self._new_input_buffer()
        self._commit_offset = 0
        self._calls.clear()
        self._completed.clear()
        if self._retention is not None:
            self._retention = AudioRetention(self._retention.max_samples)
        return True

    # -- configuration --------------------------------------------------------------------

    def update_config(self, updates: Mapping[str, Any]) -> None:
        """Deep-merge grouped config ``updates``, then send the session if connected.

        The merge rules, and which fields each dialect sends (GA has no ``temperature``),
        are :mod:`realtime_widget.session`'s.
        """
        self.config.update_config(updates)
        self._send_session_if_connected()

    def update_session(self, **fields: Any) -> bool:
        """Set flat session fields (``instructions``, ``voice``, ``turn_detection``, ...).

        Each replaces its whole value (see :mod:`realtime_widget.session`; GA sessions take
        no ``temperature``). Sends the whole session when connected. Returns ``True``.
        """
        if fields:
            self.config.update_session(**fields)
        self._send_session_if_connected()
        return True

    def _send_session_if_connected(self) -> None:
        if self.is_connected() and self.session_created:
            self.realtime.send("session.update", self.get_session_payload())

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
        (or ``image_url``). Returns ``True``.
        """
        item = user_message(content, self._input_format())
        self._require_connected("send_user_message_content")
        self.realtime.send("conversation.item.create", {"item": item})
        self.create_response()
        return True

    def append_input_audio(self, data: Any) -> bool:
        """Send user audio (int16/float arrays, bytes, memoryview, ...; 24 kHz mono PCM).

        It goes out in the session's input format (G.711 is resampled to 8 kHz and coded;
        the filter holds the last ~5 ms until more audio, or a manual commit, comes). Keeps
        it in the input buffer for voice activity slicing. Returns ``True``.
        """
        samples = to_int16(data)
        if samples.size == 0:
            return True
        self._require_connected("append_input_audio")
        encoded = self._audio_in.encode(samples, self._input_format())
        if encoded:
            self.realtime.send("input_audio_buffer.append", {"audio": encoded})
        self.input_audio_buffer.append(samples)
        return True

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
        once that response is done.
        """
        self._require_connected("create_response")
        if self.get_turn_detection_type() is None:
            end = self.input_audio_buffer.end
            if end > self._commit_offset:
                tail = self._audio_in.flush()
                if tail:
                    self.realtime.send("input_audio_buffer.append", {"audio": tail})
                self.realtime.send("input_audio_buffer.commit")
                audio = self.input_audio_buffer.slice(self._commit_offset, end)
                self.conversation.queue_input_audio(audio)
                self.input_audio_buffer.discard_before(end)
                self._commit_offset = end
        self.realtime.send("response.create")
        return True

    def cancel_response(self, id: str | None = None, sample_count: int = 0) -> dict[str, Any]:
        """Cancel the response in progress and truncate item ``id`` where playback stopped.

        ``sample_count`` is how many 24 kHz samples of the item were played. The truncate is
        clamped to the audio received, skipped when nothing was played or when playback had
        already finished. Returns ``{"item": item}`` (``None`` without ``id``).
        """
        self._require_connected("cancel_response")
        if isinstance(sample_count, bool) or not isinstance(sample_count, int) or sample_count < 0:
            raise UsageError(f"sample_count must be a non-negative int, got {sample_count!r}")
        if self._active:
            self._cancel_sent = True
            self.realtime.send("response.cancel")
        if id is None:
            return {"item": None}
        item = self.conversation.get_item(id)
        if item is None:
            raise UsageError(f"cannot cancel: no item {id!r} in the conversation")
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise UsageError(f"can only truncate assistant messages, {id!r} is not one")
        content = item.get("content") or []
        index = next(
            (i for i, part in enumerate(content) if part.get("type") in ("output_audio", "audio")),
            None,
        )
        received = len(item["formatted"]["audio"])
        played = min(sample_count, received)
        finished = item.get("status") == "completed" and played >= received
        if index is not None and played > 0 and not finished:
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

        ``output`` is sent as is when a string, else as JSON. Returns ``True``.
        """
        self._require_connected("send_function_call_output")
        text = output if isinstance(output, str) else json.dumps(output, default=str)
        self._answer_call(call_id, text)
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
            return await asyncio.wait_for(future, timeout)
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

    def _on_api_error(self, event: dict[str, Any]) -> None:
        self.dispatch("error", event)

    def _on_close(self, event: dict[str, Any]) -> None:
        self.session_created = False
        self._active.clear()
        self._deferred_create = False
        # what was streaming when the connection went will never finish: close it as the
        # server would, so it is kept, replayed and ordered before what comes next
        for item in self.conversation.close_in_progress():
            self.dispatch("conversation.updated", {"item": item, "delta": None})
            self._complete(item)
        if self._session_waiter is not None and not self._session_waiter.done():
            self._session_waiter.set_exception(
                event.get("exception") or ConnectionClosedError(event.get("code"), "closed")
            )
        self.dispatch("close", event)
        code = event.get("code")
        if (
            self.reconnect
            and not self._user_closed
            and self._reconnect_task is None
            and (code is None or code in _RECONNECT_CODES)
        ):
            self._reconnect_task = asyncio.get_running_loop().create_task(
                self._reconnect_loop(code), name="realtime-reconnect"
            )

    async def _reconnect_loop(self, code: int | None) -> None:
        failure: BaseException | None = None
        try:
            for attempt, delay in enumerate(self.reconnect_delays, start=1):
                self.dispatch("reconnecting", {"attempt": attempt, "delay": delay, "code": code})
                await asyncio.sleep(delay)
                try:
                    await self._open_session()
                except RealtimeError as exc:
                    failure = exc
                    logger.warning("reconnect attempt %d failed: %s", attempt, exc)
                    continue
                replayed = self._replay()
                self.dispatch("reconnected", {"attempt": attempt, "replayed": replayed})
                return
            self.dispatch(
                "error",
                {
                    "type": "reconnect_failed",
                    "error": failure or ConnectionClosedError(code, "reconnect failed"),
                },
            )
        finally:
            self._reconnect_task = None

    def _replay(self) -> int:
        """Send the conversation so far into the new session; returns how many items."""
        items = replay_items(
            self.conversation.get_items(), self.realtime.dialect, audio_format=self._input_format()
        )
        for item in items:
            self._replaying.add(item["id"])
            self.realtime.send("conversation.item.create", {"item": item})
        # the old session's responses are over: none will send response.done now
        ready = self._calls.finish_all()
        unsent, self._unsent_outputs = self._unsent_outputs, []
        for call_id, output in unsent:
            ready += self._send_output(call_id, output)
        if ready:
            self.realtime.send("response.create")
        return len(items)

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
            error = ServerError(event)
            if error.code == "conversation_already_has_active_response":
                # asked while one was running: ask again once it is done
                self._deferred_create = True
                logger.debug("response.create refused while a response runs: deferred")
                return
            if error.code == "response_cancel_not_active" and self._cancel_sent:
                # our cancel crossed the response's own end on the wire: nothing to report
                self._cancel_sent = False
                logger.debug("response.cancel arrived after the response ended")
                return
            self.dispatch("error", {"type": "server_error", "error": error})
            return
        if kind in ("session.created", "session.updated"):
            self._on_session(kind, event)
            return
        if self._replaying and self._is_replay_echo(kind, event):
            return
        is_new = kind in _ITEM_CREATED and self._event_item_id(event) not in self.conversation
        try:
            item, delta = self.conversation.process_event(event, self.input_audio_buffer)
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
            # the server commits up to here: a later manual commit starts after it
            end_ms = event.get("audio_end_ms")
            if isinstance(end_ms, int | float) and not isinstance(end_ms, bool):
                self._commit_offset = max(self._commit_offset, int(end_ms * SAMPLE_RATE) // 1000)
        elif kind == "input_audio_buffer.cleared":
            self._commit_offset = self.input_audio_buffer.end
        elif kind == "response.created":
            response_id = _response_id(event)
            if response_id is not None:
                self._active[response_id] = None
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
        if kind in _ITEM_DONE:
            self._on_item_done(item, event)
        elif kind in _ITEM_CREATED and _is_finished_input(item):
            self._complete(item)

    def _is_replay_echo(self, kind: str, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` only echoes an item replayed after a reconnect (kept as it was)."""
        if kind not in _ITEM_CREATED and kind != "conversation.item.done":
            return False
        item_id = self._event_item_id(event)
        if item_id not in self._replaying:
            return False
        last = (
            "conversation.item.created"
            if self.session_shape == "beta"
            else ("conversation.item.done")
        )
        if kind == last:
            self._replaying.discard(item_id)
        return True

    @staticmethod
    def _event_item_id(event: Mapping[str, Any]) -> Any:
        item = event.get("item")
        return item.get("id") if isinstance(item, Mapping) else event.get("item_id")

    def _on_session(self, kind: str, event: dict[str, Any]) -> None:
        session = event.get("session")
        if isinstance(session, dict):
            self.session = session
        if kind == "session.created":
            self.session_created = True
            if self._session_waiter is not None and not self._session_waiter.done():
                self._session_waiter.set_result(event)

    def _complete(self, item: dict[str, Any]) -> None:
        item_id = item.get("id")
        if item_id in self._completed:
            return
        self._completed.add(str(item_id))
        self.dispatch("conversation.item.completed", {"item": item})

    def _on_item_done(self, item: dict[str, Any], event: Mapping[str, Any]) -> None:
        if item.get("status") in ("completed", "incomplete") or item.get("type") != "message":
            self._complete(item)
        if item.get("type") != "function_call" or item.get("status") == "incomplete":
            return
        call_id = item.get("call_id")
        response_id = event.get("response_id") or next(reversed(self._active), "unknown")
        if not isinstance(call_id, str) or not self._calls.expect(str(response_id), call_id):
            return
        name = str(item.get("name") or "")
        registered = self.tools.get(name)
        if registered is None and name in {
            t.get("name") for t in self.config.get("model", "tools")
        }:
            return  # a definition-only tool: the caller answers with send_function_call_output
        self._start_tool(registered, name, call_id, str(item.get("arguments") or ""))

    def _start_tool(self, registered: Tool | None, name: str, call_id: str, arguments: str) -> None:
        async def run() -> None:
            result: ToolResult = await run_tool(registered, name, arguments)
            if not result.ok:
                self.dispatch(
                    "error",
                    {
                        "type": "tool_error",
                        "error": ToolError(result.error or "tool failed", tool=name),
                        "call_id": call_id,
                    },
                )
            self._answer_call(call_id, result.output)

        task = asyncio.get_running_loop().create_task(run(), name=f"tool-{name}")
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)

    def _answer_call(self, call_id: str, output: str) -> None:
        self._calls.claim(call_id)
        if not self.is_connected():
            # lost mid-call: sent after a reconnect, so the model is not left waiting
            self._unsent_outputs.append((call_id, output))
            return
        if self._send_output(call_id, output):
            self.realtime.send("response.create")

    def _send_output(self, call_id: str, output: str) -> bool:
        """Send a call's output; ``True`` when its response may now continue."""
        self.realtime.send(
            "conversation.item.create",
            {"item": {"type": "function_call_output", "call_id": call_id, "output": output}},
        )
        return self._calls.settle(call_id)

    def _on_response_done(self, event: Mapping[str, Any]) -> None:
        response_id = _response_id(event)
        if response_id is not None:
            self._active.pop(response_id, None)
        # one response.create once every call of a finished response is answered, or once
        # the response that was running when one was asked for is over
        ready = response_id is not None and self._calls.finish(response_id)
        deferred = self._deferred_create and not self._active
        if (ready or deferred) and self.is_connected():
            self._deferred_create = False
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
        for task in list(self._tool_tasks):
            with contextlib.suppress(BaseException):
                await task

    async def __aenter__(self) -> RealtimeClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _is_finished_input(item: Mapping[str, Any]) -> bool:
    """A user or system message that arrives complete (no ``.done`` follows in beta)."""
    return (
        item.get("type") == "message"
        and item.get("role") in ("user", "system")
        and item.get("status") == "completed"
    )


def _response_id(event: Mapping[str, Any]) -> str | None:
    response = event.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("id"), str):
        return str(response["id"])
    return None
