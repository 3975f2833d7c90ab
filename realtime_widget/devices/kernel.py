"""`KernelAudio`: a client's microphone and speakers in the kernel's own process (PortAudio).

Rules:

- Capture runs at the input device's default rate, is resampled to 24 kHz and goes to
  :meth:`RealtimeClient.append_input_audio` in chunks of ``chunk_ms`` (80 ms), as the
  browser's do (the first short by the resampler's lookahead, so that no chunk waits a
  device block for it); while the client is not connected a chunk is dropped and counted.
- Playback takes the model's audio from the client's ``conversation.updated`` deltas into a
  :class:`~realtime_widget.audio.playout.Playout` that the output stream's callback renders
  at the output device's default rate; an item's audio is complete when it completes.
- A barge-in (the client's ``conversation.interrupted``) drops what is queued at once, so
  what plays after it is only what the device already holds (the output latency plus one
  block); an assistant message that was playing is then cancelled and truncated at the
  24 kHz samples handed to the device (:meth:`RealtimeClient.cancel_response`), anything
  else only cancelled. Each barge-in is kept in :attr:`KernelAudio.interruptions`.
- PortAudio's callbacks run on their own threads: a captured block is handed to the loop
  with ``call_soon_threadsafe``, so audio keeps flowing while a cell computes or awaits,
  as long as the loop runs (in a kernel: whenever no cell blocks it); the output callback
  only reads the playout. No comm message is involved.
- A device is named by index, by name (or a part of its name, as PortAudio matches it), or
  ``None`` for the system's default; ``False`` turns that side off. A device that cannot be
  found or opened raises :class:`AudioDeviceError` naming it.

Needs the ``kernel-audio`` extra (``sounddevice``) and the PortAudio library
(``libportaudio2`` on Debian): without them :meth:`KernelAudio.start` and
:func:`list_devices` raise :class:`AudioDeviceError` saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final, Literal

from realtime_widget.audio.playout import Chunker, Playout
from realtime_widget.audio.utils import Resampler
from realtime_widget.core.errors import RealtimeError, UsageError

if TYPE_CHECKING:
    from realtime_widget.client.client import RealtimeClient

__all__ = [
    "AudioDeviceError",
    "Device",
    "DeviceInfo",
    "KernelAudio",
    "KernelInterruption",
    "check_device",
    "list_devices",
]

logger = logging.getLogger("realtime_widget.devices")

Device = int | str | None | Literal[False]
"""An audio device: its index, its name (or part of it), ``None`` (the default) or ``False``
(none: that side is off)."""

DEFAULT_LATENCY: Final = 0.02  # seconds the device buffers: bounds a barge-in's stop time
DEFAULT_BLOCK_MS: Final = 10


class AudioDeviceError(RealtimeError):
    """An audio device could not be found or opened; ``device`` is how it was named."""

    def __init__(self, message: str, *, device: Device = None) -> None:
        super().__init__(message)
        self.device = device


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """An audio device as PortAudio lists it."""

    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float


@dataclass(frozen=True, slots=True)
class KernelInterruption:
    """A barge-in: the item that was playing, its 24 kHz samples handed to the device, and
    the seconds from the barge-in to the end of the last item audio the device held (as the
    stream's clock tells it: ``0.0`` when it held none; ``None`` when no output is open or
    nothing was ever played)."""

    item_id: str | None
    played_samples: int
    stop_seconds: float | None
    time: float  # time.monotonic()


def _sounddevice() -> ModuleType:
    try:
        import sounddevice
    except ImportError as exc:
        raise AudioDeviceError(
            "kernel audio needs sounddevice and PortAudio: pip install "
            f"'realtime_widget[kernel-audio]' and install PortAudio (libportaudio2): {exc}"
        ) from exc
    except OSError as exc:  # sounddevice is there, the PortAudio library is not
        raise AudioDeviceError(
            f"kernel audio needs the PortAudio library (apt-get install libportaudio2): {exc}"
        ) from exc
    return sounddevice  # type: ignore[no-any-return]


def list_devices() -> list[DeviceInfo]:
    """The audio devices PortAudio sees now (the list is read afresh on every call)."""
    sd = _sounddevice()
    sd._terminate()  # PortAudio lists devices once per initialisation: read them again
    sd._initialize()
    apis = sd.query_hostapis()
    return [
        DeviceInfo(
            index=int(d["index"]),
            name=str(d["name"]),
            host_api=str(apis[d["hostapi"]]["name"]),
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_samplerate=float(d["default_samplerate"]),
        )
        for d in sd.query_devices()
    ]


def check_device(name: str, device: object) -> Device:
    """``device`` as a :data:`Device`; :class:`UsageError` naming it otherwise."""
    if device is None or device is False:
        return device
    if isinstance(device, bool) or not isinstance(device, int | str):
        raise UsageError(f"{name} must be a device index, a name, None or False, got {device!r}")
    if isinstance(device, int) and device < 0:
        raise UsageError(f"{name} must be a device index of 0 or more, got {device!r}")
    if isinstance(device, str) and not device.strip():
        raise UsageError(f"{name} must name a device, got {device!r}")
    return device


class KernelAudio:
    """The microphone and speakers of the kernel's machine for ``client`` (see the module
    rules). ``input_device`` / ``output_device`` name the devices; ``latency`` is the
    seconds the devices buffer, ``block_ms`` a callback's block, ``chunk_ms`` the chunks
    sent. Call ``await start()`` on the client's loop, ``await stop()`` to end.
    """

    def __init__(
        self,
        client: RealtimeClient,
        input_device: Device = None,
        output_device: Device = None,
        *,
        latency: float = DEFAULT_LATENCY,
        block_ms: int = DEFAULT_BLOCK_MS,
        chunk_ms: int = 80,
    ) -> None:
        self.client = client
        self.input_device = check_device("input_device", input_device)
        self.output_device = check_device("output_device", output_device)
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency <= 0:
            raise UsageError(f"latency must be a positive number of seconds, got {latency!r}")
        if isinstance(block_ms, bool) or not isinstance(block_ms, int) or not 1 <= block_ms <= 100:
            raise UsageError(f"block_ms must be a whole number in 1..100, got {block_ms!r}")
        self.latency = float(latency)
        self.block_ms = block_ms
        self._chunker = Chunker(chunk_ms)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._input: Any = None
        self._output: Any = None
        self._resampler: Resampler | None = None
        self.playout: Playout | None = None
        self.input_rate: int | None = None
        self.output_rate: int | None = None
        self.input_index: int | None = None  # the PortAudio index of the device open
        self.output_index: int | None = None
        self.sent_chunks = 0
        self.dropped_chunks = 0
        self.status_flags = 0  # PortAudio's over- and underflow reports, counted
        self._interruptions: list[KernelInterruption] = []
        self._audio_end: float | None = None  # stream time the last item sample plays out
        self._subscriptions: list[tuple[Any, str, Callable[[Any], None]]] = []

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"KernelAudio(input_device={self.input_device!r}, "
            f"output_device={self.output_device!r}, {state})"
        )

    @property
    def running(self) -> bool:
        """Whether a stream is open."""
        return self._input is not None or self._output is not None

    @property
    def played_samples(self) -> dict[str, int]:
        """The 24 kHz samples of each item handed to the output device (a copy)."""
        return self.playout.played_samples if self.playout is not None else {}

    @property
    def interruptions(self) -> list[KernelInterruption]:
        """Every barge-in so far, oldest first (a copy)."""
        return list(self._interruptions)

    # -- start and stop ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the devices and start capture and playback; a second call does nothing.

        Raises :class:`AudioDeviceError` naming a device that cannot be opened (nothing is
        left open then).
        """
        if self.running:
            return
        sd = _sounddevice()
        self._loop = asyncio.get_running_loop()
        try:
            if self.output_device is not False:
                self._open_output(sd)
            if self.input_device is not False:
                self._open_input(sd)
        except BaseException:
            self._close_streams()
            raise
        client = self.client
        self._subscriptions = [
            (client, "conversation.updated", self._updated),
            (client, "conversation.item.completed", self._completed),
            (client, "conversation.interrupted", self._interrupted),
            (client, "close", self._closed),
            (client, "conversation.item.deleted", self._deleted),
        ]
        for source, name, handler in self._subscriptions:
            source.on(name, handler)

    async def stop(self) -> None:
        """Send what capture holds, stop following the client and close the devices."""
        for source, name, handler in self._subscriptions:
            with contextlib.suppress(UsageError):
                source.off(name, handler)
        self._subscriptions = []
        self._close_streams()
        rest = self._chunker.flush()
        if rest.size and self.client.is_connected():
            self.client.append_input_audio(rest)

    async def __aenter__(self) -> KernelAudio:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _open(self, sd: ModuleType, kind: Literal["input", "output"], device: Device) -> Any:
        try:
            info = sd.query_devices(device, kind)
            rate = int(info["default_samplerate"])
            make = sd.InputStream if kind == "input" else sd.OutputStream
            callback = self._captured_block if kind == "input" else self._render_block
            stream = make(
                device=info["index"],
                samplerate=rate,
                channels=1,
                dtype="int16",
                latency=self.latency,
                blocksize=rate * self.block_ms // 1000,
                callback=callback,
            )
            stream.start()
        except (ValueError, sd.PortAudioError) as exc:
            shown = "the default device" if device is None else repr(device)
            raise AudioDeviceError(f"cannot open {shown} for {kind}: {exc}", device=device) from exc
        return stream, rate, int(info["index"])

    def _open_output(self, sd: ModuleType) -> None:
        self._output, self.output_rate, self.output_index = self._open(
            sd, "output", self.output_device
        )
        self.playout = Playout(self.output_rate)

    def _open_input(self, sd: ModuleType) -> None:
        self._input, self.input_rate, self.input_index = self._open(sd, "input", self.input_device)
        self._resampler = Resampler(self.input_rate)
        # a chunk goes when only the resampler's lookahead is missing, not a block later
        self._chunker.early = min(self._resampler.lag, self._chunker.size // 2)

    def _close_streams(self) -> None:
        for stream in (self._input, self._output):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.stop()
                    stream.close()
        self._input = self._output = None
        self.input_index = self.output_index = None

    # -- the devices' threads -----------------------------------------------------------------

    def _captured_block(self, indata: Any, frames: int, when: Any, status: Any) -> None:
        if status:
            self.status_flags += 1
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._captured, indata[:, 0].copy())

    def _render_block(self, outdata: Any, frames: int, when: Any, status: Any) -> None:
        if status:
            self.status_flags += 1
        playout = self.playout
        if playout is None:
            outdata[:] = 0
            return
        filled = playout.render(outdata[:, 0])
        if filled:
            self._audio_end = when.outputBufferDacTime + filled / (self.output_rate or 1)

    # -- the loop's side ------------------------------------------------------------------------

    def _captured(self, block: Any) -> None:
        if self._resampler is None:
            return
        for chunk in self._chunker.feed(self._resampler.process(block)):
            if self.client.is_connected():
                self.client.append_input_audio(chunk)
                self.sent_chunks += 1
            else:
                self.dropped_chunks += 1

    def _updated(self, event: Mapping[str, Any]) -> None:
        delta = event.get("delta")
        audio = delta.get("audio") if delta else None
        if audio is not None and self.playout is not None:
            self.playout.push(str(event["item"].get("id")), audio)

    def _completed(self, event: Mapping[str, Any]) -> None:
        if self.playout is not None:
            self.playout.done(str(event["item"].get("id")))

    def _deleted(self, event: Mapping[str, Any]) -> None:
        item_id = event.get("item_id")
        if self.playout is not None and isinstance(item_id, str):
            self.playout.removed(item_id)

    def _closed(self, event: Mapping[str, Any]) -> None:
        if self.playout is not None:
            self.playout.clear()

    def _interrupted(self, event: Mapping[str, Any]) -> None:
        if self.playout is None:
            return
        now = self._output.time if self._output is not None else None
        item_id, played = self.playout.interrupt()
        end = self._audio_end
        stop = None if now is None or end is None else max(0.0, end - now)
        self._interruptions.append(KernelInterruption(item_id, played, stop, time.monotonic()))
        client = self.client
        if not client.is_connected():
            return
        item = client.conversation.get_item(item_id) if item_id is not None else None
        if item is None or item.get("type") != "message" or item.get("role") != "assistant":
            client.cancel_response()
            return
        client.cancel_response(item_id, played)
