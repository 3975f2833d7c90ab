"""The Jupyter Server extension: installed, loaded, and setting TCP_NODELAY on real sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

tornado_web = pytest.importorskip("tornado.web")
tornado_websocket = pytest.importorskip("tornado.websocket")
serverapp = pytest.importorskip("jupyter_server.serverapp")
channels = pytest.importorskip("jupyter_server.services.kernels.connection.channels")

from realtime_widget.serverext import NODELAY_MARK, no_delay_connection_class  # noqa: E402


class Connection:
    """A kernel websocket connection class reduced to what the wrapper relies on."""

    def __init__(self, websocket_handler: Any) -> None:
        self.websocket_handler = websocket_handler

    def connect(self) -> str:
        return "connected"


async def _nodelay_seen_by_handler(connection_class: type[Any]) -> tuple[int, Any]:
    """Opens a real websocket to a tornado server whose handler connects ``connection_class``
    as Jupyter's kernel handler does; returns the server socket's TCP_NODELAY and what
    ``connect()`` returned."""
    seen: asyncio.Future[tuple[int, Any]] = asyncio.get_running_loop().create_future()

    class Handler(tornado_websocket.WebSocketHandler):  # type: ignore[misc]
        def open(self) -> None:
            result = connection_class(websocket_handler=self).connect()
            sock = self.ws_connection.stream.socket
            seen.set_result((sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), result))

    app = tornado_web.Application([("/ws", Handler)])
    server = app.listen(0, address="127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    try:
        client = await tornado_websocket.websocket_connect(f"ws://127.0.0.1:{port}/ws")
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            client.close()
    finally:
        server.stop()


async def test_the_wrapped_class_sets_tcp_nodelay_on_the_real_socket() -> None:
    nodelay, result = await _nodelay_seen_by_handler(no_delay_connection_class(Connection))
    assert nodelay != 0
    assert result == "connected"  # what the wrapped class's connect() returns is passed on


async def test_without_the_wrapper_tornado_leaves_nagle_on() -> None:
    nodelay, _ = await _nodelay_seen_by_handler(Connection)
    assert nodelay == 0


def test_wrapping_keeps_the_class_and_its_shared_state() -> None:
    base = channels.ZMQChannelsWebsocketConnection
    wrapped = no_delay_connection_class(base)
    assert issubclass(wrapped, base) and wrapped is not base
    assert wrapped.__name__ == base.__name__
    assert getattr(wrapped, NODELAY_MARK) is True
    assert no_delay_connection_class(wrapped) is wrapped  # loaded twice, wrapped once
    # Sessions and sockets stay in the base class's registries, so its close_all() sees them.
    assert wrapped._open_sessions is base._open_sessions
    assert wrapped._open_sockets is base._open_sockets


def test_a_handler_that_cannot_set_nodelay_still_connects() -> None:
    wrapped = no_delay_connection_class(Connection)
    assert wrapped(websocket_handler=None).connect() == "connected"


@pytest.fixture
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    yield tmp_path


def test_jupyter_server_loads_it_from_the_installed_config(jupyter_dirs: Path) -> None:
    app = serverapp.ServerApp()
    try:
        app.initialize(
            argv=[
                "--port=0",
                "--ServerApp.open_browser=False",
                "--IdentityProvider.token=test",
                f"--ServerApp.root_dir={jupyter_dirs}",
            ]
        )
        connection_class = app.web_app.settings["kernel_websocket_connection_class"]
        assert getattr(connection_class, NODELAY_MARK, False) is True
        assert issubclass(connection_class, app.kernel_websocket_connection_class)
    finally:
        app.http_server.stop()
        serverapp.ServerApp.clear_instance()
