"""A web page in Chromium against the local server: only loopback pages may connect.

The pages are served by Playwright's request routing (no network): one at
``http://localhost:8123`` (as JupyterLab's page would be), one at ``http://evil.example``
(any site the user happens to visit). Each opens a WebSocket to the server on 127.0.0.1,
and the browser itself sets the ``Origin`` header. Chromium's Local Network Access checks,
which would also stop a public page reaching loopback unless the user allows it, are turned
off: other browsers have none, and the server's own check is what is tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import CHROMIUM_FLAGS

from realtime_widget.server import LocalRealtimeServer, serve_in_thread

NETWORK_CHECKS = ("LocalNetworkAccessChecks", "BlockInsecurePrivateNetworkRequests")
OPEN_SOCKET = """async (url) => await new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.onmessage = (m) => { resolve(JSON.parse(m.data).type); ws.close(); };
    ws.onclose = (e) => resolve(`closed ${e.code}`);
})"""


@pytest.fixture
def page(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium),
            headless=False,
            args=[*CHROMIUM_FLAGS, "--disable-features=" + ",".join(NETWORK_CHECKS)],
        )
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.fulfill(body="<p>a page</p>"))
            yield page
        finally:
            browser.close()


def _connections(server: LocalRealtimeServer) -> int:
    async def count() -> int:
        return len(server.connections)

    return server.call_in_thread(count())


def test_a_page_from_another_site_cannot_use_the_local_server(page: Any) -> None:
    server = serve_in_thread(pace="fast")
    try:
        page.goto("http://evil.example/")
        assert page.evaluate(OPEN_SOCKET, server.url) == "closed 1006"
        assert _connections(server) == 0
        page.goto("http://localhost:8123/lab")
        assert page.evaluate(OPEN_SOCKET, server.url) == "session.created"
    finally:
        server.stop_thread()
    allowing = serve_in_thread(pace="fast", allow_origins=["http://evil.example"])
    try:
        page.goto("http://evil.example/")
        assert page.evaluate(OPEN_SOCKET, allowing.url) == "session.created"
    finally:
        allowing.stop_thread()
