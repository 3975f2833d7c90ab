"""The benchmark runner's table and exit status, and the floors the benchmarks compare with.

The floors run here at a small size against the real local server; their figures are
checked by ``make bench``, not here.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_kernel_audio
from benchmarks.__main__ import DEFAULT_OUTPUT, report, table
from benchmarks.bench_browser import _harness
from benchmarks.bench_conversation import CHUNK, BareLoop, feed_both, response_events
from benchmarks.bench_relay import (
    CHUNK_SAMPLES,
    BareClient,
    _kernel_to_browser,
    _page_on_socket,
    _socket_to_kernel,
    counting_comms,
    row,
)
from benchmarks.browser_floor import measure, with_floor
from benchmarks.sound_card import added, onsets
from realtime_widget.server import serve_in_thread
from realtime_widget.widget.widget import RealtimeWidget

ROOT = Path(__file__).resolve().parents[1]


def test_a_row_with_a_floor_prints_its_floor_and_ratio_beside_a_row_without() -> None:
    rows = [
        row("relay", "with a floor", 3.0, "ms/s", "ratio <= 1.5", False, floor=2.0),
        row("tools", "without a floor", 7.5, "ms", "<= 50", True),
    ]
    lines = table(rows).splitlines()
    header = lines[0].split()
    assert header == ["group", "name", "value", "floor", "ratio", "unit", "target", "ok"]
    assert rows[0]["ratio"] == 1.5
    assert "2.000" in lines[2] and "1.500" in lines[2] and "MISSED" in lines[2]
    without = lines[3]
    ratio_column = lines[0].index("ratio")
    assert without[lines[0].index("floor") : lines[0].index("unit")].strip() == ""
    assert "ok" in without[ratio_column:] and "7.500" in without


def test_a_row_keeps_a_ratio_taken_pair_by_pair_over_its_figures_ratio() -> None:
    paired = row("relay", "spaced", 9.0, "ms/s", "ratio <= 1.5", True, floor=5.0, ratio=1.42)
    assert paired["ratio"] == 1.42 and paired["value"] / paired["floor"] == 1.8
    assert row("relay", "no floor", 9.0, "ms/s", ratio=1.42).get("ratio") is None
    assert row("relay", "zero floor", 9.0, "ms/s", floor=0.0)["ratio"] is None


def test_the_exit_status_is_one_only_for_a_missed_target_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "results.json"
    met = [row("conversation", "real time", 3_000.0, "x", "ratio >= 0.7", True, floor=3_500.0)]
    assert report(met, [], output, True, 1.0) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("machine: ") and "cores" in printed.out.splitlines()[0]
    assert printed.err == ""
    missed = [*met, row("relay", "in: kernel CPU", 3.0, "ms/s", "ratio <= 1.5", False, floor=1.0)]
    assert report(missed, [], output, True, 1.0) == 1
    err = capsys.readouterr().err
    assert "relay: in: kernel CPU (3.000, floor 1.000, ratio 3.000; target ratio <= 1.5)" in err
    assert "real time" not in err
    saved = json.loads(output.read_text())
    assert saved["machine"]["cores"] and saved["rows"][1]["floor"] == 1.0


def test_the_default_output_is_ignored_by_git() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    path = DEFAULT_OUTPUT.relative_to(ROOT)
    ignored = subprocess.run([git, "check-ignore", "-q", str(path)], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{path} is not ignored: a bench run would change the tree"


def test_the_conversation_floor_decodes_every_sample() -> None:
    texts = response_events(5)
    bare = BareLoop(len(texts))
    bare.feed(texts[:7])  # in turns, as the bench feeds it: each turn goes on where one ended
    bare.feed(texts[7:])
    assert bare.end == 5 * 10 * CHUNK  # every 100 ms delta of the 5 s answer, in place
    assert len(bare.transcript) == 5 * 10
    events = [json.loads(text) for text in texts]
    last = [e for e in events if e["type"] == "response.output_audio.delta"][-1]
    decoded = np.frombuffer(base64.b64decode(last["delta"]), "<i2")
    assert np.array_equal(bare.audio[bare.end - CHUNK : bare.end], decoded)


def test_the_conversation_bench_gives_both_sides_every_event() -> None:
    # feed_both asserts that ours and the floor each kept every audio sample of the answer.
    ours, floor = feed_both(response_events(5))
    assert ours > 0 and floor > 0


async def test_the_relay_floor_sends_audio_and_reads_an_answer_from_the_server() -> None:
    server = serve_in_thread(pace="fast")

    async def appended() -> int:
        return sum(
            1
            for c in server.connections
            for e in c.received
            if e.get("type") == "input_audio_buffer.append"
        )

    try:
        async with BareClient(server.url) as bare:
            cpu, wall = await bare.send_audio(0.8)
            assert cpu >= 0 and wall > 0
            # The session.update round trip is answered after every append was handled.
            assert server.call_in_thread(appended()) == 10
            cpu, wall = await bare.send_audio(0.8, spacing=0.02)  # as a browser's, 4x faster
            assert wall >= 10 * 0.02
            assert server.call_in_thread(appended()) == 20
            cpu, wall, audio = await bare.read_answer(5, 0)
            assert audio > 0.5 and wall > 0
    finally:
        server.stop_thread()


async def test_a_page_process_talks_to_a_widget_over_its_page_socket() -> None:
    """The relay's page-socket figures: chunks from another process reach the server, and
    the answer's audio goes to the page, none of it by the comm."""
    server = serve_in_thread(pace="fast")
    try:
        async with contextlib.AsyncExitStack() as stack:
            stack.enter_context(counting_comms())
            widget = RealtimeWidget(url=server.url)
            stack.push_async_callback(widget.client.aclose)
            stack.callback(widget.close)
            await widget.connect()
            page = await _page_on_socket(widget, stack)
            cpu, wall = await _socket_to_kernel(widget, page, 0.8, 0.02)
            assert cpu >= 0 and wall >= 10 * 0.02
            assert widget.client.input_audio_buffer.end == 10 * CHUNK_SAMPLES
            cpu, wall, audio = await _kernel_to_browser(widget, 5, 0, by_socket=True)
            assert audio > 0.5
    finally:
        server.stop_thread()


def test_the_browser_floor_sets_each_p95_target_on_the_added_latency() -> None:
    floor = {
        "mic": [1.0, 2.0],
        "mic_p50": 1.5,
        "mic_p95": 2.0,
        "playback": [3.0],
        "playback_p50": 3.0,
        "playback_p95": None,
    }
    rows = [
        row("browser", "mic -> server (beyond the 80 ms chunk): p95", 6.5, "ms", "<= 15", True),
        row("browser", "server -> playback worklet: p95", 4.0, "ms", "<= 15", True),
        row("browser", "barge-in: speech_started -> silent, max", 20.0, "ms", "<= 50", True),
    ]
    mic, playback, barge_in = with_floor(rows, floor)
    assert (mic["floor"], mic["ratio"], mic["ok"]) == (2.0, 3.25, True)
    assert mic["target"] == "<= floor + 5" and "added over the bare page: 4.5 ms" in mic["note"]
    over = with_floor([{**rows[0], "value": 7.5}], floor)[0]
    assert over["ok"] is False
    # No floor measured: the target cannot be judged, so it is missed and says why.
    assert playback["ok"] is False and playback["note"] == "no bare-page figure"
    assert barge_in == rows[2]


@pytest.mark.browser
def test_the_browser_floor_measures_both_paths_in_chromium() -> None:
    harness = _harness()
    if not harness.CHROMIUM.exists() or harness.ESPEAK is None:
        pytest.skip("needs Chromium and espeak-ng")
    floor = measure(harness, True, seconds=3.0)
    # 3 s: about 37 chunks of 80 ms and 30 deltas of 100 ms; a busy machine may start late.
    assert len(floor["mic"]) >= 10 and len(floor["playback"]) >= 10
    assert all(latency > -2 for latency in floor["mic"] + floor["playback"])
    assert floor["mic_p95"] is not None and floor["playback_p95"] is not None


def test_the_kernel_audio_bench_dates_each_marker_from_the_end_of_its_chunk() -> None:
    rate = 24_000
    pcm = np.zeros(5 * 1920, np.int16)
    pcm[1920 + 480 : 1920 + 960] = 12_000  # a marker 480 samples (20 ms) into the 2nd chunk
    pcm[4 * 1920 + 100 : 4 * 1920 + 200] = -12_000  # a second one in the 5th chunk
    assert onsets(pcm) == [1920 + 480, 4 * 1920 + 100]
    marks = [10.0, 10.2]
    # the 2nd chunk is whole 60 ms after its marker, and arrives 7 ms later than that
    arrivals = [(9.9 + 0.08 * n, 1920) for n in range(5)]
    arrivals[1] = (10.0 + 0.060 + 0.007, 1920)
    arrivals[4] = (10.2 + 1820 / rate + 0.011, 1920)
    assert np.allclose(added(arrivals, pcm, marks), [7.0, 11.0])
    with pytest.raises(RuntimeError, match="3 markers at the microphone, 2 at the server"):
        added(arrivals, pcm, [*marks, 10.4])


def test_the_kernel_audio_bench_skips_saying_what_the_sound_card_lacks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulseaudio, no pacat
    rows = bench_kernel_audio.run(quick=True)
    assert rows and all(r["value"] is None and r["ok"] is None for r in rows)
    assert all("skipped: the virtual sound card needs pulseaudio, pacat" in r["note"] for r in rows)
    assert "bench_kernel_audio: skipped" in capsys.readouterr().err


def test_the_transport_benchmark_finds_onsets_pauses_and_their_delays() -> None:
    from benchmarks.bench_webrtc import longest_quiet, matched, onsets

    levels = [
        (t, 0.5 if 1000 <= t < 2000 or 2100 <= t < 2500 or t >= 4000 else 0.0)
        for t in range(0, 5000, 4)
    ]
    assert onsets(levels, 0.03, 0, 5000, 300) == [1000, 4000]  # 2100: after 100 ms only
    assert longest_quiet(levels, 0.03, 1000, 3000) == 3000 - 2496  # the tail, not the 104 ms pause
    assert longest_quiet(levels, 0.03, 2500, 3900) == 1400  # no sound at all in the window
    assert longest_quiet(levels, 0.03, 1000, 1500) == 4
    assert matched([1000.0, 4000.0], [1080.0, 4100.0, 9000.0]) == [80.0, 100.0]
    assert onsets(levels, 0.03, 0, 5000, 2000) == [1000]
    assert matched([1000.0], [5000.0]) == []
