"""A widget with no key for the real service says so before connecting: in its error area,
as one line, whether Connect is pressed in the page or ``connect()`` is awaited."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from widget_wire import Wire, recording_comm, until

from realtime_widget import MissingKeyError
from realtime_widget.widget.widget import RealtimeWidget

FIXTURES = (recording_comm,)  # pytest finds it here by name

NO_KEY = "no API key: set OPENAI_API_KEY or pass api_key=, or use a local server (url=...)"


async def test_a_widget_with_no_key_shows_why_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    looked_up: list[Any] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        raise socket.gaierror(f"the test allows no lookup of {host!r}")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    widget = RealtimeWidget()
    wire = Wire(widget)
    try:
        wire.browser({"type": "connect"})  # the page's Connect button
        await until(lambda: widget.connection == "error")
        assert widget.error == NO_KEY
        assert wire.updates("error")[-1]["error"] == NO_KEY  # what the page shows
        widget.error = ""
        with pytest.raises(MissingKeyError, match="no API key"):
            await widget.connect()
        assert (widget.connection, widget.error) == ("error", NO_KEY)
        assert looked_up == []
    finally:
        await widget.client.aclose()
        widget.close()
