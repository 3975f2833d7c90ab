"""The widget's item summaries in the kernel, and when the whole list goes to the browser.

:class:`ItemList` keeps the summaries in one list changed in place, so each change costs
O(1) (setting a list trait would validate, compare and send all N summaries).
:class:`SendSchedule` says when the whole list is due.

Pure: times come in as arguments; no traitlets, no ipywidgets, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from realtime_widget.widget.messages import ItemSummary, same_summary

__all__ = ["ItemList", "SendSchedule"]


class ItemList:
    """The summaries of a conversation's items, in order, in :attr:`summaries` (the
    ``items`` trait's value), changed in place and found by id through an index.

    :attr:`rev` counts the changes: a summary that says something new of its item takes the
    next revision, and so does a removal. :attr:`streamed` names the items whose text
    streamed since their summary was made; making the summary again takes the item off.
    """

    def __init__(self) -> None:
        self.summaries: list[ItemSummary] = []
        self.rev = 0
        self.streamed: set[str] = set()
        self._index: dict[str, int] = {}

    def get(self, item_id: str) -> ItemSummary | None:
        """The summary held for ``item_id``, or ``None``."""
        index = self._index.get(item_id)
        return None if index is None else self.summaries[index]

    def put(self, summary: ItemSummary) -> bool:
        """Hold ``summary`` in place of its item's (a new item goes last).

        Returns ``False``, holding nothing new, when it says the same as the summary held;
        else sets its ``rev`` to the next revision and returns ``True``.
        """
        item_id = summary["id"]
        self.streamed.discard(item_id)
        index = self._index.get(item_id)
        if index is not None and same_summary(summary, self.summaries[index]):
            return False
        self.rev += 1
        summary["rev"] = self.rev
        if index is None:
            self._index[item_id] = len(self.summaries)
            self.summaries.append(summary)
        else:
            self.summaries[index] = summary
        return True

    def remove(self, item_id: str) -> int | None:
        """Drop the item; returns the removal's revision, or ``None`` if it was not held."""
        index = self._index.pop(item_id, None)
        self.streamed.discard(item_id)
        if index is None:
            return None
        del self.summaries[index]
        for later in range(index, len(self.summaries)):
            self._index[self.summaries[later]["id"]] = later
        self.rev += 1
        return self.rev

    def follow(
        self,
        items: Iterable[Mapping[str, Any]],
        summarize: Callable[[Mapping[str, Any]], ItemSummary],
    ) -> bool:
        """Make the list follow the conversation's ``items``, in their order.

        Items placed elsewhere (an item inserted mid-conversation went last) move, items not
        held get a summary from ``summarize`` and the next revision, items gone are dropped
        (the change takes a revision). O(N); returns whether anything changed.
        """
        items = list(items)
        if len(items) == len(self.summaries) and all(
            str(item.get("id")) == held["id"]
            for item, held in zip(items, self.summaries, strict=True)
        ):
            return False
        order: list[ItemSummary] = []
        for item in items:
            held = self.get(str(item.get("id")))
            if held is None:
                self.rev += 1
                held = summarize(item)
                held["rev"] = self.rev
            order.append(held)
        self.rev += 1  # the removals and moves
        kept = {summary["id"] for summary in order}
        self.streamed &= kept
        self.summaries[:] = order
        self._index = {summary["id"]: index for index, summary in enumerate(order)}
        return True


@dataclass(slots=True)
class SendSchedule:
    """When the whole list is due: once neither an item changed nor anything streamed for
    ``quiet`` seconds, and at the latest ``longest`` seconds after the first change not yet
    sent."""

    quiet: float
    longest: float
    first: float | None = None  # the first change not yet sent
    last: float = 0.0  # the last change or streamed piece

    @property
    def pending(self) -> bool:
        """Whether a change has not been sent yet."""
        return self.first is not None

    def changed(self, now: float) -> None:
        """An item changed at ``now``."""
        if self.first is None:
            self.first = now
        self.last = now

    def streamed(self, now: float) -> None:
        """A piece streamed at ``now`` (the conversation is not quiet)."""
        self.last = now

    def sent(self) -> None:
        """The whole list went out: nothing is pending."""
        self.first = None

    def wait(self, now: float) -> float | None:
        """Seconds until the list is due (0 when it is), ``None`` when nothing is pending."""
        if self.first is None:
            return None
        due = min(self.last + self.quiet, self.first + self.longest)
        return max(0.0, due - now)
