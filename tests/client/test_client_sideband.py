"""A client joins a WebRTC call through its sideband (``RealtimeAPI.call_id``): it keeps the
session's configuration, the conversation and the tools, while the call's peer (a real aiortc
caller in the test process, on loopback) carries the audio."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
from call_peer import Caller, loopback_only

from realtime_widget import RealtimeClient
from realtime_widget.client.api import RealtimeAPI
from realtime_widget.client.secrets import calls_url
from realtime_widget.core.errors import UsageError
from realtime_widget.server import LocalRealtimeServer

KEY = "sk-sideband-key"


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    with loopback_only():
        async with LocalRealtimeServer(pace="realtime", api_key=KEY) as running:
            yield running


def test_the_calls_url_is_beside_the_socket_without_query_or_credentials() -> None:
    assert calls_url("wss://api.openai.com/v1/realtime?model=m") == (
        "https://api.openai.com/v1/realtime/calls"
    )
    assert calls_url("ws://user:pw@127.0.0.1:9/v1/realtime/?token=t") == (
        "http://127.0.0.1:9/v1/realtime/calls"
    )
    with pytest.raises(UsageError, match="'http://x/'"):
        calls_url("http://x/")


def test_a_call_id_turns_the_connect_url_into_the_sideband() -> None:
    api = RealtimeAPI("ws://127.0.0.1:9/v1/realtime?token=t", "k", model="m")
    assert api.connect_url() == "ws://127.0.0.1:9/v1/realtime?token=t&model=m"
    api.call_id = "rtc_1"
    assert api.connect_url() == "ws://127.0.0.1:9/v1/realtime?token=t&call_id=rtc_1"


@pytest.mark.asyncio
async def test_a_client_joins_a_call_configures_it_and_runs_its_tool(
    server: LocalRealtimeServer,
) -> None:
    client = RealtimeClient(url=server.url, api_key=KEY)
    client.update_session(instructions="be brief", output_modalities=["text"])

    @client.tool
    def add(a: float, b: float) -> float:
        """Add two numbers."""
        return a + b

    secret = await client.create_client_secret()
    caller = Caller()
    try:
        with loopback_only():
            assert (await caller.call(server, token=secret.value)).status_code == 201
        assert isinstance(client.realtime, RealtimeAPI)
        client.realtime.call_id = caller.call_id
        await client.connect()
        assert server.calls[caller.call_id].connection.session.to_wire()["tools"][0]["name"] == (
            "add"
        )
        client.send_user_message_content("please add 2 and 40")
        async with asyncio.timeout(20):
            while True:
                said = [
                    i
                    for i in client.get_conversation_items()
                    if i.get("role") == "assistant" and "add returned" in str(i["formatted"])
                ]
                if said:
                    break
                await asyncio.sleep(0.05)
        calls = [i for i in client.get_conversation_items() if i["type"] == "function_call"]
        assert calls[0]["name"] == "add"
        outputs = [e for e in caller.seen if e["type"] == "conversation.item.added"]
        assert any(e["item"]["type"] == "function_call_output" for e in outputs)
    finally:
        await client.disconnect()
        await caller.close()
