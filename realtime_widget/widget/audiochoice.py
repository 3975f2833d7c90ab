"""`AudioChoice`: where a widget's audio flows, the page's microphone and speakers or the
kernel's devices (:class:`~realtime_widget.devices.KernelAudio`).

- ``"browser"``: the page's. ``"kernel"``: the kernel's, open while the client is connected.
  ``"auto"``: the page's once a page says it can have them (``page_audio`` reads ``"ok"``),
  else, when a page says why it cannot, the kernel's if the kernel has a microphone, else
  none.
- ``audio_in_use`` tells the page which: ``"browser"``, ``"kernel"``, ``"none"``, or ``""``
  while ``"auto"`` waits to hear from a page.
- While the kernel's devices are in use, the page gets none of the model's audio and no
  barge-in: the kernel plays the answers and truncates them (:meth:`AudioChoice.for_page`).
- A device that cannot be opened is reported (``error``), and then none is in use.
- The kernel's devices are listed (``show_devices``) each time they are opened, before
  PortAudio holds a stream. :meth:`AudioChoice.choose` picks another device for a side:
  reopened at once while open; when it cannot be opened, the error names it and the
  devices before are opened again.

No traitlets, no I/O but the devices it opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict

from realtime_widget.core.errors import UsageError
from realtime_widget.devices import AudioDeviceError, KernelAudio, list_devices
from realtime_widget.devices.kernel import Device, check_device
from realtime_widget.widget.loop import HomeLoop

if TYPE_CHECKING:
    from realtime_widget.client.client import RealtimeClient

__all__ = [
    "AUDIO_MODES",
    "AudioChoice",
    "AudioInUse",
    "AudioMode",
    "DeviceSide",
    "KernelDevice",
    "KernelDevicesOpen",
    "check_audio_mode",
]

AudioMode = Literal["browser", "kernel", "auto"]
AudioInUse = Literal["", "browser", "kernel", "none"]
DeviceSide = Literal["input", "output"]


class KernelDevice(TypedDict):
    """A kernel device as the page's pickers list it."""

    index: int
    name: str
    input_channels: int
    output_channels: int


class KernelDevicesOpen(TypedDict):
    """The indexes of the kernel devices open, ``None`` for a side not open."""

    input: int | None
    output: int | None


AUDIO_MODES: Final[tuple[AudioMode, ...]] = ("browser", "kernel", "auto")
_KERNEL_ONLY: Final = frozenset({"audio", "audio_done", "interrupt"})  # what the page then lacks


def check_audio_mode(value: object) -> AudioMode:
    """``value`` as an :data:`AudioMode`; :class:`UsageError` naming it otherwise."""
    for mode in AUDIO_MODES:
        if value == mode:
            return mode
    raise UsageError(f'audio must be "browser", "kernel" or "auto", got {value!r}')


class AudioChoice:
    """The audio a widget uses (see the module rules). ``show(in_use)`` sets the widget's
    ``audio_in_use``; ``report(text)`` shows a failure."""

    def __init__(
        self,
        client: RealtimeClient,
        mode: AudioMode,
        input_device: Device,
        output_device: Device,
        *,
        home: HomeLoop,
        show: Callable[[AudioInUse], None],
        report: Callable[[str], None],
        show_devices: Callable[[list[KernelDevice], KernelDevicesOpen], None],
    ) -> None:
        self.mode = mode
        self._client = client
        self._home = home
        self._show = show
        self._report = report
        self._show_devices = show_devices
        self._lock: asyncio.Lock | None = None  # one opening or closing at a time
        self.kernel: KernelAudio | None = None
        if mode != "browser":
            self.kernel = KernelAudio(client, input_device, output_device)
        self.in_use: AudioInUse = "" if mode == "auto" else mode

    def page_said(self, value: str) -> None:
        """A page said whether it can have the microphone: ``"ok"``, or why not."""
        if self.mode == "auto" and value:
            self._home.run(lambda: self._choose(value), "choosing the audio")

    def _choose(self, page: str) -> None:
        if page == "ok":
            self._use("browser")
        elif self.in_use == "":
            self._use("kernel" if self._kernel_has_a_microphone() else "none")

    @staticmethod
    def _kernel_has_a_microphone() -> bool:
        try:
            return any(device.max_input_channels > 0 for device in list_devices())
        except AudioDeviceError:
            return False

    def connection(self, state: str) -> None:
        """The widget's ``connection`` changed to ``state``: open or close the devices."""
        if state == "connected" and self.in_use == "kernel":
            self._open()
        elif state in ("disconnected", "error"):
            self._close()

    def _use(self, choice: AudioInUse) -> None:
        if choice == self.in_use:
            return
        self.in_use = choice
        self._show(choice)
        if choice == "kernel" and self._client.is_connected():
            self._open()
        elif choice != "kernel":
            self._close()

    def _open(self) -> None:
        kernel = self.kernel
        if kernel is not None and not kernel.running:
            self._home.spawn(self._start(kernel), "opening the kernel's audio devices")

    def _serial(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _start(self, kernel: KernelAudio) -> None:
        async with self._serial():
            if kernel.running or self.in_use != "kernel":
                return
            try:
                await self._list_and_start(kernel)
            except AudioDeviceError as exc:
                self._report(str(exc))
                self._use("none")

    async def _list_and_start(self, kernel: KernelAudio) -> None:
        """List the devices (PortAudio is read afresh only while no stream is open), then
        open them and show which are open."""
        try:
            found = [
                KernelDevice(
                    index=d.index,
                    name=d.name,
                    input_channels=d.max_input_channels,
                    output_channels=d.max_output_channels,
                )
                for d in list_devices()
            ]
        except AudioDeviceError:
            found = []
        try:
            await kernel.start()
        finally:
            opened = KernelDevicesOpen(input=kernel.input_index, output=kernel.output_index)
            self._show_devices(found, opened)

    def choose(self, side: DeviceSide, device: object) -> None:
        """Use ``device`` (as :class:`KernelAudio` names one) for ``side`` from now on
        (see the module rules). :class:`UsageError` naming a bad device, or with
        ``audio="browser"``."""
        name = f"{side}_device"
        checked = check_device(name, device)
        kernel = self.kernel
        if kernel is None:
            raise UsageError(f'{name} {device!r} needs audio="kernel" or "auto", not "browser"')
        before = getattr(kernel, name)
        setattr(kernel, name, checked)
        if kernel.running:
            self._home.spawn(
                self._reopen(kernel, name, before), "reopening the kernel's audio devices"
            )

    async def _reopen(self, kernel: KernelAudio, name: str, before: Device) -> None:
        async with self._serial():
            if not kernel.running:
                return
            await kernel.stop()
            try:
                await self._list_and_start(kernel)
                return
            except AudioDeviceError as exc:
                self._report(str(exc))
            setattr(kernel, name, before)
            try:
                await self._list_and_start(kernel)
            except AudioDeviceError as exc:
                self._report(str(exc))
                self._use("none")

    def _close(self) -> None:
        kernel = self.kernel
        if kernel is not None and kernel.running:
            self._home.spawn(self._stop(kernel), "closing the kernel's audio devices")

    async def _stop(self, kernel: KernelAudio) -> None:
        async with self._serial():
            await kernel.stop()

    def for_page(self, message: Mapping[str, Any]) -> bool:
        """Whether the kernel message goes to the page: not the model's audio nor a
        barge-in while the kernel's devices play them."""
        return self.in_use != "kernel" or message.get("type") not in _KERNEL_ONLY

    def close(self) -> None:
        """Close the devices, if open."""
        self._close()
