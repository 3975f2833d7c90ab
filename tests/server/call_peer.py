"""A WebRTC caller for the local server tests: a real aiortc peer in the test process.

It offers a microphone track and the ``oai-events`` data channel, posts the offer to the
server's calls endpoint over loopback, and records what comes back: the events of the data
channel and the samples of the remote audio track. ICE stays on loopback
(:func:`loopback_only`): both peers gather 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from collections.abc import Iterator
from typing import Any

import aioice.ice
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from realtime_widget.audio.resample import resample
from realtime_widget.server import LocalRealtimeServer

RATE = 48_000
FRAME = RATE // 50


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """aioice gathers 127.0.0.1 alone while inside (it never gathers loopback by itself)."""
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


class Microphone(MediaStreamTrack):
    """Plays queued 24 kHz speech at 48 kHz in real time, silence otherwise."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue = np.zeros(0, dtype=np.int16)
        self._start: float | None = None
        self._pts = 0

    def speak(self, samples_24k: np.ndarray[Any, Any]) -> None:
        self._queue = np.concatenate([self._queue, resample(samples_24k, 24_000, RATE)])

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += FRAME
            wait = self._start + self._pts / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        out = np.zeros(FRAME, dtype=np.int16)
        take = min(FRAME, self._queue.size)
        out[:take], self._queue = self._queue[:take], self._queue[take:]
        frame = AudioFrame.from_ndarray(out.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._pts, fractions.Fraction(1, RATE)
        return frame


class Caller:
    """One call from the test process (see the module doc)."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.microphone = Microphone()
        self.pc.addTrack(self.microphone)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self.opened = asyncio.Event()
        self.received = 0  # remote audio samples (48 kHz, one channel)
        self.loudest = 0
        self.call_id = ""
        self._reader: asyncio.Task[None] | None = None

        @self.channel.on("open")
        def on_open() -> None:
            self.opened.set()

        @self.channel.on("message")
        def on_message(message: str) -> None:
            event = json.loads(message)
            self.seen.append(event)
            self.events.put_nowait(event)

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._reader = asyncio.ensure_future(self._listen(track))

    async def _listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, AudioFrame)
            samples = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]
            self.received += samples.size
            self.loudest = max(self.loudest, int(np.abs(samples.astype(np.int32)).max()))

    async def call(
        self,
        server: LocalRealtimeServer,
        *,
        token: str | None = None,
        session: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Post the offer (with more ``headers``); on 201, take the answer and wait for the
        data channel to open."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = self.pc.localDescription.sdp
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = f"http://127.0.0.1:{server.port}/v1/realtime/calls"
        async with httpx.AsyncClient() as http:
            if session is None:
                headers["Content-Type"] = "application/sdp"
                answer = await http.post(url, content=offer, headers=headers)
            else:
                files = {"sdp": (None, offer), "session": (None, json.dumps(session))}
                answer = await http.post(url, files=files, headers=headers)
        if answer.status_code == 201:
            self.call_id = answer.headers["location"].rsplit("/", 1)[-1]
            await self.pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
            await asyncio.wait_for(self.opened.wait(), 10)
        return answer

    async def send(self, **event: Any) -> None:
        self.channel.send(json.dumps(event))

    async def next(self, event_type: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next event of ``event_type`` (those before it are skipped, still in ``seen``)."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event["type"] == event_type:
                    return event

    async def close(self) -> None:
        self.microphone.stop()
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
