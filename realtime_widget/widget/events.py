"""`ClientMirror`: the client's events, mirrored in the widget's traits and messages.

Items and their changes go to :class:`ItemSync` (a function call's card through
:class:`CallCards`), the model's audio to :class:`Playback`, each streamed piece of text,
transcript or arguments out as a ``delta`` message, a barge-in as ``interrupt``.
``tools.updated`` sets ``tools``; each ``session.update`` sent sets ``turn_detection``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from realtime_widget.core.errors import ToolError, UsageError
from realtime_widget.widget.cards import CallCards
from realtime_widget.widget.host import WidgetHost
from realtime_widget.widget.messages import DeltaField, SendMessage
from realtime_widget.widget.options import tool_summaries
from realtime_widget.widget.playback import Playback
from realtime_widget.widget.sync import ItemSync
from realtime_widget.widget.turns import Turns

__all__ = ["ClientMirror"]

_DELTA_FIELDS: Final[tuple[DeltaField, ...]] = ("text", "transcript", "arguments")


class ClientMirror:
    """Follows the client of ``widget`` from now until :meth:`close` (the client stays as
    it is). Messages go to ``send``; texts bound for the ``error`` trait go through
    ``scrub``."""

    def __init__(
        self,
        widget: WidgetHost,
        *,
        items: ItemSync,
        calls: CallCards,
        playback: Playback,
        turns: Turns,
        send: SendMessage,
        scrub: Callable[[str], str],
    ) -> None:
        self._widget = widget
        self._items = items
        self._calls = calls
        self._playback = playback
        self._turns = turns
        self._send = send
        self._scrub = scrub
        self._close_error = ""  # the error a lost connection showed, cleared on reconnect
        self._client = client = widget.client
        self._subscriptions: list[tuple[str, Callable[[Any], None]]] = [
            ("conversation.item.appended", self._item_appended),
            ("conversation.updated", self._updated),
            ("conversation.item.completed", self._item_completed),
            ("conversation.item.truncated", self._truncated),
            ("conversation.item.deleted", self._deleted),
            ("conversation.interrupted", self._interrupted),
            ("error", self._error),
            ("close", self._close),
            ("reconnecting", self._reconnecting),
            ("reconnected", self._reconnected),
            ("tools.updated", self._tools_updated),
            ("session.update.sent", self._session_sent),
        ]
        for name, handler in self._subscriptions:
            client.on(name, handler)

    def close(self) -> None:
        """Stop following the client (once: a second call does nothing)."""
        for name, handler in self._subscriptions:
            with contextlib.suppress(UsageError):
                self._client.off(name, handler)
        self._subscriptions = []

    # -- items ----------------------------------------------------------------------------

    def _item_appended(self, event: Mapping[str, Any]) -> None:
        item = event["item"]
        call = self._calls.appended(item)
        if call is not None:
            self._items.put(call)
        self._items.put(item)

    def _updated(self, event: Mapping[str, Any]) -> None:
        item, delta = event["item"], event.get("delta")
        item_id = str(item.get("id"))
        if not delta:
            self._items.put(item)
            return
        self._items.streamed(item_id)
        audio = delta.get("audio")
        if audio is not None:
            self._playback.send(item_id, audio)
            return
        for field in _DELTA_FIELDS:
            piece = delta.get(field)
            if piece:
                self._send({"type": "delta", "item_id": item_id, "field": field, "delta": piece})

    def _item_completed(self, event: Mapping[str, Any]) -> None:
        item = event["item"]
        self._playback.done(str(item.get("id")))
        self._calls.completed(item)
        self._items.put(item)

    def _interrupted(self, event: Mapping[str, Any]) -> None:
        self._send({"type": "interrupt"})

    def _truncated(self, event: Mapping[str, Any]) -> None:
        item_id, end = event.get("item_id"), event.get("audio_end_ms")
        if isinstance(item_id, str) and isinstance(end, int | float):
            self._items.truncated(item_id, int(end))

    def _deleted(self, event: Mapping[str, Any]) -> None:
        item_id = event.get("item_id")
        if isinstance(item_id, str):
            self._items.removed(item_id)
            self._playback.removed(item_id)

    # -- session and tools ----------------------------------------------------------------

    def _tools_updated(self, event: Mapping[str, Any]) -> None:
        self._widget.tools = tool_summaries(event["tools"])

    def _session_sent(self, event: Mapping[str, Any]) -> None:
        self._turns.follow()

    # -- errors and the connection --------------------------------------------------------

    def _error(self, event: Mapping[str, Any]) -> None:
        """``error`` shows it; a tool failure also marks its card failed, and a reconnect
        that failed makes ``connection`` read ``error``."""
        widget = self._widget
        error = event.get("error")
        if isinstance(error, ToolError):
            self._calls.failed(event.get("call_id"))
        if event.get("type") == "reconnect_failed":
            widget.connection = "error"
            widget.status = ""
        if isinstance(error, BaseException):
            message = str(error)
        else:
            message = str(event.get("message") or event.get("type") or "error")
        widget.error = self._scrub(message)

    def _close(self, event: Mapping[str, Any]) -> None:
        """The open audio closes and a push-to-talk turn is dropped. A normal close reads
        ``disconnected``; any other is a loss, shown in ``error``, which reads
        ``reconnecting`` when the client says a reconnect follows, else ``error``."""
        widget = self._widget
        self._playback.close_all()
        self._turns.end()
        if not event.get("error"):
            widget.connection = "disconnected"
            return
        reason = event.get("exception") or f"connection closed (code {event.get('code')})"
        widget.error = self._close_error = self._scrub(str(reason))
        if event.get("reconnecting"):
            # the mic stays open in the browser: only "disconnected" or a final "error" stop it
            widget.connection = "reconnecting"
            widget.status = "connection lost: reconnecting"
        else:
            widget.connection = "error"

    def _reconnecting(self, event: Mapping[str, Any]) -> None:
        """Each try shows in ``status``."""
        self._widget.connection = "reconnecting"
        self._widget.status = f"connection lost: reconnecting (attempt {event.get('attempt')})"

    def _reconnected(self, event: Mapping[str, Any]) -> None:
        """``connected`` again, and the loss's error cleared."""
        widget = self._widget
        widget.connection = "connected"
        widget.status = ""
        if widget.error and widget.error == self._close_error:
            widget.error = ""
