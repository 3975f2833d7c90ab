"""`Transport`: what a :class:`~realtime_widget.client.client.RealtimeClient` needs of the
connection under it.

:class:`~realtime_widget.client.api.RealtimeAPI` (a websocket to a realtime server) is one; any
object with these members can take its place (``RealtimeClient(transport=...)``): one that
records frames, relays them, or speaks another wire. Each member states its contract.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

from realtime_widget.core.events import EventCallback
from realtime_widget.core.protocol import Dialect
from realtime_widget.core.redaction import Redactor

__all__ = ["Transport"]

C = TypeVar("C", bound=EventCallback)


@runtime_checkable
class Transport(Protocol):
    """The connection under a client."""

    open_timeout: float
    """The seconds :meth:`connect` may take (the client sets it before each connect)."""

    @property
    def url(self) -> str:
        """The server's address as displayed: credentials in it blanked."""
        ...

    @property
    def model(self) -> str:
        """The model the connection asks for."""
        ...

    @property
    def dialect(self) -> Dialect:
        """The protocol's dialect: ``"ga"`` or ``"beta"``."""
        ...

    @property
    def redactor(self) -> Redactor:
        """Blanks every credential the connection sends."""
        ...

    def on(self, event_name: str, callback: C) -> C:
        """Call ``callback(event)`` for each event matching ``event_name`` (``*`` wildcards):
        ``server.<type>`` for each server event received; ``client.<type>`` for each event
        sent, as sent (``event_id`` included); ``error`` ``{type: "protocol_error", error,
        message}`` for a frame that cannot be read; ``close``
        (:class:`~realtime_widget.core.protocol.TransportCloseEvent`) when the connection is
        lost, but not after :meth:`disconnect`."""
        ...

    def is_connected(self) -> bool:
        """Whether the connection is open."""
        ...

    async def connect(self) -> None:
        """Open the connection within :attr:`open_timeout` seconds.

        Raises the :class:`ConnectError` family when it cannot, :class:`UsageError` when
        connected or connecting already.
        """
        ...

    def disconnect(self) -> Awaitable[None]:
        """Close the connection; the awaitable returned is done once it is closed."""
        ...

    def send(self, event_type: str, payload: Mapping[str, Any] | None = None) -> bool:
        """Queue a client event at once; returns ``True``.

        Raises, with nothing sent: :class:`UsageError` (not connected, not JSON, too big,
        the queue full) or :class:`ConnectionClosedError` (the peer or the network ended
        the connection).
        """
        ...

    async def send_paced(self, event_type: str, payload: Mapping[str, Any] | None = None) -> bool:
        """:meth:`send`, after waiting for room in the queue."""
        ...

    def raise_if_closed(self, action: str) -> None:
        """Raise :class:`ConnectionClosedError` naming ``action`` when the peer or the network
        ended the last connection; return otherwise."""
        ...
