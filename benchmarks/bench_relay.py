"""Kernel relay cost: the kernel CPU time spent per second of audio, in each direction.

The widget (:class:`RealtimeWidget`) relays audio between the browser and the realtime
server. Here a real widget and client talk to the local server running in ANOTHER process
(``python -m realtime_widget.server --port 0 --fast``) over loopback, and a counting comm
stands in for the kernel's (``comm.create_comm`` is the hook ipywidgets calls), so only this
process's work is measured:

- browser to kernel: 80 ms PCM16 chunks (quiet noise: server VAD stays idle) delivered as
  ``memoryview`` buffers through the comm's ``handle_msg``, as the kernel hands a custom
  message over; the widget passes them to the client, which encodes and sends them. A
  ``session.update`` round trip at the end makes sure every chunk left the process. Twice:
  :data:`CADENCE` seconds apart (a browser's come 80 ms apart; this is four times faster),
  which is what a relay in a kernel meets and what the target is on; and back to back (one
  per turn of the event loop), the cost of the code alone, for comparison.
- kernel to browser: a text turn whose long answer streams audio and transcript deltas from
  the server through the client and the widget into the comm, up to ``response.done``.
  Twice: from a server sending the answer at :data:`ANSWER_PACE` times real time (the
  service sends about as fast as it speaks), the figure the target is on; and from one
  sending as fast as it can, for comparison.

Each figure is process CPU time (``time.process_time``: the server's process and other
programs do not count) per second of audio; wall time is reported beside it. The floor of
each direction is a bare ``websockets`` client of the same server process doing the least a
relay must (:class:`BareClient`): it sends the same chunks as ``input_audio_buffer.append``
events (base64 in JSON) with the same spacing as ours, or reads the same answer and decodes
its audio deltas. Ours and the floor take turns in many short pairs; a spaced figure is the
median of its repeats and its ratio the median of the pairs' ratios (a pair is measured back
to back, so a slow spell of the machine lands on both halves), and the target is that ratio
at most :data:`TARGET_FLOOR_RATIO`; a back-to-back figure, pure computation, is the fastest
of its repeats on each side. Spacing matters to both: a chunk
that comes after a pause finds the process's caches cold and the server process asleep, so
each costs several times what it costs back to back. Not included: what the real kernel
adds around the comm (deserialising the browser's message, signing and sending ours over
ZeroMQ).

The server process and the counting comm are also used by ``bench_widget_traffic`` and
``bench_memory``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any

import comm
import numpy as np
from comm.base_comm import BaseComm
from websockets.asyncio.client import ClientConnection, connect

from realtime_widget.client.client import RealtimeClient
from realtime_widget.widget.widget import RealtimeWidget

from .page_process import PageProcess

__all__ = [
    "BareClient",
    "CountingComm",
    "ServerProcess",
    "counting_comms",
    "row",
    "run",
    "skipped_rows",
]

GROUP = "relay"
RATE = 24_000
CHUNK_SAMPLES = RATE * 80 // 1000  # the browser's 80 ms chunks
TARGET_FLOOR_RATIO = 1.5  # kernel CPU per second of audio, ours over the bare client's
CADENCE = 0.02  # seconds between two browser chunks in the paced runs (a browser: 0.08)
ANSWER_PACE = 4.0  # the paced server's speed: audio deltas come 4x faster than they play
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india")


# -- shared fixtures ----------------------------------------------------------------------------


class ServerProcess:
    """The local realtime server in a process of its own; ``url`` once entered.

    ``python -m realtime_widget.server --port 0 --fast`` prints its URL as its first line;
    leaving the context stops the process (SIGTERM, then SIGKILL after 5 s).
    """

    def __init__(self, *options: str, startup_timeout: float = 30.0) -> None:
        self.options = options or ("--fast",)
        self.startup_timeout = startup_timeout
        self.url = ""
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self._stderr = tempfile.TemporaryFile()
        command = [sys.executable, "-m", "realtime_widget.server", "--port", "0", *self.options]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        stdout = self._process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], self.startup_timeout)
        line = stdout.readline().strip() if ready else ""
        if not line.startswith("ws://"):
            self.__exit__()
            raise RuntimeError(f"the server process printed no url: {line!r} {self._errors()}")
        self.url = line
        return self

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _errors(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-2_000:].decode(errors="replace")


class CountingComm(BaseComm):
    """A comm in place of the kernel's: it serialises each message as JSON (as the kernel's
    session does) and counts it instead of sending it.

    ``tally[kind]`` is ``[messages, json_bytes, buffer_bytes]`` where ``kind`` is the custom
    message's ``type`` (``audio``, ``delta``, ...), ``update`` for trait changes, or the comm
    message type (``comm_open``, ``comm_close``); ``last[kind]`` is the last custom message of
    each kind.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.tally: dict[str, list[int]] = {}
        self.last: dict[str, Any] = {}  # the last custom message of each type
        super().__init__(**kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[Any] | None = None,
        **keys: Any,
    ) -> None:
        payload = data or {}
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
        method = payload.get("method")
        if method == "custom":
            kind = str(payload.get("content", {}).get("type"))
        elif method == "update":
            kind = "update"
        else:
            kind = msg_type
        if method == "custom":
            self.last[kind] = payload.get("content", {})
        counts = self.tally.setdefault(kind, [0, 0, 0])
        counts[0] += 1
        counts[1] += len(text.encode())
        counts[2] += sum(memoryview(b).nbytes for b in buffers or ())

    def totals(self, *kinds: str) -> tuple[int, int, int]:
        """``(messages, json_bytes, buffer_bytes)`` summed over ``kinds`` (all when none)."""
        chosen = [v for k, v in self.tally.items() if not kinds or k in kinds]
        return (
            sum(c[0] for c in chosen),
            sum(c[1] for c in chosen),
            sum(c[2] for c in chosen),
        )

    def deliver(self, content: dict[str, Any], buffers: list[Any] | None = None) -> None:
        """Hand a browser custom message to the widget, as the kernel's comm manager does."""
        self.handle_msg(
            {"content": {"data": {"method": "custom", "content": content}}, "buffers": buffers}
        )


@contextlib.contextmanager
def counting_comms() -> Iterator[list[CountingComm]]:
    """Widgets made inside get a :class:`CountingComm` (listed in the yielded list)."""
    made: list[CountingComm] = []
    original = comm.create_comm

    def create(**kwargs: Any) -> CountingComm:
        made.append(CountingComm(**kwargs))
        return made[-1]

    comm.create_comm = create
    try:
        yield made
    finally:
        comm.create_comm = original


def long_text(words: int, offset: int = 0) -> str:
    """A user text of ``words`` words (the local server's answer repeats it as speech)."""
    return " ".join(_WORDS[(offset + i) % len(_WORDS)] for i in range(words))


def row(
    group: str,
    name: str,
    value: float | None,
    unit: str,
    target: str | None = None,
    ok: bool | None = None,
    note: str | None = None,
    *,
    floor: float | None = None,
    ratio: float | None = None,
) -> dict[str, Any]:
    """One result row (``note`` only when given).

    ``floor`` is the same figure for the least work the machine allows, measured in the same
    run; the row then also carries ``ratio``: the one given (say, the median of ratios taken
    pair by pair), else ``value / floor`` (``None`` when either is missing or the floor is
    zero).
    """
    out: dict[str, Any] = {
        "group": group,
        "name": name,
        "value": value,
        "unit": unit,
        "target": target,
        "ok": ok,
    }
    if floor is not None:
        out["floor"] = floor
        if ratio is None and value is not None and floor:
            ratio = value / floor
        out["ratio"] = ratio
    if note:
        out["note"] = note
    return out


def skipped_rows(
    module: str, group: str, names: tuple[str, ...], reason: str
) -> list[dict[str, Any]]:
    """Rows of ``names`` (ms figures) without values, for a module that cannot run here;
    ``reason`` is printed to stderr and kept as each row's note."""
    print(f"{module}: skipped: {reason}", file=sys.stderr)
    return [row(group, name, None, "ms", None, None, f"skipped: {reason}") for name in names]


# -- the measurement ----------------------------------------------------------------------------


def _browser_chunks(count: int) -> list[bytes]:
    """``count`` distinct 80 ms PCM16 chunks of quiet noise (about -60 dBFS)."""
    rng = np.random.default_rng(80)
    return [
        rng.integers(-30, 31, CHUNK_SAMPLES, dtype=np.int16).astype("<i2").tobytes()
        for _ in range(count)
    ]


async def _browser_to_kernel(
    widget: RealtimeWidget, seconds: float, spacing: float = 0.0
) -> tuple[float, float]:
    """Feed ``seconds`` of browser audio, ``spacing`` seconds apart (``0``: one per turn of
    the event loop); returns (CPU s, wall s) until it all left."""
    wire: CountingComm = widget.comm
    client = widget.client
    pool = _browser_chunks(16)
    count = round(seconds * 1000 / 80)
    # The kernel hands each message over with the frames of its zmq message as memoryviews.
    messages = [[memoryview(pool[i % len(pool)])] for i in range(count)]
    sent_before = client.input_audio_buffer.end
    cpu, wall = time.process_time(), time.perf_counter()
    for buffers in messages:
        wire.deliver({"type": "audio"}, buffers)
        await asyncio.sleep(spacing)  # the kernel runs its loop between two comm messages
    await _all_sent(client)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    appended = client.input_audio_buffer.end - sent_before
    assert appended == count * CHUNK_SAMPLES, (appended, count)
    return cpu, wall


async def _all_sent(client: RealtimeClient) -> None:
    """Returns once everything ``client`` sent so far has left the process: a
    ``session.update`` round trip (the server answers it after what came before)."""
    barrier = asyncio.ensure_future(client.realtime.wait_for_next("server.session.updated", 60))
    await asyncio.sleep(0)
    client.update_session()
    if await barrier is None:
        raise RuntimeError("no session.updated after the audio")


async def _kernel_to_browser(
    widget: RealtimeWidget, words: int, offset: int, *, by_socket: bool = False
) -> tuple[float, float, float]:
    """One text turn; returns (CPU s, wall s, seconds of audio relayed to the browser): by
    the comm, or ``by_socket`` to a page that switched to the page socket (then none by the
    comm)."""
    wire: CountingComm = widget.comm
    client = widget.client
    before = wire.totals("audio")[2]
    done = asyncio.ensure_future(client.realtime.wait_for_next("server.response.done", 120))
    await asyncio.sleep(0)
    cpu, wall = time.process_time(), time.perf_counter()
    widget.send_text(long_text(words, offset))
    if await done is None:
        raise RuntimeError("no response.done within 120 s")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    by_comm = (wire.totals("audio")[2] - before) / 2 / RATE
    answer = len(client.get_conversation_items()[-1]["formatted"]["audio"]) / RATE
    if by_socket:
        assert by_comm == 0 and answer > 0, "the audio went by the comm"
        return cpu, wall, answer
    assert abs(answer - by_comm) < 1e-6, "audio not relayed"
    return cpu, wall, by_comm


async def _socket_to_kernel(
    widget: RealtimeWidget, page: PageProcess, seconds: float, spacing: float
) -> tuple[float, float]:
    """:func:`_browser_to_kernel`, the chunks coming from ``page`` over the page socket."""
    client = widget.client
    count = round(seconds * 1000 / 80)
    target = client.input_audio_buffer.end + count * CHUNK_SAMPLES
    cpu, wall = time.process_time(), time.perf_counter()
    await page.send(count, spacing)
    if client.input_audio_buffer.end < target:  # the last chunks may still be on their way
        arrived = asyncio.get_running_loop().create_future()

        def check(_: object) -> None:  # dispatched as a chunk goes out, before it is kept
            if client.input_audio_buffer.end + CHUNK_SAMPLES >= target and not arrived.done():
                arrived.set_result(None)

        client.realtime.on("client.input_audio_buffer.append", check)
        try:
            await asyncio.wait_for(arrived, 30)
        finally:
            client.realtime.off("client.input_audio_buffer.append", check)
    await _all_sent(client)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert client.input_audio_buffer.end == target, (client.input_audio_buffer.end, target)
    return cpu, wall


async def _page_on_socket(widget: RealtimeWidget, stack: contextlib.AsyncExitStack) -> PageProcess:
    """A page process switched to ``widget``'s page socket (closed with ``stack``)."""
    wire: CountingComm = widget.comm
    wire.deliver({"type": "hello"})
    for _ in range(500):
        if "page_socket" in wire.last:
            break
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("the widget offered no page socket within 5 s of the page's hello")
    page = PageProcess()
    stack.push_async_callback(page.close)
    await page.start(f"{wire.last['page_socket']['url']}?page=bench")
    wire.deliver({"type": "socket_switch", "id": "bench"})
    return page


class BareClient:
    """The floor: a plain ``websockets`` connection to the server doing the least a relay
    must, each way. Use as ``async with BareClient(url) as bare``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._socket: ClientConnection | None = None

    async def __aenter__(self) -> BareClient:
        self._socket = await connect(self.url, max_size=None)
        await self._until("session.created")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._socket is not None:
            await self._socket.close()

    async def _until(self, kind: str) -> dict[str, Any]:
        assert self._socket is not None
        while True:
            event = json.loads(await self._socket.recv())
            if event.get("type") == kind:
                return dict(event)

    async def send_audio(self, seconds: float, spacing: float = 0.0) -> tuple[float, float]:
        """Send ``seconds`` of the same 80 ms chunks as the widget gets, ``spacing`` seconds
        apart as the widget gets them, then a ``session.update`` round trip; returns
        (CPU s, wall s)."""
        assert self._socket is not None
        pool = _browser_chunks(16)
        count = round(seconds * 1000 / 80)
        send, dumps, encode = self._socket.send, json.dumps, base64.b64encode
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(count):
            audio = encode(pool[i % len(pool)]).decode("ascii")
            await send(dumps({"type": "input_audio_buffer.append", "audio": audio}))
            await asyncio.sleep(spacing)
        await send(dumps({"type": "session.update", "session": {"type": "realtime"}}))
        await self._until("session.updated")
        return time.process_time() - cpu, time.perf_counter() - wall

    async def read_answer(self, words: int, offset: int) -> tuple[float, float, float]:
        """Ask for the same answer as the widget's text turn and decode its audio deltas;
        returns (CPU s, wall s, seconds of audio)."""
        socket = self._socket
        assert socket is not None
        content = [{"type": "input_text", "text": long_text(words, offset)}]
        item = {"type": "message", "role": "user", "content": content}
        kept: list[bytes] = []
        loads, decode, keep = json.loads, binascii.a2b_base64, kept.append
        cpu, wall = time.process_time(), time.perf_counter()
        await socket.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await socket.send(json.dumps({"type": "response.create"}))
        while True:
            event = loads(await socket.recv())
            kind = event["type"]
            if kind in ("response.output_audio.delta", "response.audio.delta"):
                keep(decode(event["delta"]))
            elif kind == "response.done":
                break
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return cpu, wall, sum(len(b) for b in kept) / 2 / RATE


# the figures, each way spaced as in a session (the targets) and in a burst (none)
WAYS = (
    ("in", f"browser->kernel, chunks {CADENCE * 1000:g} ms apart"),
    ("in_socket", f"browser->kernel by the page socket, chunks {CADENCE * 1000:g} ms apart"),
    ("in_burst", "browser->kernel, back to back"),
    ("out", f"kernel->browser, answer at {ANSWER_PACE:g}x real time"),
    ("out_socket", f"kernel->browser by the page socket, answer at {ANSWER_PACE:g}x real time"),
    ("out_burst", "kernel->browser, answer as fast as it goes"),
)
BURSTS = ("in_burst", "out_burst")  # the code's own cost, for comparison: no target


async def _measure(quick: bool) -> dict[str, list[float]]:
    # Many short pairs rather than a few long ones: each pair is measured back to back, so
    # the machine's slow spells, which last longer than a pair, land on both of its halves.
    repeats = 5 if quick else 11
    seconds_burst = 10.0 if quick else 24.0
    seconds_paced = 6.0 if quick else 8.0  # 1.5 s / 2 s of wall each
    words_out = 25 if quick else 35  # about 11 s / 15 s of answer audio
    results: dict[str, list[float]] = {
        f"{who}_{way}_{clock}": []
        for who in ("ours", "floor")
        for way, _ in WAYS
        for clock in ("cpu", "wall")
    }

    def note(who: str, way: str, cpu: float, wall: float, audio: float) -> None:
        results[f"{who}_{way}_cpu"].append(cpu / audio)
        results[f"{who}_{way}_wall"].append(wall / audio)

    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(counting_comms())
        pairs: list[tuple[RealtimeWidget, BareClient]] = []
        server_urls: list[str] = []
        for options in (("--pace", f"{ANSWER_PACE:g}"), ("--fast",)):
            server = stack.enter_context(ServerProcess(*options))
            server_urls.append(server.url)
            widget = RealtimeWidget(url=server.url, instructions="relay benchmark")
            stack.push_async_callback(_close, widget)
            await widget.connect()
            bare = await stack.enter_async_context(BareClient(server.url))
            # Warm-up: first calls pay for imports, caches and growing buffers.
            await _browser_to_kernel(widget, 2.0)
            await _kernel_to_browser(widget, 10, 0)
            await bare.send_audio(2.0)
            await bare.read_answer(10, 0)
            pairs.append((widget, bare))
        (widget, bare), (fast_widget, fast_bare) = pairs
        # A page on this machine: its chunks and the answers' audio go by the page socket.
        socket_widget = RealtimeWidget(url=server_urls[0], instructions="relay benchmark")
        stack.push_async_callback(_close, socket_widget)
        await socket_widget.connect()
        page = await _page_on_socket(socket_widget, stack)
        await _socket_to_kernel(socket_widget, page, 2.0, 0.0)
        await _kernel_to_browser(socket_widget, 10, 0, by_socket=True)
        # Ours and the floor take turns, so a slow spell lands on both.
        for rep in range(repeats):
            for way, seconds, spacing in (
                ("in", seconds_paced, CADENCE),
                ("in_burst", seconds_burst, 0.0),
            ):
                cpu, wall = await _browser_to_kernel(widget, seconds, spacing)
                note("ours", way, cpu, wall, seconds)
                note("floor", way, *await bare.send_audio(seconds, spacing), seconds)
            cpu, wall = await _socket_to_kernel(socket_widget, page, seconds_paced, CADENCE)
            note("ours", "in_socket", cpu, wall, seconds_paced)
            note(
                "floor", "in_socket", *await bare.send_audio(seconds_paced, CADENCE), seconds_paced
            )
            for way, (ours, floor) in (
                ("out", (widget, bare)),
                ("out_burst", (fast_widget, fast_bare)),
            ):
                note("ours", way, *await _kernel_to_browser(ours, words_out, rep))
                note("floor", way, *await floor.read_answer(words_out, rep))
            turn = await _kernel_to_browser(socket_widget, words_out, rep, by_socket=True)
            note("ours", "out_socket", *turn)
            note("floor", "out_socket", *await bare.read_answer(words_out, rep))
    return results


async def _close(widget: RealtimeWidget) -> None:
    await widget.client.aclose()
    widget.close()


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run every measurement; returns one row per figure (``ok`` says if a target holds)."""
    results = asyncio.run(_measure(quick))
    rows: list[dict[str, Any]] = []
    for way, label in WAYS:
        # Back to back, the code's own cost: pure computation, so the fastest of each side
        # (another process only ever adds time). Spaced, the median of the pairs' ratios.
        pick = min if way in BURSTS else statistics.median
        cpu_ms, floor_ms, wall_ms, floor_wall_ms = (
            pick(results[f"{who}_{way}_{clock}"]) * 1_000
            for who, clock in (
                ("ours", "cpu"),
                ("floor", "cpu"),
                ("ours", "wall"),
                ("floor", "wall"),
            )
        )
        pairs = zip(results[f"ours_{way}_cpu"], results[f"floor_{way}_cpu"], strict=True)
        paired = statistics.median(ours / floor for ours, floor in pairs if floor)
        runs = f"{len(results[f'ours_{way}_cpu'])} pairs"
        name = f"{label}: kernel CPU per s of audio"
        if way in BURSTS:
            note = f"{runs}; fastest of each side"
            rows.append(row(GROUP, name, cpu_ms, "ms/s", note=note, floor=floor_ms))
        else:
            ok = paired <= TARGET_FLOOR_RATIO
            target = f"ratio <= {TARGET_FLOOR_RATIO:g}"
            note = f"{runs}; ratio: the median of the pairs' ratios, figures: medians"
            rows.append(
                row(GROUP, name, cpu_ms, "ms/s", target, ok, note, floor=floor_ms, ratio=paired)
            )
        real_time = f"{label}: kernel CPU, real time"
        rows.append(row(GROUP, real_time, 1_000 / cpu_ms, "x", floor=1_000 / floor_ms))
        wall = f"{label}: wall per s of audio"
        rows.append(row(GROUP, wall, wall_ms, "ms/s", floor=floor_wall_ms))
    return rows


def _profile(way: str) -> None:
    """Print the top CPU costs of one figure (a name of :data:`WAYS`) under cProfile."""
    import cProfile
    import pstats

    names = [name for name, _ in WAYS]
    if way not in names:
        raise SystemExit(f"--profile {way!r}: not a figure of this benchmark (one of {names})")

    async def main() -> None:
        fast = way.endswith("burst")
        options = ("--fast",) if fast else ("--pace", f"{ANSWER_PACE:g}")
        async with contextlib.AsyncExitStack() as stack:
            server = stack.enter_context(ServerProcess(*options))
            stack.enter_context(counting_comms())
            widget = RealtimeWidget(url=server.url)
            stack.push_async_callback(_close, widget)
            await widget.connect()
            page = await _page_on_socket(widget, stack) if way.endswith("socket") else None
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for rep in range(3):
                if way == "in":
                    await _browser_to_kernel(widget, 20.0, CADENCE)
                elif way == "in_socket" and page is not None:
                    await _socket_to_kernel(widget, page, 20.0, CADENCE)
                elif way == "in_burst":
                    await _browser_to_kernel(widget, 60.0)
                else:
                    await _kernel_to_browser(widget, 90, rep, by_socket=page is not None)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

    asyncio.run(main())


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--profile":
        _profile(sys.argv[2])
    else:
        for result in run(quick="--full" not in sys.argv):
            print(result)
