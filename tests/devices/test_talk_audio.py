"""``python -m realtime_widget talk`` with kernel audio on the virtual sound card (see
``virtual_sound``): a spoken question becomes a user item and is answered; a device that
cannot be opened is one line naming it."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from virtual_sound import MIC, SPEAKER, VirtualSound, missing_programs

from realtime_widget.server.recognizer import recognizer_available
from realtime_widget.server.speech import espeak_program, espeak_samples

ESPEAK = espeak_program()
MISSING = missing_programs()
pytestmark = pytest.mark.skipif(
    bool(MISSING) or ESPEAK is None or not recognizer_available(),
    reason=f"needs the virtual sound card, espeak-ng and the voice extra (missing: {MISSING})",
)
RATE = 24_000


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualSound]:
    card = VirtualSound(Path(tmp_path_factory.mktemp("sound"))).start()
    yield card
    card.stop()


def said(text: str) -> np.ndarray[Any, Any]:
    assert ESPEAK is not None
    quiet = np.zeros(RATE // 2, np.int16)
    return np.concatenate([quiet, espeak_samples(ESPEAK, text, "en-us"), quiet])


class Talk:
    """The command in a subprocess (the ALSA config of the virtual card in its environment),
    its output lines read on a thread."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "realtime_widget", "talk", "--local", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._new.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if re.search(pattern, line)]
            if found:
                return found[0]
            with contextlib.suppress(queue.Empty):
                self.lines.append(self._new.get(timeout=0.2))
        return None

    def interrupt(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        self.process.wait(30)
        self.wait_for(r"^\* ended$", 10)
        return self.process.returncode, err


def test_a_spoken_question_becomes_a_user_item_and_is_answered(sound: VirtualSound) -> None:
    talk = Talk("--input-device", MIC, "--output-device", SPEAKER)
    try:
        assert talk.wait_for(r"^\* listening", 30), talk.lines
        time.sleep(2.0)  # PulseAudio's null sinks take a moment to run at their clock
        sound.say(said("when are you open")).wait(30)
        heard = talk.wait_for(r"^you: .*open", 30)
        answered = heard and talk.wait_for(r"^assistant: ", 30)
    finally:
        status, err = talk.interrupt()
    report = talk.wait_for(r"^\* audio: ", 1) or ""
    flags = re.search(r"(\d+) device over/underflows", report)
    if not answered and flags and int(flags.group(1)):
        pytest.skip(f"the virtual sound card dropped audio ({report})")
    assert heard and answered, (talk.lines, err)
    assert status == 0 and "Traceback" not in err, err
    assert talk.lines[-1] == "* ended"


def test_a_device_that_cannot_be_opened_is_one_line_naming_it(sound: VirtualSound) -> None:
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "realtime_widget",
            "talk",
            "--local",
            "--input-device",
            "no such microphone",
            "--output-device",
            SPEAKER,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 1
    assert process.stderr.startswith("error: cannot open 'no such microphone' for input")
    assert process.stderr.count("\n") == 1, process.stderr


def test_the_devices_are_listed(sound: VirtualSound) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "realtime_widget", "talk", "--list-devices"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr
    names = [line.strip().split("  ")[1] for line in process.stdout.splitlines()]
    assert MIC in names and SPEAKER in names
