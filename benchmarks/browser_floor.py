"""The floor of the browser legs: a bare page in the same Chromium, a plain websocket, a
plain server.

``bench_browser`` measures the widget's two audio paths through JupyterLab's kernel. What
the machine alone costs on those paths (audio worklet, main thread, a websocket over
loopback, Chromium's scheduling on a busy or virtualised machine) is measured here, the same
way, with nothing of ours in between:

- **mic**: Chromium launched with the same fake microphone (``harness.launch_chromium``);
  a capture worklet cuts the microphone into the same 80 ms PCM16 chunks and posts each with
  ``Date.now()``; the page's main thread sends it as a binary message to a plain
  ``websockets`` server in this process (which also serves the page, so both share an
  origin), and the server stamps its arrival (``time.time()``). The
  figure is arrival minus posting, beyond the chunk's own length, as the widget's.
- **playback**: the same server sends a 100 ms PCM16 delta every 100 ms, stamping each just
  before the send; the page posts it to a playback worklet, which converts it, queues it,
  stamps ``Date.now()`` (as the widget's worklet does on a push) and plays it.

Messages keep their order on one websocket, so the k-th chunk posted is the k-th arrival
and the k-th delta sent the k-th queued. :func:`with_floor` puts these p95s beside the
widget's rows: the target is the widget's added p95, ours minus the floor, at most
:data:`TARGET_ADDED_OVER_FLOOR_MS`.

Alone: ``python -m benchmarks.browser_floor [--full]`` prints the floor's figures.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = ["TARGET_ADDED_OVER_FLOOR_MS", "BareServer", "measure", "with_floor"]

RATE = 24_000
DELTA_SAMPLES = RATE // 10  # 100 ms
TARGET_ADDED_OVER_FLOOR_MS = 5.0
# bench_browser's p95 rows and the floor's figure each is compared with.
FLOORED_ROWS = {
    "mic -> server (beyond the 80 ms chunk): p95": "mic",
    "server -> playback worklet: p95": "playback",
}

WORKLETS = """
class BareCapture extends AudioWorkletProcessor {
  constructor() { super(); this.chunk = new Int16Array(1920); this.filled = 0; }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const v = Math.max(-1, Math.min(1, channel[i]));
      this.chunk[this.filled++] = v < 0 ? v * 32768 : v * 32767;
      if (this.filled === this.chunk.length) {
        const buffer = this.chunk.buffer;
        this.port.postMessage({ t: Date.now(), buffer }, [buffer]);
        this.chunk = new Int16Array(1920);
        this.filled = 0;
      }
    }
    return true;
  }
}
class BarePlayback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = [];
    this.position = 0;
    this.port.onmessage = (event) => {
      const pcm = new Int16Array(event.data);
      const samples = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
      this.queue.push(samples);
      this.port.postMessage(Date.now());
    };
  }
  process(inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    while (i < out.length && this.queue.length) {
      const head = this.queue[0];
      const n = Math.min(out.length - i, head.length - this.position);
      out.set(head.subarray(this.position, this.position + n), i);
      i += n;
      this.position += n;
      if (this.position === head.length) { this.queue.shift(); this.position = 0; }
    }
    out.fill(0, i);
    return true;
  }
}
registerProcessor("bare-capture", BareCapture);
registerProcessor("bare-playback", BarePlayback);
"""

PAGE = """<!doctype html><meta charset="utf-8"><title>bare</title><script>
window.__bare = { mic: [], queued: [] };
window.__bareStart = async (url, worklets) => {
  const ctx = new AudioContext({ sampleRate: 24000 });
  const module = URL.createObjectURL(new Blob([worklets], { type: "text/javascript" }));
  await ctx.audioWorklet.addModule(module);
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  await new Promise((opened, failed) => { socket.onopen = opened; socket.onerror = failed; });
  const capture = new AudioWorkletNode(ctx, "bare-capture",
    { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
  const sink = ctx.createGain();
  sink.gain.value = 0;
  ctx.createMediaStreamSource(stream).connect(capture);
  capture.connect(sink);
  sink.connect(ctx.destination);
  capture.port.onmessage = (event) => {
    window.__bare.mic.push(event.data.t);
    socket.send(event.data.buffer);
  };
  const player = new AudioWorkletNode(ctx, "bare-playback",
    { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
  player.connect(ctx.destination);
  player.port.onmessage = (event) => window.__bare.queued.push(event.data);
  socket.onmessage = (event) => player.port.postMessage(event.data, [event.data]);
  window.__bareStop = () => { capture.port.onmessage = null; socket.onmessage = null; };
  await ctx.resume();
  return ctx.state;
};
</script>"""


class BareServer:
    """A plain ``websockets`` server on its own loop in a daemon thread: it stamps each
    binary message's arrival and sends a 100 ms PCM16 delta every 100 ms, stamping each
    send (``time.time()`` in ms). ``url`` once entered."""

    def __init__(self) -> None:
        self.url = ""
        self.arrived: list[float] = []
        self.sent: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Any = None
        rng = np.random.default_rng(24)
        tone = np.sin(np.arange(DELTA_SAMPLES) * 2 * np.pi * 440 / RATE) * 3_000
        noise = rng.integers(-300, 300, DELTA_SAMPLES)
        self._delta = (tone + noise).astype("<i2").tobytes()

    def __enter__(self) -> BareServer:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        port = started.result(30)
        self.url = f"ws://127.0.0.1:{port}/"
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> int:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, max_size=None, process_request=self._page
        )
        return int(self._server.sockets[0].getsockname()[1])

    def _page(self, _socket: ServerConnection, request: Request) -> Response | None:
        """The bare page at ``/bare.html`` (same origin as the websocket)."""
        if request.path != "/bare.html":
            return None
        body = PAGE.encode()
        headers = Headers([("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
        return Response(200, "OK", headers, body)

    async def _stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, socket: ServerConnection) -> None:
        sender = asyncio.ensure_future(self._send_deltas(socket))
        try:
            async for _message in socket:
                self.arrived.append(time.time() * 1000)
        finally:
            sender.cancel()

    async def _send_deltas(self, socket: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index in range(1_000_000):
            await asyncio.sleep(max(0.0, start + index * 0.1 - loop.time()))
            self.sent.append(time.time() * 1000)
            await socket.send(self._delta)

    def stamps(self) -> tuple[list[float], list[float]]:
        """Copies of the arrival and send stamps, taken on the server's loop."""

        async def copy() -> tuple[list[float], list[float]]:
            return list(self.arrived), list(self.sent)

        return asyncio.run_coroutine_threadsafe(copy(), self._loop).result(30)


def _p95(values: list[float]) -> float | None:
    return float(np.percentile(values, 95)) if values else None


def _p50(values: list[float]) -> float | None:
    return float(np.percentile(values, 50)) if values else None


def measure(harness: ModuleType, quick: bool, seconds: float | None = None) -> dict[str, Any]:
    """The bare page's latencies, ms: ``{"mic": [...], "playback": [...]}``, with their
    p50 and p95 (``mic_p95``, ...), over ``seconds`` of audio (default 15 s quick, else
    45 s). ``harness`` is ``tests/browser/jupyter_harness.py``."""
    from playwright.sync_api import sync_playwright

    if seconds is None:
        seconds = 15.0 if quick else 45.0
    with tempfile.TemporaryDirectory(prefix="rtw-bench-floor-") as folder:
        wav = harness.make_speech_wav(Path(folder), harness.SPEECH_TEXT)
        with BareServer() as server, sync_playwright() as playwright:
            browser = harness.launch_chromium(playwright, wav)
            try:
                context = browser.new_context(permissions=["microphone"])
                page = context.new_page()
                page.goto(server.url.replace("ws://", "http://") + "bare.html")
                state = page.evaluate(
                    "([url, worklets]) => window.__bareStart(url, worklets)",
                    [server.url, WORKLETS],
                )
                if state != "running":
                    raise RuntimeError(f"the bare page's audio context is {state!r}")
                time.sleep(seconds)
                page.evaluate("() => window.__bareStop()")
                posted = page.evaluate("() => window.__bare.mic")
                queued = page.evaluate("() => window.__bare.queued")
                time.sleep(0.5)  # the last chunks posted arrive
                arrived, sent = server.stamps()
                context.close()
            finally:
                browser.close()
    mic = [a - p for p, a in zip(posted, arrived, strict=False)]
    playback = [q - s for s, q in zip(sent, queued, strict=False)]
    return {
        "mic": mic,
        "playback": playback,
        "mic_p50": _p50(mic),
        "mic_p95": _p95(mic),
        "playback_p50": _p50(playback),
        "playback_p95": _p95(playback),
        "seconds": seconds,
    }


def with_floor(rows: list[dict[str, Any]], floor: dict[str, Any]) -> list[dict[str, Any]]:
    """``bench_browser``'s rows with the floor's p95 beside each p95 row; the target is the
    widget's added p95 (ours minus the floor) <= :data:`TARGET_ADDED_OVER_FLOOR_MS`."""
    out = []
    for row in rows:
        way = FLOORED_ROWS.get(row["name"])
        if way is None:
            out.append(row)
            continue
        value, base = row["value"], floor[f"{way}_p95"]
        if value is None or base is None:
            note = "no bare-page figure" if base is None else "no figure of ours"
            out.append({**row, "floor": base, "ratio": None, "ok": False, "note": note})
            continue
        added = value - base
        note = (
            f"added over the bare page: {added:.1f} ms; bare page p50/p95 "
            f"{floor[f'{way}_p50']:.1f}/{base:.1f} ms, n={len(floor[way])}; {row.get('note', '')}"
        )
        out.append(
            {
                **row,
                "floor": base,
                "ratio": value / base if base else None,
                "target": f"<= floor + {TARGET_ADDED_OVER_FLOOR_MS:g}",
                "ok": added <= TARGET_ADDED_OVER_FLOOR_MS,
                "note": note,
            }
        )
    return out


if __name__ == "__main__":
    from .bench_browser import _harness

    result = measure(_harness(), quick="--full" not in sys.argv)
    for way in ("mic", "playback"):
        p50, p95, n = result[f"{way}_p50"], result[f"{way}_p95"], len(result[way])
        print(f"{way}: p50 {p50} ms, p95 {p95} ms, n={n}")
