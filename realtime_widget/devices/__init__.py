"""Audio devices of the kernel's own machine (PortAudio): :class:`KernelAudio`, the client's
microphone and speakers without a browser page, and :func:`list_devices`.
"""

from realtime_widget.devices.kernel import (
    AudioDeviceError,
    DeviceInfo,
    KernelAudio,
    KernelInterruption,
    list_devices,
)

__all__ = ["AudioDeviceError", "DeviceInfo", "KernelAudio", "KernelInterruption", "list_devices"]
