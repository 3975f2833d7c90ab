"""Playback underruns in a real browser, with and without two CPU-bound processes beside it.

The same setup as ``bench_browser`` (Chromium, JupyterLab's kernel and comm, the local
server at real-time pace: it sends each answer's audio as it would play, so the page's
jitter buffer holds only what its pre-buffer gathered). The page sends text prompts one at a
time; each answer (:data:`PROMPT` echoed, about 6 s of speech) is played to its end before
the next prompt. Then the same again on a fresh page (a new widget, so its player starts
from the configured buffer again) while :data:`BUSY_PROCESSES` Python busy loops run
(started here, each ending by itself after :data:`LOAD_SECONDS` at most, and killed once the
answers are played).

Figure: the share of the played frames that were underrun fill, the silence the player
rendered because an answer's audio had run out before its end (what the page reports to the
kernel: ``RealtimeWidget.underruns``, against ``played_samples``). Target with the load:
<= 1 %. The figure without load, from the same run, is the floor the machine gives.
``python -m benchmarks browser_underruns`` (or ``python -m benchmarks.bench_browser_underruns
[--full]``) runs only this module.

Diagnostic: ``python -m benchmarks.bench_browser_underruns --fixed-buffer`` runs the same with
the player's adaptation off (``growMs: 0``: the configured buffer throughout), to show what
the adaptation saves.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from typing import Any

from .bench_browser import GROUP, Skip, browser_setup
from .bench_relay import row

__all__ = ["run"]

PROMPT = "the quick brown fox jumps over the lazy dog near the river bank today"
BUSY_PROCESSES = 2
LOAD_SECONDS = 240.0
TARGET_SHARE_PERCENT = 1.0

# Prints the kernel widget's played samples, underruns and received audio per answer.
KERNEL_PLAYBACK = """
import json as _rtw_json
print(_rtw_json.dumps({
    "played": w.played_samples,
    "underruns": {k: [u.count, u.fill_samples] for k, u in w.underruns.items()},
    "received": {i["id"]: len(i["formatted"]["audio"]) for i in w.client.get_conversation_items()
                 if i.get("type") == "message" and i.get("role") == "assistant"},
}))
"""
# An init script for the diagnostic: the playback node made with a fixed buffer.
FIXED_BUFFER = """(() => {
  const Base = window.AudioWorkletNode;
  window.AudioWorkletNode = class extends Base {
    constructor(context, name, options) {
      if (name === "rtw-playback") {
        options = {...options, processorOptions: {...options.processorOptions, growMs: 0}};
      }
      super(context, name, options);
    }
  };
})();"""
# A busy loop that ends by itself (the benchmark kills it earlier).
BUSY_LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"


def _playback(harness: Any, page: Any) -> dict[str, Any]:
    out = page.evaluate(harness.KERNEL_EXEC, KERNEL_PLAYBACK)
    if "ERROR" in out:
        raise RuntimeError(f"the kernel's playback figures failed: {out}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _played_answer(harness: Any, page: Any, known: set[str]) -> str | None:
    """The id of the one answer not in ``known``, once it is played to its end."""
    figures = _playback(harness, page)
    new = [i for i in figures["received"] if i not in known]
    if len(new) != 1:
        return None
    (item_id,) = new
    received, played = figures["received"][item_id], figures["played"].get(item_id, 0)
    return item_id if received > 0 and played >= received else None


def _answers(harness: Any, page: Any, count: int) -> list[str]:
    """Sends ``count`` prompts one at a time, each once the answer before is played to its
    end; returns the answers' item ids."""
    done: list[str] = []
    for n in range(count):
        known = set(_playback(harness, page)["received"])
        page.fill(".rtw-text", f"{PROMPT} {n}")
        page.press(".rtw-text", "Enter")
        answer = functools.partial(_played_answer, harness, page, known)
        done.append(harness.wait_until(answer, 60, f"answer {n} played"))
    time.sleep(1.0)  # the last answer's underrun report follows its last played report
    return done


def _share(figures: dict[str, Any], items: list[str]) -> dict[str, float]:
    played = sum(figures["played"].get(i, 0) for i in items)
    underruns = sum(figures["underruns"].get(i, [0, 0])[0] for i in items)
    fill = sum(figures["underruns"].get(i, [0, 0])[1] for i in items)
    return {
        "percent": 100.0 * fill / (fill + played) if fill + played else 0.0,
        "underruns": underruns,
        "fill_s": fill / 24_000,
        "played_s": played / 24_000,
    }


def _phase(
    harness: Any, browser: Any, jupyter: Any, count: int, busy: int, fixed: bool
) -> dict[str, float]:
    """``count`` answers on a fresh page (a new widget: a player that starts from its
    configured buffer) while ``busy`` busy loops run."""
    script = FIXED_BUFFER if fixed else None
    path = f"/lab/tree/{jupyter.notebook}"
    page = harness.open_notebook(browser, jupyter, path, init_script=script)
    loops = [
        subprocess.Popen([sys.executable, "-c", BUSY_LOOP.format(seconds=LOAD_SECONDS)])
        for _ in range(busy)
    ]
    try:
        page.click(".rtw-connect")
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
        items = _answers(harness, page, count)
    finally:
        for loop in loops:
            loop.kill()
        for loop in loops:
            loop.wait()
    try:
        return _share(_playback(harness, page), items)
    finally:
        page.context.close()


def _measure(quick: bool, fixed: bool) -> dict[str, dict[str, float]]:
    count = 3 if quick else 8
    with browser_setup() as (harness, browser, jupyter, _server):
        calm = _phase(harness, browser, jupyter, count, 0, fixed)
        loaded = _phase(harness, browser, jupyter, count, BUSY_PROCESSES, fixed)
    return {"calm": calm, "loaded": loaded}


def _note(share: dict[str, float], count: int) -> str:
    return (
        f"{count} answers, {share['played_s']:.0f} s played; {share['underruns']:.0f} underruns, "
        f"{share['fill_s']:.2f} s of fill"
    )


def run(quick: bool = False, *, fixed: bool = False) -> list[dict[str, Any]]:
    """Answers without and with the busy processes; one row each. ``fixed`` is the
    diagnostic described in the module's docstring."""
    name = "underrun fill, share of played frames"
    if fixed:
        name = f"DIAGNOSTIC, fixed buffer: {name}"
    loaded_name = f"{name}, {BUSY_PROCESSES} busy processes beside the browser"
    try:
        shares = _measure(quick, fixed)
    except Skip as skip:
        print(f"bench_browser_underruns: skipped: {skip}", file=sys.stderr)
        note = f"skipped: {skip}"
        return [
            row(GROUP, f"{name}, no load", None, "%", None, None, note),
            row(GROUP, loaded_name, None, "%", None, None, note),
        ]
    count = 3 if quick else 8
    calm, loaded = shares["calm"], shares["loaded"]
    target = f"<= {TARGET_SHARE_PERCENT:g}"
    ok = loaded["percent"] <= TARGET_SHARE_PERCENT
    return [
        row(GROUP, f"{name}, no load", calm["percent"], "%", note=_note(calm, count)),
        row(GROUP, loaded_name, loaded["percent"], "%", target, ok, _note(loaded, count)),
    ]


if __name__ == "__main__":
    for result in run(quick="--full" not in sys.argv, fixed="--fixed-buffer" in sys.argv):
        print(result)
