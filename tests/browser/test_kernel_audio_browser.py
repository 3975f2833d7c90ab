"""The widget with ``audio="kernel"`` in JupyterLab, on the virtual sound card (see
``virtual_sound``): the view says the kernel's devices are in use, a question spoken into
``rtw_mic`` becomes a user item and its answer plays on ``rtw_speaker``, and the page's own
microphone and player are never used."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jupyter_harness import (
    AUDIO_TAP_SCRIPT,
    KERNEL_EXEC,
    Jupyter,
    notebook_of,
    open_notebook,
    wait_until,
)
from virtual_sound import MIC, SPEAKER, VirtualSound, missing_programs

from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.recognizer import recognizer_available
from realtime_widget.server.speech import espeak_program, espeak_samples

ESPEAK = espeak_program()
MISSING = missing_programs()
pytestmark = pytest.mark.skipif(
    bool(MISSING) or ESPEAK is None or not recognizer_available(),
    reason=f"needs the virtual sound card, espeak-ng and the voice extra (missing: {MISSING})",
)
RATE = 24_000
NOTEBOOK = "kernel_audio.ipynb"
AUDIO_STATE = """
import json as _json
_a = w.kernel_audio
print(_json.dumps({"running": _a.running, "sent": _a.sent_chunks, "flags": _a.status_flags,
                   "played": _a.played_samples}))
"""


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualSound]:
    card = VirtualSound(Path(tmp_path_factory.mktemp("sound"))).start()
    yield card
    card.stop()


def notebook(server_url: str) -> dict[str, Any]:
    cells = [
        "from realtime_widget.widget.widget import RealtimeWidget\n"
        f"w = RealtimeWidget(url={server_url!r}, audio='kernel', input_device={MIC!r}, "
        f"output_device={SPEAKER!r})\n"
        "w",
        "print('ready')",
    ]
    return notebook_of(cells)


def audio_state(page: Any) -> dict[str, Any]:
    out = page.evaluate(KERNEL_EXEC, AUDIO_STATE)
    assert "ERROR" not in out, out
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_kernel_audio_in_jupyterlab_hears_the_virtual_microphone(
    sound: VirtualSound,
    browser: Any,
    jupyter_factory: Callable[[str], Jupyter],
    realtime_server: LocalRealtimeServer,
) -> None:
    lab = jupyter_factory("lab")  # started after the sound card: its kernels see the card
    (lab.log.parent / "nb" / NOTEBOOK).write_text(json.dumps(notebook(realtime_server.url)))
    page = open_notebook(
        browser,
        lab,
        f"/lab/tree/{NOTEBOOK}",
        init_script=AUDIO_TAP_SCRIPT,
        permissions=["microphone"],
    )
    try:
        root = page.locator(".rtw")
        assert root.get_attribute("data-host") == "jupyterlab"
        assert root.get_attribute("data-audio") == "kernel"
        page.click(".rtw-connect")
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
        mic = page.locator(".rtw-mic")
        assert mic.inner_text() == "Kernel mic" and mic.is_disabled()
        assert "the kernel's microphone and speakers" in page.locator(".rtw-notice").inner_text()

        def warmed_up() -> bool:  # PulseAudio's null sinks take a moment to run at their clock
            before = audio_state(page)["sent"]
            time.sleep(0.4)
            return bool(audio_state(page)["sent"] - before >= 4)  # 4 x 80 ms in 400 ms

        wait_until(warmed_up, 20, "the kernel's microphone to run in real time")
        quiet = np.zeros(RATE // 2, np.int16)
        assert ESPEAK is not None
        sound.say(
            np.concatenate([quiet, espeak_samples(ESPEAK, "when are you open", "en-us"), quiet])
        )
        heard = page.locator('.rtw-msg[data-role="user"] .rtw-content').filter(has_text="open")
        answer = page.locator('.rtw-msg[data-role="assistant"][data-status="completed"]')
        try:
            heard.first.wait_for(timeout=30_000)
            answer.first.wait_for(timeout=30_000)
            played = wait_until(lambda: audio_state(page)["played"], 15, "the answer to play")
        except Exception:
            flags = audio_state(page)["flags"]
            if flags:
                pytest.skip(f"the virtual sound card dropped audio ({flags} xruns)")
            raise
        assert max(played.values()) > 0
        # the page's microphone was never opened, nor did its player get the answer
        assert page.evaluate("() => window.__rtwStreams.length") == 0
        assert page.evaluate("() => window.__rtwTap.events.length") == 0
        assert page.locator(".rtw").get_attribute("data-mic") == "off"
    finally:
        page.context.close()


DEVICES_STATE = """
import json as _json
_a = w.kernel_audio
print(_json.dumps({"running": _a.running, "input": _a.input_index, "output": _a.output_index}))
"""


def test_the_pickers_list_the_kernel_s_devices_and_choosing_one_reopens_it(
    sound: VirtualSound,
    browser: Any,
    jupyter_factory: Callable[[str], Jupyter],
    realtime_server: LocalRealtimeServer,
) -> None:
    lab = jupyter_factory("lab")
    (lab.log.parent / "nb" / NOTEBOOK).write_text(json.dumps(notebook(realtime_server.url)))
    page = open_notebook(browser, lab, f"/lab/tree/{NOTEBOOK}", permissions=["microphone"])
    try:
        page.click(".rtw-connect")
        page.wait_for_selector('.rtw[data-connection="connected"]', timeout=15_000)
        picker = page.locator(".rtw-input-device")
        wait_until(
            lambda: "Kernel: rtw_mic" in picker.locator("option").all_inner_texts(),
            15,
            "the microphone picker to list the kernel's devices",
        )
        speakers = page.locator(".rtw-output-device option").all_inner_texts()
        assert "Kernel: rtw_speaker" in speakers
        assert picker.locator("option:checked").inner_text() == "Kernel: rtw_mic"
        picker.select_option(label="Kernel: rtw_speaker_monitor")
        monitor = picker.locator("option", has_text="rtw_speaker_monitor").get_attribute("value")

        def devices() -> dict[str, Any]:
            out = page.evaluate(KERNEL_EXEC, DEVICES_STATE)
            assert "ERROR" not in out, out
            return dict(json.loads(out.strip().splitlines()[-1]))

        wait_until(
            lambda: devices()["running"] and str(devices()["input"]) == monitor,
            15,
            "the kernel to reopen its microphone on the chosen device",
        )
        wait_until(
            lambda: picker.locator("option:checked").inner_text() == "Kernel: rtw_speaker_monitor",
            10,
            "the picker to show the device open",
        )
    finally:
        page.context.close()
