"""`RealtimeAPI`: the websocket pump between a realtime server and the event handler.

Rules:

- ``await connect()`` opens the socket (typed :class:`ConnectError` subclasses on failure)
  and starts two tasks: a reader that parses each frame and dispatches it as
  ``server.<type>``, and a writer that drains the send queue. References to both are kept
  and both are cancelled on close.
- ``send(type, payload)`` is synchronous: it adds an ``event_id``, serialises the event
  (so a payload that is not JSON fails at the call), dispatches it as ``client.<type>`` and
  queues it for the writer. It raises :class:`UsageError` when not connected.
- A frame that cannot be understood (binary, invalid JSON, not an object, no ``type``)
  never ends the session: it is dispatched as ``error`` with a :class:`ProtocolError`.
  Only the loss of the transport ends the reader; it then dispatches ``close`` with the code,
  the reason and whether the close was an error.
- ``disconnect()`` closes the socket and cancels the tasks; it returns a future that
  resolves when the socket is closed, which the caller may await or ignore.
- The API key goes into one request header and nowhere else: not in the URL, reprs or logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from .audio import generate_id
from .errors import (
    AuthenticationError,
    ConnectError,
    ConnectionClosedError,
    ConnectTimeoutError,
    DNSError,
    InvalidEventError,
    ProtocolError,
    ServerUnreachableError,
    UsageError,
)
from .events import RealtimeEventHandler
from .logs import RedactingLogger
from .protocol import BETA_HEADER, DEFAULT_MODEL, Dialect

__all__ = ["DEFAULT_URL", "RealtimeAPI"]

logger = logging.getLogger("realtime_widget.api")

DEFAULT_URL = "wss://api.openai.com/v1/realtime"
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_ELIDED_FIELDS = ("audio", "delta", "image_url")


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

    ``url`` defaults to the OpenAI endpoint; ``api_key`` to ``$OPENAI_API_KEY``. Azure
    endpoints (``*.openai.azure.com``, or ``azure=True``) authenticate with an ``api-key``
    header and take the deployment from the URL. ``dialect="beta"`` adds the beta header.
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
        open_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        if dialect not in ("ga", "beta"):
            raise UsageError(f"dialect must be 'ga' or 'beta', got {dialect!r}")
        if not isinstance(model, str) or not model:
            raise UsageError(f"model must be a non-empty string, got {model!r}")
        if max_frame_bytes <= 0:
            raise UsageError(f"max_frame_bytes must be positive, got {max_frame_bytes!r}")
        self.url = url or DEFAULT_URL
        parts = urlsplit(self.url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise UsageError(f"url must be a ws:// or wss:// address, got {self.url!r}")
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.model = model
        self.dialect: Dialect = dialect
        host = parts.hostname or ""
        self.azure = azure if azure is not None else host.endswith(".openai.azure.com")
        self.extra_headers = dict(headers or {})
        self.debug = debug
        self.max_frame_bytes = max_frame_bytes
        self.open_timeout = open_timeout
        self._ws: ClientConnection | None = None
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    def __repr__(self) -> str:
        state = "connected" if self.is_connected() else "disconnected"
        key = "set" if self._api_key else "unset"
        return f"RealtimeAPI(url={self.url!r}, model={self.model!r}, key {key}, {state})"

    # -- connection -----------------------------------------------------------------------

    def is_connected(self) -> bool:
        """Whether the socket is open and the pump running."""
        return self._ws is not None and not self._closing

    def connect_url(self) -> str:
        """The URL the socket opens: ``model`` added to the query unless already there."""
        parts = urlsplit(self.url)
        query = parts.query
        if not self.azure and "model=" not in query:
            query = (
                f"{query}&{urlencode({'model': self.model})}"
                if query
                else urlencode({"model": self.model})
            )
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

    def _headers(self) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if self._api_key:
            if self.azure:
                headers["api-key"] = self._api_key
            else:
                headers["Authorization"] = f"Bearer {self._api_key}"
        if self.dialect == "beta":
            headers[BETA_HEADER[0]] = BETA_HEADER[1]
        return headers

    async def connect(self) -> None:
        """Open the socket and start the pump.

        Raises UsageError when already connected; AuthenticationError (401/403),
        ServerUnreachableError, DNSError or ConnectTimeoutError when it cannot connect.
        """
        if self._ws is not None:
            raise UsageError("already connected: call disconnect() first")
        url = self.connect_url()
        host = urlsplit(url).hostname or ""
        try:
            ws = await connect(
                url,
                additional_headers=self._headers(),
                max_size=self.max_frame_bytes,
                open_timeout=self.open_timeout,
                compression=None,
                proxy=None if host in _LOOPBACK else True,
                user_agent_header="realtime_widget",
                logger=RedactingLogger("realtime_widget.websockets", [self._api_key]),
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AuthenticationError(
                    f"the server refused the credentials (HTTP {status}): check the api key",
                    url=self.url,
                    status=status,
                ) from None
            raise ServerUnreachableError(
                f"the server rejected the connection with HTTP {status}", url=self.url
            ) from None
        except InvalidURI as exc:
            raise UsageError(f"invalid url {self.url!r}: {exc}") from None
        except socket.gaierror as exc:
            raise DNSError(f"cannot resolve host {host!r}: {exc.strerror}", url=self.url) from None
        except TimeoutError:
            raise ConnectTimeoutError(
                f"no connection to {self.url} within {self.open_timeout:g} s", url=self.url
            ) from None
        except OSError as exc:
            raise ServerUnreachableError(
                f"cannot connect to {self.url}: {exc.strerror or exc}", url=self.url
            ) from None
        except Exception as exc:  # any other handshake failure
            raise ConnectError(f"cannot connect to {self.url}: {exc}", url=self.url) from None
        self._ws = ws
        self._closing = False
        self._queue = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(ws), name="realtime-reader")
        self._writer = asyncio.create_task(self._write(ws), name="realtime-writer")
        if self.debug:
            logger.info("connected to %s", self.url)

    def disconnect(self) -> asyncio.Future[None]:
        """Close the socket and stop the pump; returns a future done once it is closed.

        Safe to call when not connected. No ``close`` event is dispatched for a
        disconnect asked for here.
        """
        loop = asyncio.get_event_loop()
        ws = self._ws
        if ws is None:
            done: asyncio.Future[None] = loop.create_future()
            done.set_result(None)
            return done
        self._closing = True
        self._ws = None
        return asyncio.ensure_future(self._shutdown(ws))

    async def _shutdown(self, ws: ClientConnection) -> None:
        writer, reader = self._writer, self._reader
        if writer is not None:
            writer.cancel()
        with contextlib.suppress(Exception):
            await ws.close()
        if reader is not None:
            reader.cancel()
        for task in (writer, reader):
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task

    # -- sending --------------------------------------------------------------------------

    def send(self, event_type: str, payload: Mapping[str, Any] | None = None) -> bool:
        """Queue a client event; returns ``True``.

        Adds ``event_id`` (unless the payload has one) and dispatches ``client.<type>``.
        Raises UsageError when not connected or when the payload cannot be serialised.
        """
        if not self.is_connected():
            raise UsageError(f"cannot send {event_type!r}: not connected")
        if payload is not None and not isinstance(payload, Mapping):
            raise UsageError(f"payload of {event_type!r} must be a dict, got {payload!r}")
        event: dict[str, Any] = {"event_id": generate_id("evt_"), "type": event_type}
        if payload:
            event.update(payload)
        event["type"] = event_type
        try:
            text = json.dumps(event, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"payload of {event_type!r} is not valid json: {exc}") from None
        self.dispatch(f"client.{event_type}", event)
        self._queue.put_nowait(text)
        if self.debug:
            logger.debug("sent %s", _elide(event))
        return True

    async def _write(self, ws: ClientConnection) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                return
            try:
                await ws.send(text)
            except ConnectionClosed:
                return  # the reader reports the close

    # -- receiving ------------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        closed: ConnectionClosed | None = None
        try:
            async for frame in ws:
                self._receive(frame)
        except ConnectionClosed as exc:
            closed = exc
        except Exception as exc:  # the transport broke in some other way
            logger.warning("realtime socket failed: %s", exc)
        finally:
            if not self._closing:
                self._on_lost(ws, closed)

    def _receive(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            self._bad_frame(
                ProtocolError(f"received a binary frame of {len(frame)} bytes; expected json text")
            )
            return
        try:
            event = json.loads(frame)
        except json.JSONDecodeError as exc:
            self._bad_frame(ProtocolError(f"received invalid json ({exc.msg} at {exc.pos})"))
            return
        if not isinstance(event, dict):
            self._bad_frame(InvalidEventError(None, "<event>", "must be a json object"))
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
        self.dispatch("error", {"type": "protocol_error", "error": error, "message": str(error)})

    def _on_lost(self, ws: ClientConnection, closed: ConnectionClosed | None) -> None:
        # the peer's close frame when there was one, else ours (1009 for a frame too big)
        frame = (closed.rcvd or closed.sent) if closed is not None else None
        code = frame.code if frame is not None else (ws.close_code or 1006)
        reason = frame.reason if frame is not None else (ws.close_reason or "")
        self._ws = None
        self._closing = True
        if self._writer is not None:
            self._writer.cancel()
        error = code not in (1000,)
        self.dispatch(
            "close",
            {
                "code": code,
                "reason": reason,
                "error": error,
                "exception": ConnectionClosedError(code, reason) if error else None,
                "time": datetime.now(UTC).isoformat(),
            },
        )
