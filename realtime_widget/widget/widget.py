"""`RealtimeWidget`: talk to a realtime model from a notebook, through the browser's mic.

The widget maps a :class:`RealtimeClient`'s state to synced traits and custom messages
(:mod:`realtime_widget.widget.messages`) and makes no protocol decision of its own: the
client decides when to cancel, truncate, run tools and ask for responses. This is the only
module here that binds anywidget and traitlets; its parts each keep one concern and see the
widget as a :class:`~realtime_widget.widget.host.WidgetHost`.

No credential the client sends (:attr:`RealtimeClient.redactor`) reaches the page: it is
blanked in every trait synced, every message, error texts, logs and the repr. A view going
away leaves the client connected, for a view shown later or a reloaded page.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
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
from realtime_widget.widget.activity import Activity
from realtime_widget.widget.audiochoice import (
    AUDIO_MODES,
    AudioChoice,
    AudioInUse,
    AudioMode,
    KernelDevice,
    KernelDevicesOpen,
    check_audio_mode,
)
from realtime_widget.widget.browser import BrowserMessages
from realtime_widget.widget.callwire import TRANSPORTS, TransportMode, check_transport
from realtime_widget.widget.cards import CallCards
from realtime_widget.widget.eventlog import LogEntry
from realtime_widget.widget.events import ClientMirror
from realtime_widget.widget.frontend import assemble_css, assemble_esm
from realtime_widget.widget.host import (
    CONNECTION_STATES,
    MIC_STATES,
    TURN_MODES,
    ConnectionState,
    MicState,
    TurnMode,
    page_settings,
)
from realtime_widget.widget.keep import item_wav
from realtime_widget.widget.keep import transcript as make_transcript
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
from realtime_widget.widget.pagesocket import PageSocket
from realtime_widget.widget.playback import Interruption, Playback, Underruns
from realtime_widget.widget.sync import ItemSync
from realtime_widget.widget.timings import TurnTiming
from realtime_widget.widget.turns import Turns
from realtime_widget.widget.webrtc import WebRtcCalls
from realtime_widget.widget.wire import PageWire

__all__ = [
    "CONNECTION_STATES",
    "ITEMS_QUIET_SECONDS",
    "ITEMS_SYNC_SECONDS",
    "LOG_FLUSH_SECONDS",
    "MIC_CHECK_SECONDS",
    "MIC_STATES",
    "TURN_MODES",
    "ConnectionState",
    "Interruption",
    "MicState",
    "RealtimeWidget",
    "TurnMode",
    "TurnTiming",
    "Underruns",
]

MIC_CHECK_SECONDS: Final = 1.0  # how long pages have to say they hold the mic
ITEMS_QUIET_SECONDS: Final = 0.5  # the whole items list goes out after this long quiet
ITEMS_SYNC_SECONDS: Final = 3.0  # ... or this long after the first change it lacks
LOG_FLUSH_SECONDS: Final = 0.25  # the event log goes to the pages at most this often

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("realtime_widget.widget")

_NONE_OPEN: Final[dict[str, int | None]] = {"input": None, "output": None}


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
    where it can have them, else the kernel's). ``session_type="transcription"`` opens a
    transcription session (see :class:`RealtimeClient`), shown as captions of what the user
    says; a given ``client`` must be of the session type asked for (default: the client's, or
    ``"realtime"``). ``transport="webrtc"`` (with ``audio="browser"``) has the page talk to
    the model over WebRTC, the kernel keeping the session, the conversation and the tools
    (:mod:`~realtime_widget.widget.webrtc`; ``transport_in_use`` says which carries the
    audio); ``"websocket"`` (the default) relays the audio through the kernel. A page served
    from this machine trades its messages and the model's audio with the kernel over a
    websocket rather than the comm (:mod:`~realtime_widget.widget.pagesocket`), unless
    ``page_socket=False``.

    Then ``await widget.connect()`` (or the Connect button), talk, and define tools with
    ``@widget.tool``. Raises :class:`UsageError` for a bad setting.
    """

    _esm = assemble_esm()
    _css = assemble_css()

    # "error" only when no reconnect follows (see ClientMirror)
    connection: traitlets.Enum[ConnectionState] = traitlets.Enum(
        CONNECTION_STATES, default_value="disconnected"
    ).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)  # the last error, "" when cleared
    status = traitlets.Unicode("").tag(sync=True)  # a short notice
    tools = traitlets.List(traitlets.Dict()).tag(sync=True)  # {name, description, parameters}
    # follows the client's session, and the session follows it (see Turns)
    turn_detection: traitlets.Enum[TurnMode] = traitlets.Enum(
        TURN_MODES, default_value="server_vad"
    ).tag(sync=True)
    # set by the page, shared by every page showing the widget
    mic: traitlets.Enum[MicState] = traitlets.Enum(MIC_STATES, default_value="off").tag(sync=True)
    # One summary per conversation item, in order, read-only: the ItemSync's own list,
    # changed in place (no element trait: it would copy the list) and sent whole only when
    # the ItemSync says (ITEMS_QUIET_SECONDS, ITEMS_SYNC_SECONDS).
    items: traitlets.List[ItemSummary] = traitlets.List(read_only=True).tag(
        sync=True, to_json=_items_json
    )
    # The last answers' timings (TurnTiming.as_dict()), oldest first: set once per answer.
    turn_timings = traitlets.List(traitlets.Dict()).tag(sync=True)
    audio: traitlets.Enum[AudioMode] = traitlets.Enum(AUDIO_MODES, default_value="browser").tag(
        sync=True
    )
    audio_in_use = traitlets.Unicode("browser").tag(sync=True)
    page_audio = traitlets.Unicode("").tag(sync=True)
    # The kernel's devices as last listed ({index, name, input_channels, output_channels}),
    # and the indexes of those open ({input, output}): listed when they are opened.
    kernel_devices: traitlets.List[dict[str, Any]] = traitlets.List(traitlets.Dict()).tag(sync=True)
    kernel_devices_open: traitlets.Dict[str, int | None] = traitlets.Dict(_NONE_OPEN).tag(sync=True)
    # asked for (fixed at construction), and what carries the audio now (webrtc falls back to
    # websocket)
    transport: traitlets.Enum[TransportMode] = traitlets.Enum(TRANSPORTS, read_only=True).tag(
        sync=True
    )
    transport_in_use = traitlets.Unicode("websocket").tag(sync=True)
    # the client's: "transcription" shows the view as captions
    session_type = traitlets.Unicode(read_only=True).tag(sync=True)
    # Names this widget's audio session in the browser, shared by all its views on a page.
    _session_key = traitlets.Unicode().tag(sync=True)

    @traitlets.default("_session_key")
    def _default_session_key(self) -> str:
        return uuid.uuid4().hex

    @traitlets.default("session_type")
    def _default_session_type(self) -> str:
        return self._client.session_type

    @traitlets.default("transport")
    def _default_transport(self) -> TransportMode:
        return self._webrtc.mode

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
        session_type: Literal["realtime", "transcription"] | None = None,
        transport: TransportMode = "websocket",
        page_socket: bool = True,
        **kwargs: Any,
    ) -> None:
        if client is not None and any(v is not None for v in (url, api_key, model, dialect)):
            raise UsageError("give either client= or url/api_key/model/dialect, not both")
        if "items" in kwargs:
            raise UsageError("items is set by the widget, from its client's conversation")
        if client is not None and session_type not in (None, client.session_type):
            raise UsageError(
                f"session_type={session_type!r} but the client given is of session type "
                f"{client.session_type!r}"
            )
        mode = check_audio_mode(audio)
        if check_transport(transport) == "webrtc" and mode != "browser":
            raise UsageError(f"transport='webrtc' plays through the page: audio={audio!r}")
        warn_if_old_ipykernel()
        if client is None:
            client = RealtimeClient(
                url=url,
                api_key=api_key,
                model=model,
                dialect=dialect,
                reconnect=reconnect,
                session_type="realtime" if session_type is None else session_type,
            )
            if transcription is UNSET:
                transcription = DEFAULT_TRANSCRIPTION
        self._client = client
        # The transport knows every credential it sends: none reaches the page.
        self._scrub = client.redactor
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

        # The parts, each keeping one concern's state.
        self._home = HomeLoop(self._report, self._scrub)
        self._wire = PageWire()  # the model's audio as buffers, or as text where pages need
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
        self._transport_notice = ""
        self._webrtc = WebRtcCalls(
            client,
            transport,
            self._send_message,
            show=self._show_transport,
            note=lambda reason: self._activity.note(
                {"type": "error", "error": {"type": "webrtc_error", "message": reason}}
            ),
        )
        self._audio = AudioChoice(
            client,
            mode,
            input_device,
            output_device,
            home=self._home,
            show=self._show_audio,
            report=self._report,
            show_devices=self._show_kernel_devices,
        )

        super().__init__(
            tools=tool_summaries(client.get_tools()),
            turn_detection=self._turns.client_mode(),
            audio=mode,
            audio_in_use=self._audio.in_use,
            **kwargs,
        )
        self._events = ClientMirror(
            self,
            items=self._items,
            calls=self._calls,
            playback=self._playback,
            turns=self._turns,
            send=self._send_message,
            scrub=self._scrub,
        )
        self.observe(self._turns.chosen, names="turn_detection")
        self._activity = Activity(self, self._send_message, self._scrub, flush=LOG_FLUSH_SECONDS)
        self._browser = BrowserMessages(
            self,
            items=self._items,
            playback=self._playback,
            turns=self._turns,
            home=self._home,
            activity=self._activity,
            send=self._send_message,
            wire=self._wire,
            mic_check_seconds=MIC_CHECK_SECONDS,
        )
        self._webrtc.take_over(self._browser.handlers, self._turns.heard)
        receive = functools.partial(self._browser.receive, self)
        self._page_socket = PageSocket(
            receive, self._send_message, self._scrub.value, enabled=page_socket
        )
        self._page_socket.take_over(self._browser.handlers, self._home.spawn)
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
    def input_device(self) -> Device:
        """The kernel's microphone, as :class:`~realtime_widget.devices.KernelAudio` names it
        (``None`` with ``audio="browser"``). Setting it reopens the microphone on that device
        while open; one that cannot be opened is named in ``error``, the one before kept.
        UsageError for a bad device, or with ``audio="browser"``."""
        kernel = self._audio.kernel
        return kernel.input_device if kernel is not None else None

    @input_device.setter
    def input_device(self, device: Device) -> None:
        self._audio.choose("input", device)

    @property
    def output_device(self) -> Device:
        """The kernel's speaker, as :attr:`input_device` is its microphone."""
        kernel = self._audio.kernel
        return kernel.output_device if kernel is not None else None

    @output_device.setter
    def output_device(self, device: Device) -> None:
        self._audio.choose("output", device)

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

    @property
    def turns(self) -> list[TurnTiming]:
        """How long each answer took, oldest first (the last 200; a copy).

        Each :class:`TurnTiming` holds ``to_first_audio_ms`` (from the end of the user's
        turn: speech stopped, push-to-talk released or a message sent, to the answer's first
        audio, as the kernel received them) and ``audio_ms`` (from the first audio to the
        response's end), the answer's ``response_id``, ``item_id`` and ``status``.
        """
        return self._activity.turns

    @property
    def event_log(self) -> list[LogEntry]:
        """The last events both ways as the view's log lists them, oldest first (a copy)."""
        return self._activity.log.entries

    def transcript(self, format: str = "markdown") -> str:
        """The conversation's messages and tool calls as ``"markdown"`` or ``"json"`` text
        (see :func:`realtime_widget.widget.keep.transcript`). UsageError for another format."""
        return make_transcript(self._client.get_conversation_items(), format)

    def save_audio(self, item_id: str, path: str | os.PathLike[str]) -> None:
        """Write the item's audio to ``path`` as a mono 16-bit 24 kHz WAV file.

        UsageError when the conversation has no such item or it holds no audio."""
        data = item_wav(self._client.conversation.get_item(item_id), item_id)
        with open(path, "wb") as file:
            file.write(data)

    def new_conversation(self) -> None:
        """Start afresh: pages stop playing, and every item is deleted, the event log and the
        turn timings cleared.

        Connected, the answer under way is cancelled and each item deleted on the server
        (``conversation.item.delete``): the model forgets them while the session keeps its
        settings, tools and voice, and the items leave the view as the server confirms.
        Not connected, the conversation is cleared here: the next connect replays nothing.
        """
        self._send_message({"type": "interrupt"})
        self._items.start_afresh()
        self._activity.clear()

    def __repr__(self) -> str:
        client = self._client
        text = (
            f"RealtimeWidget(url={client.url!r}, model={client.model!r}, "
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
            await self._webrtc.connect()
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
        self._webrtc.hang_up()
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
        parts = ("_events", "_browser", "_items", "_activity", "_audio", "_webrtc", "_page_socket")
        for name in parts:
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
        taken, refused = page_settings(sync_data, self._scrub)
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
        unless the kernel's devices play the model's audio, or a call carries it; the audio
        path over the pages' sockets where they have one (:mod:`~.pagesocket`); audio as
        base64 text where a page cannot get buffers (:mod:`realtime_widget.widget.wire`)."""
        if self._audio.for_page(message) and self._webrtc.for_page(message):
            if not self._page_socket.deliver(message, buffers):
                return  # every page has it by its socket
            if buffers and message["type"] != "probe_echo" and not self._wire.binary:
                self.send(*self._wire.pack(message, buffers))
                return
            self.send(message, buffers=buffers)

    def _show_transport(self, in_use: TransportMode, notice: str) -> None:
        self.transport_in_use = in_use
        if notice or self.status == self._transport_notice:  # a fallback's notice goes
            self.status = self._transport_notice = notice

    def _show_audio(self, in_use: AudioInUse) -> None:
        self.audio_in_use = in_use

    def _show_kernel_devices(self, found: list[KernelDevice], opened: KernelDevicesOpen) -> None:
        self.kernel_devices = [{**device} for device in found]
        self.kernel_devices_open = {"input": opened["input"], "output": opened["output"]}

    def _report(self, text: str) -> None:
        """Show ``text`` in the ``error`` trait, scrubbed of every credential."""
        self.error = self._scrub(text)

    def _publish_items(self, old: list[ItemSummary], new: list[ItemSummary]) -> None:
        """Tell the ``items`` observers, and send the trait: the list went from ``old``."""
        self.notify_change(
            traitlets.Bunch(name="items", old=old, new=new, owner=self, type="change")
        )
