"""`RealtimeWidget`: talk to a realtime model from a notebook, through the browser's mic.

Rules:

- The widget maps a :class:`RealtimeClient`'s state to synced traits and custom messages; it
  makes no protocol decision of its own (the client decides when to cancel, truncate, run
  tools and ask for responses). The message shapes are in
  :mod:`realtime_widget.widget.messages`.
- This module is the public class: its traits, its methods, and the parts it is made of,
  each keeping one concern's state: what the settings become
  (:mod:`realtime_widget.widget.options`), the client's events
  (:mod:`realtime_widget.widget.events`) and the browser's messages
  (:mod:`realtime_widget.widget.browser`) mapped to traits and messages, the items
  (:mod:`realtime_widget.widget.sync`), the tool call cards
  (:mod:`realtime_widget.widget.cards`), the model's audio
  (:mod:`realtime_widget.widget.playback`), turn detection and push-to-talk
  (:mod:`realtime_widget.widget.turns`) and the client's loop
  (:mod:`realtime_widget.widget.loop`).
- Traits: ``connection`` (``disconnected | connecting | connected | reconnecting |
  error``; ``error`` only when no reconnect follows: a connection the client reopens goes
  straight to ``reconnecting``), ``error`` (the last error, ``""`` when cleared),
  ``status`` (a short notice), ``tools`` (``{name, description, parameters}`` each),
  ``turn_detection`` (``server_vad | semantic_vad | manual``; it follows the client's
  session whenever the session is sent, and the browser may change it, the session then
  following), ``mic`` (set by the browser: ``off | starting | on | denied | unsupported``;
  shared by every page showing the widget) and ``items`` (one :class:`ItemSummary` per
  conversation item, in order; read-only). Where the audio flows: ``audio`` (asked for:
  ``browser | kernel | auto``), ``audio_in_use`` and ``page_audio`` (what a page said of
  its microphone), kept by :mod:`realtime_widget.widget.audiochoice`.
- Each item change costs the same however long the conversation: when an item is appended,
  changes (completed, truncated, a transcript set), or its tool call changes state, its
  summary alone goes out as an ``item`` message; a deleted item goes as ``item_removed``.
  The ``items`` list is changed in place (:mod:`realtime_widget.widget.items`), so in the
  kernel it is always current, but it is not set per change: the whole list goes to the
  browser, and its observers are told, only once the conversation has been quiet (no item
  change, nothing streamed) for :data:`ITEMS_QUIET_SECONDS`, and at the latest
  :data:`ITEMS_SYNC_SECONDS` after the first change not yet sent (without a running event
  loop, at once). Summaries carry revisions, so the browser keeps the newest of what it got
  (see :mod:`realtime_widget.widget.messages`). Streamed pieces travel as ``delta`` and
  ``audio`` messages, whose size does not depend on the conversation's length either.
- A page starting asks with ``hello``: the whole list is sent first if a change is not in
  it yet, then a ``snapshot`` gives the items whose text streamed since their summary.
- The browser's messages are checked first; a malformed or unknown one is logged and
  dropped, and no handler raises into the comm. Errors of the client and of the actions a
  message asks for land in the ``error`` trait.
- ``{"type": "connect"}`` from the browser schedules :meth:`RealtimeWidget.connect` as a
  task on the running loop (in a kernel, the kernel's loop, where comm messages are
  handled). Everything runs in background tasks: no cell stays busy while audio flows.
  Under ipykernel 6, comm messages wait while any cell runs, awaiting or not: the widget
  warns once when it is made there (ipykernel 7 or later is needed).
- A view going away does not end the conversation: the browser stops the mic and playback
  of a widget no view shows (and tells the kernel as a barge-in would), while the client
  stays connected so that a view shown later, or a reloaded page, carries on.
- ``mic_check`` from a page that starts while ``mic`` reads on (a reload, or a second
  page): the kernel asks every page with its own ``mic_check``; unless one answers
  ``mic_held`` within :data:`MIC_CHECK_SECONDS`, ``mic`` is set to ``off``.
- No credential reaches the browser, whoever holds the client: every credential its
  transport sends (see :attr:`realtime_widget.client.api.RealtimeAPI.redactor`: the key, the values
  of ``headers``, the URL's credentials) is blanked in every trait as it is synced
  (:meth:`RealtimeWidget.get_state`), in every message (:meth:`RealtimeWidget.send`), in
  error texts, logs and the repr.
- The page owns only ``mic``, ``turn_detection``, ``page_audio`` and clearing ``error``: an
  ``update`` from the page setting anything else (``items``, ``tools``, ``connection``, ...),
  or one of these to a value it does not allow, is logged and dropped, and the kernel's
  value is sent back (:meth:`RealtimeWidget.set_state`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal, TypeVar, overload

import anywidget
import traitlets

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import RealtimeError, UsageError
from realtime_widget.core.session import SessionShape
from realtime_widget.devices import KernelAudio
from realtime_widget.devices.kernel import Device
from realtime_widget.tools.registry import Tool
from realtime_widget.widget.audiochoice import (
    AUDIO_MODES,
    AudioChoice,
    AudioInUse,
    AudioMode,
    check_audio_mode,
)
from realtime_widget.widget.browser import BrowserMessages
from realtime_widget.widget.cards import CallCards
from realtime_widget.widget.events import ClientEvents
from realtime_widget.widget.frontend import assemble_css, assemble_esm
from realtime_widget.widget.loop import HomeLoop
from realtime_widget.widget.messages import ItemsState, ItemSummary, KernelMessage, items_state
from realtime_widget.widget.options import (
    DEFAULT_TRANSCRIPTION,
    UNSET,
    add_tool,
    session_fields,
    tool_summaries,
    warn_if_old_ipykernel,
)
from realtime_widget.widget.playback import Interruption, Playback, Underruns
from realtime_widget.widget.sync import ItemSync
from realtime_widget.widget.turns import TURN_MODES, TurnMode, Turns

__all__ = [
    "CONNECTION_STATES",
    "ITEMS_QUIET_SECONDS",
    "ITEMS_SYNC_SECONDS",
    "MIC_CHECK_SECONDS",
    "MIC_STATES",
    "TURN_MODES",
    "ConnectionState",
    "Interruption",
    "MicState",
    "RealtimeWidget",
    "TurnMode",
    "Underruns",
]

ConnectionState = Literal["disconnected", "connecting", "connected", "reconnecting", "error"]
MicState = Literal["off", "starting", "on", "denied", "unsupported"]
CONNECTION_STATES: Final[tuple[ConnectionState, ...]] = (
    "disconnected",
    "connecting",
    "connected",
    "reconnecting",
    "error",
)
MIC_STATES: Final[tuple[MicState, ...]] = ("off", "starting", "on", "denied", "unsupported")

MIC_CHECK_SECONDS: Final = 1.0  # how long pages have to say they hold the mic
ITEMS_QUIET_SECONDS: Final = 0.5  # the whole items list goes out after this long quiet
ITEMS_SYNC_SECONDS: Final = 3.0  # ... or this long after the first change it lacks

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("realtime_widget.widget")

# The traits a page sets, and the values it may set them to: the mic's state, the turn mode,
# and the error cleared (its close button). What else a page sends is the kernel's.
_PAGE_SETS: Final[dict[str, Callable[[Any], bool]]] = {
    "mic": lambda value: value in MIC_STATES,
    "turn_detection": lambda value: value in TURN_MODES,
    "error": lambda value: value == "",
    "page_audio": lambda value: isinstance(value, str) and len(value) <= 1000,
}


def _items_json(value: list[ItemSummary], widget: RealtimeWidget) -> ItemsState:
    """The ``items`` trait as the browser gets it: the summaries and the revision now."""
    return items_state(value, widget._items.rev)


class RealtimeWidget(anywidget.AnyWidget):
    """A conversation with a realtime model: the browser's mic and speakers, the kernel's tools.

    Give a :class:`RealtimeClient` as ``client``, or the settings to make one (``url``,
    ``api_key`` (default ``$OPENAI_API_KEY``), ``model``, ``dialect``). ``instructions``,
    ``voice``, ``tools`` (functions, :class:`Tool`\\ s, definitions with a ``handler``, or
    definitions without one, answered with ``client.send_function_call_output``),
    ``turn_detection`` (``"server_vad"``, ``"semantic_vad"``, ``"manual"`` or ``None`` for
    push-to-talk, or a ``turn_detection`` dict) and ``transcription`` (a model name, a dict,
    or ``None``: default ``gpt-4o-mini-transcribe`` for a client made here) apply to either.
    A client made here reconnects after an abnormal close unless ``reconnect=False``.
    ``audio`` is where the audio flows: ``"browser"`` (the page's microphone and speakers),
    ``"kernel"`` (the kernel's devices, ``input_device`` and ``output_device`` as
    :class:`~realtime_widget.devices.KernelAudio` names them) or ``"auto"`` (the page's
    where it can have them, else the kernel's).

    Then ``await widget.connect()`` (or the Connect button), talk, and define tools with
    ``@widget.tool``. Raises :class:`UsageError` for a bad setting.
    """

    _esm = assemble_esm()
    _css = assemble_css()

    connection: traitlets.Enum[ConnectionState] = traitlets.Enum(
        CONNECTION_STATES, default_value="disconnected"
    ).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    tools = traitlets.List(traitlets.Dict()).tag(sync=True)
    turn_detection: traitlets.Enum[TurnMode] = traitlets.Enum(
        TURN_MODES, default_value="server_vad"
    ).tag(sync=True)
    mic: traitlets.Enum[MicState] = traitlets.Enum(MIC_STATES, default_value="off").tag(sync=True)
    # The ItemSync's own list, changed in place (no element trait: it would copy the list).
    items: traitlets.List[ItemSummary] = traitlets.List(read_only=True).tag(
        sync=True, to_json=_items_json
    )
    audio: traitlets.Enum[AudioMode] = traitlets.Enum(AUDIO_MODES, default_value="browser").tag(
        sync=True
    )
    audio_in_use = traitlets.Unicode("browser").tag(sync=True)
    page_audio = traitlets.Unicode("").tag(sync=True)
    # Names this widget's audio session in the browser, shared by all its views on a page.
    _session_key = traitlets.Unicode().tag(sync=True)

    @traitlets.default("_session_key")
    def _default_session_key(self) -> str:
        return uuid.uuid4().hex

    @traitlets.default("items")
    def _default_items(self) -> list[ItemSummary]:
        return self._items.summaries

    def __init__(
        self,
        client: RealtimeClient | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        instructions: str | None = None,
        voice: str | None = None,
        tools: Iterable[Any] = (),
        turn_detection: Any = UNSET,
        transcription: Any = UNSET,
        dialect: SessionShape | None = None,
        reconnect: bool = True,
        audio: AudioMode = "browser",
        input_device: Device = None,
        output_device: Device = None,
        **kwargs: Any,
    ) -> None:
        if client is not None and any(v is not None for v in (url, api_key, model, dialect)):
            raise UsageError("give either client= or url/api_key/model/dialect, not both")
        if "items" in kwargs:
            raise UsageError("items is set by the widget, from its client's conversation")
        mode = check_audio_mode(audio)
        warn_if_old_ipykernel()
        if client is None:
            client = RealtimeClient(
                url=url, api_key=api_key, model=model, dialect=dialect, reconnect=reconnect
            )
            if transcription is UNSET:
                transcription = DEFAULT_TRANSCRIPTION
        self._client = client
        # The transport knows every credential it sends: none reaches the page.
        self._scrub = client.realtime.redactor
        fields = session_fields(
            instructions=instructions,
            voice=voice,
            transcription=transcription,
            turn_detection=turn_detection,
        )
        if fields:
            client.update_session(**fields)
        for tool in tools:
            add_tool(client, tool)

        # The parts, each keeping one concern's state (see the module rules).
        self._home = HomeLoop(self._report, self._scrub)
        self._turns = Turns(self, self._home, fields.get("turn_detection"))
        self._calls = CallCards(client)
        self._playback = Playback(
            self._send_message, lambda item_id: item_id in client.conversation
        )
        self._items = ItemSync(
            client,
            self._calls,
            self._send_message,
            self._publish_items,
            quiet=ITEMS_QUIET_SECONDS,
            longest=ITEMS_SYNC_SECONDS,
        )
        self._connect_task: asyncio.Task[None] | None = None
        self._audio = AudioChoice(
            client,
            mode,
            input_device,
            output_device,
            home=self._home,
            show=self._show_audio,
            report=self._report,
        )

        super().__init__(
            tools=tool_summaries(client.get_tools()),
            turn_detection=self._turns.client_mode(),
            audio=mode,
            audio_in_use=self._audio.in_use,
            **kwargs,
        )
        self._events = ClientEvents(
            self,
            items=self._items,
            calls=self._calls,
            playback=self._playback,
            turns=self._turns,
            send=self._send_message,
            scrub=self._scrub,
        )
        self.observe(self._turns.chosen, names="turn_detection")
        self._browser = BrowserMessages(
            self,
            items=self._items,
            playback=self._playback,
            turns=self._turns,
            home=self._home,
            send=self._send_message,
            mic_check_seconds=MIC_CHECK_SECONDS,
        )
        self.on_msg(self._browser.receive)
        self.observe(lambda change: self._audio.page_said(change["new"]), names="page_audio")
        self.observe(lambda change: self._audio.connection(change["new"]), names="connection")
        if client.is_connected():
            self.connection = "connected"

    # -- public API -----------------------------------------------------------------------

    @property
    def client(self) -> RealtimeClient:
        """The :class:`RealtimeClient` the widget drives."""
        return self._client

    @property
    def kernel_audio(self) -> KernelAudio | None:
        """The kernel's devices, with ``audio="kernel"`` or ``"auto"`` (else ``None``)."""
        return self._audio.kernel

    @property
    def played_samples(self) -> dict[str, int]:
        """Samples of each assistant item the browser reported as played (a copy)."""
        return self._playback.played_samples

    @property
    def interruptions(self) -> list[Interruption]:
        """Playback interruptions reported by the browser, oldest first (a copy)."""
        return self._playback.interruptions

    @property
    def underruns(self) -> dict[str, Underruns]:
        """Each assistant item whose playback in the browser ran out of audio before its end:
        how often, and the silence played meanwhile in 24 kHz samples (a copy). The browser
        reports an item once it finished or was cut; its share of what was played is
        ``fill_samples / (fill_samples + played_samples[item_id])``."""
        return self._playback.underruns

    def __repr__(self) -> str:
        client = self._client
        text = (
            f"RealtimeWidget(url={client.realtime.url!r}, model={client.realtime.model!r}, "
            f"{self.connection}, {len(client.get_conversation_items())} items, "
            f"{len(self.tools)} tools)"
        )
        return self._scrub(text)

    async def connect(self) -> None:
        """Connect the client (if it is not already) and wait for the session.

        Returns once the session is up; audio and tools then run in background tasks.
        Raises what :meth:`RealtimeClient.connect` raises, after setting ``connection`` to
        ``"error"`` and ``error`` to its message. A second call while connecting waits for
        the first one.
        """
        self._home.adopt()
        if self._client.is_connected():
            self.connection = "connected"
            return
        task = self._connect_task
        if task is None or task.done():
            task = self._connect_task = asyncio.ensure_future(self._connect())
        await asyncio.shield(task)

    async def _connect(self) -> None:
        self.connection = "connecting"
        self.error = ""
        try:
            await self._client.connect()
        except RealtimeError as exc:
            self.connection = "error"
            self._report(str(exc))
            raise
        except BaseException:
            self.connection = "connected" if self._client.is_connected() else "error"
            raise
        self.connection = "connected"

    def disconnect(self) -> asyncio.Future[None]:
        """Close the connection (the conversation is kept); returns an awaitable future."""
        self._playback.close_all()
        self._turns.end()
        future = self._client.disconnect()
        self.connection = "disconnected"
        return future

    def send_text(self, text: str) -> None:
        """Send a user text message and ask for a response. UsageError when not connected."""
        if not isinstance(text, str) or not text.strip():
            raise UsageError(f"text must be a non-empty string, got {text!r}")
        self._client.send_user_message_content(text)

    def send_image(self, image: Any, text: str | None = None) -> None:
        """Send an image (path, bytes, PIL image, figure, array or data URL), with ``text``.

        Asks for a response. UsageError when not connected or the image cannot be read.
        """
        parts: list[dict[str, Any]] = [{"type": "input_image", "image": image}]
        if text:
            parts.append({"type": "input_text", "text": text})
        self._client.send_user_message_content(parts)

    def register_tool(self, definition: Any, handler: Callable[..., Any] | None = None) -> Tool:
        """Register a tool on the client (see :meth:`RealtimeClient.register_tool`)."""
        return self._client.register_tool(definition, handler)

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

    def tool(self, fn: Any = None, /, **options: Any) -> Any:
        """Register a function as a tool: ``@widget.tool`` or ``@widget.tool(name=...)``.

        The function is returned unchanged; the ``tools`` trait lists it at once.
        """

        if fn is not None:
            return self._client.tool(fn)
        return self._client.tool(**options)

    def close(self) -> None:
        """Stop listening to the client and close the widget (the client stays as it is)."""
        for name in ("_events", "_browser", "_items", "_audio"):
            part = getattr(self, name, None)  # None in a widget whose __init__ raised
            if part is not None:
                part.close()
        super().close()

    def get_state(
        self, key: str | Iterable[str] | None = None, drop_defaults: bool = False
    ) -> dict[str, Any]:
        """The traits as the page gets them (ipywidgets' method): every credential the client
        sends blanked, whatever put it there."""
        state: dict[str, Any] = super().get_state(key, drop_defaults)
        return self._scrub.value(state)  # type: ignore[no-any-return]

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state the page sent (ipywidgets' method): only the traits the page owns,
        with values they allow; the rest is logged, dropped, and sent back as it is here."""
        taken: dict[str, Any] = {}
        refused: list[str] = []
        for name, value in sync_data.items():
            allowed = _PAGE_SETS.get(name)
            if allowed is not None and allowed(value):
                taken[name] = value
                continue
            shown = repr(value)
            shown = shown if len(shown) <= 80 else f"{shown[:77]}..."
            logger.warning(
                "ignored the page setting %r to %s: a page sets only mic, turn_detection, "
                "page_audio and error (to clear it), to values they allow",
                name,
                self._scrub(shown),
            )
            refused.append(name)
        if taken:
            super().set_state(taken)
        known = [name for name in refused if name in self.keys]
        if known:
            self.send_state(known)

    def send(self, content: Any, buffers: list[Any] | None = None) -> None:
        """Send a custom message to the page (ipywidgets' method), credentials blanked."""
        super().send(self._scrub.value(content), buffers)

    def send_state(self, key: str | Iterable[str] | None = None) -> None:
        """Send traits to the browser (ipywidgets' method); ``items`` whole, as it is now."""
        keys = None if key is None else [key] if isinstance(key, str) else list(key)
        if keys is None or "items" in keys:
            self._items.state_sent()
        super().send_state(keys)

    # -- what the parts call back ---------------------------------------------------------

    def _send_message(self, message: KernelMessage, buffers: list[bytes] | None = None) -> None:
        """Send one kernel-to-browser message (see :mod:`realtime_widget.widget.messages`),
        unless the kernel's devices play the model's audio."""
        if self._audio.for_page(message):
            self.send(message, buffers=buffers)

    def _show_audio(self, in_use: AudioInUse) -> None:
        self.audio_in_use = in_use

    def _report(self, text: str) -> None:
        """Show ``text`` in the ``error`` trait, scrubbed of every credential."""
        self.error = self._scrub(text)

    def _publish_items(self, old: list[ItemSummary], new: list[ItemSummary]) -> None:
        """Tell the ``items`` observers, and send the trait: the list went from ``old``."""
        self.notify_change(
            traitlets.Bunch(name="items", old=old, new=new, owner=self, type="change")
        )
