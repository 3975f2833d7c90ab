"""The widget as its parts see it: the states of its traits, and :class:`WidgetHost`, what
the parts read, set and call on it. The parts depend on this, never on the widget's class.

Pure: no traitlets, no ipywidgets, no I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

if TYPE_CHECKING:
    from realtime_widget.client.client import RealtimeClient
    from realtime_widget.devices.kernel import Device

__all__ = [
    "CONNECTION_STATES",
    "MIC_STATES",
    "TURN_MODES",
    "ConnectionState",
    "MicState",
    "TurnMode",
    "WidgetHost",
]

ConnectionState = Literal["disconnected", "connecting", "connected", "reconnecting", "error"]
MicState = Literal["off", "starting", "on", "denied", "unsupported"]
TurnMode = Literal["server_vad", "semantic_vad", "manual"]
CONNECTION_STATES: Final[tuple[ConnectionState, ...]] = (
    "disconnected",
    "connecting",
    "connected",
    "reconnecting",
    "error",
)
MIC_STATES: Final[tuple[MicState, ...]] = ("off", "starting", "on", "denied", "unsupported")
TURN_MODES: Final[tuple[TurnMode, ...]] = ("server_vad", "semantic_vad", "manual")


class WidgetHost(Protocol):
    """The traits and methods of :class:`~realtime_widget.widget.widget.RealtimeWidget` that
    its parts use. Setting a trait syncs it to the page."""

    connection: ConnectionState
    error: str  # the last error, "" when cleared
    status: str  # a short notice
    tools: list[dict[str, Any]]  # {name, description, parameters} each
    turn_detection: TurnMode
    mic: MicState  # set by the page
    turn_timings: list[dict[str, Any]]  # the last answers' TurnTiming.as_dict(), oldest first

    @property
    def client(self) -> RealtimeClient:
        """The client the widget drives."""
        ...

    @property
    def input_device(self) -> Device:
        """The kernel's microphone; setting it reopens it."""
        ...

    @input_device.setter
    def input_device(self, device: Device) -> None: ...

    @property
    def output_device(self) -> Device:
        """The kernel's speaker; setting it reopens it."""
        ...

    @output_device.setter
    def output_device(self, device: Device) -> None: ...

    async def connect(self) -> None:
        """Connect the client and wait for the session."""
        ...

    def disconnect(self) -> Awaitable[None]:
        """Close the connection, keeping the conversation."""
        ...

    def new_conversation(self) -> None:
        """Start afresh: every item deleted, the log and timings cleared."""
        ...
