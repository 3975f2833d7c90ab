"""RealtimeAPI: connecting, typed failures, the pump, frame limits and the key's privacy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from reliability import eventually
from sdk_judge import judged_event
from websockets.asyncio.server import ServerConnection, serve

from realtime_widget.client.api import RealtimeAPI
from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import (
    AuthenticationError,
    ConnectError,
    ConnectionClosedError,
    ConnectTimeoutError,
    DNSError,
    ProtocolError,
    ServerUnreachableError,
    UsageError,
)
from realtime_widget.server import LocalRealtimeServer

SECRET = "sk-test-SECRET-123"
SESSION_CREATED = judged_event(
    "server", "ga", {"type": "session.created", "event_id": "e1", "session": {"type": "realtime"}}
)


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as running:
        yield running


@contextlib.asynccontextmanager
async def scripted(handler: Callable[[ServerConnection], Awaitable[None]]) -> AsyncIterator[str]:
    """A websockets server on a free loopback port running ``handler``; yields its url."""
    async with serve(
        handler, "127.0.0.1", 0, compression=None, max_size=None, close_timeout=0.2
    ) as running:
        port = running.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime"


async def stops_reading(ws: ServerConnection) -> None:
    """A server that says hello, then never reads again (nor answers pings)."""
    await ws.send(SESSION_CREATED)
    ws.transport.pause_reading()
    await ws.wait_closed()


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


def test_the_environment_key_only_goes_to_openai_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key")
    api = RealtimeAPI()  # the OpenAI endpoint
    assert api._headers()["Authorization"] == "Bearer sk-env-key"
    assert RealtimeAPI("wss://my-resource.openai.azure.com/openai/realtime")._headers() == {
        "api-key": "sk-env-key"
    }
    for url in ("ws://127.0.0.1:9/v1/realtime", "wss://example.com/v1/realtime"):
        assert "key unset" in repr(RealtimeAPI(url))
        assert RealtimeAPI(url)._headers() == {}
        assert RealtimeAPI(url, "sk-given")._headers() == {"Authorization": "Bearer sk-given"}
    api.url = "wss://example.com/v1/realtime"  # pointed elsewhere: the key stays home
    assert "Authorization" not in api._headers()


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


@pytest.mark.wire_faults
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


@pytest.mark.wire_faults
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
    from realtime_widget.core.redaction import redact

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
    from realtime_widget.core.redaction import redact

    assert redact("ws://me:pw@h:1/v1/realtime?access_token=abc#x") == (
        "ws://me:<redacted>@h:1/v1/realtime?access_token=<redacted>#x"
    )
    assert redact("cannot open 'wss://h/r?sig=abc'") == "cannot open 'wss://h/r?sig=<redacted>'"
    assert redact("wss://h/v1/realtime?model=m") == "wss://h/v1/realtime?model=m"
    assert redact("see https://example.com/a:b@c") == "see https://example.com/a:b@c"


def test_redacting_logger_formats_before_redacting(caplog: pytest.LogCaptureFixture) -> None:
    from realtime_widget.core.redaction import RedactingLogger, Redactor

    log = RedactingLogger("realtime_widget.test", Redactor(["s3cret"]))
    with caplog.at_level(logging.DEBUG, logger="realtime_widget.test"):
        log.debug("< %s: %s", "Authorization", "Bearer whatever")
        log.debug("value %s", "s3cret")
        log.debug("count %d", 3)
    assert [r.getMessage() for r in caplog.records] == [
        "< Authorization: <redacted>",
        "value <redacted>",
        "count 3",
    ]


# -- the pump's own failures -----------------------------------------------------------------


class _FailingAPI(RealtimeAPI):
    """A RealtimeAPI whose handling of ``server.boom`` fails outside any handler."""

    def dispatch(self, event_name: str, event: Any) -> bool:
        if event_name == "server.boom":
            raise RuntimeError("handling failed")
        return super().dispatch(event_name, event)


@pytest.mark.wire_faults
async def test_a_failure_inside_the_pump_closes_the_socket(server: LocalRealtimeServer) -> None:
    api = _FailingAPI(server.url)
    closes: list[dict[str, Any]] = []
    api.on("close", closes.append)
    await api.connect()
    await api.wait_for_next("server.session.created", 5)
    connection = server.connections[-1]
    closing = asyncio.ensure_future(api.wait_for_next("close", 5))
    await server.send_raw(json.dumps({"type": "boom"}))
    close = await closing
    assert close is not None, "no close event"
    assert (close["code"], close["error"]) == (1011, True)
    assert "failed to handle a frame" in close["reason"]
    assert isinstance(close["exception"], ConnectionClosedError)
    assert isinstance(close["exception"].__cause__, RuntimeError)
    assert not api.is_connected()
    # the socket is closed on both ends, with the code reported
    await eventually(lambda: not server.connections, 2)
    assert server.connections == []
    assert connection.websocket.close_code == 1011


# -- connecting ------------------------------------------------------------------------------


async def test_a_second_connect_while_connecting_is_refused(server: LocalRealtimeServer) -> None:
    api = RealtimeAPI(server.url)
    created = asyncio.ensure_future(api.wait_for_next("server.session.created", 5))
    results = await asyncio.gather(api.connect(), api.connect(), return_exceptions=True)
    assert results[0] is None
    assert isinstance(results[1], UsageError) and "already connecting" in str(results[1])
    assert await created is not None
    assert len(server.connections) == 1
    await api.disconnect()


async def test_disconnect_while_connecting_abandons_the_handshake(
    server: LocalRealtimeServer,
) -> None:
    api = RealtimeAPI(server.url)
    connecting = asyncio.ensure_future(api.connect())
    await asyncio.sleep(0)  # the handshake is under way
    await api.disconnect()
    with pytest.raises(ConnectError, match="disconnect"):
        await connecting
    assert not api.is_connected()
    for _ in range(200):
        if not server.connections:
            break
        await asyncio.sleep(0.01)
    assert server.connections == []
    await api.connect()  # and it can connect again
    assert api.is_connected()
    await api.disconnect()


# -- what send() refuses ---------------------------------------------------------------------


async def test_an_event_over_the_frame_limit_is_refused_unsent(
    server: LocalRealtimeServer,
) -> None:
    api = RealtimeAPI(server.url)
    sent: list[dict[str, Any]] = []
    api.on("client.*", sent.append)
    await api.connect()
    await api.wait_for_next("server.session.created", 5)
    # 17 MiB of base64 audio: about 370 s of 24 kHz PCM16
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio"}]}
    item["content"][0]["audio"] = "A" * (17 * 1024 * 1024)
    with pytest.raises(UsageError, match=r"17,825,\d{3} bytes.*16,777,216"):
        api.send("conversation.item.create", {"item": item})
    assert sent == []
    cleared = asyncio.ensure_future(api.wait_for_next("server.input_audio_buffer.cleared", 5))
    api.send("input_audio_buffer.clear")
    assert await cleared is not None
    assert [e["type"] for e in server.connections[-1].received] == ["input_audio_buffer.clear"]
    assert api.is_connected()
    await api.disconnect()


async def small_queue(server: LocalRealtimeServer) -> tuple[RealtimeAPI, str]:
    """A connected RealtimeAPI with a 64 KiB send queue, and an append's audio (10,000
    chars of base64): six appends fill the queue."""
    api = RealtimeAPI(server.url, max_send_queue_bytes=64 * 1024)
    await api.connect()
    await api.wait_for_next("server.session.created", 5)
    return api, "AAAA" * 2500


async def test_the_send_queue_is_bounded(server: LocalRealtimeServer) -> None:
    api, audio = await small_queue(server)
    accepted = 0
    with pytest.raises(UsageError, match=r"6\d,\d{3} bytes wait to be sent.*65,536") as info:
        for _ in range(10):  # nothing yields: the writer cannot take any
            api.send("input_audio_buffer.append", {"audio": audio})
            accepted += 1
    assert accepted == 6 and "'input_audio_buffer.append'" in str(info.value)
    connection = server.connections[-1]
    await eventually(lambda: len(connection.received) == accepted, 5)
    assert [e["type"] for e in connection.received] == ["input_audio_buffer.append"] * accepted
    # once the writer caught up, the queue takes events again
    api.send("input_audio_buffer.append", {"audio": audio})
    await api.disconnect()


async def test_send_paced_waits_for_room_in_the_send_queue(server: LocalRealtimeServer) -> None:
    api, audio = await small_queue(server)
    for _ in range(6):
        api.send("input_audio_buffer.append", {"audio": audio})
    with pytest.raises(UsageError, match="bytes wait to be sent"):
        api.send("input_audio_buffer.append", {"audio": audio})
    assert api.queued_bytes > 60_000
    for _ in range(4):  # each waits for the queue to drain when it would overfill it
        assert await api.send_paced("input_audio_buffer.append", {"audio": audio})
    connection = server.connections[-1]
    await eventually(lambda: len(connection.received) == 10, 5)
    assert all(e["audio"] == audio for e in connection.received)
    with pytest.raises(UsageError, match="must be a dict"):
        await api.send_paced("input_audio_buffer.append", ["not", "a", "dict"])  # type: ignore[arg-type]
    await api.disconnect()
    with pytest.raises(UsageError, match="not connected"):
        await api.send_paced("input_audio_buffer.append", {"audio": audio})


def test_limits_are_checked() -> None:
    url = "ws://127.0.0.1:1/v1/realtime"
    for name, value in [
        ("max_frame_bytes", 0),
        ("max_send_queue_bytes", -1),
        ("max_receive_queue_frames", 0),
        ("max_receive_queue_frames", 2.5),
        ("ping_interval", 0),
        ("ping_timeout", -1.0),
        ("close_timeout", 0),
    ]:
        with pytest.raises(UsageError, match=f"{name} must be positive"):
            RealtimeAPI(url, **{name: value})
    api = RealtimeAPI(url, ping_interval=None, ping_timeout=None)
    assert api.ping_interval is None and api.ping_timeout is None


# -- a server that stops reading -------------------------------------------------------------


async def test_a_server_that_stops_answering_is_a_lost_connection() -> None:
    async with scripted(stops_reading) as url:
        api = RealtimeAPI(url, ping_interval=0.2, ping_timeout=0.2, close_timeout=0.2)
        await api.connect()
        close = await api.wait_for_next("close", 5)
        assert close is not None, "the silent server was never detected"
        assert (close["code"], close["reason"], close["error"]) == (
            1011,
            "keepalive ping timeout",
            True,
        )
        assert not api.is_connected()


async def test_a_server_that_stops_reading_under_a_flood_is_a_lost_connection() -> None:
    """Enough is sent to fill the socket's buffers: the pings then wait behind the data."""
    async with scripted(stops_reading) as url:
        api = RealtimeAPI(
            url,
            ping_interval=0.2,
            ping_timeout=0.3,
            close_timeout=0.2,
            max_send_queue_bytes=64 * 1024 * 1024,
        )
        closes: list[dict[str, Any]] = []
        api.on("close", closes.append)
        await api.connect()
        megabyte = "A" * (1024 * 1024)
        for _ in range(32):
            if closes:
                break
            with contextlib.suppress(ConnectionClosedError):
                api.send("input_audio_buffer.append", {"audio": megabyte})
            await asyncio.sleep(0.01)
        await eventually(lambda: bool(closes), 5)
        assert closes, "the stuck server was never detected"
        assert (closes[0]["code"], closes[0]["error"]) == (1011, True)
        assert "took no data" in closes[0]["reason"] or "keepalive" in closes[0]["reason"]
        assert not api.is_connected()


# -- after the server ended the connection ---------------------------------------------------


async def test_send_after_the_server_closed_says_why(server: LocalRealtimeServer) -> None:
    api = RealtimeAPI(server.url)
    with pytest.raises(UsageError, match="not connected"):
        api.send("response.create")
    await api.connect()
    await api.wait_for_next("server.session.created", 5)
    closing = asyncio.ensure_future(api.wait_for_next("close", 5))
    await server.close_connections(1011, "injected failure")
    assert await closing is not None
    with pytest.raises(ConnectionClosedError, match="injected failure") as info:
        api.send("response.create")
    assert (info.value.code, info.value.reason) == (1011, "injected failure")
    assert "'response.create'" in str(info.value)
    await api.connect()  # a new connection forgets the old close
    api.send("response.create")
    await api.disconnect()
    with pytest.raises(UsageError, match="not connected"):
        api.send("response.create")


async def test_a_clean_close_carries_its_reason(server: LocalRealtimeServer) -> None:
    api = RealtimeAPI(server.url)
    await api.connect()
    await api.wait_for_next("server.session.created", 5)
    closing = asyncio.ensure_future(api.wait_for_next("close", 5))
    await server.close_connections(1000, "maintenance")
    close = await closing
    assert close is not None
    assert (close["code"], close["reason"], close["error"]) == (1000, "maintenance", False)
    assert isinstance(close["exception"], ConnectionClosedError)
    assert close["exception"].reason == "maintenance"


# -- credentials in the url ------------------------------------------------------------------


async def test_a_token_in_the_url_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    token = "TOPSECRETTOKEN"
    async with LocalRealtimeServer(pace="fast", token=token) as server:
        api = RealtimeAPI(f"{server.url}?token={token}&x=1", debug=True)
        client = RealtimeClient(url=f"{server.url}?token={token}")
        with caplog.at_level(logging.DEBUG):
            await api.connect()
            await api.wait_for_next("server.session.created", 5)
            await client.connect()
            shown = [repr(api), api.url, repr(client)]
            await api.disconnect()
            await client.disconnect()
        assert token in api.connect_url()  # the socket does use it
        assert api.url == f"{server.url}?token=<redacted>&x=1"
        unreachable = RealtimeAPI(f"ws://me:{token}@127.0.0.1:1/v1/realtime?api-key={token}")
        with pytest.raises(ServerUnreachableError) as info:
            await unreachable.connect()
        shown += [str(info.value), info.value.url, repr(unreachable)]
    shown += [r.getMessage() for r in caplog.records]
    assert any("connected to" in text for text in shown)
    for text in shown:
        assert token not in text, text
