"""The WebRTC peer of a local call (aiortc, the ``webrtc`` extra): Opus audio both ways.

Rules:

- :func:`answer_call` answers an SDP offer (no STUN or TURN servers: host candidates only).
  The caller's data channel carries the events (:class:`~realtime_widget.server.calls.CallLink`);
  its microphone track is decoded, mixed to mono, resampled to 24 kHz and heard as appended
  audio is; the call ends when the peer connection fails or closes, or the data channel
  closes.
- :class:`AnswerTrack` is the call's output audio buffer. Each ``response.output_audio.delta``
  is kept off the wire: its audio (in the response's format) joins the buffer, which the
  track plays in real time as 20 ms frames at 48 kHz (silence when empty).
  ``output_audio_buffer.started`` is sent when a response's first audio plays,
  ``output_audio_buffer.stopped`` when its last has played and the response is done.
- :meth:`AnswerTrack.clear` (``output_audio_buffer.clear``, or the user's speech when
  interruptions are on) drops the audio not yet played and sends ``output_audio_buffer.cleared``
  (nothing, when no response's audio is in the buffer: the event names the response);
  the item playing is truncated to what was played (``conversation.item.truncated``), and later
  deltas of that response are dropped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fractions
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.audio.formats import pcm_from_wire
from realtime_widget.audio.resample import Resampler
from realtime_widget.core.protocol import SAMPLE_RATE
from realtime_widget.server.calls import CallLink
from realtime_widget.server.connection import Connection
from realtime_widget.server.wire import ClientEventError

__all__ = ["RATE", "AnswerTrack", "CallPeer", "answer_call"]

logger = logging.getLogger("realtime_widget.server")

RATE: Final = 48_000  # the track's sample rate (Opus)
FRAME: Final = RATE // 50  # 20 ms
_EVENTS_LABEL: Final = "oai-events"

Thunk = Callable[[], Awaitable[None]]


class AnswerTrack(MediaStreamTrack):
    """The answer audio of one call, paced in real time (see the module rules)."""

    kind = "audio"

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self._connection = connection
        self._pieces: deque[tuple[str, str, Int16Array]] = deque()  # response, item, 48 kHz
        self._upsamplers: dict[str, Resampler] = {}  # per item
        self._playing: str | None = None  # the response whose audio plays
        self._done: set[str] = set()  # responses done
        self._dropped: set[str] = set()  # responses cleared
        self._last_item: str | None = None
        self.played: dict[str, int] = {}  # item -> 48 kHz samples played
        self._start: float | None = None
        self._pts = 0
        self._outbox: asyncio.Queue[Thunk] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None

    # -- the connection's side (Media) -----------------------------------------------

    def take(self, event: dict[str, Any]) -> bool:
        kind = event.get("type")
        if kind == "response.output_audio.delta":
            response, item = event["response_id"], event["item_id"]
            if response not in self._dropped:
                run = self._connection.response
                audio_format = run.params.output_format if run is not None else "pcm16"
                samples = pcm_from_wire(base64.b64decode(event["delta"]), audio_format)
                upsampler = self._upsamplers.setdefault(item, Resampler(SAMPLE_RATE, RATE))
                self._pieces.append((response, item, upsampler.process(samples)))
            return True
        if kind == "response.output_audio.done":
            ending = self._upsamplers.pop(event["item_id"], None)
            if ending is not None and event["response_id"] not in self._dropped:
                self._pieces.append((event["response_id"], event["item_id"], ending.flush()))
        elif kind == "response.done":
            self._done.add(event["response"]["id"])
        return False

    async def clear(self, reason: str) -> None:
        response: str | None
        item: str | None
        if self._pieces:
            response, item = self._pieces[0][0], self._pieces[0][1]
        elif self._playing is not None and self._last_item is not None:
            response, item = self._playing, self._last_item
        elif reason == "client" and self._playing is not None:
            response, item = self._playing, None
        else:
            return  # no response's audio in the buffer: nothing is cleared (nor said)
        self._pieces.clear()
        self._playing = None
        if response is not None:
            self._dropped.add(response)
        self._later(self._cleared(response, item))

    async def _cleared(self, response: str | None, item: str | None) -> None:
        connection = self._connection
        await connection.emit({"type": "output_audio_buffer.cleared", "response_id": response})
        if item is None:
            return
        heard_ms = self.played.get(item, 0) * 1000 // RATE
        try:
            stored = connection.conversation.truncate(item, 0, heard_ms)
        except ClientEventError:
            return  # gone, or all of it was played
        await connection.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": stored.id,
                "content_index": 0,
                "audio_end_ms": heard_ms,
            }
        )

    def _later(self, event: Awaitable[None]) -> None:
        """Send in order, from a task of the track's own (frames are never held up)."""
        self._outbox.put_nowait(lambda: event)
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send_events())

    async def _send_events(self) -> None:
        while True:
            thunk = await self._outbox.get()
            try:
                await thunk()
            except Exception:
                logger.exception("failed to send an output audio event")

    def _announce(self, kind: str, response: str) -> None:
        self._later(self._connection.emit({"type": kind, "response_id": response}))

    # -- the peer's side -------------------------------------------------------------

    def _next_samples(self) -> Int16Array:
        out = np.zeros(FRAME, dtype=np.int16)
        filled = 0
        while filled < FRAME and self._pieces:
            response, item, samples = self._pieces[0]
            if response != self._playing:
                if self._playing is not None:
                    self._announce("output_audio_buffer.stopped", self._playing)
                self._playing = response
                self._announce("output_audio_buffer.started", response)
            count = min(FRAME - filled, samples.size)
            out[filled : filled + count] = samples[:count]
            filled += count
            self._last_item = item
            self.played[item] = self.played.get(item, 0) + count
            if count == samples.size:
                self._pieces.popleft()
            else:
                self._pieces[0] = (response, item, samples[count:])
        if not self._pieces and self._playing is not None and self._playing in self._done:
            self._announce("output_audio_buffer.stopped", self._playing)
            self._playing = None
        return out

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            self._pts += FRAME
            wait = self._start + self._pts / RATE - now
            if wait > 0:
                await asyncio.sleep(wait)
        samples = self._next_samples()
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        return frame

    def stop(self) -> None:
        super().stop()
        if self._sender is not None:
            self._sender.cancel()


class CallPeer:
    """The peer connection of one call and the tasks reading its microphone."""

    def __init__(self, link: CallLink, track: AnswerTrack) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = track
        self._link = link
        self._tasks: set[asyncio.Task[None]] = set()
        pc = self.pc

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label != _EVENTS_LABEL:
                return

            @channel.on("message")
            def on_message(message: str | bytes) -> None:
                link.put(message)

            @channel.on("close")
            def on_close() -> None:
                self._spawn(link.close(1000, "data channel closed"))

            if channel.readyState == "open":
                link.open_channel(channel)
            else:
                channel.on("open", lambda: link.open_channel(channel))

        @pc.on("track")
        def on_track(remote: MediaStreamTrack) -> None:
            if remote.kind == "audio":
                self._spawn(self._hear(remote))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await link.close(1000, "call ended")

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hear(self, remote: MediaStreamTrack) -> None:
        resampler: Resampler | None = None
        while True:
            try:
                frame = await remote.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, AudioFrame)
            channels = len(frame.layout.channels)
            pcm = frame.to_ndarray().reshape(-1, channels)[:, 0]  # s16 packed: channel one
            if resampler is None or resampler.from_rate != frame.sample_rate:
                resampler = Resampler(frame.sample_rate, SAMPLE_RATE)
            self._link.put_audio(resampler.process(np.ascontiguousarray(pcm)))

    async def close(self) -> None:
        self.track.stop()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        with contextlib.suppress(Exception):
            await self.pc.close()


async def answer_call(offer: str, connection: Connection, link: CallLink) -> tuple[str, CallPeer]:
    """The SDP answer to ``offer`` and the peer that serves ``connection`` over ``link``;
    :class:`ClientEventError` when the offer cannot be answered."""
    track = AnswerTrack(connection)
    peer = CallPeer(link, track)
    try:
        await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        peer.pc.addTrack(track)
        await peer.pc.setLocalDescription(await peer.pc.createAnswer())
    except Exception as exc:
        await peer.close()
        raise ClientEventError(
            f"the offer cannot be answered: {exc}", code="invalid_offer"
        ) from exc
    connection.media = track
    return peer.pc.localDescription.sdp, peer
