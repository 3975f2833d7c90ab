"""`ResponseLog`: the responses a conversation has seen, the newest :data:`MAX_RESPONSES`.

Each is the server's dict with ``output`` as item ids; :func:`copy_response` checks an
event's ``response`` before anything is stored. A response whose ``conversation_id`` is
null is outside the conversation (out of band): its items are kept in
:class:`OutOfBandItems`, the newest :data:`MAX_OUT_OF_BAND_ITEMS`. Plain data (dataclasses
that compare by value); no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from realtime_widget.core.eventfields import MISSING, bad, need_dict
from realtime_widget.core.protocol import ConversationItem

__all__ = [
    "MAX_OUT_OF_BAND_ITEMS",
    "MAX_RESPONSES",
    "OutOfBandItems",
    "ResponseLog",
    "copy_response",
]

MAX_RESPONSES: Final = 1024
"""How many responses a conversation remembers; past it the oldest is forgotten (its items
stay)."""

MAX_OUT_OF_BAND_ITEMS: Final = 256
"""How many items of responses outside the conversation are kept; past it the oldest go."""

NewItem = Callable[[str, object, str], ConversationItem]
"""Builds a checked item from ``(event type, value, field)``."""


def copy_response(
    etype: str, event: dict[str, Any], new_item: NewItem
) -> tuple[dict[str, Any], list[ConversationItem]]:
    """A checked copy of ``event["response"]`` (``output`` as ids) and its output items,
    each built by ``new_item``. Raises :class:`InvalidEventError` naming the field."""
    response = dict(need_dict(etype, event.get("response", MISSING), "response"))
    response_id = response.get("id", MISSING)
    if not isinstance(response_id, str) or not response_id:
        raise bad(etype, "response.id", response_id, "a non-empty string")
    output = response.get("output")
    items: list[ConversationItem] = []
    if output is not None:
        if not isinstance(output, list):
            raise bad(etype, "response.output", output, "a list")
        ids = []
        for i, entry in enumerate(output):
            if isinstance(entry, str):
                ids.append(entry)
                continue
            item = new_item(etype, entry, f"response.output[{i}]")
            items.append(item)
            ids.append(item["id"])
        response["output"] = ids
    return response, items


@dataclass
class ResponseLog:
    """The responses seen, oldest first (see the module docstring)."""

    limit: int = MAX_RESPONSES
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.responses)

    def get(self, response_id: str) -> dict[str, Any] | None:
        """The response with ``response_id``, or ``None`` (never seen, or forgotten)."""
        return self.responses.get(response_id)

    def clear(self) -> None:
        self.responses.clear()

    def created(self, response: dict[str, Any]) -> None:
        """Store a checked ``response.created`` response, or merge it into the one held."""
        stored = self.responses.get(response["id"])
        if stored is None:
            response.setdefault("output", [])
            self._remember(response)
            return
        output = stored.get("output") or []
        for key, value in response.items():
            if key != "output" and value is not None:
                stored[key] = value
        stored["output"] = output + [i for i in response.get("output") or () if i not in output]

    def done(self, response: dict[str, Any]) -> None:
        """Merge a checked ``response.done`` response into the one held (stored if none)."""
        stored = self.responses.get(response["id"])
        if stored is None:
            stored = self._remember({"id": response["id"], "output": []})
        for key, value in response.items():
            if value is not None or key not in stored:
                stored[key] = value

    def out_of_band(self, response_id: object) -> bool:
        """Whether ``response_id`` is a response held that is outside the conversation."""
        response = self.responses.get(response_id) if isinstance(response_id, str) else None
        return (
            response is not None
            and "conversation_id" in response
            and (response["conversation_id"] is None)
        )

    def add_output(self, response_id: str | None, item_id: str) -> None:
        """List ``item_id`` in the output of ``response_id``, when that response is held."""
        response = self.responses.get(response_id) if response_id is not None else None
        if response is not None:
            output = response.setdefault("output", [])
            if item_id not in output:
                output.append(item_id)

    def _remember(self, response: dict[str, Any]) -> dict[str, Any]:
        self.responses[response["id"]] = response
        if len(self.responses) > self.limit:
            del self.responses[next(iter(self.responses))]
        return response


@dataclass
class OutOfBandItems:
    """The items of responses outside the conversation, oldest first, by id."""

    limit: int = MAX_OUT_OF_BAND_ITEMS
    items: dict[str, ConversationItem] = field(default_factory=dict)

    def get(self, item_id: object) -> ConversationItem | None:
        """The item ``item_id``, or ``None``."""
        return self.items.get(item_id) if isinstance(item_id, str) else None

    def add(self, item: ConversationItem) -> None:
        """Keep a checked new item (the oldest forgotten past :attr:`limit`)."""
        self.items[item["id"]] = item
        if len(self.items) > self.limit:
            del self.items[next(iter(self.items))]

    def clear(self) -> None:
        self.items.clear()
