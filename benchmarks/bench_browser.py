"""End-to-end latency in a real browser: Chromium, JupyterLab's kernel and comm, local server.

One JupyterLab page (``tests/browser/jupyter_harness.py``: the same notebook, flags and
fake microphone as the browser tests) talks to the local server, which runs in this process
at real-time pace. The fake microphone loops espeak-ng speech followed by
:data:`SILENCE_SECONDS` of silence, so the server's voice activity detection hears an
utterance, the model answers, and the next loop of speech barges in on the answer: one
barge-in per loop, while microphone chunks flow one way and answer audio the other.

Everything runs on this machine, so every stamp is wall-clock epoch milliseconds on one
clock: ``Date.now()`` in the audio worklets (their scope has no ``performance``: 1 ms
steps), ``performance.now()`` on an anchor kept within 1.5 ms of ``Date.now()`` in the
page's main thread (monotonic, it drifts from the wall clock when the system clock is
stepped), and ``time.time()`` in the kernel and the server. The notes give the page's
clocks minus this process's at the end (``performance.timeOrigin + performance.now()``,
which does drift, and ``Date.now()``). Tracing is off by default everywhere; here
the page sets ``window.__rtwTrace = []`` before the widget starts, the server is made with
``trace=True``, and the kernel's widget gets wrappers (where its messages to the pages
pass, its browser ``audio`` handler, its comm) that stamp, for the breakdown of each path.
The page is on ``127.0.0.1``, so it talks to the kernel over the page socket
(:mod:`realtime_widget.widget.pagesocket`) as a user's local page does.

Figures (rows with targets):

1. **Mic to server**, per 80 ms chunk: from the capture worklet posting the chunk (its last
   sample is then captured, so the chunk's own length is already behind it) to the server
   handling its ``input_audio_buffer.append``. This is the latency ADDED beyond the chunk
   length. Chunks are matched by cumulative sample counts. Legs: worklet to main thread,
   main thread to the handler on the kernel's loop over the page socket (or, by the comm:
   to the kernel's comm through the Jupyter server and ZeroMQ, then to the loop), kernel to
   server (encode, websocket). Target: p95 at most 5 ms above the floor's (below).
2. **Server to playback worklet**, per audio delta: from the server writing
   ``response.output_audio.delta`` to the playback worklet receiving the push (it is then
   queued). Matched by item and cumulative samples. Legs: server to the kernel sending it
   (over the page socket), kernel to the page's main thread, main thread to worklet.
   Target: p95 at most 5 ms above the floor's.
3. **Barge-in**: from the server sending ``input_audio_buffer.speech_started`` to the first
   all-silent block the playback worklet renders after the interrupt, for each interrupt
   that stopped audible playback. The block is rendered, not yet heard: the output device's
   own latency comes on top. Target: every barge-in <= 50 ms.
4. **Truncation**: the ``audio_end_ms`` of the ``conversation.item.truncate`` the server
   received against the playback worklet's count of samples played when it went silent.
   Target: every barge-in within 20 ms.

5. **The first audio delta of each answer, with a short and a long conversation** (no
   target): the kernel -> main thread leg of each answer's first audio delta, against the
   other deltas. An answer opens with item changes (the user's item, the answer's item)
   whose messages travel just ahead of its first delta, and whose handling on the main
   thread delays it. After the conversation above, the microphone is turned off, the kernel
   creates :data:`PRELOAD_ITEMS` user text items on the server (``conversation.item.create``,
   which the server echoes; trait syncs held while they arrive), and the conversation
   carries on for a few more answers: their first deltas are the long-conversation figures.
   Figures 1-4 come from the first part only.

The floor of figures 1 and 2 is what the machine alone costs on those paths: a bare page in
the same Chromium with the same fake microphone sends its chunks over a plain websocket to a
plain server and plays the deltas that server sends (``benchmarks/browser_floor.py``,
measured in the same run, just before the conversation). The rows show its p95 beside ours.

Without Chromium (``/usr/bin/chromium``), espeak-ng, Playwright or JupyterLab the rows are
returned with ``value`` and ``ok`` ``None`` and a note saying what is missing.

The Jupyter server runs with the package's server extension (``realtime_widget.serverext``,
enabled by installing the package), which sets ``TCP_NODELAY`` on the kernel websockets, as
every user's server does. Diagnostic: ``python -m benchmarks.bench_browser --nagle`` runs
the same conversation with the extension disabled (tornado's default, Nagle's algorithm, on),
to show what it saves on the kernel-to-browser legs: a small message written while an
earlier one is unacknowledged waits for the browser's delayed ACK, up to ~40 ms on Linux.
"""

from __future__ import annotations

import importlib
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from realtime_widget.server import LocalRealtimeServer, serve_in_thread

from . import browser_floor
from .bench_relay import row, skipped_rows

__all__ = ["Skip", "browser_setup", "run"]

GROUP = "browser"
RATE = 24_000
HARNESS = Path(__file__).resolve().parents[1] / "tests" / "browser"
SILENCE_SECONDS = 2.0  # after the speech: the answer plays ~1.5 s before the next barge-in
TARGET_ADDED_MS = 15.0
TARGET_BARGE_IN_MS = 50.0
TARGET_TRUNCATION_MS = 20.0
AUDIO_DELTAS = ("response.output_audio.delta", "response.audio.delta")
PRELOAD_ITEMS = 1_000

# Wraps the kernel's widget `w` (the harness notebook's) to stamp what crosses the kernel:
# browser audio as the comm hands it over (in whichever thread that is) and as its handler
# runs on the kernel's loop; audio and interrupts as sent.
KERNEL_HOOKS = """
import time as _rtw_time
_rtw_kernel = []
_rtw_send = w._page_socket.deliver  # every message to the pages passes here first
def _rtw_traced_send(content, buffers=None):
    kind = content.get("type") if isinstance(content, dict) else None
    if kind == "audio":
        _rtw_kernel.append([_rtw_time.time() * 1000, "audio", content["item_id"],
                            len(buffers[0]) // 2])
    elif kind == "interrupt":
        _rtw_kernel.append([_rtw_time.time() * 1000, "interrupt", None, 0])
    return _rtw_send(content, buffers)
w._page_socket.deliver = _rtw_traced_send
_rtw_mic = w._browser.handlers["audio"]
def _rtw_traced_mic(message):
    _rtw_kernel.append([_rtw_time.time() * 1000, "mic", None, message["data"].nbytes // 2])
    return _rtw_mic(message)
w._browser.handlers["audio"] = _rtw_traced_mic
def _rtw_comm(_widget, content, buffers):
    if isinstance(content, dict) and content.get("type") == "audio" and buffers:
        _rtw_kernel.append([_rtw_time.time() * 1000, "comm", None, buffers[0].nbytes // 2])
w.on_msg(_rtw_comm)
print("hooked")
"""
# Diagnostic only (see the module's docstring): a jupyter_server_config.py.
NAGLE_CONFIG = """
c.ServerApp.jpserver_extensions = {"realtime_widget.serverext": False}
"""
KERNEL_DUMP = "import json as _rtw_json; print(_rtw_json.dumps(_rtw_kernel))"
PAGE_CLOCK = "() => [performance.timeOrigin + performance.now(), Date.now()]"


class Skip(Exception):
    """A dependency of the browser run is missing."""


def _harness() -> ModuleType:
    """``tests/browser/jupyter_harness.py``, imported as the browser tests import it."""
    if str(HARNESS) not in sys.path:
        sys.path.insert(0, str(HARNESS))
    return importlib.import_module("jupyter_harness")


def _check_dependencies(harness: ModuleType) -> None:
    if not harness.CHROMIUM.exists():
        raise Skip(f"no {harness.CHROMIUM}: apt-get install -y chromium espeak-ng")
    if harness.ESPEAK is None:
        raise Skip("no espeak-ng: apt-get install -y espeak-ng")
    if not (harness.BIN / "jupyter").exists():
        raise Skip(f"no jupyter in {harness.BIN}: pip install -e '.[dev]'")
    try:
        importlib.import_module("playwright.sync_api")
    except ImportError:
        raise Skip("playwright is not installed: pip install -e '.[dev]'") from None


# -- the run ------------------------------------------------------------------------------------


@contextmanager
def browser_setup(
    *, trace: bool = False, server_config: str | None = None
) -> Iterator[tuple[ModuleType, Any, Any, LocalRealtimeServer]]:
    """The harness module, Chromium (its fake microphone looping the speech), JupyterLab on
    the harness notebook and the local server at real-time pace, all stopped on exit.

    Raises :class:`Skip` when a dependency is missing."""
    harness = _harness()
    _check_dependencies(harness)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="rtw-bench-browser-") as folder:
        root = Path(folder)
        wav = harness.make_speech_wav(root, harness.SPEECH_TEXT, SILENCE_SECONDS)
        # the trace keeps every frame of the run: up to minutes of audio both ways
        server = serve_in_thread(pace="realtime", trace=trace, record_bytes=256 * 1024 * 1024)
        try:
            jupyter = harness.start_jupyter(
                "lab", root / "lab", server.url, server_config=server_config
            )
            try:
                with sync_playwright() as playwright:
                    browser = harness.launch_chromium(playwright, wav)
                    try:
                        yield harness, browser, jupyter, server
                    finally:
                        browser.close()
            finally:
                harness.stop_jupyter(jupyter)
        finally:
            server.stop_thread()


def _record(quick: bool, nagle: bool) -> dict[str, Any]:
    """Runs the conversation; returns the page's, the kernel's and the server's records."""
    config = NAGLE_CONFIG if nagle else None
    with browser_setup(trace=True, server_config=config) as (harness, browser, jupyter, server):
        return _converse(harness, browser, jupyter, server, quick, nagle)


def _converse(
    harness: ModuleType,
    browser: Any,
    jupyter: Any,
    server: LocalRealtimeServer,
    quick: bool,
    nagle: bool,
) -> dict[str, Any]:
    barge_ins = 3 if quick else 12
    later = 3 if quick else 6  # answers after the preload
    budget = 30.0 if quick else 90.0  # seconds of talking at most
    page = harness.open_notebook(
        browser,
        jupyter,
        f"/lab/tree/{jupyter.notebook}",
        permissions=["microphone"],
        init_script="window.__rtwTrace = [];",
    )
    try:
        out = page.evaluate(harness.KERNEL_EXEC, KERNEL_HOOKS)
        if "hooked" not in out:
            raise RuntimeError(f"the kernel hooks failed: {out}")
        page.click(".rtw-connect")
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
        talked = _talk(server, barge_ins, budget)
        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="off"]', timeout=10_000)
        time.sleep(1.0)  # the last interrupt's truncate and late audio land
        split_ms = time.time() * 1000
        preload = (
            f"{harness.KERNEL_ADD_NOTES}\nprint('items', await _rtw_add_notes({PRELOAD_ITEMS}))"
        )
        out = page.evaluate(harness.KERNEL_EXEC, preload)
        if "items" not in out:
            raise RuntimeError(f"the preload failed: {out}")
        conversation = int(out.split()[-1])
        page.wait_for_function(
            "(n) => document.querySelectorAll('.rtw-item').length >= n",
            arg=PRELOAD_ITEMS,
            timeout=120_000,
        )
        time.sleep(2.0)  # what the widget sends once the conversation is quiet
        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="on"]', timeout=10_000)
        done = _truncates(server)
        talked_later = _talk(server, done + later, budget)
        page.click(".rtw-mic")
        page.wait_for_selector('.rtw[data-mic="off"]', timeout=10_000)
        time.sleep(1.0)
        records = {
            "page": page.evaluate("() => window.__rtwTrace"),
            "kernel": json.loads(page.evaluate(harness.KERNEL_EXEC, KERNEL_DUMP).splitlines()[-1]),
            "server": _server_trace(server),
            "clock_skew_ms": _clock_skew(page),
            "talked_s": talked,
            "talked_later_s": talked_later,
            "split_ms": split_ms,
            "items": (conversation - PRELOAD_ITEMS, conversation),
            "nagle": nagle,
        }
    finally:
        page.context.close()
    return records


def _talk(server: LocalRealtimeServer, truncates: int, budget: float) -> float:
    """Let the fake microphone talk until the server saw ``truncates`` truncations (one per
    barge-in) or ``budget`` seconds passed; returns the seconds talked."""
    started = time.monotonic()
    while time.monotonic() - started < budget:
        time.sleep(1.0)
        if _truncates(server) >= truncates:
            break
    return time.monotonic() - started


def _truncates(server: LocalRealtimeServer) -> int:
    async def count() -> int:
        return sum(
            1
            for c in server.connections
            for e in c.received
            if e.get("type") == "conversation.item.truncate"
        )

    return server.call_in_thread(count())


def _server_trace(server: LocalRealtimeServer) -> list[tuple[float, str, dict[str, Any]]]:
    async def copy() -> list[tuple[float, str, dict[str, Any]]]:
        if len(server.connections) != 1:
            raise RuntimeError(f"expected one connection, got {len(server.connections)}")
        return list(server.connections[0].trace or [])

    return server.call_in_thread(copy())


def _clock_skew(page: Any) -> tuple[float, float]:
    """The page's clocks (``performance``-based, ``Date.now()``) minus this process's, in ms:
    the reading with the shortest round trip of five (the error is at most half of it; 1 ms
    more for ``Date.now()``, which counts whole milliseconds)."""
    best: tuple[float, float, float] | None = None
    for _ in range(5):
        before = time.time() * 1000
        precise, date = page.evaluate(PAGE_CLOCK)
        after = time.time() * 1000
        middle = (before + after) / 2
        if best is None or after - before < best[0]:
            best = (after - before, float(precise) - middle, float(date) - middle)
    assert best is not None
    return best[1], best[2]


# -- the analysis -------------------------------------------------------------------------------


def _b64_samples(text: str) -> int:
    """PCM16 samples in a base64 string."""
    return (len(text) * 3 // 4 - text[-2:].count("=")) // 2


def _ends(sizes: Iterable[int]) -> list[int]:
    """Cumulative ends of consecutive chunks of the given sizes."""
    return list(itertools.accumulate(sizes))


def _by_end(stamps: list[float], sizes: list[int]) -> dict[int, float]:
    return dict(zip(_ends(sizes), stamps, strict=True))


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    p50, p95 = np.percentile(values, [50, 95])
    return float(p50), float(p95)


def _legs(named: dict[str, list[float]]) -> str:
    parts = []
    for name, values in named.items():
        p50, p95 = _percentiles(values)
        parts.append(
            f"{name} {p50:.1f}/{p95:.1f}" if p50 is not None and p95 is not None else f"{name} -"
        )
    return "legs p50/p95 ms: " + ", ".join(parts)


def _mic(page: list[dict[str, Any]], kernel: list[list[Any]], server: list[Any]) -> dict[str, Any]:
    chunks = [r for r in page if r.get("event") == "mic"]
    appends = [
        (stamp * 1000, _b64_samples(event["audio"]))
        for stamp, direction, event in server
        if direction == "received" and event.get("type") == "input_audio_buffer.append"
    ]
    handed = [(r[0], r[3]) for r in kernel if r[1] == "comm"]
    handled = [(r[0], r[3]) for r in kernel if r[1] == "mic"]
    at_server = _by_end([t for t, _ in appends], [n for _, n in appends])
    at_comm = _by_end([t for t, _ in handed], [n for _, n in handed])
    at_kernel = _by_end([t for t, _ in handled], [n for _, n in handled])
    total, to_main, to_comm, to_loop, to_socket, to_server = [], [], [], [], [], []
    ends = _ends(r["samples"] for r in chunks)
    for chunk, end in zip(chunks, ends, strict=True):
        if end not in at_server:
            continue
        posted = chunk["tw"] if isinstance(chunk.get("tw"), int | float) else chunk["t"]
        total.append(at_server[end] - posted)
        to_main.append(chunk["t"] - posted)
        if end in at_kernel:
            to_server.append(at_server[end] - at_kernel[end])
            if end in at_comm:
                to_comm.append(at_comm[end] - chunk["t"])
                to_loop.append(at_kernel[end] - at_comm[end])
            else:  # over the page socket, straight to the kernel's loop
                to_socket.append(at_kernel[end] - chunk["t"])
    legs = {"worklet->main": to_main, "main->kernel socket": to_socket}
    if to_comm:
        legs.update({"main->kernel comm": to_comm, "comm->kernel loop": to_loop})
    return {"latency": total, "sent": len(chunks), "legs": {**legs, "kernel->server": to_server}}


def _per_item_ends(records: list[tuple[float, str, int]]) -> dict[tuple[str, int], float]:
    """``(item_id, cumulative end)`` to stamp, for ``(stamp, item_id, samples)`` records."""
    totals: dict[str, int] = {}
    out: dict[tuple[str, int], float] = {}
    for stamp, item_id, samples in records:
        totals[item_id] = totals.get(item_id, 0) + samples
        out[(item_id, totals[item_id])] = stamp
    return out


def _playback(
    page: list[dict[str, Any]], kernel: list[list[Any]], server: list[Any]
) -> dict[str, Any]:
    sent = _per_item_ends(
        [
            (stamp * 1000, event["item_id"], _b64_samples(event["delta"]))
            for stamp, direction, event in server
            if direction == "sent" and event.get("type") in AUDIO_DELTAS
        ]
    )
    relayed = _per_item_ends([(r[0], r[2], r[3]) for r in kernel if r[1] == "audio"])
    arrived = _per_item_ends(
        [(r["t"], r["itemId"], r["samples"]) for r in page if r.get("event") == "audio"]
    )
    queued = _per_item_ends(
        [(r["t"], r["itemId"], r["samples"]) for r in page if r.get("event") == "queued"]
    )
    total, to_kernel, to_main, to_worklet = [], [], [], []
    for key, t_queued in queued.items():
        if key not in sent:
            continue
        total.append(t_queued - sent[key])
        if key in relayed and key in arrived:
            to_kernel.append(relayed[key] - sent[key])
            to_main.append(arrived[key] - relayed[key])
            to_worklet.append(t_queued - arrived[key])
    return {
        "latency": total,
        "sent": len(sent),
        "legs": {
            "server->kernel": to_kernel,
            "kernel->main": to_main,
            "main->worklet": to_worklet,
        },
    }


def _first_deltas(page: list[dict[str, Any]], kernel: list[list[Any]]) -> dict[str, list[float]]:
    """The kernel -> main thread leg of each answer's first audio delta, and of the others."""
    relayed = [(r[0], r[2], r[3]) for r in kernel if r[1] == "audio"]
    arrived = _per_item_ends(
        [(r["t"], r["itemId"], r["samples"]) for r in page if r.get("event") == "audio"]
    )
    first: list[float] = []
    rest: list[float] = []
    seen: set[str] = set()
    for key, stamp in _per_item_ends(relayed).items():
        if key not in arrived:
            continue
        (first if key[0] not in seen else rest).append(arrived[key] - stamp)
        seen.add(key[0])
    return {"first": first, "rest": rest}


def _split(records: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page's, kernel's and server's records before and after the preload."""
    split = records["split_ms"]
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, stamp in (
        ("page", lambda r: r["t"]),
        ("kernel", lambda r: r[0]),
        ("server", lambda r: r[0] * 1000),
    ):
        before[name] = [r for r in records[name] if stamp(r) < split]
        after[name] = [r for r in records[name] if stamp(r) >= split]
    return before, after


def _first_after(stamps: list[float], after: float) -> float | None:
    return next((t for t in stamps if t >= after), None)


def _barge_ins(
    page: list[dict[str, Any]], kernel: list[list[Any]], server: list[Any]
) -> dict[str, Any]:
    """Each interrupt that stopped audible playback, with its speech_started and truncate."""
    started = [
        stamp * 1000
        for stamp, direction, event in server
        if direction == "sent" and event.get("type") == "input_audio_buffer.speech_started"
    ]
    truncates = {
        event["item_id"]: event["audio_end_ms"]
        for _, direction, event in server
        if direction == "received" and event.get("type") == "conversation.item.truncate"
    }
    kernel_interrupts = [r[0] for r in kernel if r[1] == "interrupt"]
    page_interrupts = [r["t"] for r in page if r.get("event") == "interrupt"]
    silences = [
        r
        for r in page
        if r.get("event") == "silent" and r.get("itemId") is not None and r["playedSamples"] > 0
    ]
    total, to_kernel, to_main, to_silent, errors = [], [], [], [], []
    missing = 0
    for silence in silences:
        before = [t for t in started if t <= silence["tInterrupt"]]
        if not before:
            continue
        speech = before[-1]
        total.append(silence["t"] - speech)
        relayed = _first_after(kernel_interrupts, speech)
        arrived = _first_after(page_interrupts, relayed) if relayed is not None else None
        if relayed is not None and arrived is not None:
            to_kernel.append(relayed - speech)
            to_main.append(arrived - relayed)
            to_silent.append(silence["t"] - arrived)
        end_ms = truncates.get(silence["itemId"])
        if end_ms is None:
            missing += 1
        else:
            errors.append(abs(end_ms - silence["playedSamples"] * 1000 / RATE))
    return {
        "latency": total,
        "errors": errors,
        "missing_truncates": missing,
        "legs": {
            "server->kernel": to_kernel,
            "kernel->main": to_main,
            "main->silent block": to_silent,
        },
    }


def _within(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def _first_delta_rows(
    records: dict[str, Any], short: dict[str, Any], long: dict[str, Any], prefix: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    before, after = records["items"]
    for label, part in (("short conversation", short), ("after the preload", long)):
        legs = _first_deltas(part["page"], part["kernel"])
        first, rest = legs["first"], legs["rest"]
        median = float(np.median(first)) if first else None
        worst = max(first) if first else None
        others = float(np.median(rest)) if rest else None
        name = f"first audio delta of an answer, kernel -> main, {label}"
        note = f"{prefix}n={len(first)} answers; other deltas: median " + (
            f"{others:.1f} ms (n={len(rest)})" if others is not None else "-"
        )
        if label == "after the preload":
            note += f"; {after:,} items from the preload on, {records['talked_later_s']:.0f} s"
        else:
            note += f"; up to {before} items"
        rows.append(row(GROUP, f"{name}: median", median, "ms", note=note))
        rows.append(row(GROUP, f"{name}: max", worst, "ms", note=f"{prefix}n={len(first)}"))
    return rows


def _rows(records: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    short, long = _split(records)
    page, kernel, server = short["page"], short["kernel"], short["server"]
    mic = _mic(page, kernel, server)
    play = _playback(page, kernel, server)
    barge = _barge_ins(page, kernel, server)
    least = (20, 20, 2) if quick else (50, 50, 5)
    prefix = "DIAGNOSTIC: Nagle's algorithm on; " if records["nagle"] else ""
    rows: list[dict[str, Any]] = []
    for label, data, what in (
        ("mic -> server (beyond the 80 ms chunk)", mic, "chunks sent"),
        ("server -> playback worklet", play, "deltas sent"),
    ):
        p50, p95 = _percentiles(data["latency"])
        n = len(data["latency"])
        note = f"{prefix}n={n} of {data['sent']} {what}; {_legs(data['legs'])}"
        rows.append(row(GROUP, f"{label}: p50", p50, "ms", note=f"{prefix}n={n}"))
        target, ok = f"<= {TARGET_ADDED_MS:g}", _within(p95, TARGET_ADDED_MS)
        rows.append(row(GROUP, f"{label}: p95", p95, "ms", target, ok, note))
    latency = barge["latency"]
    n = len(latency)
    median = float(np.median(latency)) if latency else None
    worst = max(latency) if latency else None
    name = "barge-in: speech_started -> silent"
    rows.append(row(GROUP, f"{name}, median", median, "ms", note=f"{prefix}n={n}"))
    note = f"{prefix}n={n}; {_legs(barge['legs'])}; a rendered block, before the device latency"
    target, ok = f"<= {TARGET_BARGE_IN_MS:g}", _within(worst, TARGET_BARGE_IN_MS)
    rows.append(row(GROUP, f"{name}, max", worst, "ms", target, ok, note))
    errors = barge["errors"]
    worst_error = max(errors) if errors else None
    missing = barge["missing_truncates"]
    ok = _within(worst_error, TARGET_TRUNCATION_MS) and missing == 0
    note = f"{prefix}n={len(errors)}; {missing} barge-ins without a truncate at the server"
    name = "truncation: audio_end_ms - worklet played, max |error|"
    rows.append(row(GROUP, name, worst_error, "ms", f"<= {TARGET_TRUNCATION_MS:g}", ok, note))
    precise, date = records["clock_skew_ms"]
    note = (
        f"{prefix}{records['talked_s']:.0f} s of talk; clocks minus python's: page "
        f"{precise:+.1f} ms, Date.now {date:+.1f} ms"
    )
    for name, count, minimum in (
        ("mic chunks matched", len(mic["latency"]), least[0]),
        ("audio deltas matched", len(play["latency"]), least[1]),
        ("barge-ins measured", n, least[2]),
    ):
        rows.append(row(GROUP, name, count, "count", f">= {minimum}", count >= minimum, note))
    rows += _first_delta_rows(records, short, long, prefix)
    return rows


def _skipped(reason: str) -> list[dict[str, Any]]:
    names = (
        "mic -> server (beyond the 80 ms chunk): p95",
        "server -> playback worklet: p95",
        "barge-in: speech_started -> silent, max",
        "truncation: audio_end_ms - worklet played, max |error|",
    )
    return skipped_rows("bench_browser", GROUP, names, reason)


def run(quick: bool = False, *, nagle: bool = False) -> list[dict[str, Any]]:
    """One browser conversation (quick: 3 barge-ins, else 12); one row per figure.

    ``nagle`` is the diagnostic described in the module's docstring. The p95 rows carry the
    bare page's p95 as their floor (:mod:`benchmarks.browser_floor`).
    """
    try:
        _check_dependencies(_harness())
        floor = browser_floor.measure(_harness(), quick)
        records = _record(quick, nagle)
    except Skip as skip:
        return _skipped(str(skip))
    return browser_floor.with_floor(_rows(records, quick), floor)


if __name__ == "__main__":
    for result in run(quick="--full" not in sys.argv, nagle="--nagle" in sys.argv):
        print(result)
