"""`McpApprovals`: the MCP approval requests of a client's sessions, and their answers.

An ``mcp_approval_request`` item that is done is pending until answered, once: by the
handler for its server (``client.on_mcp_approval`` or a ``require_approval`` function; it
runs in a task of its own when it returns an awaitable), else by
:meth:`McpApprovals.answer` (the widget's approve and deny buttons). An answer sends an
``mcp_approval_response`` item, then a ``response.create`` (held back while a response runs:
the model goes on once it is done). A handler that fails denies the request and reports an
``error`` of type ``tool_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from realtime_widget.client.responses import ActiveResponses
from realtime_widget.client.transport import Transport
from realtime_widget.core.errors import ToolError, UsageError
from realtime_widget.core.ids import generate_id
from realtime_widget.core.protocol import ErrorEvent

__all__ = ["McpApprovals", "McpApprover"]

logger = logging.getLogger("realtime_widget.client")

McpApprover = Callable[[dict[str, Any]], Any]
"""Decides an MCP approval request: given the request item, returns ``True`` / ``False``
(or an awaitable of one, or ``(approve, reason)``)."""


def _decision(value: Any) -> tuple[bool, str | None]:
    """A handler's result as ``(approve, reason)``; UsageError for anything else."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        reason = value[1]
        if reason is not None and not isinstance(reason, str):
            raise UsageError(f"an approval reason must be a string, got {reason!r}")
        return value[0], reason
    if isinstance(value, bool):
        return value, None
    raise UsageError(
        f"an MCP approval handler must return True, False or (bool, reason), got {value!r}"
    )


class McpApprovals:
    """The approval requests pending and answered (see the module docstring).

    Answers go out through ``api`` while ``ready()``; ``approvers`` are the handlers by
    server label (``None``: every server), the client's own dict; ``active`` the responses
    running.
    """

    def __init__(
        self,
        api: Transport,
        dispatch: Callable[[str, Any], object],
        ready: Callable[[], bool],
        approvers: dict[str | None, McpApprover],
        active: ActiveResponses,
    ) -> None:
        self._api = api
        self._dispatch = dispatch
        self._ready = ready
        self._approvers = approvers
        self._active = active
        self.pending: dict[str, dict[str, Any]] = {}  # request id -> the request item
        self.answered: dict[str, bool] = {}  # request id -> approved
        self._tasks: set[asyncio.Task[Any]] = set()

    def requested(self, item: Mapping[str, Any]) -> None:
        """An ``mcp_approval_request`` item is done: ask its handler, or keep it pending."""
        request_id = item.get("id")
        if not isinstance(request_id, str) or request_id in self.answered:
            return
        request = {k: v for k, v in item.items() if k != "formatted"}
        self.pending[request_id] = request
        approvers = self._approvers
        handler = approvers.get(str(item.get("server_label")), approvers.get(None))
        if handler is None:
            return
        try:
            result = handler(dict(request))
        except Exception as exc:
            self._failed(request_id, exc)
            return
        if not inspect.isawaitable(result):
            self._decide(request_id, result)
            return

        async def wait() -> None:
            try:
                value = await result
            except Exception as exc:
                self._failed(request_id, exc)
                return
            self._decide(request_id, value)

        task = asyncio.get_running_loop().create_task(wait(), name=f"mcp-approval-{request_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _decide(self, request_id: str, value: Any) -> None:
        try:
            approve, reason = _decision(value)
        except UsageError as exc:
            self._failed(request_id, exc)
            return
        if request_id in self.pending and self._ready():
            self.answer(request_id, approve, reason)

    def _failed(self, request_id: str, exc: BaseException) -> None:
        name = str(self.pending.get(request_id, {}).get("name") or "")
        failed: ErrorEvent = {
            "type": "tool_error",
            "error": ToolError(f"the MCP approval handler failed: {exc}", tool=name),
        }
        self._dispatch("error", failed)
        if request_id in self.pending and self._ready():
            self.answer(request_id, False, "the approval handler failed")

    def answer(self, request_id: str, approve: bool, reason: str | None = None) -> dict[str, Any]:
        """Approve or deny request ``request_id``; returns the ``mcp_approval_response`` sent.

        Raises UsageError when no such request is pending (unknown, or answered already),
        or when the session is not ready.
        """
        if not isinstance(approve, bool):
            raise UsageError(f"approve must be True or False, got {approve!r}")
        if reason is not None and not isinstance(reason, str):
            raise UsageError(f"reason must be a string, got {reason!r}")
        if request_id not in self.pending:
            raise UsageError(f"no MCP approval request {request_id!r} is pending")
        if not self._ready():
            raise UsageError("cannot answer an MCP approval request: the session is not ready")
        del self.pending[request_id]
        self.answered[request_id] = approve
        item: dict[str, Any] = {
            "type": "mcp_approval_response",
            "id": generate_id("item_"),
            "approval_request_id": request_id,
            "approve": approve,
        }
        if reason is not None:
            item["reason"] = reason
        self._api.send("conversation.item.create", {"item": item})
        if self._active:
            self._active.deferred = True  # asked for once the running response is done
        else:
            self._api.send("response.create")
        return item

    def clear(self) -> None:
        """Forget every request and handler (the client was reset)."""
        self._approvers.clear()
        self.pending.clear()
        self.answered.clear()

    def cancel(self) -> None:
        """Cancel the handlers still deciding."""
        for task in list(self._tasks):
            task.cancel()

    async def wait(self) -> None:
        """Wait until the handlers' tasks have ended."""
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
