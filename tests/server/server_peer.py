"""A raw WebSocket peer for the local server tests (plain ``websockets``, never the
package's own client), so these tests check the server's wire behaviour on its own."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection

DELTA_TYPES = (
    "response.output_audio.delta",
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.audio.delta",
    "response.audio_transcript.delta",
    "response.text.delta",
    "conversation.item.input_audio_transcription.delta",
)


class Peer:
    """A raw client: sends events as dicts, reads events with timeouts.

    Reads pass over the event types in ``skip`` (kept in ``seen``): by default the
    ``rate_limits.updated`` that follows every ``response.done``, which tests reading a
    turn's events in order have no use for; a test of it empties ``skip``.
    """

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self.first: dict[str, Any] = {}
        self.skip: set[str] = {"rate_limits.updated"}

    async def send(self, **event: Any) -> None:
        await self.ws.send(json.dumps(event))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), max(0.0, deadline - loop.time()))
            event = json.loads(raw)
            assert isinstance(event, dict)
            assert event["event_id"].startswith("event_")
            self.seen.append(event)
            if event["type"] not in self.skip:
                return event

    async def until(self, event_type: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Every event up to and including the next one of ``event_type``."""
        events: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.recv(max(0.01, deadline - loop.time()))
            events.append(event)
            if event["type"] == event_type:
                return events

    async def next(self, event_type: str, timeout: float = 5.0) -> dict[str, Any]:
        return (await self.until(event_type, timeout))[-1]

    async def quiet(self, seconds: float = 0.2) -> list[dict[str, Any]]:
        """Events arriving within ``seconds`` (expected to be none, usually)."""
        events: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                events.append(await self.recv(left))
            except TimeoutError:
                break
        return events

    async def say(self, text: str) -> None:
        """Create a user text message."""
        await self.send(
            type="conversation.item.create",
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        )

    async def append(self, samples: np.ndarray[Any, Any], chunk: int = 2400) -> None:
        """Append int16 samples as PCM16 in chunks of ``chunk`` samples."""
        for start in range(0, samples.size, chunk):
            data = samples[start : start + chunk].astype("<i2").tobytes()
            await self.send(
                type="input_audio_buffer.append", audio=base64.b64encode(data).decode("ascii")
            )


def structure(events: list[dict[str, Any]]) -> list[str]:
    """The event types with delta events left out."""
    return [e["type"] for e in events if e["type"] not in DELTA_TYPES]


PeerFactory = Callable[..., Awaitable[Peer]]
