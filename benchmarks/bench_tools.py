"""The event loop while a tool returns a huge result: its longest stall and the memory taken.

A tool returning ``np.zeros(30_000_000)`` (240 MB of float64) and one returning
``range(30_000_000)`` are called through a :class:`RealtimeClient` and the local server in
another process (``--fast``, text answers), so the loop measured holds the client alone: the
user asks for the tool by name, the model calls it, the client runs it, converts its result
and sends the output, the model answers. While the call runs, a ticker task sleeps 1 ms at a
time and records the longest gap between its wakeups beyond the requested sleep: the loop's
longest stall. Target: <= 50 ms (a notebook's kernel, and the audio through it, must not
freeze). Before the result was bounded while converted, these stalls were 26 to 42 s.

Resident memory (``VmRSS`` from ``/proc/self/statm``, sampled every 1 ms by a thread of its
own) is reported as the peak growth over the call, from just before it. Each case runs in a
fresh Python process (``python -m benchmarks.bench_tools --child CASE``) so memory freed by
earlier work cannot hide growth. The figures are medians over the runs (1 in quick mode, 3
in full); the note gives the worst run and what the model read.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from realtime_widget.client.client import RealtimeClient

from .bench_relay import ServerProcess, row

GROUP = "tools"
STALL_TARGET_MS = 50.0
SIZE = 30_000_000
TICK = 0.001
CASES: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "zeros": (f"np.zeros({SIZE:_})", lambda args: np.zeros(SIZE)),
    "range": (f"range({SIZE:_})", lambda args: range(SIZE)),
}
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * _PAGE


async def _tick(stop: asyncio.Event, figures: dict[str, float]) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(TICK)
        figures["stall"] = max(figures["stall"], time.perf_counter() - before - TICK)


def _sample(stop: threading.Event, figures: dict[str, float]) -> None:
    # a thread of its own: a stalled loop would miss a peak that is gone when it wakes up
    while not stop.wait(TICK):
        figures["rss"] = max(figures["rss"], _rss())


async def _call(client: RealtimeClient, name: str) -> str:
    """Ask the model to call tool ``name``; the output sent once it has answered."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[None] = loop.create_future()
    outputs: list[str] = []

    def sent(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call_output":
            outputs.append(str(item.get("output")))

    def done(event: dict[str, Any]) -> None:
        output = (event.get("response") or {}).get("output") or []
        calls = any(o.get("type") == "function_call" for o in output)
        if outputs and not calls and not answered.done():
            answered.set_result(None)

    client.realtime.on("client.conversation.item.create", sent)
    client.realtime.on("server.response.done", done)
    try:
        client.send_user_message_content(f"Please call {name}.")
        await asyncio.wait_for(answered, 600)
    finally:
        client.realtime.off("client.conversation.item.create", sent)
        client.realtime.off("server.response.done", done)
    return outputs[0]


async def _child(case: str) -> dict[str, Any]:
    """One call of the case's tool in a session of its own; the figures as a dict."""
    _, handler = CASES[case]
    with ServerProcess() as server:
        client = RealtimeClient(url=server.url, config={"model": {"modalities": ["text"]}})
        client.register_tool({"name": "warm"}, lambda args: "ready")
        client.register_tool({"name": case}, handler)
        await client.connect()
        try:
            await _call(client, "warm")  # the first call's one-off costs are not the result's
            gc.collect()
            baseline = _rss()
            figures = {"stall": 0.0, "rss": float(baseline)}
            stop = asyncio.Event()
            ticker = asyncio.create_task(_tick(stop, figures))
            stop_sampling = threading.Event()
            sampler = threading.Thread(target=_sample, args=(stop_sampling, figures))
            sampler.start()
            started = time.perf_counter()
            try:
                output = await _call(client, case)
            finally:
                stop.set()
                stop_sampling.set()
                await ticker
                sampler.join()
        finally:
            await client.aclose()
    return {
        "stall_ms": figures["stall"] * 1e3,
        "rss_growth_mb": (figures["rss"] - baseline) / 1e6,
        "seconds": time.perf_counter() - started,
        "output": output if len(output) < 300 else f"{len(output)} characters",
    }


def _run_child(case: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_tools", "--child", case]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run every case; returns one row per figure (``ok`` says if a target holds)."""
    repeats = 1 if quick else 3
    rows: list[dict[str, Any]] = []
    for case, (shown, _) in CASES.items():
        results = [_run_child(case) for _ in range(repeats)]
        stall = statistics.median(r["stall_ms"] for r in results)
        worst = max(results, key=lambda r: r["stall_ms"])
        note = (
            f"{repeats} run{'s' if repeats > 1 else ''}; worst {worst['stall_ms']:.1f} ms; "
            f"call {statistics.median(r['seconds'] for r in results):.2f} s; "
            f"the model read: {results[0]['output']}"
        )
        rows.append(
            row(
                GROUP,
                f"loop's longest stall, a tool returns {shown}",
                stall,
                "ms",
                f"<= {STALL_TARGET_MS:g}",
                stall <= STALL_TARGET_MS,
                note,
            )
        )
        growth = statistics.median(r["rss_growth_mb"] for r in results)
        rows.append(row(GROUP, f"RSS peak growth over the call, {shown}", growth, "MB"))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_tools")
    parser.add_argument("--child", choices=sorted(CASES), help="run one case and print JSON")
    parser.add_argument("--full", action="store_true", help="without --child: the full run")
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(asyncio.run(_child(args.child))), flush=True)
        return
    for result in run(quick=not args.full):
        print(result)


if __name__ == "__main__":
    main()
