"""Ephemeral client secrets over loopback: issued by the local server, used by a client."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from realtime_widget.client.client import RealtimeClient
from realtime_widget.client.secrets import ClientSecret, client_secrets_url
from realtime_widget.core.errors import AuthenticationError, ConnectError, UsageError
from realtime_widget.server import LocalRealtimeServer

pytestmark = pytest.mark.asyncio

KEY = "sk-local-key-never-shown"


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast", api_key=KEY) as running:
        yield running


async def test_a_secret_from_the_client_opens_a_session_for_a_second_client(
    server: LocalRealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    owner = RealtimeClient(url=server.url, api_key=KEY)
    secret = await owner.create_client_secret(
        expires_after=120, session={"type": "realtime", "instructions": "be brief"}
    )
    assert isinstance(secret, ClientSecret) and secret.value.startswith("ek_")
    assert time.time() + 100 < secret.expires_at <= time.time() + 121
    assert secret.session["instructions"] == "be brief"
    assert KEY not in repr(secret) and secret.value not in repr(secret)
    guest = RealtimeClient(url=server.url, api_key=secret.value)
    await guest.connect()
    assert guest.session is not None and guest.session["instructions"] == "be brief"
    await guest.disconnect()
    assert KEY not in caplog.text


async def test_the_secret_response_never_holds_the_key(server: LocalRealtimeServer) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"http://127.0.0.1:{server.port}/v1/realtime/client_secrets",
            json={},
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert answer.status_code == 200 and KEY not in answer.text
    body = answer.json()
    assert set(body) == {"value", "expires_at", "session"}
    assert body["expires_at"] - time.time() == pytest.approx(600, abs=5)


async def test_an_expired_or_unknown_secret_is_refused(server: LocalRealtimeServer) -> None:
    owner = RealtimeClient(url=server.url, api_key=KEY)
    secret = await owner.create_client_secret(expires_after=10)
    server.client_secrets.clock = lambda: time.time() + 11  # ten seconds and more later
    with pytest.raises(AuthenticationError) as expired:
        await RealtimeClient(url=server.url, api_key=secret.value).connect()
    assert expired.value.status == 401
    with pytest.raises(AuthenticationError):
        await RealtimeClient(url=server.url, api_key="ek_never_issued").connect()


async def test_a_secret_needs_the_servers_credentials_and_cannot_mint_another(
    server: LocalRealtimeServer,
) -> None:
    with pytest.raises(AuthenticationError) as refused:
        await RealtimeClient(url=server.url, api_key="sk-wrong").create_client_secret()
    assert refused.value.status == 401
    secret = await RealtimeClient(url=server.url, api_key=KEY).create_client_secret()
    with pytest.raises(AuthenticationError):
        await RealtimeClient(url=server.url, api_key=secret.value).create_client_secret()


async def test_a_bad_secret_request_is_refused_naming_the_field() -> None:
    async with LocalRealtimeServer(pace="fast") as server:
        client = RealtimeClient(url=server.url)
        with pytest.raises(UsageError, match="expires_after"):
            await client.create_client_secret(expires_after=5)
        with pytest.raises(ConnectError, match=r"voice"):
            await client.create_client_secret(session={"type": "realtime", "voice": 3})
        async with httpx.AsyncClient() as http:
            base = f"http://127.0.0.1:{server.port}"
            bad = await http.post(f"{base}/v1/realtime/client_secrets", content=b"{")
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
            assert (await http.put(f"{base}/v1/realtime/client_secrets")).status_code == 405
            assert (await http.post(f"{base}/elsewhere", json={})).status_code == 404
        # the WebSocket side is as it was
        await client.connect()
        assert client.session_created
        await client.disconnect()


async def test_the_secrets_address_is_beside_the_socket() -> None:
    assert (
        client_secrets_url("wss://api.openai.com/v1/realtime?model=gpt-realtime")
        == "https://api.openai.com/v1/realtime/client_secrets"
    )
    assert (
        client_secrets_url("ws://127.0.0.1:8765/v1/realtime?token=t")
        == "http://127.0.0.1:8765/v1/realtime/client_secrets?token=t"
    )
    with pytest.raises(UsageError):
        client_secrets_url("https://example.org/v1/realtime")
