"""The view's everyday controls in real Chromium, through JupyterLab, a real kernel and comm.

One page carries the module's tests; each sets up what it needs (connecting, a turn, the mic
off) so that it also runs alone (``-k``). Covered: the device pickers (the fake devices
listed; another microphone chosen reopens the capture on it; a browser that cannot choose the
speaker says so), mute (the mic stays open, nothing reaches the kernel) and unmute, the
volume (the output's gain node), "Stop playback" (disabled idle, enabled while an answer
plays) and the interrupted wording, the empty state's texts, an image's thumbnail, the turn
timings and the timeline, the event log (both directions, filtered by type, bounded, no key
and no audio payload in it), the transcript copied and downloaded, an item's audio replayed
and downloaded as WAV, a new conversation; and the screenshots of the view in the light and
dark themes (docs/, with ``UPDATE_SCREENSHOTS=1``).
"""

from __future__ import annotations

import json
import os
import re
import time
import wave
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import (
    AUDIO_TAP_SCRIPT,
    KERNEL_EXEC,
    SECRET,
    Jupyter,
    open_notebook,
    wait_until,
)
from test_widget_browser import (
    assistant_items,
    completed_answers,
    connected,
    kernel_stats,
    send_text,
    wait_for_completed_answers,
)

from realtime_widget.server import LocalRealtimeServer

# Beside the audio tap: the playback's output gain (``window.__rtwOutGain``: the GainNode the
# playback node feeds) and every buffer source the page starts (``window.__rtwSources``:
# ``{length, started, ended}``, a replay's).
CONTROLS_SCRIPT = """(() => {
  const Tapped = window.AudioWorkletNode;
  window.AudioWorkletNode = class extends Tapped {
    constructor(context, name, options) {
      super(context, name, options);
      this.__rtwName = name;
    }
  };
  const connect = AudioNode.prototype.connect;
  AudioNode.prototype.connect = function (target, ...rest) {
    if (this.__rtwName === "rtw-playback" && target instanceof GainNode) {
      window.__rtwOutGain = target;
    }
    return connect.call(this, target, ...rest);
  };
  window.__rtwSources = [];
  const createBufferSource = BaseAudioContext.prototype.createBufferSource;
  BaseAudioContext.prototype.createBufferSource = function () {
    const node = createBufferSource.call(this);
    const record = {length: 0, started: false, ended: false};
    window.__rtwSources.push(record);
    const start = node.start.bind(node);
    node.start = (...args) => {
      record.length = node.buffer ? node.buffer.length : 0;
      record.started = true;
      return start(...args);
    };
    node.addEventListener("ended", () => { record.ended = true; });
    return node;
  };
})();"""

# The level of what goes to the speakers now (after the volume): RMS over 50 ms windows,
# the loudest of ``count`` windows, read by an analyser on the output gain.
OUTPUT_LEVEL = """async (count) => {
  const gain = window.__rtwOutGain;
  if (!window.__rtwAnalyser) {
    window.__rtwAnalyser = gain.context.createAnalyser();
    window.__rtwAnalyser.fftSize = 2048;
    gain.connect(window.__rtwAnalyser);
  }
  const analyser = window.__rtwAnalyser;
  const data = new Float32Array(analyser.fftSize);
  let loudest = 0;
  for (let i = 0; i < count; i++) {
    analyser.getFloatTimeDomainData(data);
    const rms = Math.sqrt(data.reduce((s, v) => s + v * v, 0) / data.length);
    loudest = Math.max(loudest, rms);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return loudest;
}"""

DOCS = Path(__file__).resolve().parents[2] / "docs"
# The conversation and the event log scrolled to their ends (a theme change moves them).
TO_THE_END = """() => {
  for (const el of document.querySelectorAll(".rtw-log, .rtw-log-rows")) {
    el.scrollTop = el.scrollHeight;
  }
}"""

LIVE_TRACKS = """() => window.__rtwStreams.flatMap((s) => s.getAudioTracks())
  .filter((t) => t.readyState === "live").map((t) => t.getSettings().deviceId)"""

# Long enough an answer (about 10 s of tones) to act on while it plays.
LONG_TEXT = " ".join(f"sentence {n} of a long answer to interrupt" for n in range(6))


@pytest.fixture(scope="module")
def lab(jupyter_factory: Callable[[str], Jupyter]) -> Jupyter:
    return jupyter_factory("lab")


@pytest.fixture(scope="module")
def page(browser: Any, lab: Jupyter) -> Iterator[Any]:
    page = open_notebook(
        browser,
        lab,
        f"/lab/tree/{lab.notebook}",
        init_script=AUDIO_TAP_SCRIPT + "\n" + CONTROLS_SCRIPT,
        # all at once: a later grant for the page's origin would deny the others there
        permissions=["microphone", "clipboard-read", "clipboard-write"],
    )
    yield page
    page.context.close()


def kernel(page: Any, code: str) -> str:
    out: str = page.evaluate(KERNEL_EXEC, code)
    assert "ERROR" not in out, out
    return out


def kernel_json(page: Any, code: str) -> Any:
    """``code``'s value in the kernel, through JSON."""
    out = kernel(page, f"import json as _json\nprint(_json.dumps({code}))")
    return json.loads(out.strip().splitlines()[-1])


def mic_off(page: Any) -> None:
    if page.locator(".rtw").get_attribute("data-mic") == "on":
        page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="off"]', timeout=10_000)


def mic_on(page: Any) -> None:
    if page.locator(".rtw").get_attribute("data-mic") != "on":
        page.click(".rtw-mic")
    page.wait_for_selector('.rtw[data-mic="on"]', timeout=15_000)


def unmuted(page: Any) -> None:
    if page.locator(".rtw-mute").inner_text() == "Unmute":
        page.click(".rtw-mute")
    page.wait_for_selector(".rtw-mute:text-is('Mute')", timeout=5_000)


def nothing_playing(page: Any) -> None:
    """No answer under way or playing: the Stop button is disabled."""
    page.wait_for_selector(
        '.rtw-msg[data-role="assistant"][data-status="in_progress"]',
        state="detached",
        timeout=60_000,
    )
    page.wait_for_selector(".rtw-stop:disabled", timeout=60_000)


def a_text_turn(page: Any, text: str) -> str:
    """Sends ``text``, waits for its answer to complete and play to the end; its item id."""
    connected(page)
    mic_off(page)
    nothing_playing(page)
    answers = completed_answers(page)
    send_text(page, text)
    wait_for_completed_answers(page, answers + 1)
    answer = assistant_items(page).last
    item_id: str = answer.get_attribute("data-item-id")
    nothing_playing(page)
    return item_id


def audio_answer(page: Any) -> str:
    """The id of an answer with audio: the last one, or a new one."""
    answer = page.locator('.rtw-msg[data-role="assistant"][data-status="completed"]').last
    if answer.count() and answer.locator(".rtw-replay:visible").count():
        item_id: str = answer.get_attribute("data-item-id")
        return item_id
    return a_text_turn(page, "hello")


def test_the_pickers_list_the_fake_devices_and_another_microphone_reopens_the_capture(
    page: Any,
) -> None:
    connected(page)
    mic_on(page)  # labels show once the microphone is allowed and open
    inputs = page.locator(".rtw-input-device option")
    wait_until(lambda: inputs.count() > 2, 10, "the fake microphones listed")
    labels = inputs.all_inner_texts()
    assert labels[0] == "Default microphone"
    assert all("Fake" in label for label in labels[1:]), labels
    outputs = page.locator(".rtw-output-device option")
    # Chromium can choose the speaker: its fake speakers are listed
    assert page.locator(".rtw-output-device").is_enabled()
    assert outputs.first.inner_text() == "Default speaker"
    assert outputs.count() >= 2, outputs.all_inner_texts()

    # another microphone: the capture reopens on it, the old track ends
    chosen = inputs.nth(2).get_attribute("value")
    wait_until(lambda: len(page.evaluate(LIVE_TRACKS)) == 1, 10, "one live microphone track")
    page.select_option(".rtw-input-device", chosen)
    wait_until(lambda: page.evaluate(LIVE_TRACKS) == [chosen], 10, "the chosen microphone open")
    assert page.locator(".rtw").get_attribute("data-mic") == "on"
    before = kernel_json(page, "w.client.input_audio_buffer.end")
    wait_until(
        lambda: kernel_json(page, "w.client.input_audio_buffer.end") > before + 12_000,
        10,
        "audio from the chosen microphone in the kernel",
    )
    page.select_option(".rtw-input-device", "")
    wait_until(lambda: len(page.evaluate(LIVE_TRACKS)) == 1, 10, "the default microphone open")
    assert page.evaluate(LIVE_TRACKS) != [chosen]
    mic_off(page)


def test_mute_stops_the_audio_reaching_the_kernel_and_unmute_resumes_it(page: Any) -> None:
    connected(page)
    mute = page.locator(".rtw-mute")
    mic_off(page)
    assert mute.is_disabled(), "nothing to mute with the mic off"
    mic_on(page)
    unmuted(page)

    def end() -> int:
        value: int = kernel_json(page, "w.client.input_audio_buffer.end")
        return value

    first = end()
    wait_until(lambda: end() > first + 12_000, 10, "microphone audio in the kernel")
    page.click(".rtw-mute")
    page.wait_for_selector(".rtw-mute:text-is('Unmute')")
    assert mute.get_attribute("aria-pressed") == "true"
    page.locator(".rtw-notice").filter(has_text="Muted").wait_for(timeout=5_000)

    def settled() -> list[int] | None:  # what was in flight when muted has arrived
        before = end()
        time.sleep(0.5)
        return [before] if end() == before else None

    (held,) = wait_until(settled, 10, "no more microphone audio in the kernel")
    page.wait_for_timeout(1_500)
    assert end() == held, "a muted microphone sends nothing"
    assert page.locator(".rtw").get_attribute("data-mic") == "on", "the mic stays on"
    assert len(page.evaluate(LIVE_TRACKS)) == 1, "and open"
    page.click(".rtw-mute")
    page.wait_for_selector(".rtw-mute:text-is('Mute')")
    wait_until(lambda: end() > held + 12_000, 10, "microphone audio again after unmute")
    mic_off(page)


def test_the_volume_sets_the_output_gain(page: Any) -> None:
    audio_answer(page)  # the playback (and its gain) exists once audio played
    page.wait_for_function("() => window.__rtwOutGain !== undefined", timeout=10_000)
    volume = page.locator(".rtw-volume")
    volume.fill("25")
    page.wait_for_selector(".rtw-volume-text:text-is('25%')")
    assert page.evaluate("() => window.__rtwOutGain.gain.value") == pytest.approx(0.25)
    volume.fill("0")
    assert page.evaluate("() => window.__rtwOutGain.gain.value") == 0
    # nothing reaches the speakers at volume 0, while an answer plays
    connected(page)
    send_text(page, LONG_TEXT)
    page.wait_for_selector(".rtw-stop:enabled", timeout=30_000)
    assert page.evaluate(OUTPUT_LEVEL, 10) == 0
    volume.fill("100")
    page.wait_for_selector(".rtw-volume-text:text-is('100%')")
    assert page.evaluate("() => window.__rtwOutGain.gain.value") == 1
    assert page.evaluate(OUTPUT_LEVEL, 10) > 0.01, "sound again at full volume"
    page.click(".rtw-stop")
    nothing_playing(page)


def test_stop_playback_is_enabled_only_while_an_answer_plays_and_its_cut_is_worded(
    page: Any,
) -> None:
    connected(page)
    mic_off(page)
    nothing_playing(page)
    stop = page.locator(".rtw-stop")
    assert stop.inner_text() == "Stop playback"
    assert stop.is_disabled()
    send_text(page, LONG_TEXT)
    page.wait_for_selector(".rtw-stop:enabled", timeout=30_000)
    item_id = page.locator('.rtw-msg[data-role="assistant"]').last.get_attribute("data-item-id")
    wait_until(lambda: kernel_stats(page)["played"].get(item_id, 0) > 24_000, 20, "a second heard")
    page.click(".rtw-stop")
    page.wait_for_selector(".rtw-stop:disabled", timeout=10_000)
    notes = page.locator(f'.rtw-msg[data-item-id="{item_id}"] .rtw-notes')
    notes.filter(has_text="interrupted after").wait_for(timeout=15_000)
    # how much was heard of how much the answer held: "interrupted after 1.3 s of 9.8 s"
    cut = re.search(r"interrupted after ([0-9.]+) s of ([0-9.]+) s", notes.inner_text())
    assert cut is not None, notes.inner_text()
    heard, held = float(cut[1]), float(cut[2])
    assert 1.0 <= heard < held, notes.inner_text()
    assert "finished" not in notes.inner_text()
    # a finished answer says so
    item_id = a_text_turn(page, "hello")
    done = page.locator(f'.rtw-msg[data-item-id="{item_id}"] .rtw-notes').inner_text()
    assert re.search(r"finished, [0-9.]+ s", done), done
    assert "interrupted" not in done


def test_the_mic_button_says_what_a_click_does(page: Any) -> None:
    connected(page)
    mic_off(page)
    button = page.locator(".rtw-mic")
    assert button.inner_text() == "Turn mic on"
    button.click()
    page.wait_for_selector('.rtw[data-mic="on"]', timeout=15_000)
    assert button.inner_text() == "Turn mic off"
    button.click()
    page.wait_for_selector('.rtw[data-mic="off"]', timeout=10_000)
    assert button.inner_text() == "Turn mic on"


def test_the_empty_state_says_what_to_do(page: Any) -> None:
    mic_off(page)
    kernel(page, "w.disconnect(); w.new_conversation()")
    page.wait_for_selector('.rtw[data-connection="disconnected"]', timeout=15_000)
    empty = page.locator(".rtw-empty")
    empty.filter(has_text="No messages yet. Connect, then speak or type.").wait_for(timeout=15_000)
    assert page.locator(".rtw-item:visible").count() == 0
    page.click(".rtw-connect")
    page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
    assert empty.inner_text() == "Connected. Speak or type."
    send_text(page, "hello")
    empty.wait_for(state="detached", timeout=15_000)
    assert page.locator(".rtw-item:visible").count() >= 1


def test_an_image_message_shows_a_thumbnail(page: Any) -> None:
    connected(page)
    code = (
        "import numpy as _np\n"
        "_pixels = _np.zeros((24, 32, 3), dtype=_np.uint8); _pixels[:, :, 0] = 255\n"
        "w.send_image(_pixels, 'what colour is this?')"
    )
    kernel(page, code)
    message = page.locator('.rtw-msg[data-role="user"]').filter(has_text="what colour is this?")
    message.last.wait_for(timeout=15_000)
    thumb = message.last.locator("img.rtw-thumb")
    thumb.wait_for(timeout=15_000)
    assert (thumb.get_attribute("src") or "").startswith("data:image/png;base64,")
    assert thumb.get_attribute("alt") == "image sent"
    assert "image" in message.last.locator(".rtw-notes").inner_text()
    # the picture was decoded: 32 x 24 pixels
    size = thumb.evaluate("(img) => img.complete && [img.naturalWidth, img.naturalHeight]")
    assert size == [32, 24]


def test_a_turn_shows_its_timings_and_the_timeline_draws_it(page: Any) -> None:
    item_id = a_text_turn(page, "how long does this take")
    notes = page.locator(f'.rtw-msg[data-item-id="{item_id}"] .rtw-notes')
    notes.filter(has_text="first audio after").wait_for(timeout=10_000)
    said = re.search(r"first audio after ([0-9.]+ m?s), then ([0-9.]+ m?s)", notes.inner_text())
    assert said is not None, notes.inner_text()
    turns = kernel_json(page, "[t.as_dict() for t in w.turns]")
    mine = [t for t in turns if t["item_id"] == item_id]
    assert len(mine) == 1, turns
    assert mine[0]["to_first_audio_ms"] > 0 and mine[0]["audio_ms"] > 0
    assert mine[0]["after_turn"] is True  # timed from the message sent
    timeline = page.locator(".rtw-timeline")
    assert timeline.is_visible()
    assert timeline.locator(".rtw-control-label").inner_text() == "Last turns"
    bars = timeline.locator(".rtw-turn-bar")
    shown = kernel_json(page, "w.turn_timings")  # the last turns, as the view has them
    timed = [t for t in shown if t["to_first_audio_ms"] is not None and t["audio_ms"] is not None]
    assert bars.count() == len(timed) >= 1
    last = bars.last
    assert last.get_attribute("title", timeout=5_000).startswith("first audio after")
    widths = last.evaluate(
        "(bar) => [...bar.children].map((part) => part.getBoundingClientRect().width)"
    )
    assert len(widths) == 2 and all(w > 0 for w in widths), widths


def open_log(page: Any) -> Any:
    panel = page.locator(".rtw-activity")
    if panel.get_attribute("open") is None:
        page.click(".rtw-activity-title")
    page.wait_for_selector(".rtw-activity[open] .rtw-log-rows", timeout=5_000)
    return panel


def test_the_event_log_lists_both_directions_and_filters_by_type(page: Any) -> None:
    a_text_turn(page, "hello log")
    panel = open_log(page)
    rows = panel.locator(".rtw-log-row")
    sent = panel.locator('.rtw-log-row[data-direction="sent"]')
    received = panel.locator('.rtw-log-row[data-direction="received"]')
    sent.filter(has_text="conversation.item.create").last.wait_for(timeout=10_000)
    received.filter(has_text="response.done").last.wait_for(timeout=10_000)
    assert sent.first.locator(".rtw-log-dir").inner_text() == "→"
    assert received.first.locator(".rtw-log-dir").inner_text() == "←"
    stamp = rows.last.locator(".rtw-log-time").inner_text()
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d\d", stamp), stamp
    # a run of deltas is one row with its count
    deltas = received.filter(has_text="response.output_audio.delta").last
    assert re.fullmatch(r"×\d+", deltas.locator(".rtw-log-count").inner_text())
    title = panel.locator(".rtw-activity-title").inner_text()
    assert title == f"Event log ({rows.count()})"
    # the kernel's log is the same
    kernel_log = kernel_json(page, "w.event_log")
    assert {e["type"] for e in kernel_log} >= {"conversation.item.create", "response.done"}

    page.select_option(".rtw-log-filter", "response.done")
    shown = panel.locator(".rtw-log-row:visible")
    wait_until(
        lambda: set(shown.locator(".rtw-log-type").all_inner_texts()) == {"response.done"},
        5,
        "only response.done rows shown",
    )
    assert shown.count() == kernel_json(
        page, "sum(1 for e in w.event_log if e['type'] == 'response.done')"
    )
    page.select_option(".rtw-log-filter", "")
    wait_until(lambda: shown.count() == rows.count(), 5, "every row shown again")
    # folded, the rows are out of sight
    page.click(".rtw-activity-title")
    page.wait_for_selector(".rtw-activity:not([open])")
    assert not rows.first.is_visible()


def test_the_event_log_shows_no_key_and_no_audio_payload(
    page: Any, realtime_server: LocalRealtimeServer
) -> None:
    connected(page)
    # the kernel's widget holds the key (from $OPENAI_API_KEY); the local server needs none
    # (asked without naming the key: the code sent to the kernel passes through the page)
    assert kernel(page, "import os; print(os.environ['OPENAI_API_KEY'][:7])") == "sk-test\n"
    # the server quotes the key back, as a careless one might
    event = {
        "type": "error",
        "event_id": "event_quoting_the_key",
        "error": {
            "type": "invalid_request_error",
            "code": "echoed",
            "message": f"rejected the key {SECRET} and Bearer {SECRET}",
            "param": None,
            "event_id": None,
        },
    }
    realtime_server.call_in_thread(realtime_server.send_raw(json.dumps(event)))
    # audio both ways: the mic's appends and an answer's deltas
    mic_on(page)
    panel = open_log(page)
    panel.locator('.rtw-log-row[data-type="input_audio_buffer.append"]').first.wait_for(
        timeout=15_000
    )
    mic_off(page)
    a_text_turn(page, "hello audio")
    error_row = panel.locator('.rtw-log-row[data-type="error"]').filter(has_text="rejected")
    error_row.last.wait_for(timeout=10_000)
    text = panel.inner_text()
    assert SECRET not in text
    assert SECRET not in json.dumps(kernel_json(page, "w.event_log"))
    assert SECRET not in page.content()
    assert page.key_seen == [], "a websocket frame carried the key"
    # no audio payload: no long run of base64 in any row
    summaries = panel.locator(".rtw-log-summary").all_inner_texts()
    assert not [s for s in summaries if re.search(r"[A-Za-z0-9+/]{40,}", s)], summaries
    assert panel.locator('.rtw-log-row[data-type="response.output_audio.delta"]').count() >= 1
    page.select_option(".rtw-log-filter", "")
    page.click(".rtw-activity-title")
    # an error from the server is shown in the banner too: dismiss it
    close = page.locator(".rtw-banner-close")
    if close.is_visible():
        close.click()


def test_the_event_log_keeps_the_last_500_rows(page: Any) -> None:
    connected(page)
    # each clear is an entry sent and one received: well over 500 entries
    code = (
        "import asyncio as _asyncio\n"
        "for _n in range(320):\n"
        "    w.client.realtime.send('input_audio_buffer.clear', {})\n"
        "    if _n % 40 == 39: await _asyncio.sleep(0)\n"
        "print('sent')"
    )
    assert kernel(page, code) == "sent\n"
    panel = open_log(page)
    title = panel.locator(".rtw-activity-title")
    title.filter(has_text="Event log (500)").wait_for(timeout=30_000)
    assert panel.locator(".rtw-log-row").count() == 500
    assert len(kernel_json(page, "w.event_log")) <= 500
    page.click(".rtw-activity-title")


def test_copy_transcript_puts_the_markdown_on_the_clipboard(page: Any) -> None:
    a_text_turn(page, "copy me")
    page.bring_to_front()
    page.click(".rtw-copy")
    page.locator(".rtw-notice").filter(has_text="Transcript copied").wait_for(timeout=20_000)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == kernel(page, "print(w.transcript(), end='')")
    assert "copy me" in copied and "You said: copy me." in copied


def test_the_transcript_downloads_as_markdown_and_json(page: Any, tmp_path: Path) -> None:
    a_text_turn(page, "download me")
    with page.expect_download(timeout=20_000) as markdown:
        page.click(".rtw-download-md")
    assert markdown.value.suggested_filename == "conversation.md"
    saved = tmp_path / "conversation.md"
    markdown.value.save_as(saved)
    assert saved.read_text() == kernel(page, "print(w.transcript('markdown'), end='')")
    with page.expect_download(timeout=20_000) as as_json:
        page.click(".rtw-download-json")
    assert as_json.value.suggested_filename == "conversation.json"
    saved = tmp_path / "conversation.json"
    as_json.value.save_as(saved)
    entries = json.loads(saved.read_text())
    assert entries == json.loads(kernel(page, "print(w.transcript('json'))"))
    assert any(e["text"] == "You said: download me." for e in entries)


def test_an_answer_downloads_as_wav(page: Any, tmp_path: Path) -> None:
    item_id = audio_answer(page)
    answer = page.locator(f'.rtw-msg[data-item-id="{item_id}"]')
    with page.expect_download(timeout=20_000) as download:
        answer.locator(".rtw-wav").click()
    assert download.value.suggested_filename == f"{item_id}.wav"
    saved = tmp_path / "answer.wav"
    download.value.save_as(saved)
    samples = kernel_stats(page)["received"][item_id]
    with wave.open(str(saved)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24_000)
        assert wav.getnframes() == samples > 0
    data = saved.read_bytes()
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert len(data) == 44 + 2 * samples
    # the same audio as the kernel's own file of it
    kernel(page, f"w.save_audio({item_id!r}, {str(tmp_path / 'kernel.wav')!r})")
    with wave.open(BytesIO((tmp_path / "kernel.wav").read_bytes())) as mine:
        assert mine.readframes(mine.getnframes()) == data[44:]


def test_replay_plays_an_answer_again(page: Any) -> None:
    item_id = audio_answer(page)
    nothing_playing(page)
    samples = kernel_stats(page)["received"][item_id]
    page.wait_for_function("() => window.__rtwOutGain !== undefined", timeout=10_000)
    page.locator(".rtw-volume").fill("100")
    before = page.evaluate("() => window.__rtwSources.length")
    played_before = kernel_stats(page)["played"].get(item_id, 0)
    replay = page.locator(f'.rtw-msg[data-item-id="{item_id}"] .rtw-replay')
    assert replay.inner_text() == "Replay"
    replay.click()
    replay.filter(has_text="Stop replay").wait_for(timeout=20_000)
    started = page.evaluate("(n) => window.__rtwSources.slice(n)", before)
    assert [s["length"] for s in started] == [samples]  # the whole answer, once
    assert page.evaluate(OUTPUT_LEVEL, 10) > 0.01, "the replay is heard"
    # it plays to its end, then the button reads "Replay" again
    replay.filter(has_text=re.compile("^Replay$")).wait_for(timeout=samples / 24 + 15_000)
    assert page.evaluate("(n) => window.__rtwSources[n].ended", before) is True
    # a replay is not a new playback of the answer: the kernel's counts stay
    assert kernel_stats(page)["played"].get(item_id, 0) == played_before
    # a second click stops a replay under way
    replay.click()
    replay.filter(has_text="Stop replay").wait_for(timeout=20_000)
    replay.click()
    replay.filter(has_text=re.compile("^Replay$")).wait_for(timeout=5_000)
    wait_until(
        lambda: page.evaluate("() => window.__rtwSources.at(-1).ended"), 5, "the replay stopped"
    )


def test_new_conversation_empties_the_view_and_the_kernel(page: Any) -> None:
    a_text_turn(page, "something to forget")
    assert kernel_json(page, "len(w.client.conversation)") > 0
    page.click(".rtw-new")
    page.wait_for_function(
        "() => document.querySelectorAll('.rtw-item:not([hidden])').length === 0",
        timeout=20_000,
    )
    page.locator(".rtw-empty").filter(has_text="Connected. Speak or type.").wait_for(timeout=10_000)
    wait_until(
        lambda: kernel_json(page, "len(w.client.conversation)") == 0,
        15,
        "the kernel's conversation empty",
    )
    assert kernel_json(page, "len(w.turns)") == 0
    assert page.locator(".rtw-timeline").is_hidden()
    for button in (".rtw-copy", ".rtw-download-md", ".rtw-download-json", ".rtw-new"):
        assert page.locator(button).is_disabled(), button
    assert page.locator(".rtw").get_attribute("data-connection") == "connected"
    # the conversation goes on afresh
    item_id = a_text_turn(page, "a fresh start")
    assert page.locator(".rtw-item:visible").count() == 2
    assert kernel_json(page, "[i['id'] for i in w.client.get_conversation_items()]")[-1] == (
        item_id
    )
    assert not [e for e in page.console_errors if "realtime_widget" in e]


def test_screenshots_in_light_and_dark_themes(page: Any, tmp_path: Path) -> None:
    """The view with a short conversation (a text turn, a tool call, an image) and its event
    log open, in the light and dark themes: pictures in a temporary folder, or in docs/ (the
    README's) when ``UPDATE_SCREENSHOTS=1`` is set."""
    connected(page)
    mic_off(page)
    nothing_playing(page)
    kernel(page, "w.new_conversation()")
    page.wait_for_function(
        "() => document.querySelectorAll('.rtw-item:not([hidden])').length === 0",
        timeout=20_000,
    )
    a_text_turn(page, "hello")
    answers = completed_answers(page)
    send_text(page, "please call get_weather for Paris")
    page.locator('.rtw-tool[data-tool-state="done"]').wait_for(timeout=15_000)
    wait_for_completed_answers(page, answers + 1)
    nothing_playing(page)
    answers = completed_answers(page)
    kernel(
        page,
        "import numpy as _np\n"
        "_pixels = _np.zeros((48, 64, 3), dtype=_np.uint8); _pixels[:, :, 2] = 200\n"
        "w.send_image(_pixels, 'what colour is this?')",
    )
    page.locator("img.rtw-thumb").wait_for(timeout=15_000)
    wait_for_completed_answers(page, answers + 1)
    nothing_playing(page)
    page.select_option(".rtw-log-filter", "")
    open_log(page)

    folder = DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(exist_ok=True)
    widget = page.locator(".rtw")
    page.set_viewport_size({"width": 1100, "height": 1600})  # the whole widget in sight
    widget.scroll_into_view_if_needed()
    page.mouse.move(1, 1)  # no hover or focus styles in the pictures
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(300)
    page.evaluate(TO_THE_END)
    widget.screenshot(path=str(folder / "widget-light.png"))
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=15_000)
    page.wait_for_timeout(500)
    page.evaluate(TO_THE_END)
    widget.screenshot(path=str(folder / "widget-dark.png"))
    # the widget follows the theme: the dark picture is clearly darker than the light one
    import numpy as np
    from PIL import Image

    light = np.asarray(Image.open(folder / "widget-light.png").convert("L"), dtype=float)
    dark = np.asarray(Image.open(folder / "widget-dark.png").convert("L"), dtype=float)
    assert light.shape == dark.shape
    light_mean, dark_mean = light.mean(), dark.mean()
    assert dark_mean < light_mean - 80, (light_mean, dark_mean)
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Light'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=15_000)
    page.set_viewport_size({"width": 1100, "height": 900})


def test_a_browser_that_cannot_choose_the_speaker_says_so(browser: Any, lab: Jupyter) -> None:
    """Last in the module: a second page on the notebook runs its cells again (a new widget)."""
    no_sink = "delete AudioContext.prototype.setSinkId;"
    page = open_notebook(browser, lab, f"/lab/tree/{lab.notebook}", init_script=no_sink)
    try:
        picker = page.locator(".rtw-output-device")
        picker.wait_for()
        assert picker.is_disabled()
        assert picker.locator("option").all_inner_texts() == [
            "Default speaker (this browser cannot choose)"
        ]
        assert "cannot choose" in (picker.get_attribute("title") or "")
    finally:
        page.context.close()
