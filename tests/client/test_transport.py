"""The transport seam: a client over a transport of another class, against the local server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar

import pytest

from realtime_widget.client.api import RealtimeAPI
from realtime_widget.client.client import RealtimeClient
from realtime_widget.client.transport import Transport
from realtime_widget.core.errors import UsageError
from realtime_widget.core.events import EventCallback
from realtime_widget.core.protocol import Dialect
from realtime_widget.core.redaction import Redactor
from realtime_widget.server import LocalRealtimeServer

pytestmark = pytest.mark.asyncio

C = TypeVar("C", bound=EventCallback)


class RecordingTransport:
    """A transport that keeps every frame both ways, over a socket of its own."""

    def __init__(self, url: str, *, model: str = "gpt-realtime") -> None:
        self._api = RealtimeAPI(url, model=model)
        self.frames: list[tuple[str, str]] = []  # (direction, event type)
        self._api.on("server.*", lambda event: self.frames.append(("in", event["type"])))

    @property
    def open_timeout(self) -> float:
        return self._api.open_timeout

    @open_timeout.setter
    def open_timeout(self, value: float) -> None:
        self._api.open_timeout = value

    @property
    def url(self) -> str:
        return self._api.url

    @property
    def model(self) -> str:
        return self._api.model

    @property
    def dialect(self) -> Dialect:
        return self._api.dialect

    @property
    def redactor(self) -> Redactor:
        return self._api.redactor

    def on(self, event_name: str, callback: C) -> C:
        return self._api.on(event_name, callback)

    def is_connected(self) -> bool:
        return self._api.is_connected()

    async def connect(self) -> None:
        await self._api.connect()

    def disconnect(self) -> Awaitable[None]:
        return self._api.disconnect()

    def send(self, event_type: str, payload: Mapping[str, Any] | None = None) -> bool:
        self.frames.append(("out", event_type))
        return self._api.send(event_type, payload)

    async def send_paced(self, event_type: str, payload: Mapping[str, Any] | None = None) -> bool:
        self.frames.append(("out", event_type))
        return await self._api.send_paced(event_type, payload)

    def raise_if_closed(self, action: str) -> None:
        self._api.raise_if_closed(action)


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


async def test_the_socket_layer_and_the_recorder_are_transports() -> None:
    assert isinstance(RealtimeAPI("ws://127.0.0.1:1/v1/realtime"), Transport)
    assert isinstance(RecordingTransport("ws://127.0.0.1:1/v1/realtime"), Transport)
    assert not isinstance(object(), Transport)


async def test_a_text_turn_over_another_transport(server: LocalRealtimeServer) -> None:
    transport = RecordingTransport(server.url, model="gpt-realtime-mini")
    client = RealtimeClient(transport=transport)
    assert client.realtime is transport
    assert (client.url, client.model) == (server.url, "gpt-realtime-mini")
    assert client.config.get("model", "name") == "gpt-realtime-mini"  # the transport's
    await client.connect()
    client.send_user_message_content("hello over a recorded wire")
    answer = await client.wait_for_answer(10)
    assert answer is not None
    assert answer["formatted"]["transcript"] == "You said: hello over a recorded wire."
    sent = [kind for direction, kind in transport.frames if direction == "out"]
    received = [kind for direction, kind in transport.frames if direction == "in"]
    assert sent[:3] == ["session.update", "conversation.item.create", "response.create"]
    assert received[0] == "session.created" and "response.done" in received
    await client.disconnect()
    assert not transport.is_connected()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"url": "ws://127.0.0.1:2/v1/realtime"}, "url belongs to the transport"),
        ({"api_key": "sk-test"}, "api_key belongs to the transport"),
        ({"headers": {"X-Trace": "1"}}, "headers belongs to the transport"),
        ({"azure": True}, "azure belongs to the transport"),
        ({"dialect": "beta"}, "the transport speaks the 'ga' dialect"),
    ],
)
async def test_connection_settings_beside_a_transport_are_refused(
    settings: dict[str, Any], message: str
) -> None:
    transport = RecordingTransport("ws://127.0.0.1:1/v1/realtime")
    with pytest.raises(UsageError, match=message):
        RealtimeClient(transport=transport, **settings)


async def test_a_model_given_beside_a_transport_is_the_session_s() -> None:
    transport = RecordingTransport("ws://127.0.0.1:1/v1/realtime", model="gpt-realtime-mini")
    client = RealtimeClient(transport=transport, model="gpt-realtime")
    assert client.config.get("model", "name") == "gpt-realtime"
    assert client.model == "gpt-realtime-mini"  # the connection's
