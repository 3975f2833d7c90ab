"""No key for the real service is said at connect time, before any network: nothing is
resolved and no socket connects. The spy below records (and refuses) both; the refusal
itself is what the tests read."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from realtime_widget import MissingKeyError, RealtimeError, UsageError
from realtime_widget.client.api import RealtimeAPI
from realtime_widget.client.client import RealtimeClient
from realtime_widget.server import LocalRealtimeServer

NO_KEY = "no API key: set OPENAI_API_KEY or pass api_key=, or use a local server (url=...)"


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """What was looked up or connected to while the test ran (each refused), with no
    ``$OPENAI_API_KEY`` in the environment."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    touched: list[Any] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        touched.append(host)
        raise socket.gaierror(f"the test allows no lookup of {host!r}")

    def connect(self: socket.socket, address: Any) -> None:
        touched.append(address)
        raise OSError(f"the test allows no connection to {address!r}")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield touched


async def test_a_client_with_no_key_for_the_real_service_refuses_to_connect(
    network: list[Any],
) -> None:
    client = RealtimeClient()
    with pytest.raises(MissingKeyError) as info:
        await client.connect()
    assert str(info.value) == NO_KEY
    assert isinstance(info.value, UsageError) and isinstance(info.value, RealtimeError)
    assert info.value.url == "wss://api.openai.com/v1/realtime"
    assert network == []
    assert not client.is_connected()


@pytest.mark.parametrize(
    "url",
    [
        "wss://api.openai.com/v1/realtime",
        "wss://eu.api.openai.com/v1/realtime",
        "wss://myres.openai.azure.com/openai/realtime?api-version=2025-08-28&deployment=rt",
    ],
)
async def test_each_host_of_the_real_service_needs_a_key(network: list[Any], url: str) -> None:
    with pytest.raises(MissingKeyError, match="no API key"):
        await RealtimeAPI(url).connect()
    with pytest.raises(MissingKeyError):
        await RealtimeAPI(url, "").connect()  # an empty key is no key
    assert network == []


def test_any_credential_for_the_real_service_counts_as_a_key(
    network: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    azure = "wss://myres.openai.azure.com/openai/realtime?deployment=rt"
    assert RealtimeAPI()._lacks_key()
    assert not RealtimeAPI(api_key="sk-given")._lacks_key()
    assert not RealtimeAPI(headers={"authorization": "Bearer sk-header"})._lacks_key()
    assert not RealtimeAPI(azure, headers={"API-Key": "azure-key"})._lacks_key()
    assert not RealtimeAPI(f"{azure}&api-key=in-the-url")._lacks_key()
    assert RealtimeAPI(headers={"OpenAI-Organization": "org-1"})._lacks_key()  # not a key
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert not RealtimeAPI()._lacks_key() and not RealtimeAPI(azure)._lacks_key()


async def test_other_servers_need_no_key_and_the_refused_client_can_go_there() -> None:
    async with LocalRealtimeServer(pace="fast") as server:
        client = RealtimeClient()
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("OPENAI_API_KEY", raising=False)
            with pytest.raises(MissingKeyError):
                await client.connect()
            assert not RealtimeAPI(server.url)._lacks_key()
            assert not RealtimeAPI("wss://example.com/v1/realtime")._lacks_key()
            client.realtime.url = server.url
            await client.connect()
        assert client.is_connected()
        await client.disconnect()
