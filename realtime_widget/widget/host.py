"""The widget as its parts see it: the states of its traits, and :class:`WidgetHost`, what
the parts read, set and call on it, and which traits a page may set (:func:`page_settings`).
The parts depend on this, never on the widget's class.

Pure: no traitlets, no ipywidgets, no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
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
    "page_settings",
]

logger = logging.getLogger("realtime_widget.widget")

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

# The traits a page sets, and the values it may set them to: the mic's state, the turn mode,
# and the error cleared (its close button). What else a page sends is the kernel's.
_PAGE_SETS: Final[dict[str, Callable[[Any], bool]]] = {
    "mic": lambda value: value in MIC_STATES,
    "turn_detection": lambda value: value in TURN_MODES,
    "error": lambda value: value == "",
    "page_audio": lambda value: isinstance(value, str) and len(value) <= 1000,
}


def page_settings(
    sync_data: Mapping[str, Any], scrub: Callable[[str], str]
) -> tuple[dict[str, Any], list[str]]:
    r"""The traits of a state a page sent that a page may set, to values they allow, and the
    names of the others (each logged, its value shortened and ``scrub``\ bed)."""
    taken: dict[str, Any] = {}
    refused: list[str] = []
    for name, value in sync_data.items():
        allowed = _PAGE_SETS.get(name)
        if allowed is not None and allowed(value):
            taken[name] = value
            continue
        shown = repr(value)
        shown = shown if len(shown) <= 80 else f"{shown[:77]}..."
        logger.warning(
            "ignored the page setting %r to %s: a page sets only mic, turn_detection, "
            "page_audio and error (to clear it), to values they allow",
            name,
            scrub(shown),
        )
        refused.append(name)
    return taken, refused


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
