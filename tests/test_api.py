"""RealtimeAPI: connecting, typed failures, the pump, frame limits and the key's privacy."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from realtime_widget.api import RealtimeAPI
from realtime_widget.errors import (
    AuthenticationError,
    ConnectTimeoutError,
    DNSError,
    ProtocolError,
    UsageError,
)
from realtime_widget.server import LocalRealtimeServer

SECRET = "sk-test-SECRET-123"


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


async def test_send_adds_event_id_and_dispatches_both_ways(server: LocalRealtimeServer) -> None:
    api = RealtimeAPI(server.url, SECRET)
    seen: list[tuple[str, str]] = []
    api.on("client.*", lambda e: seen.append(("client", e["type"])))
    api.on("server.*", lambda e: seen.append(("server", e["type"])))
    await api.connect()
    assert api.is_connected()
    await api.wait_for_next("server.session.created", 5)
    assert api.send("conversation.item.retrieve", {"item_id": "nope"}) is True
    error = await api.wait_for_next("server.error", 5)
    conn = server.connections[-1]
    sent = conn.received[-1]
    assert sent["type"] == "conversation.item.retrieve"
    assert sent["event_id"].startswith("evt_")
    assert error["error"]["event_id"] == sent["event_id"]
    assert ("client", "conversation.item.retrieve") in seen
    assert seen[0] == ("server", "session.created")
    await api.disconnect()
    assert not api.is_connected()


async def test_model_goes_in_the_query_and_beta_sends_its_header(
    server: LocalRealtimeServer,
) -> None:
    api = RealtimeAPI(server.url, model="gpt-realtime-mini", dialect="beta")
    assert api.connect_url().endswith("/v1/realtime?model=gpt-realtime-mini")
    await api.connect()
    await api.wait_for_next("server.session.created", 5)
    assert server.connections[-1].dialect == "beta"
    await api.disconnect()


async def test_azure_uses_the_api_key_header_and_deployment_url() -> None:
    async with LocalRealtimeServer(pace="fast", api_key=SECRET) as server:
        url = f"ws://127.0.0.1:{server.port}/openai/realtime?api-version=2025-08-28&deployment=rt"
        api = RealtimeAPI(url, SECRET, azure=True)
        assert "model=" not in api.connect_url()
        assert api._headers() == {"api-key": SECRET}
        await api.connect()
        assert await api.wait_for_next("server.session.created", 5) is not None
        await api.disconnect()
        plain = RealtimeAPI("wss://example.openai.azure.com/openai/realtime?deployment=x", "k")
        assert plain.azure and "api-key" in plain._headers()


async def test_wrong_key_is_an_authentication_error_without_the_key() -> None:
    async with LocalRealtimeServer(pace="fast", api_key="the-right-one") as server:
        api = RealtimeAPI(server.url, SECRET)
        with pytest.raises(AuthenticationError) as info:
            await api.connect()
        assert info.value.status == 401
        assert SECRET not in str(info.value)
        assert not api.is_connected()


async def test_dns_failure_is_a_dns_error() -> None:
    api = RealtimeAPI("ws://no-such-host.invalid/v1/realtime")
    with pytest.raises(DNSError, match=r"no-such-host\.invalid"):
        await api.connect()


async def test_silent_server_is_a_connect_timeout() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        api = RealtimeAPI(f"ws://127.0.0.1:{port}/v1/realtime", open_timeout=0.2)
        with pytest.raises(ConnectTimeoutError, match=r"0\.2 s"):
            await api.connect()
    finally:
        silent.close()


async def test_oversized_frame_closes_with_1009(server: LocalRealtimeServer) -> None:
    api = RealtimeAPI(server.url, max_frame_bytes=4096)
    closes: list[dict[str, Any]] = []
    api.on("close", closes.append)
    await api.connect()
    await api.wait_for_next("server.session.created", 5)
    await server.send_raw(json.dumps({"type": "x.big", "blob": "a" * 10_000}))
    await api.wait_for_next("close", 5)
    assert closes[0]["code"] == 1009 and closes[0]["error"] is True
    assert not api.is_connected()


async def test_bad_frames_become_error_events(server: LocalRealtimeServer) -> None:
    api = RealtimeAPI(server.url)
    errors: list[dict[str, Any]] = []
    api.on("error", errors.append)
    await api.connect()
    for frame in ("[1, 2]", "nope", json.dumps({"type": 7})):
        await server.send_raw(frame)
    await server.send_raw(b"\x01\x02\x03")
    await server.send_raw(json.dumps({"type": "rate_limits.updated", "rate_limits": []}))
    await api.wait_for_next("server.rate_limits.updated", 5)
    assert len(errors) == 4
    assert all(isinstance(e["error"], ProtocolError) for e in errors)
    assert "binary frame of 3 bytes" in errors[3]["message"]
    assert api.is_connected()
    await api.disconnect()


async def test_misuse_is_a_usage_error(server: LocalRealtimeServer) -> None:
    with pytest.raises(UsageError, match="ws:// or wss://"):
        RealtimeAPI("http://127.0.0.1/v1/realtime")
    with pytest.raises(UsageError, match="dialect"):
        RealtimeAPI(server.url, dialect="v2")  # type: ignore[arg-type]
    api = RealtimeAPI(server.url)
    with pytest.raises(UsageError, match="not connected"):
        api.send("response.create")
    await api.connect()
    with pytest.raises(UsageError, match="already connected"):
        await api.connect()
    with pytest.raises(UsageError, match="not valid json"):
        api.send("session.update", {"session": {1, 2}})
    await api.disconnect()
    await api.disconnect()  # twice is fine


async def test_debug_logs_never_show_the_key(
    server: LocalRealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    api = RealtimeAPI(server.url, SECRET, debug=True)
    with caplog.at_level(logging.DEBUG):
        await api.connect()
        await api.wait_for_next("server.session.created", 5)
        api.send("input_audio_buffer.append", {"audio": "AAAA" * 100})
        api.send("input_audio_buffer.clear")
        await api.wait_for_next("server.input_audio_buffer.cleared", 5)
        await api.disconnect()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "received" in text and "sent" in text
    assert "<400 chars>" in text  # audio is elided
    assert SECRET not in text
    assert SECRET not in repr(api)


def test_redact_blanks_credentials_of_any_value() -> None:
    from realtime_widget.logs import redact

    assert redact("> Authorization: Bearer abc") == "> Authorization: <redacted>"
    assert redact("< api-key: abc") == "< api-key: <redacted>"
    assert redact("Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.abc") == (
        "Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.<redacted>"
    )
    assert redact("GET /v1/realtime?token=abc&x=1") == "GET /v1/realtime?token=<redacted>&x=1"
    assert redact("wss://h/r?api-version=1&key=abc") == "wss://h/r?api-version=1&key=<redacted>"
    assert redact("/r?API_KEY=a&Access_Token=b") == "/r?API_KEY=<redacted>&Access_Token=<redacted>"
    assert redact("/r?monkey=abc&tokens=2") == "/r?monkey=abc&tokens=2"  # only whole names
    assert redact("the key is abc", ["abc"]) == "the key is <redacted>"
    assert redact("nothing here") == "nothing here"


def test_redact_blanks_credentials_in_urls() -> None:
    from realtime_widget.logs import redact

    assert redact("ws://me:pw@h:1/v1/realtime?access_token=abc#x") == (
        "ws://me:<redacted>@h:1/v1/realtime?access_token=<redacted>#x"
    )
    assert redact("cannot open 'wss://h/r?sig=abc'") == "cannot open 'wss://h/r?sig=<redacted>'"
    assert redact("wss://h/v1/realtime?model=m") == "wss://h/v1/realtime?model=m"
    assert redact("see https://example.com/a:b@c") == "see https://example.com/a:b@c"


def test_redacting_logger_formats_before_redacting(caplog: pytest.LogCaptureFixture) -> None:
    from realtime_widget.logs import RedactingLogger

    log = RedactingLogger("realtime_widget.test", ["s3cret"])
    with caplog.at_level(logging.DEBUG, logger="realtime_widget.test"):
        log.debug("< %s: %s", "Authorization", "Bearer whatever")
        log.debug("value %s", "s3cret")
        log.debug("count %d", 3)
    assert [r.getMessage() for r in caplog.records] == [
        "< Authorization: <redacted>",
        "value <redacted>",
        "count 3",
    ]
