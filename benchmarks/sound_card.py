"""The virtual sound card's ends for ``bench_kernel_audio``, and its floors.

- :func:`virtual_sound` imports ``tests/support/virtual_sound.py`` (a private PulseAudio
  with null sinks, seen by PortAudio through ALSA's ``pulse`` plugin), or raises
  :class:`Skip` naming what it needs and this machine lacks.
- :class:`Feeder` plays into the virtual microphone; :class:`TimedRecorder` records a
  source with its reads stamped, to date what it holds on this process's clock.
- :func:`bare_capture`, the capture floor: a bare ``sounddevice`` input stream on the same
  microphone, opened as the endpoint opens it (the device's default rate, the endpoint's
  block and latency), takes it to 24 kHz by picking the nearest samples, cuts the same 80 ms
  chunks and sends them as base64 JSON over a plain ``websockets`` connection to a plain
  server on its own thread (as the local server runs in the benchmark), which stamps their
  arrival; the markers are dated as ``bench_kernel_audio``
  dates them, so the figure is the same one with nothing of ours in between.
- :func:`bare_stops`, the barge-in floor: a bare ``sounddevice`` output stream on the same
  speaker (the endpoint's block and latency) plays a tone that its callback silences from a
  stamped moment on; the figure is that moment to the tone's last sample at the output: the
  device's own latency.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "BLOCK",
    "CHUNK",
    "LATENCY",
    "RATE",
    "Feeder",
    "Skip",
    "TimedRecorder",
    "added",
    "arrived",
    "bare_capture",
    "bare_stops",
    "loud",
    "mark",
    "onsets",
    "sound_card",
    "virtual_sound",
    "waits",
    "warm_up",
]

RATE = 24_000
BLOCK = RATE // 100  # 10 ms: the feeder's blocks, the streams' callbacks
CHUNK = 80 * RATE // 1000  # the endpoint's 80 ms chunks
LATENCY = 0.02  # the endpoint's default device latency, the floors' too
SUPPORT = Path(__file__).resolve().parents[1] / "tests" / "support"


class Skip(Exception):
    """A dependency of the run is missing."""


def virtual_sound() -> ModuleType:
    """``tests/support/virtual_sound.py``, imported as the device tests import it; raises
    :class:`Skip` naming what the card needs and this machine lacks."""
    if str(SUPPORT) not in sys.path:
        sys.path.insert(0, str(SUPPORT))
    module = importlib.import_module("virtual_sound")
    missing = module.missing_programs()
    if missing:
        raise Skip(f"the virtual sound card needs {', '.join(missing)}")
    return module


class Feeder:
    """The virtual microphone's input: ``pacat`` on its sink, written in real time (10 ms
    blocks of silence, or of what :meth:`mark` and :meth:`say` queue). What is written waits
    in the pipe and ``pacat`` for a while that depends on their start: the figures date
    sounds where the microphone has them (:class:`TimedRecorder` on ``mic_feed.monitor``)."""

    def __init__(self, server: str) -> None:
        self._process = subprocess.Popen(
            virtual_sound().pulse_command("pacat", server, "mic_feed"),
            stdin=subprocess.PIPE,
        )
        self._lock = threading.Lock()
        self._queue: list[np.ndarray[Any, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()

    def _write(self) -> None:
        assert self._process.stdin is not None
        silence = np.zeros(BLOCK, "<i2").tobytes()
        start = time.monotonic()
        block = 0
        pending = b""
        while not self._stop.is_set():
            delay = start + block * 0.01 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            block += 1
            if not pending:
                with self._lock:
                    if self._queue:
                        pending = self._queue.pop(0).astype("<i2").tobytes()
            data, pending = (
                (pending[: 2 * BLOCK], pending[2 * BLOCK :]) if pending else (silence, b"")
            )
            data += silence[len(data) :]
            try:
                self._process.stdin.write(data)
                self._process.stdin.flush()
            except (BrokenPipeError, ValueError):
                return

    def mark(self, offset: int = 0) -> None:
        """Queue a marker: a 20 ms burst of a 1 kHz tone, ``offset`` samples into a block
        (the devices work in 10 ms periods: markers at one phase of them would all wait
        alike, a constant that depends on how the run's streams happened to line up)."""
        phase = np.arange(2 * BLOCK) * (2 * np.pi * 1_000 / RATE)
        burst = (12_000 * np.sin(phase)).astype(np.int16)
        self.say(np.concatenate([np.zeros(offset, np.int16), burst]))

    def say(self, samples: np.ndarray[Any, Any]) -> None:
        """Queue 24 kHz PCM16 ``samples``: they play after what is queued."""
        with self._lock:
            self._queue.append(samples)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.terminate()
        self._process.wait(10)


class TimedRecorder:
    """What a PulseAudio ``source`` has (the speaker's monitor, or the microphone's
    ``mic_feed.monitor``), recorded by ``parec`` with each read stamped: sample ``i`` was
    there at :meth:`time_of` ``(i)``."""

    def __init__(self, server: str, source: str = "speaker.monitor") -> None:
        self._process = subprocess.Popen(
            virtual_sound().pulse_command("parec", server, source),
            stdout=subprocess.PIPE,
        )
        self._data = bytearray()
        self._reads: list[tuple[float, int]] = []  # each read's time, samples by then
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        while chunk := self._process.stdout.read1(960):  # type: ignore[attr-defined]
            now = time.time()
            with self._lock:
                self._data.extend(chunk)
                self._reads.append((now, len(self._data) // 2))

    def _anchor(self, near: Callable[[float, int], bool]) -> float:
        """When sample 0 was there, as dated by the least delayed of the reads ``near``
        picks (a read delivers samples already there; a gap in the recording moves the
        later ones, so only reads close to what is dated count)."""
        with self._lock:
            anchors = [t - n / RATE for t, n in self._reads if near(t, n)]
        if not anchors:
            raise RuntimeError("the recording holds nothing near the time asked")
        return min(anchors)

    def time_of(self, index: int) -> float:
        """When sample ``index`` was there (this process's ``time.time()``)."""
        return self._anchor(lambda t, n: abs(n - index) <= 2 * RATE) + index / RATE

    def index_at(self, moment: float) -> int:
        """The sample that was there at ``moment``."""
        return int((moment - self._anchor(lambda t, n: abs(t - moment) <= 2.0)) * RATE)

    def samples(self) -> np.ndarray[Any, Any]:
        with self._lock:
            data = bytes(self._data[: len(self._data) // 2 * 2])
        return np.frombuffer(data, dtype="<i2").copy()

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(10)
        self._thread.join(10)


@contextmanager
def sound_card(vs: ModuleType) -> Iterator[Any]:
    """The virtual sound card started, stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="rtw-bench-sound-") as folder:
        card = vs.VirtualSound(Path(folder)).start()
        try:
            yield card
        finally:
            card.stop()


def onsets(pcm: np.ndarray[Any, Any]) -> list[int]:
    """Where each burst starts: a loud sample after at least 100 ms of quiet."""
    above = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 3_000)
    if above.size == 0:
        return []
    gaps = np.flatnonzero(np.diff(above) > RATE // 10)
    return [int(above[0]), *(int(above[g + 1]) for g in gaps)]


def loud(block: Any) -> bool:
    """Whether a block of int16 samples holds a marker's (or other loud) samples."""
    return bool(np.abs(np.asarray(block, dtype=np.int32)).max(initial=0) > 3_000)


def waits(marks: list[float], callbacks: list[float]) -> list[float]:
    """ms from each marker at the microphone to the first stream callback holding it."""
    out = []
    for at in marks:
        later = [t for t in callbacks if t >= at - 0.005]
        if later:
            out.append((min(later) - at) * 1000)
    return out


def added(
    arrivals: list[tuple[float, int]], pcm: np.ndarray[Any, Any], marks: list[float]
) -> list[float]:
    """ms beyond the chunk, per marker: ``arrivals`` are each chunk's arrival stamp and
    size, in order; ``pcm`` their samples end to end; ``marks`` when each marker was at the
    microphone. The chunk is whole once its last sample is: the marker's time plus the
    samples from the marker to the chunk's end."""
    ends = np.cumsum([size for _, size in arrivals])
    out = []
    found = onsets(pcm)
    if len(found) != len(marks):
        raise RuntimeError(f"{len(marks)} markers at the microphone, {len(found)} at the server")
    for onset, written in zip(found, marks, strict=True):
        chunk = int(np.searchsorted(ends, onset, side="right"))
        arrived, end = arrivals[chunk][0], int(ends[chunk])
        out.append((arrived - (written + (end - onset) / RATE)) * 1000)
    return out


async def mark(card: Any, feeder: Feeder, count: int) -> list[float]:
    """Play ``count`` markers about 0.4 s apart (at phases unrelated to the chunks) into the
    microphone; returns when each was at the microphone."""
    recorder = TimedRecorder(card.server, "mic_feed.monitor")
    try:
        rng = np.random.default_rng(7)
        for _ in range(count):
            feeder.mark(int(rng.integers(0, BLOCK)))
            await asyncio.sleep(0.35 + 0.1 * float(rng.random()))
        for _ in range(100):
            found = onsets(recorder.samples())
            if len(found) >= count:
                break
            await asyncio.sleep(0.1)
    finally:
        recorder.close()
    if len(found) != count:
        raise RuntimeError(f"{count} markers played, {len(found)} at the microphone")
    return [recorder.time_of(at) for at in found]


async def arrived(pcm: Callable[[], np.ndarray[Any, Any]], count: int) -> None:
    """Until ``pcm()`` (what the server got so far) holds ``count`` markers, for 10 s at most."""
    for _ in range(100):
        if len(onsets(pcm())) >= count:
            return
        await asyncio.sleep(0.1)


async def warm_up(count: Any) -> None:
    """Until the microphone delivers in real time (PulseAudio's null sinks take a moment)."""
    for _ in range(50):
        before = count()
        await asyncio.sleep(0.4)
        if count() - before >= 4:  # 4 x 80 ms in 400 ms
            return
    raise RuntimeError("the virtual microphone never ran in real time")


async def bare_capture(
    vs: ModuleType,
    card: Any,
    count: int,
    rate: int | None = None,
    legs: list[float] | None = None,
) -> list[float]:
    """The capture floor: a bare stream and server (see the module's docstring); ms beyond
    the chunk, per marker. ``rate`` is the stream's (``None``: the device's default, as the
    endpoint opens it, taken to 24 kHz by picking the nearest sample, no filter).
    ``legs`` gets the ms from each marker to the first stream callback holding it."""
    callbacks: list[float] = []
    import sounddevice as sd
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    held: list[np.ndarray[Any, Any]] = []
    sent = [0]
    sending: set[asyncio.Task[None]] = set()
    feeder = Feeder(card.server)
    opened = rate or int(sd.query_devices(vs.MIC, "input")["default_samplerate"])
    with _BareServer() as bare:
        arrivals = bare.arrivals
        async with connect(bare.url) as socket:

            def sent_or_closed(task: asyncio.Task[None]) -> None:
                sending.discard(task)
                if not task.cancelled():
                    task.exception()  # a block captured after the socket closed: not sent

            def collect(block: np.ndarray[Any, Any]) -> None:
                if opened != RATE:
                    block = block[(np.arange(block.size * RATE // opened) * opened) // RATE]
                held.append(block)
                if sum(b.size for b in held) >= CHUNK:
                    pcm = np.concatenate(held)
                    held[:] = [pcm[CHUNK:]]
                    text = base64.b64encode(pcm[:CHUNK].astype("<i2").tobytes()).decode()
                    task = loop.create_task(socket.send(json.dumps({"audio": text})))
                    sending.add(task)
                    task.add_done_callback(sent_or_closed)
                    sent[0] += 1

            def captured(indata: Any, frames: int, when: Any, status: Any) -> None:
                if loud(indata):
                    callbacks.append(time.time())
                loop.call_soon_threadsafe(collect, indata[:, 0].copy())

            stream = sd.InputStream(
                device=vs.MIC,
                samplerate=opened,
                channels=1,
                dtype="int16",
                latency=LATENCY,
                blocksize=opened // 100,
                callback=captured,
            )
            try:
                stream.start()
                await warm_up(lambda: sent[0])
                marks = await mark(card, feeder, count)
                await arrived(lambda: _joined(arrivals), count)
            finally:
                stream.stop()
                stream.close()
                feeder.close()
    if legs is not None:
        legs.extend(waits(marks, callbacks))
    pcm = _joined(arrivals)
    return added([(stamp, len(data) // 2) for stamp, data in arrivals], pcm, marks)


class _BareServer:
    """A plain ``websockets`` server on its own thread and loop (as the local server runs in
    the benchmark), keeping each message's arrival stamp and audio."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),))

    async def _serve(self) -> None:
        from websockets.asyncio.server import ServerConnection, serve

        async def handle(connection: ServerConnection) -> None:
            async for message in connection:
                stamp = time.time()
                self.arrivals.append((stamp, base64.b64decode(json.loads(message)["audio"])))

        self._stop = self._loop.create_future()
        async with serve(handle, "127.0.0.1", 0) as server:
            self.url = f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}"
            self._ready.set()
            await self._stop

    def __enter__(self) -> _BareServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the bare server did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop = self._stop
        if stop is not None:

            def end() -> None:
                if not stop.done():
                    stop.set_result(None)

            self._loop.call_soon_threadsafe(end)
        self._thread.join(10)
        self._loop.close()


def _joined(arrivals: list[tuple[float, bytes]]) -> np.ndarray[Any, Any]:
    return np.frombuffer(b"".join(data for _, data in list(arrivals)), "<i2")


async def bare_stops(vs: ModuleType, card: Any, count: int) -> list[float]:
    """A tone on a bare output stream, silenced from a stamped moment: ms to silence at the
    speaker's output, for up to ``count`` rounds without xruns (at most ``2 * count``
    tried; a round whose tone the recording lacks is left out too)."""
    import sounddevice as sd

    recorder = TimedRecorder(card.server)
    silenced_at: list[float] = []
    tries = 0
    state = {"on": False, "phase": 0, "xruns": 0}
    step = 2 * np.pi * 440 / RATE

    def render(outdata: Any, frames: int, when: Any, status: Any) -> None:
        if status:
            state["xruns"] += 1
        if state["on"]:
            phase = state["phase"] + np.arange(frames)
            outdata[:, 0] = (12_000 * np.sin(phase * step)).astype(np.int16)
            state["phase"] += frames
        else:
            outdata[:] = 0

    stream = sd.OutputStream(
        device=vs.SPEAKER,
        samplerate=RATE,
        channels=1,
        dtype="int16",
        latency=LATENCY,
        blocksize=BLOCK,
        callback=render,
    )
    try:
        stream.start()
        await asyncio.sleep(1.0)
        while len(silenced_at) < count and tries < 2 * count:
            tries += 1
            xruns = state["xruns"]
            state["on"] = True
            await asyncio.sleep(0.5)
            stamp = time.time()
            state["on"] = False
            await asyncio.sleep(0.5)
            if state["xruns"] == xruns:  # a round the device dropped audio in is left out
                silenced_at.append(stamp)
    finally:
        stream.stop()
        stream.close()
        await asyncio.sleep(0.2)
        recorder.close()
    out = []
    sounding = np.abs(recorder.samples().astype(np.int32)) > 1_000
    for stamp in silenced_at:
        at = recorder.index_at(stamp)
        if not RATE // 4 <= at <= sounding.size - RATE // 4:
            continue  # the recording does not reach it
        last = np.flatnonzero(sounding[at - RATE // 4 : at + RATE // 4])
        if last.size:  # none: the device dropped the tone (an xrun it did not report)
            index = at - RATE // 4 + int(last[-1]) + 1
            out.append((recorder.time_of(index) - stamp) * 1000)
    return out
