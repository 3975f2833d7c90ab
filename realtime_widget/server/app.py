"""`LocalRealtimeServer`: the embedded realtime server, on a loop of its own or the caller's.

Rules:

- It listens on ``host``:``port`` (127.0.0.1 and a free port by default) and accepts the
  WebSocket paths ``/v1/realtime`` (``?model=`` names the session's model) and
  ``/openai/realtime`` (Azure-like: ``?deployment=`` is required and names the model);
  anything else is answered 404 at the handshake.
- Pages: a handshake with an ``Origin`` header (a browser page's) is answered 403 unless the
  origin is a loopback one (``http(s)://localhost``, ``127.0.0.0/8`` or ``[::1]``, any port)
  or listed in ``allow_origins`` (``"*"``: any), so that a web page the user visits cannot
  use a server on their machine. A request without ``Origin`` (the package's client, the
  ``openai`` SDK, other programs) is not a page's and passes. The origin is checked before
  the credentials.
- Credentials: on loopback none are needed unless ``token`` or ``api_key`` is given. Bound
  to any other address, a token is required: a random one is generated when none is given
  (see :attr:`LocalRealtimeServer.token`). An empty ``token`` or ``api_key`` is refused
  (``ValueError``). A request shows a credential as ``Authorization: Bearer X``,
  ``api-key: X``, ``?token=X`` or the browser subprotocol ``openai-insecure-api-key.X``;
  when credentials are required and none matches, the handshake is answered 401. An empty
  credential never matches.
- :attr:`LocalRealtimeServer.url` is an address a client on this machine can use: the bound
  host, or loopback when bound to all interfaces (``0.0.0.0``, ``::``).
- Dialect: beta when the request carries ``OpenAI-Beta: realtime=v1`` (or the subprotocol
  ``openai-beta.realtime-v1``), else GA.
- ``pace``: ``"realtime"`` sends audio as it would play, ``"fast"`` as fast as possible, a
  number is a speed factor (2.0 = twice real time).
- :meth:`LocalRealtimeServer.start_in_thread` runs the server on its own event loop in a
  daemon thread, so it keeps serving while the caller's loop (a notebook kernel's) is busy;
  :meth:`LocalRealtimeServer.stop_thread` stops it from any thread.
- Testing aids: :attr:`connections`, :meth:`send_raw`, :meth:`close_connections`,
  :meth:`break_connections` (a frame cut in half, then the socket dropped: close code 1006
  for the client), :attr:`stall_responses` (responses started while it is set send their
  first chunk and then hang until cancelled), :meth:`wait_for_connection` and each
  connection's ``received`` log. They act on the server's own loop; from another thread
  use :meth:`call_in_thread`.
- :attr:`LocalRealtimeServer.frame_observers` (a testing aid, empty by default): callables
  given every frame each connection receives and sends, as it crossed the socket (see
  :class:`~realtime_widget.server.connection.Connection`). Add or remove them at any time,
  from the server's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import ipaddress
import secrets
import threading
from collections.abc import Awaitable, Iterable, Sequence
from http import HTTPStatus
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from realtime_widget.core.protocol import DEFAULT_MODEL, Dialect
from realtime_widget.core.redaction import RedactingLogger, Redactor
from realtime_widget.server.connection import Connection, ConnectionOptions, FrameObserver
from realtime_widget.server.knowledge import validate_knowledge
from realtime_widget.server.records import check_budget
from realtime_widget.server.voice import VoiceSupport, announce_fallback

__all__ = ["LocalRealtimeServer", "Pace", "serve_in_thread"]

Pace = Literal["realtime", "fast"] | float
T = TypeVar("T")

_PATHS = ("/v1/realtime", "/openai/realtime")
_KEY_PROTOCOL = "openai-insecure-api-key."
_BETA_PROTOCOL = "openai-beta.realtime-v1"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _normal_origin(text: str) -> str | None:
    """``scheme://host[:port]`` as browsers send it (lower case, no default port) for an
    http(s) origin, else None."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme.lower() not in _DEFAULT_PORTS or not host or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    scheme = parts.scheme.lower()
    shown = f"[{host}]" if ":" in host else host
    return (
        f"{scheme}://{shown}"
        if port in (None, _DEFAULT_PORTS[scheme])
        else f"{scheme}://{shown}:{port}"
    )


def _allowed_origins(value: Iterable[str] | Literal["*"] | None) -> frozenset[str] | None:
    """The normalised origins ``value`` lists (None: any origin)."""
    if value is None:
        return frozenset()
    if isinstance(value, str) and value.strip() == "*":
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(f"allow_origins must be a list of origins or '*', got {value!r}")
    origins: set[str] = set()
    for origin in value:
        if isinstance(origin, str) and origin.strip() == "*":
            return None
        normal = _normal_origin(origin) if isinstance(origin, str) else None
        if normal is None:
            raise ValueError(
                f"allow_origins: {origin!r} is not an origin such as 'https://lab.example.org:8443'"
            )
        origins.add(normal)
    return frozenset(origins)


def _pace_factor(pace: Pace) -> float | None:
    if pace == "fast":
        return None
    if pace == "realtime":
        return 1.0
    if isinstance(pace, bool) or not isinstance(pace, int | float) or pace <= 0:
        raise ValueError(f"pace must be 'realtime', 'fast' or a positive number, got {pace!r}")
    return float(pace)


def _offered_protocols(headers: Headers) -> list[str]:
    return [
        value.strip()
        for header in headers.get_all("Sec-WebSocket-Protocol")
        for value in header.split(",")
        if value.strip()
    ]


def _check_credential(name: str, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def _presented_credentials(request: Request, query: dict[str, list[str]]) -> list[str]:
    """Every credential the request shows, empty ones left out."""
    found: list[str] = []
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        found.append(authorization[7:].strip())
    found.extend(request.headers.get_all("api-key"))
    found.extend(query.get("token", []))
    found.extend(
        p[len(_KEY_PROTOCOL) :]
        for p in _offered_protocols(request.headers)
        if p.startswith(_KEY_PROTOCOL)
    )
    return [credential for credential in found if credential]


class LocalRealtimeServer:
    """A realtime server speaking the Realtime API protocol with a deterministic model.

    ``port`` is 0 (any free port) to 65535 and ``token`` / ``api_key`` are non-empty
    (``ValueError`` otherwise). ``knowledge`` (seed-format scripts) is validated here
    (``ValueError`` when malformed).
    ``max_session_seconds`` ends each session after that long (error ``session_expired``,
    close code 1001). ``chunk_ms`` is the duration of each audio delta. ``record_limit``
    (entries) and ``record_bytes`` (bytes of frames, 4 MiB by default) cap each connection's
    ``received`` log. ``trace`` (a measuring aid) makes each connection keep ``trace``: its
    events in and out with ``time.time()`` stamps, capped the same way. ``allow_origins``
    lists the browser origins allowed besides loopback ones (``"*"``: any; ``ValueError``
    for a value that is not an origin such as ``"https://lab.example.org:8443"``). ``voice``
    is the real speech to use (see :class:`~realtime_widget.server.voice.VoiceSupport`): by
    default what is installed, pocketsphinx hearing and espeak-ng speaking; what is missing is
    said once as a log warning (:attr:`voice_fallback`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        pace: Pace = "realtime",
        token: str | None = None,
        api_key: str | None = None,
        knowledge: Any = None,
        max_frame_bytes: int = 16 * 1024 * 1024,
        max_session_seconds: float | None = None,
        chunk_ms: int = 100,
        model: str = DEFAULT_MODEL,
        record_limit: int = 10_000,
        record_bytes: int = 4 * 1024 * 1024,
        trace: bool = False,
        allow_origins: Sequence[str] | Literal["*"] | None = None,
        voice: VoiceSupport | None = None,
    ) -> None:
        self.host = "127.0.0.1" if host == "localhost" else host
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port!r}")
        self._requested_port = port
        self.pace = _pace_factor(pace)
        _check_credential("token", token)
        _check_credential("api_key", api_key)
        if token is None and not _is_loopback(self.host):
            token = secrets.token_urlsafe(24)
        self.token = token
        self.api_key = api_key
        self._knowledge = validate_knowledge(knowledge) if knowledge is not None else None
        self.voice = voice if voice is not None else VoiceSupport.detect()
        self.voice_fallback = announce_fallback(self.voice)
        self.max_frame_bytes = max_frame_bytes
        self.model = model
        if chunk_ms <= 0:
            raise ValueError(f"chunk_ms must be positive, got {chunk_ms!r}")
        self._origins = _allowed_origins(allow_origins)
        self.frame_observers: list[FrameObserver] = []
        self._options = ConnectionOptions(
            pace=self.pace,
            chunk_ms=chunk_ms,
            max_session_seconds=max_session_seconds,
            record_limit=check_budget("record_limit", record_limit),
            record_bytes=check_budget("record_bytes", record_bytes),
            knowledge=lambda: self._knowledge,
            stall=lambda: self.stall_responses,
            trace=trace,
            voice=self.voice,
            observers=self.frame_observers,
        )
        self.stall_responses = False
        self._server: Server | None = None
        self._port: int | None = None
        self.connections: list[Connection] = []
        self._connection_waiters: list[asyncio.Future[Connection]] = []
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # -- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (valid once started)."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def listens_everywhere(self) -> bool:
        """Whether the server is bound to all interfaces (``0.0.0.0``, ``::`` or ``""``)."""
        return self.host in ("", "0.0.0.0", "::")

    @property
    def url(self) -> str:
        """``ws://host:port/v1/realtime`` (valid once started), the host a client on this
        machine can reach: loopback when bound to all interfaces. The token is not
        included."""
        host = self.host
        if self.listens_everywhere:
            host = "::1" if host == "::" else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"ws://{host}:{self.port}/v1/realtime"

    @property
    def requires_credentials(self) -> bool:
        return self.token is not None or self.api_key is not None

    def set_knowledge(self, knowledge: Any) -> None:
        """Replace the server's knowledge scripts (``None`` removes them); live sessions too."""
        self._knowledge = validate_knowledge(knowledge) if knowledge is not None else None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> LocalRealtimeServer:
        """Bind and start accepting connections. Returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the server is already started")
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression=None,
            max_size=self.max_frame_bytes,
            ping_interval=None,
            close_timeout=2,
            logger=RedactingLogger(
                "realtime_widget.server.websockets", Redactor([self.token, self.api_key])
            ),
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        """Close every connection (code 1001) and stop listening."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()

    async def __aenter__(self) -> LocalRealtimeServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- thread mode -----------------------------------------------------------------

    def start_in_thread(self, timeout: float = 10.0) -> LocalRealtimeServer:
        """Run the server on a new event loop in a daemon thread; returns once it listens."""
        if self._thread is not None:
            raise RuntimeError("the server already runs in a thread")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                ready.set_exception(exc)
                loop.close()
                return
            ready.set_result(None)
            try:
                loop.run_forever()
            finally:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self._thread = threading.Thread(target=main, name="realtime-widget-server", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout)
        except BaseException:
            self._thread = None
            raise
        return self

    def call_in_thread(self, awaitable: Awaitable[T], timeout: float | None = 10.0) -> T:
        """Run ``awaitable`` on the server's thread loop and return its result (any thread)."""
        loop = self._thread_loop
        if loop is None or self._thread is None:
            raise RuntimeError("the server does not run in a thread")

        async def wrapper() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapper(), loop).result(timeout)

    def stop_thread(self, timeout: float = 10.0) -> None:
        """Stop a server started with :meth:`start_in_thread` (safe from any thread, idempotent)."""
        thread, loop = self._thread, self._thread_loop
        if thread is None or loop is None:
            return
        if loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self._thread_loop = None

    # -- handshake -----------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        path = parts.path.rstrip("/")
        if path not in _PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        query = parse_qs(parts.query)
        if path == "/openai/realtime" and not query.get("deployment"):
            return connection.respond(HTTPStatus.BAD_REQUEST, "missing deployment\n")
        for origin in request.headers.get_all("Origin"):
            if not self._origin_allowed(origin):
                return connection.respond(
                    HTTPStatus.FORBIDDEN,
                    f"origin {origin!r} is not allowed: pages may connect only from loopback "
                    "origins (http(s)://localhost, 127.0.0.0/8, [::1]); allow this one with "
                    f"LocalRealtimeServer(allow_origins=[{origin!r}]) or --allow-origin {origin}\n",
                )
        if self.requires_credentials:
            accepted = [c for c in (self.token, self.api_key) if c]
            presented = _presented_credentials(request, query)
            if not any(
                hmac.compare_digest(p.encode(), a.encode()) for p in presented for a in accepted
            ):
                return connection.respond(
                    HTTPStatus.UNAUTHORIZED, "invalid or missing credentials\n"
                )
        return None

    def _origin_allowed(self, origin: str) -> bool:
        if self._origins is None:
            return True
        normal = _normal_origin(origin)
        if normal is None:  # "null" (a sandboxed frame, a file:// page) or not http(s)
            return False
        host = urlsplit(normal).hostname or ""
        return _is_loopback(host) or normal in self._origins

    @staticmethod
    def _select_subprotocol(
        connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        return Subprotocol("realtime") if "realtime" in subprotocols else None

    @staticmethod
    def _dialect(request: Request) -> Dialect:
        beta = any("realtime=v1" in v for v in request.headers.get_all("OpenAI-Beta"))
        if beta or _BETA_PROTOCOL in _offered_protocols(request.headers):
            return "beta"
        return "ga"

    async def _handle(self, websocket: ServerConnection) -> None:
        request = websocket.request
        assert request is not None
        query = parse_qs(urlsplit(request.path).query)
        model = (query.get("deployment") or query.get("model") or [self.model])[0]
        connection = Connection(
            websocket, dialect=self._dialect(request), model=model, options=self._options
        )
        self.connections.append(connection)
        for waiter in self._connection_waiters:
            if not waiter.done():
                waiter.set_result(connection)
        self._connection_waiters.clear()
        try:
            await connection.run()
        finally:
            self.connections.remove(connection)

    # -- testing aids -----------------------------------------------------------------

    async def send_raw(self, data: str | bytes, connection: Connection | None = None) -> None:
        """Send ``data`` as one frame to ``connection`` (default: every open connection)."""
        targets = [connection] if connection is not None else list(self.connections)
        await asyncio.gather(*(c.send_raw(data) for c in targets))

    async def close_connections(self, code: int = 1011, reason: str = "") -> None:
        """Close every open connection with ``code`` and ``reason``."""
        await asyncio.gather(*(c.websocket.close(code, reason) for c in list(self.connections)))

    async def break_connections(self) -> None:
        """Cut every open connection mid-frame, without a close frame (the client sees 1006)."""
        await asyncio.gather(*(c.break_transport() for c in list(self.connections)))

    async def wait_for_connection(self, timeout: float = 5.0) -> Connection:
        """The newest open connection, waiting up to ``timeout`` seconds for one."""
        if self.connections:
            return self.connections[-1]
        future: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()
        self._connection_waiters.append(future)
        async with asyncio.timeout(timeout):
            return await future


def serve_in_thread(host: str = "127.0.0.1", port: int = 0, **options: Any) -> LocalRealtimeServer:
    """A :class:`LocalRealtimeServer` started on its own loop in a daemon thread.

    Keyword options are the constructor's. Stop it with ``server.stop_thread()``.
    """
    return LocalRealtimeServer(host, port, **options).start_in_thread()
