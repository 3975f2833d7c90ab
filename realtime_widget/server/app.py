"""`LocalRealtimeServer`: the embedded realtime server, on a loop of its own or the caller's.

Which paths, origins and credentials it accepts, and its testing aids, are in the class's
docstring. The protocol of each connection is :mod:`~realtime_widget.server.connection`'s.
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

from realtime_widget.core.checks import need_int, need_number
from realtime_widget.core.protocol import DEFAULT_MODEL, Dialect
from realtime_widget.core.redaction import RedactingLogger, Redactor
from realtime_widget.server.calls import CALLS_PATH, Call, CallLink, cross_origin, parse_offer
from realtime_widget.server.connection import Connection, ConnectionOptions, FrameObserver
from realtime_widget.server.http import HttpAnswer, HttpRequest, PlainHttp, http_connection
from realtime_widget.server.knowledge import validate_knowledge
from realtime_widget.server.records import check_budget
from realtime_widget.server.secrets import PREFIX, ClientSecrets, create_secret
from realtime_widget.server.voice import VoiceSupport, announce_fallback
from realtime_widget.server.wire import ClientEventError, http_error

__all__ = ["LocalRealtimeServer", "Pace", "serve_in_thread"]

Pace = Literal["realtime", "fast"] | float
T = TypeVar("T")

_PATHS = ("/v1/realtime", "/openai/realtime")
_SECRETS_PATH = "/v1/realtime/client_secrets"
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
    expected = "'realtime', 'fast' or a positive number"
    return float(need_number("pace", pace, expected, above=0, error=ValueError))


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

    - It listens on ``host``:``port`` (127.0.0.1 and a free port by default) and accepts the
      WebSocket paths ``/v1/realtime`` (``?model=`` names the session's model; on a beta
      connection ``?intent=transcription`` opens a transcription session) and
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
      (see :attr:`LocalRealtimeServer.token`). A request shows a credential as
      ``Authorization: Bearer X``, ``api-key: X``, ``?token=X`` or the browser subprotocol
      ``openai-insecure-api-key.X``;
      when credentials are required and none matches, the handshake is answered 401. An empty
      credential never matches.
    - Client secrets (:mod:`~realtime_widget.server.secrets`): ``POST
      /v1/realtime/client_secrets`` on the same port, with the credentials a handshake
      needs (an ``ek_`` secret is not one), issues a secret that opens its session until it
      expires; a handshake showing an ``ek_`` value the server did not issue, or one that
      has expired, is answered 401.
    - WebRTC calls (:mod:`~realtime_widget.server.calls`, the ``webrtc`` extra): ``POST
      /v1/realtime/calls`` with an SDP offer and the credentials a handshake needs (an
      ``ek_`` secret is one here, and opens its session) is answered 201 with the SDP
      answer; a websocket to ``/v1/realtime?call_id=...`` with the server's credentials (not
      an ``ek_`` secret) joins that call's session as its sideband (unknown call: 404).
      :attr:`calls` lists the calls by id; their sessions are in :attr:`connections` too.
      The calls route answers CORS (preflight included) for the pages' origins allowed.
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
        self._requested_port = need_int(
            "port", port, "between 0 and 65535", low=0, high=65535, error=ValueError
        )
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
            mcp_timeout=lambda: self.mcp_timeout,
            observers=self.frame_observers,
        )
        self.stall_responses = False
        self.mcp_timeout = 10.0  # seconds an MCP server has to answer a listing or a call
        self._server: Server | None = None
        self._http: PlainHttp | None = None
        self._port: int | None = None
        self.connections: list[Connection] = []
        self._connection_waiters: list[asyncio.Future[Connection]] = []
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self.client_secrets = ClientSecrets()
        self.calls: dict[str, Call] = {}
        self._call_tasks: set[asyncio.Task[None]] = set()

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
        self._http = http_connection(cross_origin(self._serve_http, self._origin_allowed))
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            create_connection=self._http.connection,
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
        for call in list(self.calls.values()):
            await call.hang_up()
        await asyncio.gather(*self._call_tasks, return_exceptions=True)
        server.close()
        await server.wait_closed()
        if self._http is not None:
            await self._http.wait_answered()

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
        call_id = query.get("call_id", [None])[0]
        if call_id is not None and call_id not in self.calls:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no call {call_id!r}\n")
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
        presented = _presented_credentials(request, query)
        shown = [p for p in presented if p.startswith(PREFIX)]
        if shown and call_id is not None:
            return connection.respond(
                HTTPStatus.UNAUTHORIZED, "a client secret cannot join a call's sideband\n"
            )
        if shown and not any(self.client_secrets.state(p) == "valid" for p in shown):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "client secret expired or unknown\n")
        if self.requires_credentials and not shown and not self._accepts(presented):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or missing credentials\n")
        return None

    def _accepts(self, presented: list[str]) -> bool:
        """Whether one of the ``presented`` credentials is the server's token or key."""
        accepted = [c for c in (self.token, self.api_key) if c]
        return any(hmac.compare_digest(p.encode(), a.encode()) for p in presented for a in accepted)

    async def _serve_http(self, request: HttpRequest) -> tuple[int, dict[str, Any]] | HttpAnswer:
        """A plain HTTP request (see :mod:`~realtime_widget.server.http`): client secrets
        and calls."""
        parts = urlsplit(request.target)
        path = parts.path.rstrip("/")
        if path not in (_SECRETS_PATH, CALLS_PATH):
            return 404, {"error": {"message": f"no route {parts.path!r}"}}
        if request.method != "POST":
            return 405, {"error": {"message": f"{path} takes POST"}}
        origin = request.headers.get("origin")
        if origin is not None and not self._origin_allowed(origin):
            return 403, {"error": {"message": f"origin {origin!r} is not allowed"}}
        authorization = request.headers.get("authorization", "")
        presented = [authorization[7:].strip()] if authorization[:7].lower() == "bearer " else []
        presented += [request.headers.get("api-key", "")]
        presented += parse_qs(parts.query).get("token", [])
        presented = [p for p in presented if p]
        secrets_shown = [p for p in presented if p.startswith(PREFIX)]
        if path == CALLS_PATH and secrets_shown:
            opened = [s for p in secrets_shown if (s := self.client_secrets.session(p)) is not None]
            if not opened:
                return 401, {"error": {"message": "client secret expired or unknown"}}
            return await self._create_call(request, opened[0])
        if self.requires_credentials and not self._accepts(presented):
            return 401, {"error": {"message": "invalid or missing credentials"}}
        if path == CALLS_PATH:
            return await self._create_call(request, None)
        return create_secret(self.client_secrets, request.body, self.model)

    async def _create_call(
        self, request: HttpRequest, opened: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any]] | HttpAnswer:
        """Answer a call's offer (see :mod:`~realtime_widget.server.calls`)."""
        try:
            from realtime_widget.server.webrtc import answer_call
        except ImportError:
            message = "WebRTC calls need aiortc: pip install 'realtime_widget[webrtc]'"
            return 501, {"error": {"message": message}}
        model = parse_qs(urlsplit(request.target).query).get("model", [self.model])[0]
        link = CallLink()
        connection = Connection(link, dialect="ga", model=model, options=self._options)
        try:
            offer, session = parse_offer(request)
            for update in (opened, session):
                if update:
                    connection.session.apply_update(update)
            connection.hearing.configure()
            answer, peer = await answer_call(offer, connection, link)
        except ClientEventError as error:
            return http_error(error)
        link.hear = connection.hearing.feed
        call = Call(connection, link, peer)
        self.calls[call.id] = call
        task = asyncio.ensure_future(self._serve_call(call))
        self._call_tasks.add(task)
        task.add_done_callback(self._call_tasks.discard)
        location = (("Location", f"{CALLS_PATH}/{call.id}"),)
        return HttpAnswer(201, answer.encode(), "application/sdp", location)

    async def _serve_call(self, call: Call) -> None:
        try:
            await self._serve(call.connection)
        finally:
            await call.hang_up()
            self.calls.pop(call.id, None)

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
        call = self.calls.get((query.get("call_id") or [""])[0])
        if call is not None:
            await call.join(websocket)
            return
        dialect = self._dialect(request)
        transcribing = dialect == "beta" and query.get("intent") == ["transcription"]
        connection = Connection(
            websocket,
            dialect=dialect,
            model=model,
            options=self._options,
            transcription=transcribing,
        )
        for shown in _presented_credentials(request, parse_qs(urlsplit(request.path).query)):
            opened = self.client_secrets.session(shown) if shown.startswith(PREFIX) else None
            if opened and connection.dialect == "ga":  # the session the secret opens
                connection.session.apply_update(opened)
        await self._serve(connection)

    async def _serve(self, connection: Connection) -> None:
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
