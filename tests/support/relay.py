"""`FaultRelay`: a websocket relay in front of the local server, for faults it cannot make.

Clients connect to :attr:`FaultRelay.url`; each connection is relayed, frame by frame, to the
server behind (same path and query; the ``OpenAI-Beta`` and credential headers passed on).
A close from the server reaches the client with the server's code; a connection the server
drops without a close frame is dropped on the client's side too. Faults, for the connections
opened from the moment they are set:

- :attr:`FaultRelay.close_after_created`: close codes; each new connection takes the first
  one and is closed with it right after the server's ``session.created`` is relayed (what a
  service restarting or overloaded, 1012 / 1013, looks like);
- :attr:`FaultRelay.hold_created`: an :class:`asyncio.Event`; each new connection's
  ``session.created`` is held until it is set (a slow service).

:attr:`FaultRelay.opened` counts the connections made.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

_PASSED_HEADERS = ("openai-beta", "authorization", "api-key")


class FaultRelay:
    """A relay to ``upstream`` (a ``ws://host:port`` base) with faults (see the module)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.close_after_created: list[int] = []
        self.hold_created: asyncio.Event | None = None
        self.opened = 0
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the relay is not started"
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/v1/realtime"

    async def __aenter__(self) -> FaultRelay:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, client: ServerConnection) -> None:
        self.opened += 1
        request = client.request
        assert request is not None
        headers = [
            (name, value)
            for name, value in request.headers.raw_items()
            if name.lower() in _PASSED_HEADERS
        ]
        code = self.close_after_created.pop(0) if self.close_after_created else None
        hold = self.hold_created
        async with connect(
            self.upstream + request.path,
            additional_headers=headers,
            compression=None,
            max_size=None,
            proxy=None,
        ) as server:
            down = asyncio.ensure_future(self._down(server, client, code, hold))
            up = asyncio.ensure_future(self._up(client, server))
            await asyncio.wait([down, up], return_when=asyncio.FIRST_COMPLETED)
            for task in (down, up):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            await self._close_like(server, client)

    @staticmethod
    async def _down(
        server: ClientConnection,
        client: ServerConnection,
        code: int | None,
        hold: asyncio.Event | None,
    ) -> None:
        first = True
        with contextlib.suppress(ConnectionClosed):
            async for frame in server:
                if first:
                    first = False
                    if hold is not None:
                        await hold.wait()
                    await client.send(frame)
                    if code is not None:
                        await client.close(code, "relay fault")
                        return
                    continue
                await client.send(frame)

    @staticmethod
    async def _up(client: ServerConnection, server: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in client:
                await server.send(frame)

    @staticmethod
    async def _close_like(server: ClientConnection, client: ServerConnection) -> None:
        """Pass the server's close on to the client (and the client's on to the server)."""
        if server.close_code is None:
            await server.close()
            return
        if server.close_code == 1006:
            client.transport.abort()
            return
        await client.close(server.close_code, server.close_reason or "")
