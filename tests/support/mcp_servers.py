"""A real MCP server on 127.0.0.1 for tests: the mcp package's own, over streamable HTTP.

:func:`running_mcp_server` serves, in a thread, the tools ``search`` (read-only: says how
many hits a query has), ``add``, ``slow`` (sleeps ``slow_seconds``, then answers) and
``broken`` (always fails); it yields the server's URL (``http://127.0.0.1:PORT/mcp``) and
records the ``Authorization`` and ``X-Api-Key`` headers of every request in ``seen``.
:func:`closed_port_url` is an address where nothing listens.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations


@dataclass
class McpServerHandle:
    url: str
    seen: list[dict[str, str]] = field(default_factory=list)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mcp"


@contextlib.contextmanager
def running_mcp_server(slow_seconds: float = 5.0) -> Iterator[McpServerHandle]:
    server = MCPServer("test tools")

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def search(query: str) -> str:
        """Count the documents that mention a query."""
        return f"{len(query)} hits for {query}"

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool()
    def slow(topic: str) -> str:
        """Answer after a long while."""
        time.sleep(slow_seconds)
        return f"late news on {topic}"

    @server.tool()
    def broken(topic: str) -> str:
        """Always fail."""
        raise RuntimeError(f"nothing works for {topic}")

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    handle = McpServerHandle(f"http://127.0.0.1:{port}/mcp")
    app = server.streamable_http_app()

    async def recording(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            handle.seen.append(
                {k: v for k, v in headers.items() if k in ("authorization", "x-api-key")}
            )
        await app(scope, receive, send)

    config = uvicorn.Config(
        recording, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not runner.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the MCP test server did not start")
        time.sleep(0.01)
    try:
        yield handle
    finally:
        runner.should_exit = True
        thread.join(timeout=10)
        sock.close()
