"""The server as a network service: bad frames, auth, paths, hooks, threads and the CLI."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from server_cli import run_server_cli, serving_cli
from server_peer import Peer, PeerFactory
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as connect_sync

from realtime_widget.server import LocalRealtimeServer, serve_in_thread


async def test_bad_frames_become_errors_and_the_connection_survives(
    server: LocalRealtimeServer, peer: Peer
) -> None:
    await peer.ws.send("{not json")
    error = (await peer.next("error"))["error"]
    assert error["code"] == "invalid_json" and error["event_id"] is None
    await peer.ws.send("[1, 2]")
    assert (await peer.next("error"))["error"]["code"] == "invalid_json"
    await peer.ws.send(b"\x00\x01binary")
    assert (await peer.next("error"))["error"]["code"] == "invalid_frame"
    await peer.ws.send(json.dumps({"event_id": "evt_nt"}))
    error = (await peer.next("error"))["error"]
    assert (error["code"], error["param"], error["event_id"]) == (
        "missing_required_parameter",
        "type",
        "evt_nt",
    )
    await peer.send(type="response.dance", event_id="evt_u")
    error = (await peer.next("error"))["error"]
    assert error["code"] == "invalid_value" and "response.dance" in error["message"]
    assert error["event_id"] == "evt_u"
    await peer.send(type=7)
    assert (await peer.next("error"))["error"]["code"] == "invalid_type"
    await peer.ws.send("[" * 100_000 + "]" * 100_000)
    assert (await peer.next("error"))["error"]["code"] == "invalid_json"
    # json.loads refuses integers of more than 4,300 digits with a ValueError
    await peer.ws.send('{"type": "session.update", "session": {"n": ' + "1" * 5000 + "}}")
    error = (await peer.next("error"))["error"]
    assert error["code"] == "invalid_json" and "5000 digits" in error["message"]
    await peer.send(type="output_audio_buffer.clear")
    assert "webrtc" in (await peer.next("error"))["error"]["message"]
    # still fully working
    await peer.say("still here")
    await peer.send(type="response.create")
    done = await peer.next("response.done")
    assert done["response"]["output"][0]["content"][0]["transcript"] == "You said: still here."
    connection = await server.wait_for_connection()
    types = [event.get("type") for event in connection.received]
    assert types[-2:] == ["conversation.item.create", "response.create"]
    assert {"event_id": "evt_nt"} in connection.received


async def test_token_is_required_when_given(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace="fast", token="s3cret") as server:
        assert server.requires_credentials
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.url)
        assert refused.value.response.status_code == 401
        with pytest.raises(InvalidStatus):
            await connect(server.url, additional_headers={"Authorization": "Bearer wrong"})
        for headers, query in [
            ({"Authorization": "Bearer s3cret"}, ""),
            ({"api-key": "s3cret"}, ""),
            ({}, "?token=s3cret"),
        ]:
            peer = await open_peer(server, headers=headers, query=query)
            assert peer.first["type"] == "session.created"
        browser = await connect(
            server.url, subprotocols=["realtime", "openai-insecure-api-key.s3cret"]
        )
        assert browser.subprotocol == "realtime"
        assert json.loads(await browser.recv())["type"] == "session.created"
        await browser.close()


async def test_api_key_mismatch_is_401(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace="fast", api_key="sk-test") as server:
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.url, additional_headers={"Authorization": "Bearer sk-other"})
        assert refused.value.response.status_code == 401
        peer = await open_peer(server, headers={"Authorization": "Bearer sk-test"})
        assert peer.first["type"] == "session.created"


async def test_an_empty_credential_never_matches(open_peer: PeerFactory) -> None:
    for options in ({"token": ""}, {"api_key": ""}, {"token": "  "}):
        with pytest.raises(ValueError, match=f"{next(iter(options))} must be a non-empty"):
            LocalRealtimeServer("0.0.0.0", **options)  # type: ignore[arg-type]
    async with LocalRealtimeServer(pace="fast", token="s3cret") as server:
        server.token = ""  # even when the token is emptied later
        for headers in ({"api-key": ""}, {"Authorization": "Bearer "}):
            with pytest.raises(InvalidStatus) as refused:
                await connect(server.url, additional_headers=headers)
            assert refused.value.response.status_code == 401
        with pytest.raises(InvalidStatus):
            await connect(server.url + "?token=")


def test_a_port_out_of_range_is_a_value_error() -> None:
    for port in (-1, 65536, 99999):
        with pytest.raises(ValueError, match=f"port must be .*65535, got {port}"):
            LocalRealtimeServer(port=port)


async def test_bound_to_all_interfaces_the_url_is_a_loopback_one() -> None:
    async with LocalRealtimeServer("0.0.0.0", pace="fast") as server:
        assert server.url == f"ws://127.0.0.1:{server.port}/v1/realtime"
        async with connect(server.url + f"?token={server.token}") as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"


def test_off_loopback_a_token_is_generated() -> None:
    assert LocalRealtimeServer().token is None
    assert LocalRealtimeServer("::1").token is None
    assert not LocalRealtimeServer("localhost").requires_credentials
    exposed = LocalRealtimeServer("0.0.0.0")
    assert exposed.token is not None and len(exposed.token) >= 24
    assert exposed.requires_credentials
    assert LocalRealtimeServer("0.0.0.0").token != exposed.token
    assert LocalRealtimeServer("192.168.1.10", token="mine").token == "mine"
    with pytest.raises(ValueError, match="pace"):
        LocalRealtimeServer(pace="slow")  # type: ignore[arg-type]


async def test_paths_azure_and_beta_subprotocol(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    base = f"ws://127.0.0.1:{server.port}"
    with pytest.raises(InvalidStatus) as missing:
        await connect(base + "/v1/other")
    assert missing.value.response.status_code == 404
    with pytest.raises(InvalidStatus) as no_deployment:
        await connect(base + "/openai/realtime?api-version=2025-04-01")
    assert no_deployment.value.response.status_code == 400
    async with connect(base + "/openai/realtime?api-version=x&deployment=my-rt") as azure:
        assert json.loads(await azure.recv())["session"]["model"] == "my-rt"
    async with connect(server.url, subprotocols=["realtime", "openai-beta.realtime-v1"]) as ws:
        session = json.loads(await ws.recv())["session"]
        assert "modalities" in session and "type" not in session


@pytest.mark.wire_faults
async def test_send_raw_and_close_connections_hooks(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    first = await open_peer(server)
    second = await open_peer(server)
    assert len(server.connections) == 2
    await server.send_raw('{"type": "mystery.event"}')
    for peer in (first, second):
        assert json.loads(await peer.ws.recv()) == {"type": "mystery.event"}
    await server.send_raw(b"\x01\x02", server.connections[0])
    assert await first.ws.recv() == b"\x01\x02"
    await server.close_connections(code=1011, reason="injected failure")
    for peer in (first, second):
        with pytest.raises(ConnectionClosed) as closed:
            await peer.ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1011, "injected failure")
    for _ in range(100):
        if not server.connections:
            break
        await asyncio.sleep(0.01)
    assert server.connections == []


async def test_wait_for_received(server: LocalRealtimeServer, peer: Peer) -> None:
    connection = await server.wait_for_connection()
    waiting = asyncio.ensure_future(connection.wait_for_received("response.cancel", timeout=2))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await peer.send(type="response.cancel", event_id="evt_w")
    assert (await waiting)["event_id"] == "evt_w"
    with pytest.raises(TimeoutError):
        await connection.wait_for_received("never.sent", timeout=0.05)


async def test_session_length_limit(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace="fast", max_session_seconds=0.3) as server:
        peer = await open_peer(server)
        error = await peer.next("error", timeout=3)
        assert error["error"]["code"] == "session_expired"
        with pytest.raises(ConnectionClosed) as closed:
            await peer.ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def test_serve_in_thread_from_synchronous_code() -> None:
    server = serve_in_thread(pace="fast")
    try:
        assert server.url.startswith("ws://127.0.0.1:")
        with connect_sync(server.url) as ws:
            assert json.loads(ws.recv())["type"] == "session.created"
            ws.send(
                json.dumps(
                    {
                        "type": "conversation.item.create",
                        "item": {
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": "from a thread"}],
                        },
                    }
                )
            )
            ws.send(json.dumps({"type": "response.create"}))
            while (event := json.loads(ws.recv(timeout=5)))["type"] != "response.done":
                pass
            assert event["response"]["output"][0]["content"][0]["transcript"] == (
                "You said: from a thread."
            )
            connection = server.call_in_thread(server.wait_for_connection())
            assert [e["type"] for e in connection.received] == [
                "conversation.item.create",
                "response.create",
            ]
            # the server keeps serving while this (the caller's) thread is busy
            time.sleep(0.05)
    finally:
        server.stop_thread()
    server.stop_thread()  # idempotent
    with pytest.raises(OSError):
        connect_sync(server.url, open_timeout=1)


def test_thread_start_failure_is_raised_to_the_caller() -> None:
    first = serve_in_thread(pace="fast")
    try:
        with pytest.raises(OSError):
            serve_in_thread(port=first.port)
    finally:
        first.stop_thread()


def test_command_line_prints_the_url_and_serves() -> None:
    with serving_cli("--port", "0", "--fast", "--token", "t0k") as cli:
        assert cli.stdout is not None
        url = cli.stdout.readline().strip()
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1/realtime")
        assert cli.stdout.readline().strip() == "token: t0k"
        with connect_sync(url + "?token=t0k") as ws:
            assert json.loads(ws.recv())["type"] == "session.created"


def test_command_line_rejects_bad_knowledge(tmp_path: Path) -> None:
    bad = tmp_path / "k.json"
    bad.write_text('{"scripts": 3}')
    result = run_server_cli("--knowledge", str(bad))
    assert result.returncode == 2
    assert "scripts must be a list" in result.stderr


def test_command_line_refuses_a_bad_port_in_one_line() -> None:
    result = run_server_cli("--port", "99999")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: port must be between 0 and 65535, got 99999"
    result = run_server_cli("--token", "")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: token must be a non-empty string")


def test_command_line_on_all_interfaces_prints_a_usable_url() -> None:
    with serving_cli("--host", "0.0.0.0", "--port", "0") as cli:
        assert cli.stdout is not None and cli.stderr is not None
        url = cli.stdout.readline().strip()
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1/realtime")
        token = cli.stdout.readline().strip().removeprefix("token: ")
        assert len(token) >= 24
        assert "all interfaces" in cli.stderr.readline()
        with connect_sync(f"{url}?token={token}") as ws:
            assert json.loads(ws.recv())["type"] == "session.created"
