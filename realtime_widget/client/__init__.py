"""The I/O client: :class:`RealtimeAPI` (the websocket pump) and :class:`RealtimeClient`
(config, tools, audio, responses, reconnect), with the bookkeeping parts they use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime_widget.client.api import RealtimeAPI
    from realtime_widget.client.client import RealtimeClient

__all__ = ["RealtimeAPI", "RealtimeClient"]

_LAZY = {
    "RealtimeAPI": "realtime_widget.client.api",
    "RealtimeClient": "realtime_widget.client.client",
}


def __getattr__(name: str) -> Any:
    """The two classes, imported on first use (the pure parts need no websockets)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
