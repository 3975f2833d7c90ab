"""`WebRtcCalls`: the widget's WebRTC transport: the page talks to the model, the kernel keeps
the tools.

Rules:

- With ``transport="webrtc"``, :meth:`WebRtcCalls.open` mints an ephemeral client secret for
  the client's session (the client's key never leaves the kernel: only the ``ek_`` secret
  goes to the page) and sends the pages a ``call`` message: the calls address beside the
  client's socket (:func:`~realtime_widget.client.secrets.calls_url`, no query, no
  credentials), the secret, a request id and the milliseconds the page has. A page showing
  the widget opens a peer connection there and answers ``call_started {request, call_id}``
  or ``call_failed {request, reason}``. The first call started is the session's: the
  client's transport gets its id (``RealtimeAPI.call_id``), so the client's connect joins
  the call's sideband and keeps the session's configuration, the conversation and the
  tools. A call started later (a second page) is hung up (``hang_up {call_id}``).
- In a call no audio passes through the kernel either way: the page's microphone goes to the
  model and the answer plays from the peer connection; barge-in and truncation are the
  server's (``output_audio_buffer.*``). So the kernel sends the pages no audio and no
  ``interrupt`` (:func:`~realtime_widget.widget.callwire.carries_audio`), drops audio a
  page sends, and turns the Stop button into ``response.cancel`` and
  ``output_audio_buffer.clear``.
- :meth:`open` returns the reason the call could not be made (no secret, a transport that
  is not the client's own websocket, every page failing, none answering within
  ``timeout`` seconds), ``None`` once the call is made: the widget then falls back to the
  websocket relay and says so. A page that starts (``hello``) while the call is asked for
  is asked again, so a connect from a cell before the view shows still makes the call; a
  page already making that call goes on with it.
- :meth:`hang_up` ends the pages' calls and forgets the call id: the next connect makes a
  new call. A call that ends by itself (its page reloaded or closed, the peer connection
  failed) closes the sideband, and the view says so: Connect makes a new call; a reconnect
  of the client's, if one follows (a sideband lost abnormally), goes through the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from realtime_widget.core.errors import RealtimeError, UsageError
from realtime_widget.core.protocol import SAMPLE_RATE
from realtime_widget.widget.callwire import (
    CALL_TIMEOUT_SECONDS,
    CallAnswer,
    CallMessage,
    HangUpMessage,
    TransportMode,
    carries_audio,
)
from realtime_widget.widget.turns import MIN_PTT_SAMPLES

if TYPE_CHECKING:
    from realtime_widget.client.api import RealtimeAPI
    from realtime_widget.client.client import RealtimeClient

__all__ = ["WebRtcCalls"]

_SLACK_SECONDS: Final = 5.0  # the kernel waits this much longer for the page's answer


class WebRtcCalls:
    """The calls of one widget's client (see the module rules), for ``mode``. Messages to the
    pages go to ``send``; ``show(transport, notice)`` tells the view which transport carries
    the audio (a notice when it is not the one asked for); ``note(reason)`` logs why a call
    could not be made. A page has ``timeout`` seconds to make a call."""

    def __init__(
        self,
        client: RealtimeClient,
        mode: TransportMode,
        send: Callable[[CallMessage | HangUpMessage], None],
        *,
        show: Callable[[TransportMode, str], None],
        note: Callable[[str], None],
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self.mode = mode
        self._send = send
        self._show = show
        self._note = note
        self.timeout = timeout
        self._request: str | None = None
        self._asking: CallMessage | None = None  # the call asked for, until a page answers
        self._answer: asyncio.Future[str] | None = None
        self.call_id: str | None = None  # the call the client joins, once made
        self._playing: str | None = None  # the response whose audio the call plays
        self._held_since: float | None = None  # a push-to-talk turn in a call began then
        if mode == "webrtc":  # a relayed session's events (every delta) pass by untouched
            client.on("realtime.event", self._output_buffer)
            client.on("close", self._closed)

    def close(self) -> None:
        """Stop following the client (once: a second call does nothing)."""
        for name, callback in (("realtime.event", self._output_buffer), ("close", self._closed)):
            with contextlib.suppress(UsageError):
                self._client.off(name, callback)

    @property
    def _api(self) -> RealtimeAPI | None:
        from realtime_widget.client.api import RealtimeAPI  # the widget's parts load no I/O

        transport = self._client.realtime
        return transport if isinstance(transport, RealtimeAPI) else None

    @property
    def in_call(self) -> bool:
        """Whether the client is joined to a page's call (no audio through the kernel)."""
        return self.call_id is not None

    def for_page(self, message: Mapping[str, Any]) -> bool:
        """Whether a kernel message goes to the pages: no relayed audio in a call."""
        return not (self.in_call and carries_audio(message))

    async def connect(self) -> None:
        """Connect the client: in ``"webrtc"`` mode through a page's call, falling back to
        the websocket relay when the call cannot be made or joined. Raises what the
        client's connect raises."""
        client = self._client
        if self.mode != "webrtc":
            await client.connect()
            return
        reason = await self.open()
        if reason is None:
            try:
                await client.connect()
            except RealtimeError as exc:
                reason = f"the call's sideband could not be joined: {exc}"
                self.hang_up()
            else:
                self._show("webrtc", "")
                return
        self._note(reason)
        await client.connect()
        self._show("websocket", f"WebRTC unavailable, the audio goes through the kernel ({reason})")

    async def open(self) -> str | None:
        """Make a call through a page; ``None`` once made (the client's transport then joins
        it), else the reason it could not be."""
        api = self._api
        if api is None:
            return "WebRTC needs the client's own websocket transport (RealtimeAPI)"
        from realtime_widget.client.secrets import calls_url

        self.hang_up()
        try:
            url = calls_url(api.connect_url())
            secret = await self._client.create_client_secret()
        except RealtimeError as exc:
            return f"no client secret for the call: {exc}"
        request = uuid.uuid4().hex
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        message: CallMessage = {
            "type": "call",
            "request": request,
            "url": url,
            "secret": secret.value,
            "timeout_ms": int(self.timeout * 1000),
        }
        self._request, self._answer, self._asking = request, answer, message
        self._send(message)
        waited = self.timeout + _SLACK_SECONDS
        try:
            async with asyncio.timeout(waited):
                call_id = await answer
        except TimeoutError:
            return f"no page made the call within {waited:g}s"
        except _CallFailed as exc:
            return str(exc)
        finally:
            self._request = self._answer = self._asking = None
        self.call_id = api.call_id = call_id
        return None

    def answered(self, message: CallAnswer) -> None:
        """A page's ``call_started`` or ``call_failed``."""
        answer = self._answer
        if answer is None or answer.done() or message["request"] != self._request:
            if message["type"] == "call_started" and message["call_id"] != self.call_id:
                self._send({"type": "hang_up", "call_id": message["call_id"]})  # not wanted
            return
        if message["type"] == "call_started":
            answer.set_result(message["call_id"])
        else:
            answer.set_exception(
                _CallFailed(f"the page could not make the call: {message['reason']}")
            )

    def take_over(
        self, handlers: dict[str, Callable[[Any], None]], heard: Callable[[int], None]
    ) -> None:
        """Route the pages' call answers here and, in a call, their audio (dropped) and Stop
        (:meth:`stop`), in ``handlers`` (a :class:`BrowserMessages`' table). A push-to-talk
        turn in a call starts on an empty input buffer (the call sends silence between
        turns) and is committed on release when long enough: its length, which the kernel
        cannot count in bytes, is told to ``heard`` as the bytes of PCM16 audio it lasted.
        A relayed session (no call ever) keeps the other handlers as they are."""
        handlers["call_started"] = handlers["call_failed"] = self.answered
        if self.mode != "webrtc":
            return
        greet = handlers["hello"]

        def hello(message: Any) -> None:
            greet(message)
            if self._asking is not None:  # a page shown after the call was asked for
                self._send(self._asking)

        handlers["hello"] = hello
        for kind, instead in (("audio", None), ("stop", self.stop), ("interrupted", self.stop)):
            handlers[kind] = self._in_call(handlers[kind], instead)
        press, release = handlers["ptt_start"], handlers["ptt_stop"]

        def ptt_start(message: Any) -> None:
            press(message)
            if self.in_call and self._client.is_connected():
                self._client.clear_input_audio()
                self._held_since = time.monotonic()

        def ptt_stop(message: Any) -> None:
            began, self._held_since = self._held_since, None
            if self.in_call and began is not None:
                samples = int((time.monotonic() - began) * SAMPLE_RATE)
                heard(samples * 2)
                if samples >= MIN_PTT_SAMPLES and self._client.is_connected():
                    self._client.realtime.send("input_audio_buffer.commit")  # the call's audio
            release(message)

        handlers["ptt_start"], handlers["ptt_stop"] = ptt_start, ptt_stop

    def _in_call(
        self, usual: Callable[[Any], None], instead: Callable[[], None] | None
    ) -> Callable[[Any], None]:
        def handle(message: Any) -> None:
            if not self.in_call:
                usual(message)
            elif instead is not None:
                instead()

        return handle

    def _closed(self, event: Mapping[str, Any]) -> None:
        """The sideband closed: the call is over (its page went, or the server ended it). A
        reconnect that follows goes through the relay."""
        if not self.in_call:
            return
        self.hang_up()
        ended = "the WebRTC call ended"
        if event.get("reconnecting"):
            self._show("websocket", f"{ended}: the audio goes through the kernel now")
        else:
            self._show("webrtc", f"{ended}: Connect for a new call")

    def _output_buffer(self, record: Mapping[str, Any]) -> None:
        """Which response's audio the call plays, from the server's ``output_audio_buffer.*``."""
        event = record.get("event")
        kind = event.get("type") if isinstance(event, Mapping) else None
        if record.get("source") != "server" or not str(kind).startswith("output_audio_buffer."):
            return
        assert isinstance(event, Mapping)
        started = kind == "output_audio_buffer.started"
        self._playing = str(event.get("response_id")) if started else None

    def stop(self) -> None:
        """The Stop button in a call: cancel the answer, and drop its audio not yet played
        (``output_audio_buffer.clear``, while the call plays some)."""
        client = self._client
        if client.is_connected():
            client.cancel_response()
            if self._playing is not None:
                client.realtime.send("output_audio_buffer.clear")

    def hang_up(self) -> None:
        """End the pages' calls; the next connect makes a new one."""
        api = self._api
        if api is not None:
            api.call_id = None
        if self.call_id is not None:
            self._send({"type": "hang_up", "call_id": None})
        self.call_id = None


class _CallFailed(Exception):
    """A page said why it could not make the call."""
