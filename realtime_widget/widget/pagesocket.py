"""`PageSocket`: a websocket on this machine between the widget's pages and the kernel.

Pages and kernel talk by the comm: through the Jupyter server and ZeroMQ. Two costs of that
road fall on the audio. A Jupyter kernel publishes a ``busy`` and an ``idle`` status around
each message a page sends, so with the microphone on (a chunk every 80 ms) its status
changes 25 times a second, and JupyterLab answers every change on the page's main thread
(it swaps the page's favicon and redraws the toolbar's kernel status): work the model's
audio waits behind there. And the kernel's messages leave through its IOPub thread, which
needs the interpreter's lock the kernel's loop holds while it handles the server's events:
an answer's first audio, which comes in a burst of such events, waits up to several
switch intervals (5 ms each) before it even leaves the kernel. A page served from this
machine talks over this socket instead, from the kernel's loop itself: its messages to the
kernel, and the kernel's audio, ``audio_done`` and ``interrupt`` (:data:`AUDIO_PATH`) to
it. Everything else, the widget's state included, still goes by the comm.

Each page, on its own:

1. The page says ``probe {id}`` and ``hello`` (comm). The kernel starts the socket if it
   has not (on ``127.0.0.1``, a free port) and answers ``page_socket {url}`` (comm). The
   URL's path is a random token made for this widget, so only its pages can connect; it is
   never put in the widget's state (which notebooks save).
2. A page whose own address is this machine (``localhost``, ``127.0.0.1``, ``[::1]``) opens
   ``url?page=<id>``; any other path is refused (HTTP 403). The kernel answers a text frame
   ``{"type": "ready"}``. Elsewhere (a remote Jupyter server, VS Code, Colab) the page never
   tries, and keeps the comm.
3. The page sends ``socket_switch {id}`` by the comm, then every message over the socket:
   microphone chunks as binary frames (raw PCM16, as the ``audio`` message's buffer), the
   others as JSON text frames. What the socket brings before the comm brings
   ``socket_switch`` is held, so nothing the page sent by the comm earlier is overtaken.
4. Handling ``socket_switch``, the kernel sends ``comm_off {id}`` by the comm, then the
   page's audio path over the socket: a message with a buffer as a binary frame (a 4-byte
   little-endian length, the message's JSON, the buffer), one without as a JSON text frame.
   The page holds what its socket brings until ``comm_off`` comes, and from then on ignores
   the audio path on the comm (which carries it still while any page probed but has no
   socket).
5. When the socket closes, both sides go back to the comm: the page sends by it, and the
   kernel sends the audio path by it while no page is switched (or a page without a socket
   probed). A page that does not read its socket is closed and heard by the comm.

What a page sends is handled as the comm's message would be (``receive``: checked, then
done); a text frame that is not JSON is logged and dropped. The widget's only module, with
``widget``, that binds an I/O library (websockets).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import struct
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from realtime_widget.widget.messages import MAX_AUDIO_BYTES, KernelMessage, SendMessage
from realtime_widget.widget.wire import (
    BrowserProbe,
    BrowserSocketSwitch,
    CommOffMessage,
    PageSocketMessage,
    is_page_id,
)

__all__ = ["AUDIO_PATH", "MAX_HELD_FRAMES", "MAX_OUTBOX_FRAMES", "PageSocket"]

AUDIO_PATH: Final = frozenset({"audio", "audio_done", "interrupt"})  # kernel to page, by socket
MAX_HELD_FRAMES: Final = 1024  # frames held for a page whose switch has not come: ~80 s of mic
MAX_OUTBOX_FRAMES: Final = 4096  # frames waiting for a page that does not read: it is let go
_MAX_COMM_PAGES: Final = 64  # pages known by their probe, without a socket
_MAX_TEXT_BYTES: Final = 256 * 1024  # a text frame: a message as the comm would carry it
_READY: Final = json.dumps({"type": "ready"})

logger = logging.getLogger("realtime_widget.widget")

Receive = Callable[[object, list[Any]], None]  # a page's message: (content, buffers)
Spawn = Callable[[Coroutine[Any, Any, Any], str], None]


@dataclass
class _Page:
    """One page's socket: what it sent before its switch came by the comm, and what waits
    to be written to it."""

    connection: ServerConnection
    held: list[bytes | str] | None = field(default_factory=list)  # None once switched
    outbox: deque[bytes | str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # it did not read: its close, not its writer's (held here so the task is not collected)
    closing: asyncio.Future[None] | None = None


class PageSocket:
    """The widget's page socket. ``receive(content, buffers)`` handles a page's message as the
    comm hands it over; ``send`` reaches the pages by the comm; ``scrub`` takes credentials
    out of what goes over the socket. Off with ``enabled=False``."""

    def __init__(
        self,
        receive: Receive,
        send: SendMessage,
        scrub: Callable[[Any], Any],
        *,
        enabled: bool = True,
    ) -> None:
        self._receive = receive
        self._send = send
        self._scrub = scrub
        self.enabled = enabled
        self._token = secrets.token_urlsafe(24)
        self._server: Server | None = None
        self._starting = False
        self._closed = False
        self._pages: dict[str, _Page] = {}  # pages with a socket, switched or not
        self._switched: dict[str, _Page] = {}  # those that get the audio path over it
        self._comm_pages: dict[str, None] = {}  # probed, without a socket: oldest first
        self.messages = 0  # messages handled that came over a socket

    @property
    def port(self) -> int | None:
        """The port listened on, ``None`` before the first page's ``hello`` (or when off)."""
        if self._server is None:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def pages(self) -> int:
        """The pages connected now."""
        return len(self._pages)

    def take_over(self, handlers: dict[str, Callable[[Any], None]], spawn: Spawn) -> None:
        """In ``handlers`` (a :class:`BrowserMessages`' table): note each page's ``probe``,
        answer each ``hello`` with the socket's URL (:meth:`offer`), take ``socket_switch``."""
        probe, hello = handlers["probe"], handlers["hello"]

        def probe_and_note(message: BrowserProbe) -> None:
            probe(message)
            self._by_comm(message["id"])

        def hello_then_offer(message: Any) -> None:
            hello(message)
            self.offer(spawn)

        handlers["probe"] = probe_and_note
        handlers["hello"] = hello_then_offer
        handlers["socket_switch"] = self.switched

    def offer(self, spawn: Spawn) -> None:
        """A page said ``hello``: start the socket (a task given to ``spawn``) if it is not,
        then tell the pages where it is."""
        if not self.enabled or self._closed:
            return
        if self._server is not None:
            self._send_url()
        elif not self._starting:
            self._starting = True
            spawn(self._start(), "page socket")

    def deliver(self, message: KernelMessage, buffers: list[bytes] | None) -> bool:
        """Send ``message`` to the switched pages' sockets if it is on the audio path;
        returns whether the comm must carry it too (to pages without a socket)."""
        if message["type"] not in AUDIO_PATH or not self._switched:
            return True
        frame = _frame(self._scrub(message), buffers)
        for page_id, page in list(self._switched.items()):
            if len(page.outbox) < MAX_OUTBOX_FRAMES:
                page.outbox.append(frame)
                page.wake.set()
                continue
            logger.warning("page %s does not read its socket: closed, back to the comm", page_id)
            del self._switched[page_id]
            self._by_comm(page_id)
            page.outbox.clear()
            # Not through the writer: it may be waiting for the page to read.
            reason = "the page does not read its socket"
            page.closing = asyncio.ensure_future(page.connection.close(1008, reason))
        return bool(self._comm_pages)

    def switched(self, message: BrowserSocketSwitch) -> None:
        """The comm brought ``socket_switch``: what the page's socket held, then the rest,
        and the page's audio path goes over its socket (after ``comm_off``)."""
        page_id = message["id"]
        page = self._pages.get(page_id)
        if page is None:
            logger.info("socket_switch from page %s, which has no socket", page_id)
            return
        self._release(page)
        self._comm_pages.pop(page_id, None)
        off: CommOffMessage = {"type": "comm_off", "id": page_id}
        self._send(off)
        self._switched[page_id] = page

    def close(self) -> None:
        """Stop listening and close the pages' sockets (they go back to the comm)."""
        self._closed = True
        self._switched.clear()
        if self._server is not None:
            self._server.close()
            self._server = None

    # -- the socket -----------------------------------------------------------------------

    async def _start(self) -> None:
        try:
            server = await serve(
                self._serve,
                "127.0.0.1",
                0,
                process_request=self._check,
                max_size=max(MAX_AUDIO_BYTES, _MAX_TEXT_BYTES),
                compression=None,
                logger=logger,
            )
        finally:
            self._starting = False
        if self._closed:
            server.close()
            return
        self._server = server
        self._send_url()

    def _send_url(self) -> None:
        url = f"ws://127.0.0.1:{self.port}/{self._token}"
        message: PageSocketMessage = {"type": "page_socket", "url": url}
        self._send(message)

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse (before the handshake) a path without this widget's token or a page id."""
        parts = urlsplit(request.path)
        if not hmac.compare_digest(parts.path.encode(), f"/{self._token}".encode()):
            return connection.respond(HTTPStatus.FORBIDDEN, "not a page of this widget\n")
        if not is_page_id(_page_of(request.path)):
            return connection.respond(HTTPStatus.BAD_REQUEST, "page must name the page\n")
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        page_id = _page_of(connection.request.path if connection.request else "")
        page = _Page(connection)
        previous = self._pages.get(page_id)
        self._pages[page_id] = page
        if previous is not None:
            self._release(previous)  # the same page again: its old socket's frames first
            self._switched.pop(page_id, None)
        writer = asyncio.ensure_future(self._write(page))
        try:
            await connection.send(_READY)
            async for frame in connection:
                if page.held is not None and len(page.held) >= MAX_HELD_FRAMES:
                    logger.warning(
                        "page %s: no socket_switch after %d frames", page_id, MAX_HELD_FRAMES
                    )
                    self._release(page)
                if page.held is None:
                    self._handle(frame)
                else:
                    page.held.append(frame)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            if self._pages.get(page_id) is page:
                # A page closes its socket as it goes (a reload, its view's end): it is not
                # one to keep the comm carrying the audio for. With no page switched, the
                # comm carries it to every page.
                del self._pages[page_id]
                self._switched.pop(page_id, None)
            self._release(page)

    async def _write(self, page: _Page) -> None:
        connection, outbox = page.connection, page.outbox
        while True:
            await page.wake.wait()
            page.wake.clear()
            while outbox:
                try:
                    await connection.send(outbox.popleft())
                except ConnectionClosed:
                    return

    def _by_comm(self, page_id: str) -> None:
        """``page_id`` hears the audio path by the comm (the newest of those kept)."""
        comm_pages = self._comm_pages
        comm_pages.pop(page_id, None)
        if len(comm_pages) >= _MAX_COMM_PAGES:
            del comm_pages[next(iter(comm_pages))]
        comm_pages[page_id] = None

    def _release(self, page: _Page) -> None:
        held, page.held = page.held, None
        for frame in held or ():
            self._handle(frame)

    def _handle(self, frame: bytes | str) -> None:
        self.messages += 1
        if isinstance(frame, bytes):
            self._receive({"type": "audio"}, [frame])
            return
        try:
            content = json.loads(frame)
        except ValueError as exc:
            logger.warning("ignored a page socket frame: not json (%s)", exc)
            return
        self._receive(content, [])


def _frame(message: Mapping[str, Any], buffers: list[bytes] | None) -> bytes | str:
    """``message`` as a socket frame: JSON text, or with its one buffer a binary frame."""
    text = json.dumps(message, separators=(",", ":"))
    if not buffers:
        return text
    header = text.encode()
    return b"".join((struct.pack("<I", len(header)), header, bytes(buffers[0])))


def _page_of(path: str) -> str:
    values = parse_qs(urlsplit(path).query).get("page", [])
    return values[0] if len(values) == 1 else ""
