"""Plain HTTP beside the WebSocket handshake, on the same port.

websockets' handshake parser takes ``GET`` requests only. :func:`http_connection` makes the
``ServerConnection`` class the server gives ``serve(create_connection=...)``: it reads the
request line of each new connection first; a ``GET`` goes on to websockets untouched (its
handshake, ``process_request`` and all), any other method is read whole with ``h11`` and
answered by the handler given, then the connection is closed (one request per connection).
websockets then sees a connection that closed before its handshake, which it drops quietly.
A request larger than :data:`MAX_REQUEST_BYTES`, or one h11 cannot read, is answered 400.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

import h11
from websockets.asyncio.server import ServerConnection

__all__ = [
    "MAX_REQUEST_BYTES",
    "HttpAnswer",
    "HttpHandler",
    "HttpRequest",
    "PlainHttp",
    "http_connection",
]

logger = logging.getLogger("realtime_widget.server")

MAX_REQUEST_BYTES: Final = 1024 * 1024
_MAX_REQUEST_LINE: Final = 8192


@dataclass(frozen=True)
class HttpRequest:
    """One plain HTTP request: ``method`` and ``target`` as sent, ``headers`` with lower-case
    names (repeated ones joined by ``, ``), the whole ``body``."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class HttpAnswer:
    """An answer that is not JSON: ``body`` of ``content_type``, with more ``headers``."""

    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


HttpHandler = Callable[[HttpRequest], Awaitable[tuple[int, dict[str, Any]] | HttpAnswer]]
"""Answers a request: ``(status, JSON object)`` or an :class:`HttpAnswer`."""


class PlainHttp:
    """What :func:`http_connection` makes: the ``ServerConnection`` class to serve with, and
    :meth:`wait_answered` for the requests still being answered."""

    def __init__(self, connection: type[ServerConnection], answering: set[asyncio.Task[None]]):
        self.connection = connection
        self._answering = answering

    async def wait_answered(self) -> None:
        """Wait until every request received has been answered."""
        if self._answering:
            await asyncio.gather(*self._answering, return_exceptions=True)


def http_connection(handler: HttpHandler) -> PlainHttp:
    """A ``ServerConnection`` class that hands requests other than ``GET`` to ``handler``,
    and a way to wait for the answers under way (websockets' own server does not know of
    them)."""
    answering: set[asyncio.Task[None]] = set()

    class PlainHttpConnection(ServerConnection):
        _head = b""
        _plain: h11.Connection | None = None
        _decided = False
        _answered = False

        def data_received(self, data: bytes) -> None:
            if self._decided:
                if self._plain is None:
                    super().data_received(data)
                else:
                    self._read_plain(data)
                return
            self._head += data
            if b"\n" not in self._head and len(self._head) < _MAX_REQUEST_LINE:
                return  # the request line is not whole yet
            self._decided = True
            head, self._head = self._head, b""
            if head.startswith(b"GET "):
                super().data_received(head)
                return
            self._plain = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_REQUEST_LINE)
            self._body = bytearray()
            self._request: h11.Request | None = None
            self._read_plain(head)

        def _read_plain(self, data: bytes) -> None:
            plain = self._plain
            assert plain is not None
            if self._answered:
                return
            plain.receive_data(data)
            while True:
                try:
                    event = plain.next_event()
                except h11.RemoteProtocolError:
                    self._answer(400, {"error": {"message": "malformed request"}})
                    return
                if event is h11.NEED_DATA:
                    return
                if isinstance(event, h11.Request):
                    self._request = event
                elif isinstance(event, h11.Data):
                    self._body += event.data
                    if len(self._body) > MAX_REQUEST_BYTES:
                        self._answer(413, {"error": {"message": "request too large"}})
                        return
                elif isinstance(event, h11.EndOfMessage):
                    self._handle()
                    return
                else:
                    return

        def _handle(self) -> None:
            request = self._request
            assert isinstance(request, h11.Request)
            headers: dict[str, str] = {}
            for name, value in request.headers:
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
            plain = HttpRequest(
                request.method.decode("ascii"),
                request.target.decode("latin-1"),
                headers,
                bytes(self._body),
            )
            task = self.loop.create_task(self._respond(plain))
            answering.add(task)  # the server's stop waits for it (see wait_answered)
            task.add_done_callback(answering.discard)

        async def _respond(self, request: HttpRequest) -> None:
            try:
                answer = await handler(request)
            except asyncio.CancelledError:
                self.transport.abort()
                raise
            except Exception:
                logger.exception("failed to answer %s %s", request.method, request.target)
                answer = 500, {"error": {"message": "the server failed"}}
            if isinstance(answer, HttpAnswer):
                self._answer(answer.status, answer)
            else:
                self._answer(*answer)

        def _answer(self, status: int, body: dict[str, Any] | HttpAnswer) -> None:
            plain = self._plain
            assert plain is not None
            self._answered = True  # nothing more is read
            if isinstance(body, HttpAnswer):
                payload, extra = body.body, [("Content-Type", body.content_type), *body.headers]
            else:
                payload, extra = json.dumps(body).encode(), [("Content-Type", "application/json")]
            headers = [
                *extra,
                ("Content-Length", str(len(payload))),
                ("Connection", "close"),
            ]
            try:
                reason = HTTPStatus(status).phrase.encode()
                data = plain.send(h11.Response(status_code=status, headers=headers, reason=reason))
                data = (data or b"") + (plain.send(h11.Data(data=payload)) or b"")
                data += plain.send(h11.EndOfMessage()) or b""
            except h11.LocalProtocolError:  # the request was unreadable: answer without h11
                data = f"HTTP/1.1 {status} \r\nConnection: close\r\n".encode()
                data += f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
            self.transport.write(data)
            self.transport.close()

    return PlainHttp(PlainHttpConnection, answering)
