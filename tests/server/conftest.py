"""Fixtures for the local server tests: a started server and raw WebSocket peers.

The peers use ``websockets.asyncio.client.connect`` over loopback directly (never the
package's own client), so these tests check the server's wire behaviour on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from server_peer import Peer, PeerFactory
from websockets.asyncio.client import connect

from realtime_widget.server import LocalRealtimeServer


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as started:
        yield started


@pytest.fixture
async def open_peer() -> AsyncIterator[PeerFactory]:
    """``await open_peer(server, beta=False, headers=None, query="")``: a connected peer
    whose ``session.created`` (or the first event) is in ``peer.first``."""
    peers: list[Peer] = []

    async def factory(
        target: LocalRealtimeServer,
        *,
        beta: bool = False,
        headers: dict[str, str] | None = None,
        query: str = "",
        manual: bool = False,
    ) -> Peer:
        all_headers = dict(headers or {})
        if beta:
            all_headers["OpenAI-Beta"] = "realtime=v1"
        ws = await connect(
            target.url + query, additional_headers=all_headers, max_size=None, max_queue=None
        )
        peer = Peer(ws)
        peers.append(peer)
        peer.first = await peer.recv()
        if beta and peer.first["type"] == "session.created":  # not transcription_session.*
            await peer.next("conversation.created")
        if manual:
            session: dict[str, Any] = {"turn_detection": None}
            if not beta:
                session = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
            await peer.send(type="session.update", session=session)
            await peer.next("session.updated")
        return peer

    yield factory
    for peer in peers:
        await peer.ws.close()


@pytest.fixture
async def peer(server: LocalRealtimeServer, open_peer: PeerFactory) -> Peer:
    """A GA peer on the fast server with manual turns (no VAD)."""
    return await open_peer(server, manual=True)
