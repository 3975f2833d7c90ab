"""`RealtimeAPI`: the websocket pump between a realtime server and the event handler.

Rules:

- ``await connect()`` opens the socket (typed :class:`ConnectError` subclasses on failure)
  and starts the pump: a reader that parses each frame and dispatches it as
  ``server.<type>``, a writer that drains the send queue and, unless ``ping_timeout`` is
  ``None``, a watchdog of the writes. References to all are kept and all are cancelled on
  close. One connection at a time: ``connect()`` while connected or while another
  ``connect()`` is under way raises :class:`UsageError`; ``disconnect()`` during the
  handshake makes that ``connect()`` close what it opened and raise :class:`ConnectError`.
- ``send(type, payload)`` is synchronous: it adds an ``event_id``, serialises the event
  once, dispatches it as ``client.<type>`` and queues it for the writer. It refuses, with
  nothing dispatched and nothing queued: a payload that is not JSON and an event over
  ``max_frame_bytes`` (:class:`UsageError`), an event that would take the bytes waiting to
  be written beyond ``max_send_queue_bytes`` (:class:`UsageError`: the server is not keeping
  up; the same event may be sent again once the queue drains), and any event when not
  connected: :class:`ConnectionClosedError` with the close code and reason when the server
  or the transport ended the connection, else :class:`UsageError`.
- A frame that cannot be understood (binary, invalid JSON, JSON nested too deeply or holding
  a number too long to convert, not an object, no ``type``) never ends the session: it is
  dispatched as ``error`` with a :class:`ProtocolError`.
- Only the loss of the transport ends the reader; it then dispatches ``close`` with the
  code, the reason, whether the close was an error (any code but 1000) and the
  :class:`ConnectionClosedError` for it (``exception``, a clean close included). A failure
  of the pump itself closes the socket with code 1011 first; so does a server that answers
  no ping within ``ping_timeout`` (reason ``keepalive ping timeout``) or that takes none of
  the bytes waiting to be written for ``ping_timeout`` seconds (the socket's buffers full,
  when its pings cannot get through either).
- ``disconnect()`` closes the socket and cancels the tasks; it returns a future that
  resolves when the socket is closed, which the caller may await or ignore.
- The real service (``wss://`` to OpenAI's or Azure OpenAI's hosts) needs a key: with none
  (none given, none in ``$OPENAI_API_KEY``, no ``Authorization`` or ``api-key`` in
  ``headers``, no credential in the URL) ``connect()`` raises :class:`MissingKeyError`
  before anything touches the network.
- The API key goes into one request header and nowhere else: not in the URL, reprs or logs.
  Credentials in the URL itself (``?token=``, ``?api-key=``, a password) are used to
  connect but shown as ``<redacted>`` wherever the URL is displayed: ``url``, reprs, log
  lines and error messages.
- :attr:`RealtimeAPI.redactor` knows every credential the connection sends (the key, each
  value of ``headers``, the URL's credentials, and ``$OPENAI_API_KEY``) and blanks them in
  every received event before it is dispatched, in close reasons, error messages and log
  lines (websockets' own included). What the client sends is dispatched as sent.
- Credentials never follow a redirect to another origin: when the handshake carries any (the
  key or ``headers``), such a redirect fails (:mod:`realtime_widget.client.handshake`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from realtime_widget.audio.utils import generate_id
from realtime_widget.client.handshake import DEFAULT_URL, environment_key_allowed, open_socket
from realtime_widget.client.options import positive_limit
from realtime_widget.core.errors import (
    ConnectError,
    ConnectionClosedError,
    InvalidEventError,
    MissingKeyError,
    ProtocolError,
    UsageError,
)
from realtime_widget.core.events import RealtimeEventHandler
from realtime_widget.core.frames import FrameError, event_text, parse_frame
from realtime_widget.core.protocol import (
    BETA_HEADER,
    DEFAULT_MODEL,
    Dialect,
    ErrorEvent,
    TransportCloseEvent,
)
from realtime_widget.core.redaction import Redactor, redact, url_credentials

__all__ = ["DEFAULT_URL", "RealtimeAPI"]

logger = logging.getLogger("realtime_widget.api")

DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_SEND_QUEUE_BYTES = 16 * 1024 * 1024  # about 4 min of 24 kHz PCM16 as base64
DEFAULT_MAX_RECEIVE_QUEUE_FRAMES = 4
DEFAULT_PING_INTERVAL = 20.0
DEFAULT_PING_TIMEOUT = 20.0
_KEY_HEADERS = {"authorization", "api-key"}
_ELIDED_FIELDS = ("audio", "delta", "image_url")
_PUMP_FAILED = "the client failed to handle a frame"


def _elide(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``event`` fit for a debug log: long payloads shortened."""
    shown = dict(event)
    for field in _ELIDED_FIELDS:
        value = shown.get(field)
        if isinstance(value, str) and len(value) > 80:
            shown[field] = f"<{len(value)} chars>"
    return shown


class RealtimeAPI(RealtimeEventHandler):
    """A websocket connection to a realtime server, dispatching events both ways.

    ``url`` defaults to the OpenAI endpoint; ``api_key`` to ``$OPENAI_API_KEY`` when ``url`` is
    ``wss://`` to OpenAI's or Azure OpenAI's hosts (no other server gets it unasked). Azure
    endpoints (``*.openai.azure.com``, or ``azure=True``) authenticate with an ``api-key``
    header and take the deployment from the URL. ``dialect="beta"`` adds the beta header;
    ``intent`` (``"transcription"``) is what a beta connection asks for in its URL.

    Limits (each an attribute of the same name):

    - ``max_frame_bytes`` (16 MiB): the largest frame either way. A bigger received frame
      closes the connection with code 1009; a bigger event is refused by :meth:`send`.
    - ``max_send_queue_bytes`` (16 MiB, about four minutes of 24 kHz audio): the most bytes
      of events waiting to be written; beyond it :meth:`send` refuses events until the
      writer catches up (:meth:`send_paced` waits for it instead). An event sent when
      nothing waits is always taken.
    - ``max_receive_queue_frames`` (4): received frames buffered before reading from the
      socket pauses, so at most this many times ``max_frame_bytes`` wait in memory.
    - ``ping_interval`` (20 s) and ``ping_timeout`` (20 s): a ping is sent every
      ``ping_interval`` seconds and the connection is closed (code 1011) when no pong comes
      within ``ping_timeout``, or when bytes wait to be written and the server takes none
      of them over a whole ``ping_timeout`` (checked every ``ping_timeout`` seconds, so
      found within twice that). ``None`` turns either off.
    - ``close_timeout`` (5 s): the most time a closing handshake may take (the server's
      answer to a close frame) before the socket is dropped.
    - ``open_timeout`` (10 s): the most time the opening handshake may take.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        model: str = DEFAULT_MODEL,
        dialect: Dialect = "ga",
        azure: bool | None = None,
        headers: Mapping[str, str] | None = None,
        debug: bool = False,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_send_queue_bytes: int = DEFAULT_MAX_SEND_QUEUE_BYTES,
        max_receive_queue_frames: int = DEFAULT_MAX_RECEIVE_QUEUE_FRAMES,
        ping_interval: float | None = DEFAULT_PING_INTERVAL,
        ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
        close_timeout: float = 5.0,
        open_timeout: float = 10.0,
        intent: str | None = None,
    ) -> None:
        super().__init__()
        if dialect not in ("ga", "beta"):
            raise UsageError(f"dialect must be 'ga' or 'beta', got {dialect!r}")
        if not isinstance(model, str) or not model:
            raise UsageError(f"model must be a non-empty string, got {model!r}")
        positive_limit("max_frame_bytes", max_frame_bytes)
        positive_limit("max_send_queue_bytes", max_send_queue_bytes)
        positive_limit("max_receive_queue_frames", max_receive_queue_frames)
        positive_limit("ping_interval", ping_interval, seconds=True, optional=True)
        positive_limit("ping_timeout", ping_timeout, seconds=True, optional=True)
        positive_limit("close_timeout", close_timeout, seconds=True)
        self.redactor = Redactor([api_key, os.environ.get("OPENAI_API_KEY")])
        self.url = url or DEFAULT_URL
        self._given_key = api_key
        self.model = model
        self.dialect: Dialect = dialect
        self.intent = intent
        host = urlsplit(self._url).hostname or ""
        self.azure = azure if azure is not None else host.endswith(".openai.azure.com")
        self.extra_headers = dict(headers or {})
        self.redactor.add(*self.extra_headers.values())
        self.debug = debug
        self.max_frame_bytes = max_frame_bytes
        self.max_send_queue_bytes = max_send_queue_bytes
        self.max_receive_queue_frames = max_receive_queue_frames
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.open_timeout = open_timeout
        self.call_id: str | None = None  # set: connect joins that call's sideband
        self._ws: ClientConnection | None = None
        self._queue: deque[str] = deque()  # the texts the writer has still to write
        self._wake_writer: asyncio.Future[None] | None = None  # while the queue is empty
        self._queued_bytes = 0  # the length of every text in _queue (they are ascii)
        self._drained = asyncio.Event()  # set while nothing waits in _queue
        self._drained.set()
        self._frames_started = 0  # frames the writer began to write: the watchdog's clock
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closing = False
        self._connecting = False
        self._abandoned = False  # disconnect() was called during the handshake
        self._failure: tuple[int, str] | None = None  # why this side ended the connection
        self._lost: tuple[int, str] | None = None  # how the last connection ended, if not by us

    def __repr__(self) -> str:
        state = "connected" if self.is_connected() else "disconnected"
        key = "set" if self._api_key else "unset"
        return f"RealtimeAPI(url={self.url!r}, model={self.model!r}, key {key}, {state})"

    @property
    def url(self) -> str:
        """The server's address as displayed: credentials in it read ``<redacted>``.

        Setting it sets the address to connect to (see :meth:`connect_url`); UsageError
        unless it is a ``ws://`` or ``wss://`` URL.
        """
        return self._shown_url

    @url.setter
    def url(self, value: str) -> None:
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise UsageError(f"url must be a ws:// or wss:// address, got {redact(value)!r}")
        self._url = value
        self._shown_url = redact(value)
        self.redactor.add(*url_credentials(value))

    # -- connection -----------------------------------------------------------------------

    def is_connected(self) -> bool:
        """Whether the socket is open and the pump running."""
        return self._ws is not None and not self._closing

    def connect_url(self) -> str:
        """The URL the socket opens (credentials included): ``model`` added to the query
        unless already there; on a beta connection with an ``intent``, ``intent`` instead
        (``?intent=transcription`` opens a beta transcription session); with :attr:`call_id`
        set, the sideband of that WebRTC call (``call_id`` in place of ``model``)."""
        parts = urlsplit(self._url)
        query = parts.query
        if self.call_id is not None:
            kept = [(k, v) for k, v in parse_qsl(query) if k not in ("model", "call_id")]
            query = urlencode([*kept, ("call_id", self.call_id)])
            return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
        added = {"model": self.model}
        if self.intent is not None and self.dialect == "beta":
            added = {"intent": self.intent}
        name = next(iter(added))
        if not self.azure and f"{name}=" not in query:
            query = f"{query}&{urlencode(added)}" if query else urlencode(added)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

    @property
    def _api_key(self) -> str | None:
        """The key given, else ``$OPENAI_API_KEY`` when the current URL may have it."""
        if self._given_key is not None:
            return self._given_key
        return os.environ.get("OPENAI_API_KEY") if environment_key_allowed(self._url) else None

    def _lacks_key(self) -> bool:
        """Whether the URL is the real service's and the handshake would carry no credential."""
        return (
            environment_key_allowed(self._url)
            and not self._api_key
            and not _KEY_HEADERS.intersection(name.lower() for name in self.extra_headers)
            and not url_credentials(self._url)
        )

    def _headers(self) -> dict[str, str]:
        """The handshake's headers; each credential among them made known to the redactor."""
        headers = dict(self.extra_headers)
        key = self._api_key
        self.redactor.add(key, *headers.values())
        if key:
            if self.azure:
                headers["api-key"] = key
            else:
                headers["Authorization"] = f"Bearer {key}"
        if self.dialect == "beta":
            headers[BETA_HEADER[0]] = BETA_HEADER[1]
        return headers

    def request_headers(self) -> dict[str, str]:
        """The headers the handshake sends, credentials included: for an HTTP request to the
        same server (a client secret's)."""
        return self._headers()

    async def connect(self) -> None:
        """Open the socket and start the pump.

        Raises UsageError when already connected or connecting, MissingKeyError when the
        real service would get no key; AuthenticationError (401/403),
        ServerUnreachableError, DNSError or ConnectTimeoutError when it cannot connect;
        ConnectError when :meth:`disconnect` was called before the handshake ended.
        """
        if self._ws is not None:
            raise UsageError("already connected: call disconnect() first")
        if self._connecting:
            raise UsageError("already connecting: await the first connect() call")
        if self._lacks_key():
            raise MissingKeyError(url=self.url)
        self._connecting = True
        self._abandoned = False
        try:
            ws = await self._open()
            if self._abandoned:
                with contextlib.suppress(Exception):
                    await ws.close()
                raise ConnectError("disconnect() was called while connecting", url=self.url)
        finally:
            self._connecting = False
        self._start(ws)

    async def _open(self) -> ClientConnection:
        """The opened socket; its failures as the ConnectError family (messages redacted)."""
        return await open_socket(
            self.connect_url(),
            shown=self.url,
            headers=self._headers(),
            credentials=bool(self._api_key or self.extra_headers),
            redactor=self.redactor,
            max_frame_bytes=self.max_frame_bytes,
            max_receive_queue_frames=self.max_receive_queue_frames,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
            open_timeout=self.open_timeout,
        )

    def _start(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._closing = False
        self._failure = None
        self._lost = None
        self._queue = deque()
        self._wake_writer = None
        self._queued_bytes = 0
        self._drained.set()
        self._reader = asyncio.create_task(self._read(ws), name="realtime-reader")
        self._writer = asyncio.create_task(self._write(ws), name="realtime-writer")
        if self.ping_timeout is not None:
            self._watchdog = asyncio.create_task(
                self._watch(ws, self.ping_timeout), name="realtime-write-watchdog"
            )
        if self.debug:
            logger.info("connected to %s", self.url)

    def disconnect(self) -> asyncio.Future[None]:
        """Close the socket and stop the pump; returns a future done once it is closed.

        Safe to call when not connected; during a :meth:`connect` it makes that call fail.
        No ``close`` event is dispatched for a disconnect asked for here.
        """
        loop = asyncio.get_event_loop()
        self._lost = None
        if self._connecting:
            self._abandoned = True
        ws = self._ws
        if ws is None:
            done: asyncio.Future[None] = loop.create_future()
            done.set_result(None)
            return done
        self._closing = True
        self._ws = None
        self._drained.set()  # nothing more will be written: wake drain()
        return asyncio.ensure_future(self._shutdown(ws))

    def _stop_tasks(self) -> list[asyncio.Task[None]]:
        tasks = [t for t in (self._writer, self._watchdog) if t is not None]
        for task in tasks:
            task.cancel()
        return tasks

    async def _shutdown(self, ws: ClientConnection) -> None:
        tasks = self._stop_tasks()
        with contextlib.suppress(Exception):
            await ws.close()
        if self._reader is not None:
            self._reader.cancel()
            tasks.append(self._reader)
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    # -- sending --------------------------------------------------------------------------

    def send(self, event_type: str, payload: Mapping[str, Any] | None = None) -> bool:
        """Queue a client event; returns ``True``.

        Adds ``event_id`` (unless the payload has one) and dispatches ``client.<type>``.
        Raises, with nothing dispatched or queued: UsageError when the payload cannot be
        serialised, when the event exceeds ``max_frame_bytes``, when the send queue is full
        (see ``max_send_queue_bytes``) or when not connected; ConnectionClosedError
        (code, reason) when the server or the transport ended the connection.
        """
        event, text = self._serialised(event_type, payload)
        self._enqueue(event, text)
        return True

    async def send_paced(self, event_type: str, payload: Mapping[str, Any] | None = None) -> bool:
        """:meth:`send`, but an event that would overfill the send queue first waits for it
        to drain (so events of any size up to ``max_frame_bytes`` go through in turn).

        Raises what :meth:`send` raises, the queue being full excepted.
        """
        event, text = self._serialised(event_type, payload)
        if self._queued_bytes + len(text) > self.max_send_queue_bytes:
            await self.drain()
            self._require_open(event_type)  # the connection may have ended meanwhile
        self._enqueue(event, text)
        return True

    def _require_open(self, event_type: str) -> None:
        if not self.is_connected():
            self.raise_if_closed(f"send {event_type!r}")
            state = "still connecting" if self._connecting else "not connected"
            raise UsageError(f"cannot send {event_type!r}: {state}")

    def _serialised(
        self, event_type: str, payload: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], str]:
        """The event and its JSON text; raises what :meth:`send` raises but a full queue."""
        self._require_open(event_type)
        if payload is not None and not isinstance(payload, Mapping):
            raise UsageError(f"payload of {event_type!r} must be a dict, got {payload!r}")
        event: dict[str, Any] = {"event_id": generate_id("evt_"), "type": event_type}
        if payload:
            event.update(payload)
        event["type"] = event_type
        try:
            text = event_text(event)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"payload of {event_type!r} is not valid json: {exc}") from None
        size = len(text)  # bytes too: event_text escapes every non-ascii character
        if size > self.max_frame_bytes:
            raise UsageError(
                f"cannot send {event_type!r}: its {size:,} bytes exceed "
                f"max_frame_bytes ({self.max_frame_bytes:,})"
            )
        return event, text

    def _enqueue(self, event: dict[str, Any], text: str) -> None:
        event_type, size, queued = event["type"], len(text), self._queued_bytes
        if queued and queued + size > self.max_send_queue_bytes:
            raise UsageError(
                f"cannot send {event_type!r} ({size:,} bytes): {queued:,} bytes wait to be "
                f"sent and max_send_queue_bytes is {self.max_send_queue_bytes:,}; "
                "the server is not keeping up"
            )
        self.dispatch(f"client.{event_type}", event)
        self._queued_bytes += size  # not queued + size: a handler may have sent meanwhile
        self._drained.clear()
        self._queue.append(text)
        wake, self._wake_writer = self._wake_writer, None
        if wake is not None and not wake.done():
            wake.set_result(None)
        if self.debug:
            logger.debug("sent %s", self.redactor(str(_elide(event))))

    @property
    def queued_bytes(self) -> int:
        """Bytes of events queued by :meth:`send` and not yet handed to the socket."""
        return self._queued_bytes

    async def drain(self) -> None:
        """Wait until every queued event has been handed to the socket, or the connection
        has ended (then the next :meth:`send` says why). Returns at once when none wait."""
        if self._queued_bytes:
            await self._drained.wait()

    def raise_if_closed(self, action: str) -> None:
        """Raise :class:`ConnectionClosedError` if the server or the transport ended the
        last connection (its code and reason; ``action`` names what cannot be done).

        Returns otherwise: while connected, before the first connection, after
        :meth:`disconnect`. A new connection forgets the old close.
        """
        if self._lost is not None and not self.is_connected():
            error = ConnectionClosedError(*self._lost)
            error.args = (f"cannot {action}: {error}",)
            raise error

    async def _write(self, ws: ClientConnection) -> None:
        """Write the queued texts in order; asleep (one future) only while none wait."""
        queue, loop = self._queue, asyncio.get_running_loop()
        while True:
            if not queue:
                self._wake_writer = loop.create_future()
                await self._wake_writer
                continue
            text = queue.popleft()
            self._queued_bytes -= len(text)
            if not self._queued_bytes:
                self._drained.set()
            self._frames_started += 1
            try:
                await ws.send(text)
            except ConnectionClosed:
                return  # the reader reports the close

    async def _watch(self, ws: ClientConnection, period: float) -> None:
        """Fail the connection when written bytes wait ``period`` seconds, none taken.

        websockets' keepalive cannot see this: once the socket's buffers are full, its
        ping waits behind the data. Between two checks with no new frame started, the
        transport's buffer only shrinks as the server takes bytes (a ping adds a few).
        """
        transport = ws.transport
        previous = (-1, 0)
        while True:
            await asyncio.sleep(period)
            current = (self._frames_started, transport.get_write_buffer_size())
            if previous[1] and current[0] == previous[0] and current[1] >= previous[1]:
                logger.warning("the server took none of %d bytes for %g s", current[1], period)
                self._failure = (1011, f"the server took no data for {period:g} s")
                transport.abort()  # no close frame can get through
                return
            previous = current

    # -- receiving ------------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        closed: ConnectionClosed | None = None
        cause: Exception | None = None
        try:
            async for frame in ws:
                self._receive(frame)
        except ConnectionClosed as exc:
            closed = exc
        except Exception as exc:  # the pump itself failed: close the socket, then report
            logger.warning("realtime socket failed: %s", self.redactor(str(exc)))
            cause = exc
            self._failure = (1011, _PUMP_FAILED)
            with contextlib.suppress(Exception):
                await ws.close(1011, _PUMP_FAILED)
        finally:
            if not self._closing:
                self._on_lost(ws, closed, cause)

    def _receive(self, frame: str | bytes) -> None:
        try:
            event = parse_frame(frame)
        except FrameError as exc:
            if exc.problem == "not_object":
                self._bad_frame(InvalidEventError(None, "<event>", "must be a json object"))
            else:
                self._bad_frame(ProtocolError(f"received {exc}"))
            return
        assert isinstance(frame, str)  # parse_frame reads text frames only
        try:
            event = self.redactor.value(event, text=frame)  # a server may echo what it was sent
        except RecursionError:
            self._bad_frame(ProtocolError("received json nested too deeply to redact"))
            return
        event_type = event.get("type")
        if not isinstance(event_type, str) or not event_type:
            self._bad_frame(InvalidEventError(None, "type", "is missing or not a string"))
            return
        if self.debug:
            logger.debug("received %s", _elide(event))
        self.dispatch(f"server.{event_type}", event)

    def _bad_frame(self, error: ProtocolError) -> None:
        logger.warning("ignored a server frame: %s", error)
        bad: ErrorEvent = {"type": "protocol_error", "error": error, "message": str(error)}
        self.dispatch("error", bad)

    def _on_lost(
        self, ws: ClientConnection, closed: ConnectionClosed | None, cause: Exception | None
    ) -> None:
        if self._failure is not None:  # this side ended it, with a close frame if it could
            code, reason = self._failure
        else:
            # the peer's close frame when there was one, else ours (1009 for a frame too big)
            frame = (closed.rcvd or closed.sent) if closed is not None else None
            code = frame.code if frame is not None else (ws.close_code or 1006)
            reason = frame.reason if frame is not None else (ws.close_reason or "")
            reason = self.redactor(reason)
        self._ws = None
        self._closing = True
        self._lost = (code, reason)
        self._stop_tasks()
        self._drained.set()  # nothing more will be written: wake drain()
        exception = ConnectionClosedError(code, reason)
        exception.__cause__ = cause
        event: TransportCloseEvent = {
            "code": code,
            "reason": reason,
            "error": code != 1000,
            "exception": exception,
            "time": datetime.now(UTC).isoformat(),
        }
        self.dispatch("close", event)
