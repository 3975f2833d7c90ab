"""`Transport`: what a :class:`~realtime_widget.client.client.RealtimeClient` needs of the
connection under it.

:class:`~realtime_widget.client.api.RealtimeAPI` (a websocket to a realtime server) is one;
any object with these members can take its place (``RealtimeClient(transport=...)``): one that
records frames, relays them, or speaks another wire. Its contract:

- ``await connect()`` opens the connection (the :class:`ConnectError` family when it cannot;
  :class:`UsageError` when connected or connecting already) within ``open_timeout`` seconds,
  which the client sets before each connect.
- Handlers added with ``on`` get each received server event as ``server.<type>``, each sent
  event as ``client.<type>`` (as sent, ``event_id`` included), a frame it cannot read as
  ``error`` (``{type: "protocol_error", error, message}``) and the loss of the connection as
  ``close`` (:class:`~realtime_widget.core.protocol.TransportCloseEvent`), but not a close
  asked for with ``disconnect()``.
- ``send(type, payload)`` queues an event at once; ``send_paced`` first waits for room. Both
  raise, with nothing sent: :class:`UsageError` (not connected, not JSON, too big, queue
  full) or :class:`ConnectionClosedError` (the peer or the network ended the connection).
- ``disconnect()`` closes the connection and returns an awaitable done once it is closed.
- ``raise_if_closed(action)`` raises :class:`ConnectionClosedError` when the peer or the
  network ended the last connection, naming ``action``; else returns.
- ``url`` is the address as displayed (credentials blanked), ``model`` the model asked for,
  ``dialect`` the protocol's dialect, and ``redactor`` blanks every credential the
  connection sends.
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
    """The connection under a client (see the module contract)."""

    open_timeout: float

    @property
    def url(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def dialect(self) -> Dialect: ...

    @property
    def redactor(self) -> Redactor: ...

    def on(self, event_name: str, callback: C) -> C: ...

    def is_connected(self) -> bool: ...

    async def connect(self) -> None: ...

    def disconnect(self) -> Awaitable[None]: ...

    def send(self, event_type: str, payload: Mapping[str, Any] | None = None) -> bool: ...

    async def send_paced(
        self, event_type: str, payload: Mapping[str, Any] | None = None
    ) -> bool: ...

    def raise_if_closed(self, action: str) -> None: ...
