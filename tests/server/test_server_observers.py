"""Frame observers: every frame a connection receives and sends, as it crossed the socket."""

from __future__ import annotations

import json
import logging

import pytest
from server_peer import PeerFactory

from realtime_widget.server import Connection, LocalRealtimeServer
from realtime_widget.server.connection import Direction


async def test_observers_see_every_frame_in_order(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    seen: list[tuple[Connection, Direction, str | bytes]] = []
    server.frame_observers.append(lambda c, d, f: seen.append((c, d, f)))
    peer = await open_peer(server)
    await peer.ws.send(b"\x00")  # refused: observed all the same, before the error
    await peer.next("error")
    raw = '{"event_id": "event_raw", "type": "rate_limits.updated", "rate_limits": []}'
    await server.send_raw(raw)
    assert await peer.ws.recv() == raw
    connection = server.connections[-1]
    assert all(c is connection for c, _, _ in seen)
    directions = [d for _, d, _ in seen]
    assert directions == ["sent", "received", "sent", "raw"]
    assert json.loads(seen[0][2])["type"] == "session.created"
    assert seen[0][2] == json.dumps(peer.first, separators=(",", ":"))  # the frame as sent
    assert seen[1][2] == b"\x00"
    assert json.loads(seen[2][2])["error"]["code"] == "invalid_frame"
    assert seen[3][2] == raw


async def test_a_failing_observer_is_logged_and_the_session_goes_on(
    server: LocalRealtimeServer, open_peer: PeerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(connection: Connection, direction: Direction, frame: str | bytes) -> None:
        raise RuntimeError("observer bug")

    server.frame_observers.append(broken)
    peer = await open_peer(server)
    await peer.send(type="conversation.item.retrieve", item_id="nope")
    assert (await peer.next("error"))["error"]["code"] == "item_not_found"
    failures = [r for r in caplog.records if "frame observer" in r.getMessage()]
    assert failures and failures[0].levelno == logging.ERROR
    server.frame_observers.remove(broken)
