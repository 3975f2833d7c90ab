"""A virtual sound card for kernel audio tests: PulseAudio with two null sinks, seen by
PortAudio through ALSA's ``pulse`` plugin.

- ``rtw_mic``: a microphone; what :meth:`VirtualSound.say` plays into the ``mic_feed`` sink
  is what it captures (the sink's monitor).
- ``rtw_speaker``: a speaker (the ``speaker`` sink, clocked by PulseAudio in real time);
  :meth:`VirtualSound.recorder` records what it plays from its monitor.

The PulseAudio daemon is private to the test session (its own runtime folder and socket);
ALSA finds the devices through ``ALSA_CONFIG_PATH``, set in this process before PortAudio
is read again. Needs ``pulseaudio``, ``pulseaudio-utils``, ``libasound2-plugins`` and
``libportaudio2`` (``make test`` installs them from Debian's packages).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Recorder", "VirtualSound", "heard_span", "locate", "missing_programs"]

RATE = 24_000
MIC = "rtw_mic"
SPEAKER = "rtw_speaker"
MONITOR = "rtw_speaker_monitor"
_PCM = """pcm.{name} {{
    type pulse
    server "unix:{socket}"
    device "{device}"
    hint {{ show on description "{description}" }}
}}
"""


def missing_programs() -> list[str]:
    """What the virtual device needs and this machine lacks."""
    missing = [p for p in ("pulseaudio", "pacat") if shutil.which(p) is None]
    if not Path("/usr/share/alsa/alsa.conf").exists():
        missing.append("alsa (libasound2)")
    plugin = list(Path("/usr/lib").glob("*/alsa-lib/libasound_module_pcm_pulse.so"))
    if not plugin:
        missing.append("libasound2-plugins")
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):
        missing.append("sounddevice with libportaudio2")
    return missing


def pulse_command(program: str, server: str, device: str) -> list[str]:
    """``pacat`` (play into ``device``, a sink) or ``parec`` (record ``device``, a source) on
    the card's ``server``: raw 24 kHz mono PCM16, with a latency of 20 ms playing and 10 ms
    recording."""
    latency = 20 if program == "pacat" else 10
    return [
        program,
        f"--server={server}",
        "--raw",
        "--format=s16le",
        f"--rate={RATE}",
        "--channels=1",
        f"--latency-msec={latency}",
        "-d",
        device,
    ]


class VirtualSound:
    """A private PulseAudio daemon and the ALSA devices over it (see the module doc)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runtime = folder / "run"
        self.socket = self.runtime / "pulse" / "native"
        self.server = f"unix:{self.socket}"
        self._previous_alsa = os.environ.get("ALSA_CONFIG_PATH")

    def start(self) -> VirtualSound:
        self.runtime.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HOME": str(self.folder),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "PULSE_RUNTIME_PATH": str(self.runtime / "pulse"),
        }
        subprocess.run(
            [
                "pulseaudio",
                "--daemonize=yes",
                "-n",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--use-pid-file=yes",
                "--load=module-native-protocol-unix",
                f"--load=module-null-sink sink_name=speaker rate={RATE} channels=1",
                f"--load=module-null-sink sink_name=mic_feed rate={RATE} channels=1",
                f"--log-target=file:{self.folder / 'pulse.log'}",
            ],
            env=env,
            check=True,
            timeout=30,
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"pulseaudio did not start: see {self.folder / 'pulse.log'}")
            time.sleep(0.05)
        config = self.folder / "asound.conf"
        config.write_text(
            _PCM.format(name=MIC, socket=self.socket, device="mic_feed.monitor", description="mic")
            + _PCM.format(name=SPEAKER, socket=self.socket, device="speaker", description="out")
            + _PCM.format(
                name=MONITOR, socket=self.socket, device="speaker.monitor", description="monitor"
            )
        )
        os.environ["ALSA_CONFIG_PATH"] = f"/usr/share/alsa/alsa.conf:{config}"
        import sounddevice as sd

        sd._terminate()  # PortAudio reads the devices again, with the new ALSA config
        sd._initialize()
        return self

    def stop(self) -> None:
        pid_file = self.runtime / "pulse" / "pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
        if self._previous_alsa is None:
            os.environ.pop("ALSA_CONFIG_PATH", None)
        else:
            os.environ["ALSA_CONFIG_PATH"] = self._previous_alsa

    def say(self, samples: Any) -> subprocess.Popen[bytes]:
        """Play 24 kHz PCM16 ``samples`` into the microphone (in real time); returns the
        player process, which ends when they have played."""
        player = subprocess.Popen(
            pulse_command("pacat", self.server, "mic_feed"),
            stdin=subprocess.PIPE,
        )
        assert player.stdin is not None
        player.stdin.write(np.asarray(samples, dtype="<i2").tobytes())
        player.stdin.close()
        return player

    def recorder(self) -> Recorder:
        return Recorder(self.server)


class Recorder:
    """Records what ``rtw_speaker`` plays, at 24 kHz, from its monitor (PulseAudio's
    ``parec``, read on a thread)."""

    def __init__(self, server: str) -> None:
        self._server = server
        self._data = bytearray()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        while chunk := self._process.stdout.read1(4800):  # type: ignore[attr-defined]
            with self._lock:
                self._data.extend(chunk)

    def __enter__(self) -> Recorder:
        self._process = subprocess.Popen(
            pulse_command("parec", self._server, "speaker.monitor"),
            stdout=subprocess.PIPE,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
        if self._thread is not None:
            self._thread.join(10)

    def samples(self) -> np.ndarray[Any, Any]:
        with self._lock:
            data = bytes(self._data[: len(self._data) // 2 * 2])
        return np.frombuffer(data, dtype="<i2").copy()


def _find(
    rec: np.ndarray[Any, Any], block: np.ndarray[Any, Any], earliest_above: float = 2.0
) -> tuple[int, float]:
    """Where ``block`` is in ``rec`` and its normalised correlation there: the best match,
    or the earliest above ``earliest_above`` when there is one (a word said twice)."""
    scores = np.correlate(rec, block, mode="valid")
    energy = np.sqrt(np.convolve(rec**2, np.ones(block.size), mode="valid")) + 1e-9
    match = scores / (energy * np.linalg.norm(block))
    good = np.flatnonzero(match > earliest_above)
    if good.size:  # the best of the first run above the bar
        run_end = good[0] + int(np.argmax(np.diff(good) > 1)) if good.size > 1 else good[0]
        if good.size > 1 and not np.any(np.diff(good) > 1):
            run_end = good[-1]
        first = int(good[0])
        best = first + int(np.argmax(match[first : run_end + 1]))
    else:
        best = int(np.argmax(match))
    return best, float(match[best])


def locate(recording: np.ndarray[Any, Any], audio: np.ndarray[Any, Any]) -> int | None:
    """Where ``audio`` begins in ``recording`` (samples), or ``None`` when it is not there.

    Each loud 10 ms block of its first half second is looked for in the whole recording;
    the start is the earliest that three blocks agree on (a gap the player left shifts the
    blocks after it later, never earlier; a word said twice gives a lone later start)."""
    found = _agreed(recording.astype(np.float64), audio)
    return found[0] if found is not None else None


def _agreed(rec: np.ndarray[Any, Any], audio: np.ndarray[Any, Any]) -> tuple[int, int] | None:
    """``(start, at)``: the start :func:`locate` finds, and the first block that agrees."""
    step = RATE // 100
    starts: list[tuple[int, int]] = []
    for at in range(0, min(audio.size, RATE // 2) - step + 1, step):
        block = audio[at : at + step].astype(np.float64)
        if rec.size < step or np.abs(block).mean() <= 500:
            continue
        place, match = _find(rec, block)
        if match > 0.95:
            starts.append((place - at, at))
    starts.sort()
    for index, (start, _) in enumerate(starts):
        agreeing = [at for other, at in starts[index:] if other - start <= 3]
        if len(agreeing) >= 3:
            return start, min(agreeing)
    return None


def heard_span(
    recording: np.ndarray[Any, Any], audio: np.ndarray[Any, Any]
) -> tuple[int, int] | None:
    """Where the recording of ``audio`` stops: ``(low, high)`` in samples of ``audio``, the end
    of its last loud 10 ms block the recording holds and the start of the first one it lacks
    (the cut lies between; they are one block apart unless it fell in a pause). Each block is
    looked for up to a second past the previous one, so a gap the player left (an underrun)
    is not taken for the cut (nor the block it splits). ``None`` when the audio is not in the
    recording; ``(size, size)`` when all of it is."""
    rec = recording.astype(np.float64)
    found = _agreed(rec, audio)
    if found is None:
        return None
    start, first = found  # what comes before the first block that agreed was played
    step = RATE // 100  # 10 ms
    position = max(0, start + first - step)
    low = first
    missed: list[int] = []  # loud blocks not found since the last one found
    for at in range(first, audio.size - step + 1, step):
        block = audio[at : at + step].astype(np.float64)
        if np.abs(block).mean() <= 300:
            continue
        window = rec[position : position + RATE + step]
        if window.size < step:
            return low, (missed or [at])[0]
        best, match = _find(window, block, earliest_above=0.9)
        if match < 0.9:
            missed.append(at)  # one block may straddle a gap: three in a row are the cut
            if len(missed) == 3:
                return low, missed[0]
            continue
        missed = []
        position += best + step
        low = at + step
    return int(audio.size), int(audio.size)
