"""The two transports side by side in a real browser: WebRTC and the websocket relay.

One JupyterLab page (``tests/browser/jupyter_harness.py``) shows two widgets on the local
server (this process, real-time pace): ``w`` with ``transport="webrtc"`` (the page calls the
server, the kernel joins the call's sideband) and ``v`` with the websocket relay (every chunk
through the kernel's comm). Chromium gets ``--allow-loopback-in-peer-connection`` and the
server's aiortc gathers 127.0.0.1 alone, so the call stays on loopback.

Each figure is measured the same way for both transports, on the audio itself, by the onset
of sound after quiet (1 s before an utterance, 0.5 s before an answer; every clock is this
machine's wall clock, in ms): the page's side by an ``AnalyserNode`` read every few
milliseconds (on the microphone's stream; on the call's remote
stream or the relay's playback node), the server's side by the samples as they arrive (the
relay's ``input_audio_buffer.append`` events in the server's trace; the call's microphone
frames) and as they leave (the relay's first audible ``response.output_audio.delta``; the
call's first audible 20 ms frame handed to the encoder).

1. **Mic to server**: from an utterance's onset on the page's microphone stream to the
   server receiving its first audible samples. The fake microphone loops espeak-ng speech
   followed by silence; one figure per onset (p50 and p95). No target (side by side).
2. **Server to speaker**: from the server sending an answer's first audible samples to the
   onset of the page's output (the remote stream; the playback node's rendered output),
   for answers to text turns. No target (side by side).
3. **The gap while a cell blocks for 5 s** (``time.sleep(5)``) during a long answer: the
   longest run without sound in the page's output while the cell runs. The floor is the same
   answer's longest pause over WebRTC with no cell running (the voice's own pauses, measured
   in the same run). Target for WebRTC: within 50 ms of the floor (no gap of the kernel's).
   The websocket row shows what the relay loses.

Without Chromium, espeak-ng, Playwright, JupyterLab or aiortc the rows are returned with
``value`` and ``ok`` ``None`` and a note saying what is missing.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from realtime_widget.server import serve_in_thread

from .bench_browser import Skip, _check_dependencies, _harness
from .bench_relay import row

__all__ = ["run"]

GROUP = "webrtc"
LOOPBACK_FLAG = "--allow-loopback-in-peer-connection"
SILENCE_SECONDS = 3.0  # after each utterance of the fake microphone
UTTERANCE_QUIET_MS = 1000.0  # quiet before an utterance's onset (not a pause between words)
ANSWER_QUIET_MS = 500.0  # quiet before an answer's onset (the voice pauses 0.1 s at most)
PAGE_LEVEL = 0.03  # an onset on the page: a peak above this (full scale 1)
SERVER_LEVEL = 1000  # on the server: a peak above this (int16)
MATCH_MS = 3000.0  # an onset's match comes within this
BLOCK_SECONDS = 5
TARGET_GAP_MS = 50.0
SHORT_ASK = "hello"  # answered in about a second
LONG_ASK = (
    "please tell me a very long story about the sea, the ships, the wind, the harbour and "
    "the sailors who came home"
)

# Keeps [Date.now(), peak] of the page's microphone ("mic"), the call's remote audio ("rtc")
# and the relay's playback output ("play"), read every 4 ms from an AnalyserNode each.
PAGE_SCRIPT = """(() => {
  window.__rtwTrace = [];
  const levels = {mic: [], rtc: [], play: []};
  window.__rtwLevels = levels;
  const watch = (ctx, node, name) => {
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 256;
    node.connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    setInterval(() => {
      analyser.getFloatTimeDomainData(data);
      let peak = 0;
      for (let i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i]));
      levels[name].push([Date.now(), peak]);
    }, 4);
  };
  let own = null;
  const ctx = () => (own = own || new AudioContext());
  const devices = navigator.mediaDevices;
  const getUserMedia = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints) => {
    const stream = await getUserMedia(constraints);
    watch(ctx(), ctx().createMediaStreamSource(stream), "mic");
    return stream;
  };
  const Peer = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Peer {
    constructor(...args) {
      super(...args);
      this.addEventListener("track", (event) => {
        const stream = event.streams[0] || new MediaStream([event.track]);
        const keep = new Audio();  // Chromium feeds WebAudio a remote stream played somewhere
        keep.muted = true;
        keep.srcObject = stream;
        watch(ctx(), ctx().createMediaStreamSource(stream), "rtc");
      });
    }
  };
  const Node = window.AudioWorkletNode;
  window.AudioWorkletNode = class extends Node {
    constructor(context, name, options) {
      super(context, name, options);
      if (name === "rtw-playback") watch(context, this, "play");
    }
  };
})();"""


def _cells(url: str) -> list[str]:
    key = "api_key=os.environ['OPENAI_API_KEY'], voice='tones'"
    return [
        "import os, time\n"
        "from realtime_widget.widget.widget import RealtimeWidget\n"
        f"w = RealtimeWidget(url={url!r}, {key}, transport='webrtc')\n"
        "w",
        f"v = RealtimeWidget(url={url!r}, {key})\nv",
    ]


class _ServerAudio:
    """Stamps the call's audio in this process: its microphone frames as they arrive and its
    answer frames as they leave (the relay's audio is in the server's trace)."""

    def __init__(self) -> None:
        self.heard: list[tuple[float, int]] = []  # (ms, peak)
        self.played: list[tuple[float, int]] = []

    @contextmanager
    def hooked(self) -> Iterator[None]:
        from realtime_widget.server.calls import CallLink
        from realtime_widget.server.webrtc import AnswerTrack

        put_audio, next_samples = CallLink.put_audio, AnswerTrack._next_samples

        def heard(link: CallLink, samples: Any) -> None:
            if samples.size:
                self.heard.append((time.time() * 1000, int(np.abs(samples.astype(np.int32)).max())))
            put_audio(link, samples)

        def played(track: AnswerTrack) -> Any:
            samples = next_samples(track)
            self.played.append((time.time() * 1000, int(np.abs(samples.astype(np.int32)).max())))
            return samples

        CallLink.put_audio = heard  # type: ignore[method-assign]
        AnswerTrack._next_samples = played  # type: ignore[method-assign]
        try:
            yield
        finally:
            CallLink.put_audio = put_audio  # type: ignore[method-assign]
            AnswerTrack._next_samples = next_samples  # type: ignore[method-assign]


def _loopback_ice() -> contextlib.AbstractContextManager[None]:
    """ICE on 127.0.0.1 alone, as the WebRTC tests gather it (``tests/server/call_peer.py``)."""
    folder = str(Path(__file__).resolve().parents[1] / "tests" / "server")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("call_peer").loopback_only()  # type: ignore[no-any-return]


def _record(quick: bool) -> dict[str, Any]:
    harness = _harness()
    _check_dependencies(harness)
    try:
        import aiortc  # noqa: F401
    except ImportError:
        raise Skip("no aiortc: pip install 'realtime_widget[webrtc]'") from None
    from playwright.sync_api import sync_playwright

    stamps = _ServerAudio()
    with (
        tempfile.TemporaryDirectory(prefix="rtw-bench-webrtc-") as folder,
        _loopback_ice(),
        stamps.hooked(),
    ):
        root = Path(folder)
        wav = harness.make_speech_wav(root, harness.SPEECH_TEXT, SILENCE_SECONDS)
        server = serve_in_thread(pace="realtime", trace=True, record_bytes=256 * 1024 * 1024)
        try:
            jupyter = harness.start_jupyter("lab", root / "lab", server.url)
            notebook = Path(jupyter.log).parent / "nb" / "webrtc.ipynb"
            notebook.write_text(json.dumps(harness.notebook_of(_cells(server.url))))
            try:
                with sync_playwright() as playwright:
                    browser = harness.launch_chromium(playwright, wav, extra=[LOOPBACK_FLAG])
                    try:
                        records = _converse(harness, browser, jupyter, quick)
                        records["relay_trace"] = _relay_trace(server)  # while it is open
                    finally:
                        browser.close()
            finally:
                harness.stop_jupyter(jupyter)
        finally:
            server.stop_thread()
    records["heard"], records["played"] = stamps.heard, stamps.played
    return records


def _relay_trace(server: Any) -> list[tuple[float, str, dict[str, Any]]]:
    async def copy() -> list[tuple[float, str, dict[str, Any]]]:
        calls = {id(c.connection) for c in server.calls.values()}
        relays = [c for c in server.connections if id(c) not in calls and c.trace is not None]
        return [entry for c in relays for entry in (c.trace or [])]

    return server.call_in_thread(copy())


def _converse(harness: ModuleType, browser: Any, jupyter: Any, quick: bool) -> dict[str, Any]:
    loops = 3 if quick else 6
    answers = 3 if quick else 6
    page = harness.open_notebook(
        browser,
        jupyter,
        "/lab/tree/webrtc.ipynb",
        permissions=["microphone"],
        init_script=PAGE_SCRIPT,
    )
    marks: dict[str, Any] = {}
    period = _loop_seconds(harness)

    def kernel(code: str) -> str:
        out = str(page.evaluate(harness.KERNEL_EXEC, code))
        if "ERROR" in out:
            raise RuntimeError(out)
        return out

    def now() -> float:
        return float(page.evaluate("() => Date.now()"))

    try:
        page.wait_for_selector(".rtw >> nth=1", timeout=60_000)
        widgets = page.locator(".rtw")
        for index, name in ((0, "webrtc"), (1, "websocket")):
            widget = widgets.nth(index)
            widget.locator(".rtw-connect").click()
            page.wait_for_function(
                "(i) => document.querySelectorAll('.rtw')[i].dataset.connection === 'connected'",
                arg=index,
                timeout=60_000,
            )
            if widget.get_attribute("data-transport") != name:
                raise RuntimeError(
                    f"the {name} widget is on {widget.get_attribute('data-transport')}"
                )
            variable = "w" if index == 0 else "v"
            # 1. the microphone, for `loops` utterances
            start = now()
            widget.locator(".rtw-mic").click()
            time.sleep(loops * period + 1.0)
            widget.locator(".rtw-mic").click()
            marks[f"mic_{name}"] = (start, now())
            time.sleep(3.0)  # the last answer plays out
            # 2. answers to text turns
            start = now()
            for _ in range(answers):
                kernel(f"{variable}.send_text({SHORT_ASK!r})")
                time.sleep(4.0)
            marks[f"speaker_{name}"] = (start, now())
            # 3. a long answer, then the same with a cell blocking the kernel
            for blocked in (False, True):
                kernel(f"{variable}.send_text({LONG_ASK!r})")
                began = _wait_onset(page, "rtc" if name == "webrtc" else "play", now())
                time.sleep(1.0)
                start = now()
                kernel(f"time.sleep({BLOCK_SECONDS})" if blocked else "")
                if not blocked:
                    time.sleep(BLOCK_SECONDS)
                marks[f"{'block' if blocked else 'free'}_{name}"] = (start, now(), began)
                time.sleep(5.0)  # the rest of the answer
            if name == "webrtc":
                widget.locator(".rtw-connect").click()  # hang up: the relay's turn
                time.sleep(1.0)
        return {"levels": page.evaluate("() => window.__rtwLevels"), "marks": marks}
    finally:
        page.context.close()


def _loop_seconds(harness: ModuleType) -> float:
    """The fake microphone's loop: the speech plus the silence after it."""
    words = len(harness.SPEECH_TEXT.split())
    return words * 0.35 + SILENCE_SECONDS  # espeak-ng's pace, roughly: a bound, not a figure


def _wait_onset(page: Any, name: str, since: float, timeout: float = 20.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = page.evaluate(
            "([name, since, level]) => { const hit = window.__rtwLevels[name].find("
            "([t, p]) => t >= since && p > level); return hit ? hit[0] : null; }",
            [name, since, PAGE_LEVEL],
        )
        if found is not None:
            return float(found)
        time.sleep(0.1)
    raise RuntimeError(f"no sound on the page's {name} within {timeout}s")


# -- the analysis -------------------------------------------------------------------------------


def onsets(
    stamps: list[tuple[float, float]], level: float, start: float, end: float, quiet: float
) -> list[float]:
    """The times in ``[start, end]`` where the level rises above ``level`` after at least
    ``quiet`` ms below it."""
    found: list[float] = []
    loud_at = -1e18
    for t, peak in stamps:
        if peak > level:
            if start <= t <= end and t - loud_at >= quiet:
                found.append(t)
            loud_at = t
    return found


def longest_quiet(
    stamps: list[tuple[float, float]], level: float, start: float, end: float
) -> float:
    """The longest time in ``[start, end]`` between readings above ``level``."""
    loud = [t for t, peak in stamps if start <= t <= end and peak > level]
    edges = [start, *loud, end]
    return max(b - a for a, b in itertools.pairwise(edges))


def matched(sources: list[float], targets: list[float]) -> list[float]:
    """For each source onset, the delay to the first target onset within :data:`MATCH_MS`."""
    delays = []
    for s in sources:
        later = [t - s for t in targets if s - 20 <= t <= s + MATCH_MS]
        if later:
            delays.append(max(0.0, later[0]))
    return delays


def _relay_audio(
    trace: list[tuple[float, str, dict[str, Any]]], direction: str, kind: str
) -> list[tuple[float, float]]:
    import base64

    out = []
    for t, way, event in trace:
        if way == direction and event.get("type") == kind:
            data = event.get("audio") if kind.endswith("append") else event.get("delta")
            if isinstance(data, str):
                samples = np.frombuffer(base64.b64decode(data), "<i2")
                if samples.size:
                    out.append((t * 1000, float(np.abs(samples.astype(np.int32)).max())))
    return out


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def _rows(records: dict[str, Any]) -> list[dict[str, Any]]:
    levels, marks = records["levels"], records["marks"]
    trace = records["relay_trace"]
    server_in = {
        "webrtc": [(t, float(p)) for t, p in records["heard"]],
        "websocket": _relay_audio(trace, "received", "input_audio_buffer.append"),
    }
    server_out = {
        "webrtc": [(t, float(p)) for t, p in records["played"]],
        "websocket": _relay_audio(trace, "sent", "response.output_audio.delta"),
    }
    out_levels = {"webrtc": levels["rtc"], "websocket": levels["play"]}
    rows = []
    for name in ("webrtc", "websocket"):
        start, end = marks[f"mic_{name}"]
        quiet = UTTERANCE_QUIET_MS
        spoken = onsets(levels["mic"], PAGE_LEVEL, start, end, quiet)
        arrived = onsets(server_in[name], SERVER_LEVEL, start - 100, end + MATCH_MS, quiet)
        p50, p95 = _percentiles(matched(spoken, arrived))
        note = f"{len(matched(spoken, arrived))} of {len(spoken)} onsets matched"
        rows.append(row(GROUP, f"mic -> server p50 ({name})", p50, "ms", note=note))
        rows.append(row(GROUP, f"mic -> server p95 ({name})", p95, "ms"))
    for name in ("webrtc", "websocket"):
        start, end = marks[f"speaker_{name}"]
        quiet = ANSWER_QUIET_MS
        sent = onsets(server_out[name], SERVER_LEVEL, start, end, quiet)
        heard = onsets(out_levels[name], PAGE_LEVEL, start, end + MATCH_MS, quiet)
        p50, p95 = _percentiles(matched(sent, heard))
        note = f"{len(matched(sent, heard))} of {len(sent)} answers matched"
        rows.append(row(GROUP, f"server -> speaker p50 ({name})", p50, "ms", note=note))
        rows.append(row(GROUP, f"server -> speaker p95 ({name})", p95, "ms"))
    free_start, free_end, _ = marks["free_webrtc"]
    floor = longest_quiet(levels["rtc"], PAGE_LEVEL, free_start, free_end)
    for name in ("webrtc", "websocket"):
        start, end, _ = marks[f"block_{name}"]
        gap = longest_quiet(out_levels[name], PAGE_LEVEL, start, end)
        ok = gap <= floor + TARGET_GAP_MS if name == "webrtc" else None
        target = f"<= floor + {TARGET_GAP_MS:.0f} ms" if name == "webrtc" else None
        rows.append(
            row(
                GROUP,
                f"longest silence while a cell blocks {BLOCK_SECONDS} s ({name})",
                gap,
                "ms",
                target,
                ok,
                floor=floor,
            )
        )
    return rows


NAMES = [
    "mic -> server p50 (webrtc)",
    "mic -> server p95 (webrtc)",
    "mic -> server p50 (websocket)",
    "mic -> server p95 (websocket)",
    "server -> speaker p50 (webrtc)",
    "server -> speaker p95 (webrtc)",
    "server -> speaker p50 (websocket)",
    "server -> speaker p95 (websocket)",
    f"longest silence while a cell blocks {BLOCK_SECONDS} s (webrtc)",
    f"longest silence while a cell blocks {BLOCK_SECONDS} s (websocket)",
]


def run(quick: bool = False) -> list[dict[str, Any]]:
    """The rows above; without a dependency, the same rows with no values and a note."""
    try:
        records = _record(quick)
    except Skip as missing:
        return [row(GROUP, name, None, "ms", note=str(missing)) for name in NAMES]
    return _rows(records)


if __name__ == "__main__":
    from . import __main__ as table

    raise SystemExit(table.report(run(), [], table.DEFAULT_OUTPUT, False, 0.0))
