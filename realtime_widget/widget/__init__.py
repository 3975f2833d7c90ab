"""The notebook widget: :class:`RealtimeWidget` (the only module here that binds anywidget
and traitlets), its parts (pure mappings from client events to traits and messages) and the
frontend assembly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime_widget.widget.widget import RealtimeWidget

__all__ = ["RealtimeWidget"]


def __getattr__(name: str) -> Any:
    """The widget class, imported on first use (its parts need no notebook stack)."""
    if name == "RealtimeWidget":
        return importlib.import_module("realtime_widget.widget.widget").RealtimeWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
