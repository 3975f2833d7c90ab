"""The server's guards: which pages may connect (``Origin``) and how much it remembers."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from typing import Any

import pytest
from server_cli import run_server_cli, serving_cli
from server_peer import Peer, PeerFactory
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as connect_sync
from websockets.typing import Origin

from realtime_widget.server import LocalRealtimeServer

MiB = 1024 * 1024


async def _refused(server: LocalRealtimeServer, origin: str) -> str:
    """The body of the 403 answering a handshake from ``origin``."""
    with pytest.raises(InvalidStatus) as refused:
        await connect(server.url, origin=Origin(origin))
    assert refused.value.response.status_code == 403, origin
    return refused.value.response.body.decode()


async def _accepted(server: LocalRealtimeServer, origin: str | None) -> None:
    async with connect(server.url, origin=Origin(origin) if origin else None) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"


# -- Origin ------------------------------------------------------------------------------


async def test_loopback_pages_and_clients_without_an_origin_connect(
    server: LocalRealtimeServer,
) -> None:
    for origin in (
        None,  # the openai SDK, websockets, the package's own client
        "http://localhost:8888",
        "https://localhost",
        "http://127.0.0.1:8888",
        "http://127.1.2.3:9",
        "http://[::1]:8888",
        "HTTP://LocalHost:8888",
    ):
        await _accepted(server, origin)


async def test_other_pages_are_refused_with_a_403_naming_the_origin_and_the_option(
    server: LocalRealtimeServer,
) -> None:
    for origin in (
        "https://evil.example",
        "http://localhost.evil.example:8888",
        "http://127.0.0.1.evil.example",
        "http://192.168.1.10:8888",
        "null",  # a sandboxed frame or a file:// page
        "file://",
        "ws://127.0.0.1:8888",
    ):
        body = await _refused(server, origin)
        assert repr(origin) in body and "allow_origins" in body and "--allow-origin" in body
    assert server.connections == []


async def test_allow_origins_widens_the_pages_that_may_connect() -> None:
    lab = "https://lab.example.org:8443"
    async with LocalRealtimeServer(pace="fast", allow_origins=[lab + "/"]) as server:
        await _accepted(server, lab)
        await _accepted(server, "https://LAB.example.org:8443")
        await _accepted(server, "http://localhost:8888")  # loopback pages still can
        await _refused(server, "https://lab.example.org")  # another port: another origin
        await _refused(server, "https://evil.example")
    async with LocalRealtimeServer(pace="fast", allow_origins="*") as server:
        await _accepted(server, "https://evil.example")
        await _accepted(server, "null")


async def test_the_origin_is_checked_before_credentials(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace="fast", token="s3cret") as server:
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.url + "?token=s3cret", origin=Origin("https://evil.example"))
        assert refused.value.response.status_code == 403
        peer = await open_peer(
            server, headers={"Origin": "http://127.0.0.1:8888"}, query="?token=s3cret"
        )
        assert peer.first["type"] == "session.created"


def test_bad_allowed_origins_are_value_errors() -> None:
    for bad in ("https://lab.example.org", ["lab.example.org"], ["https://x.org/path"], [""], [7]):
        with pytest.raises(ValueError, match="allow_origins"):
            LocalRealtimeServer(allow_origins=bad)  # type: ignore[arg-type]


def test_command_line_allow_origin() -> None:
    with serving_cli("--port", "0", "--fast", "--allow-origin", "https://lab.example.org") as cli:
        assert cli.stdout is not None
        url = cli.stdout.readline().strip()
        with connect_sync(url, origin=Origin("https://lab.example.org")) as ws:
            assert json.loads(ws.recv())["type"] == "session.created"
        with pytest.raises(InvalidStatus) as refused:
            connect_sync(url, origin=Origin("https://evil.example"))
        assert refused.value.response.status_code == 403
        assert "--allow-origin" in refused.value.response.body.decode()


def test_command_line_refuses_a_bad_origin_in_one_line() -> None:
    result = run_server_cli("--allow-origin", "lab.example.org")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: allow_origins")
    assert "'lab.example.org'" in result.stderr


# -- the received log -----------------------------------------------------------------------


def _frame(index: int, size: int) -> str:
    """A client event of ``size`` characters the server records (and refuses: unknown type)."""
    head = {"type": "probe.big", "event_id": f"evt_{index}", "pad": ""}
    return json.dumps({**head, "pad": "x" * (size - len(json.dumps(head)))})


async def _send_frames(peer: Peer, count: int, size: int) -> None:
    for index in range(count):
        await peer.ws.send(_frame(index, size))
        error = await peer.next("error", timeout=30)
        assert error["error"]["event_id"] == f"evt_{index}"


def _logged_bytes(events: list[dict[str, Any]]) -> int:
    return sum(len(json.dumps(event)) for event in events)


async def test_the_received_log_is_bounded_in_bytes(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace="fast", record_bytes=1 * MiB) as server:
        peer = await open_peer(server)
        connection = await server.wait_for_connection()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await _send_frames(peer, 40, MiB // 2)  # 20 MiB in all
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert grown < 4 * MiB, f"the server kept {grown / MiB:.1f} MiB of 20 MiB received"
        assert _logged_bytes(connection.received) <= 1 * MiB
        assert connection.received[-1]["event_id"] == "evt_39"  # the newest always kept
        await peer.send(type="response.cancel", event_id="evt_after")
        assert (await connection.wait_for_received("response.cancel"))["event_id"] == "evt_after"


async def test_by_default_the_received_log_holds_a_few_megabytes(
    server: LocalRealtimeServer, peer: Peer
) -> None:
    connection = await server.wait_for_connection()
    await _send_frames(peer, 8, 3 * MiB)
    assert 0 < _logged_bytes(connection.received) <= 8 * MiB
    assert connection.received[-1]["event_id"] == "evt_7"


async def test_a_frame_larger_than_the_log_is_kept_until_the_next_one(
    open_peer: PeerFactory,
) -> None:
    async with LocalRealtimeServer(pace="fast", record_bytes=64 * 1024) as server:
        peer = await open_peer(server)
        connection = await server.wait_for_connection()
        waiting = asyncio.ensure_future(connection.wait_for_received("probe.big"))
        await _send_frames(peer, 1, 256 * 1024)
        assert (await waiting)["event_id"] == "evt_0"
        assert [e["event_id"] for e in connection.received] == ["evt_0"]
        await peer.send(type="response.cancel", event_id="evt_small")
        await peer.next("error")
        assert [e["event_id"] for e in connection.received] == ["evt_small"]


async def test_the_trace_is_bounded_in_bytes_too(open_peer: PeerFactory) -> None:
    async with LocalRealtimeServer(pace="fast", record_bytes=1 * MiB, trace=True) as server:
        peer = await open_peer(server)
        connection = await server.wait_for_connection()
        await _send_frames(peer, 12, MiB // 2)
        trace = connection.trace
        assert trace is not None
        assert _logged_bytes([event for _, _, event in trace]) <= 1 * MiB + 4096
        directions = [(direction, event.get("type")) for _, direction, event in trace[-2:]]
        assert directions == [("received", "probe.big"), ("sent", "error")]


def test_a_record_budget_must_be_positive() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="record_bytes"):
            LocalRealtimeServer(record_bytes=bad)  # type: ignore[arg-type]
