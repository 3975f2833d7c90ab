"""WebRTC calls of the local server: the offer, the session's link and the sideband join.

``POST /v1/realtime/calls`` takes an SDP offer, as ``application/sdp`` or as
``multipart/form-data`` with the fields ``sdp`` and ``session`` (a session configuration, JSON),
and is answered ``201`` with the SDP answer and ``Location: /v1/realtime/calls/{call_id}``.
The call is one session (a GA :class:`~realtime_widget.server.connection.Connection`) whose
:class:`CallLink` gathers the client frames of the data channel ``oai-events``, of every
sideband websocket (``/v1/realtime?call_id=...``) and the microphone track, handled one at a
time in arrival order, and sends each server event to the data channel and every sideband
alike. A sideband that joins first receives ``session.created`` (the session as it is now).
Events sent before the data channel opens wait for it. The peer itself (aiortc, the
``webrtc`` extra) is :mod:`~realtime_widget.server.webrtc`'s.

A page on another origin (JupyterLab's) posts its offer itself: :func:`cross_origin` answers
the preflight ``OPTIONS`` of the calls route and adds the CORS headers (``Location`` exposed)
to every answer of that route, for an origin the server allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.core.ids import generate_id
from realtime_widget.server.connection import Connection
from realtime_widget.server.http import HttpAnswer, HttpHandler, HttpRequest
from realtime_widget.server.wire import ClientEventError

__all__ = ["CALLS_PATH", "Call", "CallLink", "Peer", "cross_origin", "parse_offer"]

logger = logging.getLogger("realtime_widget.server")

CALLS_PATH: Final = "/v1/realtime/calls"


class Peer(Protocol):
    """The media side of a call (see :mod:`~realtime_widget.server.webrtc`)."""

    async def close(self) -> None:
        """Hang up: close the peer connection and its tracks."""
        ...


def parse_offer(request: HttpRequest) -> tuple[str, Any]:
    """``(sdp, session or None)`` of a calls request; :class:`ClientEventError` when the
    body is neither an SDP offer nor a form holding one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/sdp":
        sdp, session = request.body.decode("utf-8", "replace"), None
    elif kind == "multipart/form-data":
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
        fields: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload.decode("utf-8", "replace")
        if "sdp" not in fields:
            raise ClientEventError.missing("sdp")
        sdp, session = fields["sdp"], None
        if "session" in fields:
            try:
                session = json.loads(fields["session"])
            except ValueError:
                raise ClientEventError(
                    "the session field is not JSON", code="invalid_json", param="session"
                ) from None
    else:
        raise ClientEventError(
            f"a call is created with an application/sdp or multipart/form-data body, got {kind!r}",
            code="invalid_value",
            param="content-type",
        )
    if not sdp.lstrip().startswith("v=0"):
        raise ClientEventError("the offer is not SDP (no 'v=0' line)", code="invalid_value")
    return sdp, session


def cross_origin(handler: HttpHandler, allowed: Callable[[str], bool]) -> HttpHandler:
    """``handler`` with CORS on the calls route: a preflight (``OPTIONS`` from an ``allowed``
    origin) is answered 204 with the methods and headers a page's offer uses (403 for any
    other origin); every other answer of the route to an ``allowed`` origin names it in
    ``Access-Control-Allow-Origin`` and exposes ``Location`` (the call's id). Other routes
    and requests without ``Origin`` go to ``handler`` untouched."""

    async def answer(request: HttpRequest) -> tuple[int, dict[str, Any]] | HttpAnswer:
        origin = request.headers.get("origin")
        if urlsplit(request.target).path.rstrip("/") != CALLS_PATH or origin is None:
            return await handler(request)
        if not allowed(origin):
            return 403, {"error": {"message": f"origin {origin!r} is not allowed"}}
        shared = (("Access-Control-Allow-Origin", origin), ("Vary", "Origin"))
        if request.method == "OPTIONS":
            asked = request.headers.get("access-control-request-headers", "")
            headers = [
                *shared,
                ("Access-Control-Allow-Methods", "POST, OPTIONS"),
                ("Access-Control-Allow-Headers", asked or "authorization, content-type"),
                ("Access-Control-Max-Age", "600"),
            ]
            if request.headers.get("access-control-request-private-network") == "true":
                headers.append(("Access-Control-Allow-Private-Network", "true"))
            return HttpAnswer(204, b"", "text/plain", tuple(headers))
        answered = await handler(request)
        if not isinstance(answered, HttpAnswer):
            status, body = answered
            answered = HttpAnswer(status, json.dumps(body).encode(), "application/json")
        exposed = (*shared, ("Access-Control-Expose-Headers", "Location"))
        return HttpAnswer(
            answered.status, answered.body, answered.content_type, answered.headers + exposed
        )

    return answer


class CallLink:
    """The :class:`~realtime_widget.server.connection.Link` of a call's session."""

    def __init__(self) -> None:
        self._inbox: asyncio.Queue[str | bytes | Int16Array | None] = asyncio.Queue()
        self._channel: Any = None  # an aiortc RTCDataChannel once the peer opened it
        self._pending: list[str | bytes] = []  # sent before the channel opened
        self.sidebands: set[ServerConnection] = set()
        self.hear: Callable[[Int16Array], Awaitable[None]] | None = None
        self.on_close: Callable[[], Awaitable[None]] | None = None
        self.closed = False

    def put(self, message: str | bytes) -> None:
        """A client frame, from the data channel or a sideband."""
        if not self.closed:
            self._inbox.put_nowait(message)

    def put_audio(self, samples: Int16Array) -> None:
        """24 kHz samples of the microphone track."""
        if not self.closed and samples.size:
            self._inbox.put_nowait(samples)

    def open_channel(self, channel: Any) -> None:
        """The data channel opened: events waiting for it go out first."""
        self._channel = channel
        pending, self._pending = self._pending, []
        for message in pending:
            channel.send(message)

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while (item := await self._inbox.get()) is not None:
            if isinstance(item, np.ndarray):
                if self.hear is not None:
                    try:
                        await self.hear(item)
                    except Exception:
                        logger.exception("failed to hear the call's audio")
                continue
            yield item

    async def send(self, message: str | bytes) -> None:
        if self.closed:
            raise ConnectionClosed(None, None)
        channel = self._channel
        if channel is None:
            self._pending.append(message)
        elif channel.readyState == "open":
            channel.send(message)
        for sideband in list(self.sidebands):
            with contextlib.suppress(ConnectionClosed):
                await sideband.send(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self._inbox.put_nowait(None)
        for sideband in list(self.sidebands):
            await sideband.close(code, reason)
        if self.on_close is not None:
            await self.on_close()


class Call:
    """One call: its id, its session (``connection``), its link and its peer."""

    def __init__(self, connection: Connection, link: CallLink, peer: Peer) -> None:
        self.id = generate_id("rtc_")
        self.connection = connection
        self.link = link
        self.peer = peer
        link.on_close = peer.close

    async def join(self, websocket: ServerConnection) -> None:
        """Serve a sideband websocket until it closes: it sees every event from now on."""
        created = {
            "event_id": generate_id("event_"),
            "type": "session.created",
            "session": self.connection.session.to_wire(),
        }
        with contextlib.suppress(ConnectionClosed):
            await websocket.send(json.dumps(created, separators=(",", ":")))
            self.link.sidebands.add(websocket)
            async for message in websocket:
                self.link.put(message)
        self.link.sidebands.discard(websocket)

    async def hang_up(self) -> None:
        """End the call: its session, its sidebands and its peer."""
        await self.link.close(1001, "call ended")
