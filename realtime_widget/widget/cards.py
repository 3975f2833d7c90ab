"""`CallCards`: what a function call's card shows beyond its item: the tool's run and result.

A call's record runs from its ``function_call`` item completing to the
``function_call_output`` answering it, which marks it ``done`` or ``error`` with the
milliseconds it took and the output. An MCP call's runs from when the card first saw its
``mcp_call`` item to the item's status ``completed`` (``done``) or ``failed`` (``error``).
Calls are found by ``call_id`` through an index, so a look-up costs the same however long
the conversation.

No traitlets, no I/O: the client is only read.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from realtime_widget.widget.messages import CallRecord, call_failed

if TYPE_CHECKING:
    from realtime_widget.client.client import RealtimeClient

__all__ = ["CallCards"]


class CallCards:
    """The tool calls of one client's conversation, as their cards show them."""

    def __init__(self, client: RealtimeClient) -> None:
        self._client = client
        self._records: dict[str, CallRecord] = {}  # by call_id
        self._items: dict[str, str] = {}  # function call item ids, by call_id
        self._failed: set[str] = set()
        self._mcp: dict[str, CallRecord] = {}  # MCP calls, by item id
        for item in client.get_conversation_items():
            self._index(item)

    def record(self, item: Mapping[str, Any]) -> CallRecord | None:
        """The record of the call ``item`` makes or answers, if there is one."""
        if item.get("type") == "mcp_call":
            return self._mcp_call(item)
        call_id = item.get("call_id")
        return self._records.get(call_id) if isinstance(call_id, str) else None

    def appended(self, item: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """An item was appended; returns the call item whose card it changes, if it answers
        one. The answer marks the call ``error`` when the client reported its tool failing
        (:meth:`failed`) or the output is the ``{"error": ...}`` sent for a failed tool
        (:func:`call_failed`), else ``done``; a call never seen running is timed from its
        answer."""
        self._index(item)
        call_id = item.get("call_id")
        if item.get("type") != "function_call_output" or not isinstance(call_id, str):
            return None
        output = str(item.get("output") or "")
        record = self._records.get(call_id) or CallRecord("running", time.monotonic())
        failed = call_id in self._failed or call_failed(output)
        self._records[call_id] = CallRecord(
            "error" if failed else "done",
            record.started,
            ms=round((time.monotonic() - record.started) * 1000),
            output=output,
        )
        return self._call_of(call_id)

    def completed(self, item: Mapping[str, Any]) -> None:
        """An item was completed: a function call's tool starts (a call already recorded
        keeps its record)."""
        call_id = item.get("call_id")
        if item.get("type") == "function_call" and isinstance(call_id, str):
            self._records.setdefault(call_id, CallRecord("running", time.monotonic()))
        self._index(item)

    def failed(self, call_id: object) -> None:
        """The client reported the tool of ``call_id`` failing."""
        if isinstance(call_id, str):
            self._failed.add(call_id)

    def _mcp_call(self, item: Mapping[str, Any]) -> CallRecord:
        item_id = str(item.get("id"))
        record = self._mcp.get(item_id) or CallRecord("running", time.monotonic())
        status = item.get("status")
        if record.state == "running" and status in ("completed", "failed"):
            ms = round((time.monotonic() - record.started) * 1000)
            record = CallRecord("done" if status == "completed" else "error", record.started, ms=ms)
        self._mcp[item_id] = record
        return record

    def _index(self, item: Mapping[str, Any]) -> None:
        call_id = item.get("call_id")
        if item.get("type") == "function_call" and isinstance(call_id, str):
            self._items[call_id] = str(item.get("id"))

    def _call_of(self, call_id: str) -> Mapping[str, Any] | None:
        """The function call item with ``call_id``, if the conversation holds it."""
        item_id = self._items.get(call_id)
        known = self._client.conversation.get_item(item_id) if item_id is not None else None
        return known if known is not None and known.get("call_id") == call_id else None
