"""`ItemSync`: the conversation's items as the browser gets them, one change at a time.

A summary that says something new goes out at once as an ``item`` message (a deleted item
as ``item_removed``), so a change costs the same however long the conversation. The whole
list goes out (to ``publish``) only when a :class:`SendSchedule` says, on a timer of the
running loop; without a running loop nothing could send it later, so it goes at once.

No traitlets: what the widget does with the list is its ``publish``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from realtime_widget.widget.cards import CallCards
from realtime_widget.widget.items import ItemList, SendSchedule
from realtime_widget.widget.messages import ItemSummary, SendMessage, summarize_item

if TYPE_CHECKING:
    from realtime_widget.client.client import RealtimeClient

__all__ = ["ItemSync"]


class ItemSync:
    """The item summaries of one widget's conversation; ``quiet`` and ``longest`` are its
    :class:`SendSchedule`'s."""

    def __init__(
        self,
        client: RealtimeClient,
        calls: CallCards,
        send: SendMessage,
        publish: Callable[[list[ItemSummary], list[ItemSummary]], None],
        *,
        quiet: float,
        longest: float,
    ) -> None:
        self._client = client
        self._calls = calls
        self._send = send
        self._publish = publish
        self._heard: dict[str, str] = {}  # transcripts of items cut by an interruption
        self._truncated: dict[str, int] = {}  # where they were cut, in ms
        self._full: dict[str, int] = {}  # the audio they held then, in ms
        self._forgotten: set[str] = set()  # deleted by a new conversation, not yet confirmed
        self._list = ItemList()
        for item in client.get_conversation_items():
            self._list.put(self.summary(item))
        self._schedule = SendSchedule(quiet, longest)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._published: list[ItemSummary] = list(self._list.summaries)

    @property
    def summaries(self) -> list[ItemSummary]:
        """The summaries in order: one list, changed in place (the ``items`` trait's value)."""
        return self._list.summaries

    @property
    def rev(self) -> int:
        """The revision now (see :mod:`realtime_widget.widget.messages`)."""
        return self._list.rev

    def summary(self, item: Mapping[str, Any]) -> ItemSummary:
        """The summary of ``item`` as it is now (not held)."""
        item_id = str(item.get("id"))
        return summarize_item(
            item,
            call=self._calls.record(item),
            heard_transcript=self._heard.get(item_id),
            truncated_ms=self._truncated.get(item_id),
            full_ms=self._full.get(item_id),
            approval=self._approval(item),
        )

    def _approval(self, item: Mapping[str, Any]) -> str:
        """The state of an MCP approval request: pending, approved, denied or ``""``."""
        if item.get("type") != "mcp_approval_request":
            return ""
        approvals = self._client.mcp_approvals
        item_id = str(item.get("id"))
        if item_id in approvals.pending:
            return "pending"
        answered = approvals.answered.get(item_id)
        return "" if answered is None else "approved" if answered else "denied"

    def put(self, item: Mapping[str, Any]) -> None:
        """Summarize the item again (with its tool call's record, the transcript heard of it
        if a truncation dropped its own, and where it was cut); if that says something new,
        send it and note the change."""
        summary = self.summary(item)
        if self._list.put(summary):
            self._send({"type": "item", "item": summary})
            self._changed()

    def heard(self, item_id: str, transcript: str) -> None:
        """What was heard of an item cut short: shown if a truncation drops its transcript."""
        self._heard[item_id] = transcript

    def holding(self, item_id: str, audio_ms: int) -> None:
        """The item held ``audio_ms`` of audio when playback was cut: its summary says so
        once it is truncated."""
        self._full[item_id] = audio_ms

    def forget(self, item_ids: list[str]) -> None:
        """These items are being deleted (a new conversation): nothing more is cut in them."""
        self._forgotten.update(item_ids)

    def forgotten(self, item_id: str) -> bool:
        """Whether the item is being deleted by a new conversation."""
        return item_id in self._forgotten

    def truncated(self, item_id: str, end_ms: int) -> None:
        """The item's audio was cut at ``end_ms`` (an item the conversation lacks is ignored)."""
        item = self._client.conversation.get_item(item_id)
        if item is not None:
            self._truncated[item_id] = end_ms
            self.put(item)

    def removed(self, item_id: str) -> None:
        """The item was deleted."""
        self._heard.pop(item_id, None)
        self._truncated.pop(item_id, None)
        self._full.pop(item_id, None)
        self._forgotten.discard(item_id)
        rev = self._list.remove(item_id)
        if rev is not None:
            self._send({"type": "item_removed", "item_id": item_id, "rev": rev})
            self._changed()

    def streamed(self, item_id: str) -> None:
        """A piece of the item streamed (sent as a ``delta`` or ``audio`` message): the
        conversation is not quiet, and the item's summary lacks it."""
        self._list.streamed.add(item_id)
        self._schedule.streamed(time.monotonic())

    def catch_up(self) -> list[ItemSummary]:
        """A page starts: send the whole list if it lacks a change; returns what streamed.

        That is the summary of each item whose text streamed since its summary was made,
        with the revision of the summary held.
        """
        if self._schedule.pending:
            self.send_all()
        summaries: list[ItemSummary] = []
        for item_id in list(self._list.streamed):
            item = self._client.conversation.get_item(item_id)
            held = self._list.get(item_id)
            if item is None or held is None:
                self._list.streamed.discard(item_id)
                continue
            summary = self.summary(item)
            summary["rev"] = held["rev"]  # the same summary, with what streamed since
            summaries.append(summary)
        return summaries

    def start_afresh(self) -> None:
        """Every item goes. Connected: the answer under way is cancelled, the input audio
        cleared, each item deleted on the server (they leave the view as it confirms).
        Not connected: the conversation is cleared here, the list sent at once."""
        client = self._client
        ids = [str(item.get("id")) for item in client.get_conversation_items()]
        if client.is_connected():
            self.forget(ids)
            client.cancel_response()
            client.clear_input_audio()
            for item_id in ids:
                client.realtime.send("conversation.item.delete", {"item_id": item_id})
        else:
            client.conversation.clear()
            self.send_all()

    def send_all(self) -> None:
        """Send the whole list now, in the conversation's order (to ``publish``)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._list.follow(self._client.get_conversation_items(), self.summary)
        old, self._published = self._published, list(self._list.summaries)
        self._publish(old, self._list.summaries)
        self._schedule.sent()  # also when a hold_sync() holds it: it goes out then

    def state_sent(self) -> None:
        """The whole list went out with the widget's state: nothing is pending."""
        self._schedule.sent()

    def close(self) -> None:
        """Stop the timer: nothing goes out later."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _changed(self) -> None:
        """An item changed: the whole list goes out when the schedule says (one timer)."""
        self._schedule.changed(time.monotonic())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # nothing could send it later
            self.send_all()
            return
        if self._timer is not None and self._timer_loop is loop:
            return  # when it fires, it looks at the schedule again
        if self._timer is not None:
            self._timer.cancel()
        wait = self._schedule.wait(time.monotonic()) or 0.0
        self._timer = loop.call_later(wait, self._due)
        self._timer_loop = loop

    def _due(self) -> None:
        self._timer = None
        wait = self._schedule.wait(time.monotonic())
        if wait is None:
            return  # sent meanwhile (a page asked for the state)
        if wait > 0.001:
            self._timer = asyncio.get_running_loop().call_later(wait, self._due)
            return
        self.send_all()
