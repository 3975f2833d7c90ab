"""`BrowserMessages`: what the widget's pages ask of the kernel, checked, then done.

Each message is checked first (:func:`parse_browser_message`): a malformed or unknown one is
logged and dropped. A checked one is handled in the client's thread (:class:`HomeLoop`) by
the handler :attr:`BrowserMessages.handlers` holds for its type; what a handler raises lands
in the ``error`` trait, never in the comm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from realtime_widget.core.errors import ProtocolError, UsageError
from realtime_widget.core.protocol import SAMPLE_RATE
from realtime_widget.widget.activity import Activity
from realtime_widget.widget.host import WidgetHost
from realtime_widget.widget.keep import item_images, item_pcm, transcript
from realtime_widget.widget.loop import HomeLoop
from realtime_widget.widget.messages import (
    BrowserAudio,
    BrowserInterrupted,
    BrowserItemAsk,
    BrowserKernelDevice,
    BrowserMcpApproval,
    BrowserMessage,
    BrowserPlayed,
    BrowserText,
    BrowserTranscript,
    BrowserUnderruns,
    SendMessage,
    parse_browser_message,
)
from realtime_widget.widget.playback import Playback
from realtime_widget.widget.sync import ItemSync
from realtime_widget.widget.turns import Turns
from realtime_widget.widget.wire import (
    PROBE_BYTES,
    BrowserProbe,
    BrowserProbeResult,
    PageWire,
    ProbeEchoMessage,
)

__all__ = ["BrowserMessages"]

logger = logging.getLogger("realtime_widget.widget")  # the widget's decisions, under its name


class BrowserMessages:
    """The browser's messages to ``widget``: :meth:`receive` takes them from the comm.
    Messages to the browser go to ``send``, their audio as ``wire`` says; pages have
    ``mic_check_seconds`` to answer a ``mic_check``."""

    def __init__(
        self,
        widget: WidgetHost,
        *,
        items: ItemSync,
        playback: Playback,
        turns: Turns,
        home: HomeLoop,
        activity: Activity,
        send: SendMessage,
        wire: PageWire,
        mic_check_seconds: float,
    ) -> None:
        self._widget = widget
        self._activity = activity
        self._items = items
        self._playback = playback
        self._turns = turns
        self._home = home
        self._send = send
        self._wire = wire
        self._mic_check_seconds = mic_check_seconds
        self._mic_held = False
        self._mic_check: asyncio.TimerHandle | None = None
        self.dropped_audio_chunks = 0  # audio that came while not connected
        self.handlers: dict[str, Callable[[Any], None]] = {
            "audio": self._audio,
            "interrupted": self._interrupted,
            "played": self._played,
            "underruns": self._underruns,
            "stop": self._stop,
            "text": self._text,
            "mcp_approval": self._mcp_approval,
            "ptt_start": self._ptt_start,
            "ptt_stop": self._ptt_stop,
            "connect": self._connect,
            "disconnect": self._disconnect,
            "hello": self._hello,
            "mic_check": self._check_mic,
            "mic_held": self._mic_is_held,
            "transcript": self._transcript,
            "item_audio": self._item_audio,
            "item_images": self._item_images,
            "new_conversation": self._new_conversation,
            "kernel_device": self._kernel_device,
            "probe": self._probe,
            "probe_result": self._probe_result,
        }

    def receive(self, _widget: object, content: object, buffers: list[Any]) -> None:
        """A custom message from the browser (the comm's ``on_msg`` callback)."""
        if isinstance(content, Mapping) and content.get("kind") == "anywidget-command":
            return  # anywidget's own request/response channel
        try:
            message: BrowserMessage = parse_browser_message(content, buffers or [])
        except ProtocolError as exc:
            logger.warning("ignored a browser message: %s", exc)
            return
        if message["type"] == "audio" and not isinstance(message["data"].obj, bytes):
            # The comm's frame may not outlive this call: keep a copy for the hop (a page
            # socket's frame is bytes, which nothing changes).
            message["data"] = memoryview(message["data"].tobytes())
        handler = self.handlers[message["type"]]
        self._home.run(lambda: handler(message), f"browser message {message['type']}")

    def close(self) -> None:
        """Stop a mic check under way."""
        if self._mic_check is not None:
            self._mic_check.cancel()
            self._mic_check = None

    # -- audio ----------------------------------------------------------------------------

    def _kernel_device(self, message: BrowserKernelDevice) -> None:
        """A kernel device chosen in a picker: the widget reopens that side on it."""
        if message["side"] == "input":
            self._widget.input_device = message["index"]
        else:
            self._widget.output_device = message["index"]

    def _audio(self, message: BrowserAudio) -> None:
        """To the client's input audio; dropped, and counted, while not connected."""
        client = self._widget.client
        if not client.is_connected():
            self.dropped_audio_chunks += 1
            return
        data = message["data"]
        client.append_input_audio(data)
        self._turns.heard(data.nbytes)

    def _interrupted(self, message: BrowserInterrupted) -> None:
        """Playback stopped. While connected, an assistant message's response is cancelled
        and the item truncated where playback stopped, keeping what was heard of its
        transcript; an interruption of anything else, or of nothing, only cancels."""
        item_id, played = message["item_id"], message["played_samples"]
        self._playback.interrupted(item_id, played)
        client = self._widget.client
        if not client.is_connected():
            return
        item = client.conversation.get_item(item_id) if item_id is not None else None
        is_assistant = (
            item is not None and item.get("type") == "message" and item.get("role") == "assistant"
        )
        if item is None or not is_assistant or self._items.forgotten(str(item_id)):
            client.cancel_response()
            return
        heard = item["formatted"].get("transcript")
        if heard:
            self._items.heard(str(item_id), str(heard))
        audio = item["formatted"].get("audio")
        if audio is not None:
            self._items.holding(str(item_id), len(audio) * 1000 // SAMPLE_RATE)
        client.cancel_response(item_id, played)

    def _played(self, message: BrowserPlayed) -> None:
        self._playback.played(message["item_id"], message["played_samples"])

    def _underruns(self, message: BrowserUnderruns) -> None:
        self._playback.underran(message["item_id"], message["count"], message["fill_samples"])

    def _stop(self, message: Any) -> None:
        if self._widget.client.is_connected():
            self._widget.client.cancel_response()

    def _probe(self, message: BrowserProbe) -> None:
        """A page starting: the echo says whether its buffer arrived, and carries one back
        (see :mod:`realtime_widget.widget.wire`)."""
        self._wire.probed(message["id"])
        echo: ProbeEchoMessage = {
            "type": "probe_echo",
            "id": message["id"],
            "intact": message["intact"],
        }
        self._send(echo, [PROBE_BYTES])

    def _probe_result(self, message: BrowserProbeResult) -> None:
        self._wire.result(message["id"], message["intact"])

    # -- text and turns -------------------------------------------------------------------

    def _text(self, message: BrowserText) -> None:
        """A user message while connected; otherwise ``error`` says to connect."""
        if not self._widget.client.is_connected():
            self._widget.error = "not connected: press Connect first"
            return
        self._widget.client.send_user_message_content(message["text"])

    def _mcp_approval(self, message: BrowserMcpApproval) -> None:
        """The approve or deny button of an MCP approval request's card."""
        client = self._widget.client
        try:
            client.mcp_approvals.answer(message["request_id"], message["approve"])
        except UsageError as exc:
            logger.warning("could not answer the MCP approval request: %s", exc)
            return
        request = client.conversation.get_item(message["request_id"])
        if request is not None:
            self._items.put(request)

    def _ptt_start(self, message: Any) -> None:
        self._turns.press()

    def _ptt_stop(self, message: Any) -> None:
        self._turns.release()

    # -- the connection and pages ---------------------------------------------------------

    def _connect(self, message: Any) -> None:
        """:meth:`WidgetHost.connect` as a task on the home loop (no cell stays busy)."""
        if self._widget.client.is_connected():
            self._widget.connection = "connected"
            return
        self._home.spawn(self._widget.connect(), "connect")

    def _disconnect(self, message: Any) -> None:
        self._widget.disconnect()

    def _hello(self, message: Any) -> None:
        """A page starts: the whole items list if it lacks a change, then a ``snapshot`` (what
        streamed since, and the samples sent of each item whose audio still streams), and
        the event log, and ``turn_detection`` follows the client's session again."""
        summaries = self._items.catch_up()
        sent = self._playback.open_items()
        log = self._activity.snapshot()
        self._send({"type": "snapshot", "items": summaries, "audio_sent": sent, "log": log})
        self._turns.follow()

    # -- what a user keeps ----------------------------------------------------------------

    def _transcript(self, message: BrowserTranscript) -> None:
        """The conversation's transcript in the format asked (see :func:`transcript`)."""
        text = transcript(self._widget.client.get_conversation_items(), message["format"])
        self._send({"type": "transcript", "format": message["format"], "text": text})

    def _item_audio(self, message: BrowserItemAsk) -> None:
        """The item's audio, as one PCM16 buffer; ``error`` says why when there is none."""
        item_id = message["item_id"]
        try:
            pcm = item_pcm(self._widget.client.conversation.get_item(item_id), item_id)
        except UsageError as exc:
            self._widget.error = str(exc)
            return
        data = pcm.astype("<i2", copy=False).tobytes()
        purpose = message["purpose"]
        self._send({"type": "item_audio", "item_id": item_id, "purpose": purpose}, [data])

    def _item_images(self, message: BrowserItemAsk) -> None:
        item = self._widget.client.conversation.get_item(message["item_id"])
        urls = item_images(item)
        self._send({"type": "item_images", "item_id": message["item_id"], "urls": urls})

    def _new_conversation(self, message: Any) -> None:
        self._widget.new_conversation()

    def _check_mic(self, message: Any) -> None:
        """A page starts while ``mic`` reads on (a reload, or a second page): ask every page,
        and set ``mic`` off unless one answers ``mic_held`` in time."""
        if self._widget.mic not in ("on", "starting"):
            return
        self._mic_held = False
        if self._mic_check is not None:
            self._mic_check.cancel()
        self._send({"type": "mic_check"})
        self._mic_check = self._home.call_later(self._mic_check_seconds, self._end_mic_check)

    def _mic_is_held(self, message: Any) -> None:
        self._mic_held = True

    def _end_mic_check(self) -> None:
        self._mic_check = None
        if not self._mic_held and self._widget.mic in ("on", "starting"):
            self._widget.mic = "off"  # no page captures: a reloaded page left it on
