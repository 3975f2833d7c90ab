"""A Jupyter Server extension: send kernel messages to the browser without Nagle's delay.

The widget relays audio and barge-in messages from the kernel to the page over the Jupyter
server's kernel websocket. Tornado leaves Nagle's algorithm on for that socket, so a small
message written while an earlier one is still unacknowledged waits for the browser's delayed
ACK: up to about 40 ms on Linux, which is most of the latency between the model's voice
arriving in the kernel and the page playing it, and of the time a barge-in takes to silence
playback.

Loaded by Jupyter Server (installing the package enables it through
``etc/jupyter/jupyter_server_config.d/realtime_widget.json``; ``jupyter server extension
disable realtime_widget.serverext`` turns it off), it wraps whatever kernel websocket
connection class the server is configured with in a subclass that sets ``TCP_NODELAY`` on
each kernel websocket as it connects. Nothing else changes: the same class, the same
messages, only sent as soon as they are written. Kernels, the widget and the client work the
same without it; the page just hears the model later.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["NODELAY_MARK", "no_delay_connection_class"]

# Set on the classes this module makes, so that loading the extension twice wraps once.
NODELAY_MARK = "_realtime_widget_nodelay"


def no_delay_connection_class(base: type[Any]) -> type[Any]:
    """A subclass of the kernel websocket connection class ``base`` whose ``connect()``
    first sets ``TCP_NODELAY`` on its websocket; ``base`` itself when it already does."""
    if getattr(base, NODELAY_MARK, False):
        return base

    def connect(self: Any) -> Any:
        handler: Any = getattr(self, "websocket_handler", None)
        try:
            handler.set_nodelay(True)
        except Exception as error:  # a socket already closed, a handler of another kind
            logging.getLogger(__name__).debug("TCP_NODELAY not set: %r", error)
        return base.connect(self)

    return type(
        base.__name__,
        (base,),
        {
            "connect": connect,
            NODELAY_MARK: True,
            "__module__": __name__,
            "__qualname__": base.__qualname__,
            "__doc__": f"{base.__qualname__}, its websocket sent without Nagle's delay.",
        },
    )


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    settings = serverapp.web_app.settings
    base = settings.get("kernel_websocket_connection_class")
    if not isinstance(base, type):
        serverapp.log.warning("realtime_widget: no kernel websocket connection class to wrap")
        return
    settings["kernel_websocket_connection_class"] = no_delay_connection_class(base)
    serverapp.log.info("realtime_widget: kernel websockets send without Nagle's delay")
