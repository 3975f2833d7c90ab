"""The responses a client sees running, and how it reads the items in server events.

:class:`ActiveResponses` follows the responses the server runs, oldest first, at most
:data:`MAX_ACTIVE_RESPONSES` (a server that never finishes them makes it forget the oldest,
logged), and two facts about the client's own requests. :data:`ITEM_CREATED` are the events
that add an item (or merge into one held), :data:`ITEM_DONE` those that carry its final
state. No I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "ITEM_CREATED",
    "ITEM_DONE",
    "MAX_ACTIVE_RESPONSES",
    "ActiveResponses",
    "event_item_id",
    "is_finished_input",
    "response_id",
]

logger = logging.getLogger("realtime_widget.client")  # the client's decisions, under its name

ITEM_CREATED: Final = frozenset(
    {
        "conversation.item.added",
        "conversation.item.created",
        "conversation.item.retrieved",
        "response.output_item.added",
    }
)
ITEM_DONE: Final = frozenset({"response.output_item.done", "conversation.item.done"})

MAX_ACTIVE_RESPONSES: Final = 64


def event_item_id(event: Mapping[str, Any]) -> Any:
    """The id of the item ``event`` names (unchecked: any value the event holds)."""
    item = event.get("item")
    return item.get("id") if isinstance(item, Mapping) else event.get("item_id")


def is_finished_input(item: Mapping[str, Any]) -> bool:
    """A user or system message that arrives complete (no ``.done`` follows in beta)."""
    return (
        item.get("type") == "message"
        and item.get("role") in ("user", "system")
        and item.get("status") == "completed"
    )


def response_id(event: Mapping[str, Any]) -> str | None:
    """The id of the ``response`` of a ``response.*`` event, when it has a string one."""
    response = event.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("id"), str):
        return str(response["id"])
    return None


class ActiveResponses:
    """The responses the server runs, oldest first (see the module docstring).

    ``in`` and ``len`` read the running response ids; it is true while any runs.
    """

    def __init__(self) -> None:
        self._running: dict[str, None] = {}
        self.deferred = False  # a response.create was refused while one ran
        self.cancel_sent = False  # a response.cancel of ours may race the response's end

    def __contains__(self, response: object) -> bool:
        return response in self._running

    def __len__(self) -> int:
        return len(self._running)

    def __bool__(self) -> bool:
        return bool(self._running)

    def newest(self) -> str | None:
        """The id of the response started last, or ``None`` when none runs."""
        return next(reversed(self._running), None)

    def started(self, event: Mapping[str, Any]) -> None:
        """``response.created``: its response runs (the oldest is forgotten past the bound)."""
        started = response_id(event)
        if started is None:
            return
        self._running[started] = None
        if len(self._running) > MAX_ACTIVE_RESPONSES:
            oldest = next(iter(self._running))
            del self._running[oldest]
            logger.warning(
                "%d responses started and none finished: forgot %s",
                MAX_ACTIVE_RESPONSES,
                oldest,
            )

    def done(self, event: Mapping[str, Any]) -> str | None:
        """``response.done``: its response runs no more; returns its id (``None``: none)."""
        finished = response_id(event)
        if finished is not None:
            self._running.pop(finished, None)
        return finished

    def create_due(self) -> bool:
        """Whether a deferred ``response.create`` may go now (no response runs)."""
        return self.deferred and not self._running

    def clear(self) -> None:
        """No response runs any more (the server cancelled them)."""
        self._running.clear()

    def end_session(self) -> None:
        """The session is over: no response runs, and nothing asked of it is pending."""
        self._running.clear()
        self.deferred = False
        self.cancel_sent = False
