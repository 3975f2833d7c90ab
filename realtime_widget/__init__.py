"""Talk to realtime speech models from Jupyter: a client, a widget and a local server.

The public surface::

    from realtime_widget import RealtimeClient, RealtimeWidget, LocalRealtimeServer, tool

- :class:`RealtimeClient` — config, tools, audio, responses over one realtime session.
- :class:`RealtimeWidget` — the notebook widget: microphone, playback, conversation view.
- :class:`LocalRealtimeServer` / :func:`serve_in_thread` — a local server speaking the same
  protocol with a deterministic model (no key, no network).
- :mod:`realtime_widget.testing` — test your own tools over that server (``tool_session``,
  ``call_tool``).
- The sans-I/O core: :class:`RealtimeEventHandler`, :class:`RealtimeConversation`,
  :class:`RealtimeUtils`, and the exception tree rooted at :class:`RealtimeError`.

The I/O layers (client, server, widget) are imported on first use, so importing the pure
core pulls in neither websockets nor the notebook stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from realtime_widget.audio.buffers import AudioBuffer, InputAudioBuffer
from realtime_widget.audio.utils import RealtimeUtils
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.errors import (
    AnswerTimeoutError,
    AuthenticationError,
    ConnectError,
    ConnectionClosedError,
    ConnectTimeoutError,
    DNSError,
    InvalidEventError,
    MissingKeyError,
    ProtocolError,
    RealtimeError,
    RedirectRefusedError,
    ServerError,
    ServerUnreachableError,
    ToolError,
    UnknownItemError,
    UsageError,
)
from realtime_widget.core.events import RealtimeEventHandler
from realtime_widget.tools.registry import Tool, ToolRegistry, ToolResult, tool

if TYPE_CHECKING:
    from realtime_widget.client.api import RealtimeAPI
    from realtime_widget.client.client import RealtimeClient
    from realtime_widget.server import LocalRealtimeServer, serve_in_thread
    from realtime_widget.widget.widget import RealtimeWidget

_LAZY = {
    "RealtimeAPI": ".client.api",
    "RealtimeClient": ".client.client",
    "LocalRealtimeServer": ".server",
    "serve_in_thread": ".server",
    "RealtimeWidget": ".widget.widget",
}

__version__ = "0.1.0"

__all__ = [
    "AnswerTimeoutError",
    "AudioBuffer",
    "AuthenticationError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "DNSError",
    "InputAudioBuffer",
    "InvalidEventError",
    "LocalRealtimeServer",
    "MissingKeyError",
    "ProtocolError",
    "RealtimeAPI",
    "RealtimeClient",
    "RealtimeConversation",
    "RealtimeError",
    "RealtimeEventHandler",
    "RealtimeUtils",
    "RealtimeWidget",
    "RedirectRefusedError",
    "ServerError",
    "ServerUnreachableError",
    "Tool",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "UnknownItemError",
    "UsageError",
    "__version__",
    "serve_in_thread",
    "tool",
]


# the modules the documentation names, reachable as attributes (``realtime_widget.testing``)
_MODULES = ("demo", "server", "testing")


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_widget' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names and modules, for tab completion."""
    return sorted({*__all__, *_MODULES})
