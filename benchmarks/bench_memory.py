"""Memory of a long conversation: resident memory growth against the raw PCM kept.

A simulated 60-minute conversation (30 minutes each side) runs through a
:class:`RealtimeClient` against the local server in another process, as fast as both can
go (``--fast``): the user side appends pre-synthesised speech followed by silence in 100 ms
chunks, the server's voice activity detection cuts each utterance into a user item, and the
server answers with speech of about the same length ("You said: ..."). Each run happens in
a fresh Python process (``python -m benchmarks.bench_memory --child``), so memory freed by
the benchmarks before it cannot hide growth; the runs with and without a limit go side by
side.

- Without a limit: resident memory growth (``VmRSS`` from ``/proc/self/status``, after
  ``gc.collect()``, from after a warm-up turn to the end) over the raw PCM kept that was
  added meanwhile (2 bytes per sample of every item's ``formatted["audio"]`` plus the input
  buffer). Target: <= 1.1.
- With ``max_audio_seconds`` (keep only the most recent audio across items): the growth over
  the last 10 minutes must be about zero, i.e. at most :data:`FLAT_TOLERANCE` of the raw PCM
  that passed through in those minutes. When the client has no such option the row says so
  (``ok`` is ``None``).

Quick mode runs 8 simulated minutes (the last 2 judged for flatness), once each.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.client.client import RealtimeClient
from realtime_widget.server.synth import synthesize

from .bench_relay import ServerProcess, long_text, row

__all__ = ["run"]

GROUP = "memory"
ROOT = Path(__file__).resolve().parent.parent  # where ``-m benchmarks...`` resolves
RATE = 24_000
CHUNK = RATE // 10
GROWTH_TARGET = 1.1
FLAT_TOLERANCE = 0.05  # of the raw PCM that passed through in the judged minutes
LIMIT_SECONDS = 120.0
BUDGET_SECONDS = 90.0  # no new pair of full runs starts after this long


def _rss() -> int:
    """Resident memory of this process in bytes (``VmRSS``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _raw_pcm(client: RealtimeClient) -> int:
    """Bytes of raw PCM16 the client keeps: every item's audio and the input buffer."""
    samples = sum(len(item["formatted"]["audio"]) for item in client.get_conversation_items())
    return 2 * (samples + len(client.input_audio_buffer))


def _utterances() -> list[list[Int16Array]]:
    """A few user turns, each about 25 s of speech then 1 s of silence, as 100 ms chunks."""
    turns = []
    for index in range(4):
        speech = synthesize(long_text(60, offset=index * 7)).samples
        audio = np.concatenate(
            [np.zeros(CHUNK * 3, np.int16), speech, np.zeros(RATE, np.int16)]
        ).astype(np.int16)
        turns.append([audio[i : i + CHUNK] for i in range(0, audio.size, CHUNK)])
    return turns


async def _turn(client: RealtimeClient, chunks: list[Int16Array]) -> float:
    """One user turn and its answer; returns the seconds of audio both sides added."""
    answered = asyncio.ensure_future(client.wait_for_answer(120))
    done = asyncio.ensure_future(client.realtime.wait_for_next("server.response.done", 120))
    await asyncio.sleep(0)
    for index, chunk in enumerate(chunks):
        client.append_input_audio(chunk)
        if index % 5 == 4:
            await asyncio.sleep(0)
    answer = await answered
    if answer is None or await done is None:
        raise RuntimeError("no answer within 120 s")
    sent = sum(chunk.size for chunk in chunks)
    return (sent + len(answer["formatted"]["audio"])) / RATE


async def _conversation(minutes: float, window: float, limit: float | None) -> dict[str, Any]:
    """Run the conversation in this process; returns its figures."""
    turns = _utterances()
    options: dict[str, Any] = {"max_audio_seconds": limit}  # None: every sample kept
    with ServerProcess() as server:
        client = RealtimeClient(url=server.url, **options)
        await client.connect()
        try:
            await _turn(client, turns[-1])  # warm-up
            gc.collect()
            base_rss, base_raw = _rss(), _raw_pcm(client)
            cpu, wall = time.process_time(), time.perf_counter()
            simulated = 0.0
            marks: list[tuple[float, int, int]] = []  # (simulated s, rss, raw)
            index = 0
            while simulated < minutes * 60:
                simulated += await _turn(client, turns[index % len(turns)])
                index += 1
                gc.collect()
                marks.append((simulated, _rss(), _raw_pcm(client)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            items = len(client.get_conversation_items())
        finally:
            await client.aclose()
    end_s, end_rss, end_raw = marks[-1]
    # The last mark at or before the start of the judged window.
    start_s, start_rss, _ = max(
        (m for m in marks if m[0] <= end_s - window * 60), default=(0.0, base_rss, base_raw)
    )
    return {
        "minutes": end_s / 60,
        "turns": index,
        "items": items,
        "growth": end_rss - base_rss,
        "raw": end_raw - base_raw,
        "raw_kept": end_raw,
        "window_minutes": (end_s - start_s) / 60,
        "window_growth": end_rss - start_rss,
        "cpu_per_audio_s": cpu / end_s,
        "wall": wall,
    }


def _children(minutes: float, window: float, limits: list[float | None]) -> list[dict[str, Any]]:
    """Run one conversation per limit, each in a fresh interpreter, side by side.

    Side by side halves the wall time; resident memory does not depend on the CPU share.
    Returns their figures in the order of ``limits``.
    """
    processes = []
    for limit in limits:
        command = [sys.executable, "-m", "benchmarks.bench_memory", "--child", str(minutes)]
        command += ["--window", str(window)]
        if limit is not None:
            command += ["--limit", str(limit)]
        processes.append(
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
            )
        )
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"memory child failed ({process.returncode}):\n{err[-3_000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _has_limit_option() -> bool:
    return "max_audio_seconds" in inspect.signature(RealtimeClient.__init__).parameters


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run every measurement; returns one row per figure (``ok`` says if a target holds)."""
    minutes, window = (8.0, 2.0) if quick else (60.0, 10.0)
    # A pair of 60-minute runs takes about a minute: repeat only while the budget allows.
    repeats, budget = (1, 0.0) if quick else (3, BUDGET_SECONDS)
    limited = _has_limit_option()
    free: list[dict[str, Any]] = []
    bounded: list[dict[str, Any]] = []
    started = time.perf_counter()
    for _ in range(repeats):
        if free and time.perf_counter() - started > budget:
            break
        pair = _children(minutes, window, [None, LIMIT_SECONDS] if limited else [None])
        free.append(pair[0])
        bounded.extend(pair[1:])
    runs = f"{len(free)} run{'s' if len(free) > 1 else ''}"
    ratio = statistics.median(r["growth"] / r["raw"] for r in free)
    length = f"{free[0]['minutes']:.0f} min"
    rows = [
        row(GROUP, f"no limit, {length}: raw PCM kept", _median(free, "raw_kept") / 1e6, "MB"),
        row(GROUP, f"no limit, {length}: RSS growth", _median(free, "growth") / 1e6, "MB"),
        row(
            GROUP,
            f"no limit, {length}: RSS growth / raw PCM kept",
            ratio,
            "ratio",
            f"<= {GROWTH_TARGET:g}",
            ratio <= GROWTH_TARGET,
            runs,
        ),
        row(
            GROUP,
            f"no limit, {length}: kernel CPU per s of audio",
            _median(free, "cpu_per_audio_s") * 1e3,
            "ms/s",
        ),
    ]
    name = f"max_audio_seconds={LIMIT_SECONDS:g}, last {window:g} of {minutes:g} min: RSS growth"
    if not limited:
        note = "RealtimeClient has no max_audio_seconds option yet: not measured"
        return [*rows, row(GROUP, name, None, "MB", "~ 0", None, note)]
    growth = _median(bounded, "window_growth")
    # What passed through in the judged minutes: both sides' audio, 2 bytes per sample.
    passed = statistics.median(r["window_minutes"] for r in bounded) * 60 * RATE * 2
    tolerance = FLAT_TOLERANCE * passed
    rows += [
        row(
            GROUP,
            f"max_audio_seconds={LIMIT_SECONDS:g}: raw PCM kept",
            _median(bounded, "raw_kept") / 1e6,
            "MB",
        ),
        row(
            GROUP,
            f"max_audio_seconds={LIMIT_SECONDS:g}, {length}: RSS growth",
            _median(bounded, "growth") / 1e6,
            "MB",
        ),
        row(
            GROUP,
            name,
            growth / 1e6,
            "MB",
            f"<= {tolerance / 1e6:.1f} (~ 0)",
            growth <= tolerance,
            runs,
        ),
    ]
    return rows


def _median(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_memory")
    parser.add_argument("--child", type=float, metavar="MINUTES", help="run one conversation")
    parser.add_argument("--window", type=float, default=10.0, help="minutes judged for flatness")
    parser.add_argument("--limit", type=float, help="max_audio_seconds for the client")
    parser.add_argument("--full", action="store_true", help="without --child: the full run")
    args = parser.parse_args(argv)
    if args.child is not None:
        result = asyncio.run(_conversation(args.child, args.window, args.limit))
        print(json.dumps(result), flush=True)
        return
    for result in run(quick=not args.full):
        print(result)


if __name__ == "__main__":
    main()
