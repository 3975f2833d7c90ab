"""`ClientEvents`: the events a client dispatches, and the waits on them.

- Every event a client dispatches has its shape in
  :data:`realtime_widget.core.protocol.CLIENT_EVENTS`; the helpers here build the ones the
  client sends from many places: ``error`` (:meth:`ClientEvents._report`), ``realtime.event``
  (only when a handler listens), ``conversation.item.appended`` and
  ``conversation.item.completed`` (once per item, whatever completes it).
- A handler that raises is reported as an ``error`` of type ``handler_error`` (naming the
  event), except a handler of ``error`` itself, which is only logged.
- The waits take seconds (``None``: no limit) and resolve with ``None`` on timeout.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

from realtime_widget.core.events import EventCallback, RealtimeEventHandler
from realtime_widget.core.protocol import (
    ConversationItem,
    ConversationUpdatedEvent,
    Delta,
    ErrorEvent,
    ItemEvent,
    RealtimeLogEvent,
)

__all__ = ["ClientEvents"]


class ClientEvents(RealtimeEventHandler):
    """A client's dispatching side (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._completed: set[str] = set()  # the ids of the items completed so far

    # -- dispatching ----------------------------------------------------------------------

    def _report(self, error: ErrorEvent) -> None:
        self.dispatch("error", error)

    def _log_event(self, source: Literal["client", "server"], event: dict[str, Any]) -> None:
        if self._matching("realtime.event"):
            now = datetime.now(UTC).isoformat()
            logged: RealtimeLogEvent = {"time": now, "source": source, "event": event}
            self.dispatch("realtime.event", logged)

    def _dispatch_updated(self, item: ConversationItem, delta: Delta | None) -> None:
        updated: ConversationUpdatedEvent = {"item": item, "delta": delta}
        self.dispatch("conversation.updated", updated)

    def _dispatch_item(self, name: str, item: ConversationItem) -> None:
        event: ItemEvent = {"item": item}
        self.dispatch(name, event)

    def _complete(self, item: ConversationItem) -> None:
        """Dispatch ``conversation.item.completed`` for ``item``, unless it was already."""
        item_id = item.get("id")
        if item_id in self._completed:
            return
        self._completed.add(str(item_id))
        self._dispatch_item("conversation.item.completed", item)

    def _forget_completed(self) -> None:
        self._completed.clear()

    def report_handler_error(
        self, event_name: str, callback: EventCallback, exc: BaseException
    ) -> None:
        super().report_handler_error(event_name, callback, exc)
        if event_name != "error":
            self._report({"type": "handler_error", "error": exc, "event": event_name})

    # -- waiting --------------------------------------------------------------------------

    async def wait_for_next_item(self, timeout: float | None = None) -> dict[str, Any]:
        """``{"item": item}`` for the next item appended (``None`` on timeout)."""
        event = await self.wait_for_next("conversation.item.appended", timeout)
        return {"item": event["item"] if event else None}

    async def wait_for_next_completed_item(self, timeout: float | None = None) -> dict[str, Any]:
        """``{"item": item}`` for the next item completed (``None`` on timeout)."""
        event = await self.wait_for_next("conversation.item.completed", timeout)
        return {"item": event["item"] if event else None}

    async def wait_for_answer(self, timeout: float | None = None) -> ConversationItem | None:
        """The next assistant message to complete, or ``None`` after ``timeout`` seconds.

        Tool calls on the way are run as usual, so after ``send_user_message_content`` this
        returns the answer that follows them. Call it right after sending: it sees every item
        completed from the moment it is called, none missed.
        """
        future: asyncio.Future[ConversationItem] = asyncio.get_running_loop().create_future()

        def on_completed(event: ItemEvent) -> None:
            item = event["item"]
            is_answer = item.get("type") == "message" and item.get("role") == "assistant"
            if is_answer and not future.done():
                future.set_result(item)

        self.on("conversation.item.completed", on_completed)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can lose a cancellation
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return None
        finally:
            self.off("conversation.item.completed", on_completed)
