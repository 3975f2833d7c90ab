"""Our conversation against the reference JavaScript one, fed the identical event stream.

The reference is ``RealtimeConversation`` from the npm package ``openai-realtime-api``
(pinned to :data:`PACKAGE_VERSION`), installed at run time into ``benchmarks/.node/``
(ignored by git; installed once, then reused) and run by ``benchmarks/node/
reference_conversation.mjs`` in node. Without node, or when npm cannot install the package,
the rows are skipped with a message.

One assistant audio answer of 60 s and of 300 s (24 kHz PCM16 in 100 ms deltas, one transcript
delta per audio delta) is written once as JSON text, one event per line, in the beta dialect,
the one the reference understands (``conversation.item.created``, ``response.audio.delta``,
``response.audio_transcript.delta``, content part ``audio``); ours reads both dialects and
gets the same file. Each side parses every line (``json.loads`` / ``JSON.parse``) and applies
it: ours every event, the reference the events its client routes to the conversation (those
it has a processor for). Both must end with every sample in the item.

Figures: events/s and multiple of real time from process CPU time (what the machine's other
load disturbs least), real time from wall time too, and our speed over the reference's in
both clocks, medians of repeats taken in the same run. The reference copies the whole item
audio on every delta (quadratic), so a 300 s answer takes it minutes: it is repeated at most
3 times within a time budget, and only in the full run (quick mode measures 60 s).
"""

from __future__ import annotations

import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from realtime_widget.core.conversation import RealtimeConversation

from .bench_conversation import response_events
from .bench_relay import row

__all__ = ["run"]

GROUP = "reference"
PACKAGE = "openai-realtime-api"
PACKAGE_VERSION = "1.0.8"
HERE = Path(__file__).resolve().parent
INSTALL_DIR = HERE / ".node"
SCRIPT = HERE / "node" / "reference_conversation.mjs"
RATE = 24_000
CHUNK = RATE // 10
ITEM_ID = "item_1"
_WORDS = ("hello ", "there, ", "this ", "is ", "a ", "fairly ", "long ", "answer. ")


class Skip(Exception):
    """The reference cannot run here; the message says why."""


def beta_answer(seconds: int) -> list[str]:
    """The beta event sequence of one audio answer lasting ``seconds`` (what the reference
    understands), as JSON text."""
    return response_events(seconds, "beta")


def install_reference() -> Path:
    """The folder holding the installed package (npm install on first use); raises Skip."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise Skip("node and npm are needed for the reference rows; not found on PATH")
    manifest = INSTALL_DIR / "node_modules" / PACKAGE / "package.json"
    if manifest.exists() and json.loads(manifest.read_text())["version"] == PACKAGE_VERSION:
        return INSTALL_DIR
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    (INSTALL_DIR / "package.json").write_text('{"private": true}\n')
    command = [npm, "install", "--prefix", str(INSTALL_DIR), "--no-audit", "--no-fund"]
    command += ["--ignore-scripts", "--no-save", f"{PACKAGE}@{PACKAGE_VERSION}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        raise Skip(f"npm install {PACKAGE} timed out (is the npm registry reachable?)") from None
    if done.returncode != 0 or not manifest.exists():
        said = [
            line.removeprefix("npm error").strip()
            for line in (done.stderr or done.stdout).splitlines()
            if line.startswith("npm error") and "complete log" not in line
        ]
        reason = "; ".join([line for line in said if line][:4])
        raise Skip(f"npm install {PACKAGE} failed (is the npm registry reachable?): {reason}")
    return INSTALL_DIR


def _feed_ours(texts: list[str]) -> tuple[float, float]:
    """(CPU s, wall s) to parse and apply ``texts`` to a fresh conversation."""
    conversation = RealtimeConversation()
    process, loads = conversation.process_event, json.loads
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for text in texts:
        process(loads(text))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    item = conversation.get_item(ITEM_ID)
    assert item is not None and len(item["formatted"]["audio"]) == _samples(texts)
    return cpu, wall


def _samples(texts: list[str]) -> int:
    return (len(texts) - 9) // 2 * CHUNK


def _run_reference(
    package: Path, files: dict[int, Path], warmup: Path, quick: bool
) -> dict[str, Any]:
    repeats = {60: 3 if quick else 5, 300: 3}
    budgets = {60: 30.0, 300: 150.0}
    config = {
        "package": str(package),
        "item_id": ITEM_ID,
        "warmup": {"file": str(warmup), "times": 2},
        "runs": [
            {
                "label": str(seconds),
                "file": str(path),
                "repeats": repeats[seconds],
                "budget": budgets[seconds],
            }
            for seconds, path in files.items()
        ],
    }
    config_file = warmup.with_name("config.json")
    config_file.write_text(json.dumps(config))
    command = ["node", "--expose-gc", str(SCRIPT), str(config_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the reference script failed:\n{done.stderr[-3_000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run every measurement; returns one row per figure (``ok`` is ``None``: no targets)."""
    lengths = (60,) if quick else (60, 300)
    try:
        package = install_reference()
    except Skip as skip:
        print(f"bench_reference: skipped: {skip}", file=sys.stderr)
        note = f"skipped: {skip}"
        return [row(GROUP, "reference conversation (npm)", None, "", None, None, note)]
    with tempfile.TemporaryDirectory(prefix="rtw-bench-") as folder:
        texts = {seconds: beta_answer(seconds) for seconds in lengths}
        files = {}
        for seconds, lines in texts.items():
            files[seconds] = Path(folder) / f"answer_{seconds}s.jsonl"
            files[seconds].write_text("\n".join(lines) + "\n")
        warmup = Path(folder) / "warmup.jsonl"
        warmup.write_text("\n".join(beta_answer(10)) + "\n")
        reference = _run_reference(package, files, warmup, quick)
        warm = warmup.read_text().splitlines()
        # Ours: the same lines, the same warm-up, the sizes taking turns.
        for _ in range(2):
            _feed_ours(warm)
        ours: dict[int, list[tuple[float, float]]] = {seconds: [] for seconds in lengths}
        for _ in range(3 if quick else 5):
            for seconds in lengths:
                lines = files[seconds].read_text().splitlines()
                ours[seconds].append(_feed_ours(lines))
    rows: list[dict[str, Any]] = []
    for seconds in lengths:
        theirs = reference["results"][str(seconds)]
        events = len(texts[seconds])
        if theirs["samples"] != _samples(texts[seconds]) or theirs["events"] != events:
            raise RuntimeError(f"the reference did not apply the {seconds} s answer: {theirs}")
        note = f"{PACKAGE} {reference['version']} on node {reference['node']}"
        runs = f"{len(theirs['cpu'])} runs"
        our_cpu = statistics.median(c for c, _ in ours[seconds])
        our_wall = statistics.median(w for _, w in ours[seconds])
        ref_cpu = statistics.median(theirs["cpu"])
        ref_wall = statistics.median(theirs["wall"])
        label = f"{seconds} s answer"
        rows += [
            row(GROUP, f"{label}: ours, events/s (CPU)", events / our_cpu, "events/s"),
            row(GROUP, f"{label}: reference, events/s (CPU)", events / ref_cpu, "events/s"),
            row(GROUP, f"{label}: ours, real time (CPU)", seconds / our_cpu, "x"),
            row(GROUP, f"{label}: reference, real time (CPU)", seconds / ref_cpu, "x", note=runs),
            row(GROUP, f"{label}: ours, real time (wall)", seconds / our_wall, "x"),
            row(GROUP, f"{label}: reference, real time (wall)", seconds / ref_wall, "x"),
            row(GROUP, f"{label}: speed ours / reference (CPU)", ref_cpu / our_cpu, "x", note=note),
            row(GROUP, f"{label}: speed ours / reference (wall)", ref_wall / our_wall, "x"),
        ]
    return rows


if __name__ == "__main__":
    for result in run(quick="--full" not in sys.argv):
        print(result)
