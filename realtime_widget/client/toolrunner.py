"""`ToolCalls`: the function calls the model makes, run and answered for one client.

A ``function_call`` item that is done runs once, its handler in a task of its own
(:func:`~realtime_widget.tools.registry.run_tool`); a tool only defined (``add_tool``) is left
to the caller, an unknown one is answered with an error. Every call is answered exactly once,
a failure too (``{"error": ...}``, and an ``error`` event of type ``tool_error``): the model is
never left waiting. An answer goes out when the session is ready, else once the next one is
(:meth:`~ToolCalls.send_unsent`), and the ``response.create`` it makes due
(:class:`~realtime_widget.client.owed.OwedCalls`) with it. Every task is kept until it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from realtime_widget.client.owed import OwedCalls
from realtime_widget.client.transport import Transport
from realtime_widget.core.errors import ToolError
from realtime_widget.core.protocol import ErrorEvent
from realtime_widget.core.session import SessionConfig
from realtime_widget.tools.registry import Tool, ToolRegistry, ToolResult, run_tool

__all__ = ["ToolCalls"]


class ToolCalls:
    """The function calls of a client's sessions (see the module docstring).

    Answers go out through ``api``; ``dispatch(name, event)`` reports tool failures;
    ``ready()`` tells whether the session is set up (answers go out at once). ``calls`` are
    the calls owed, shared with the client's decisions (a fresh record when not given).
    """

    def __init__(
        self,
        api: Transport,
        dispatch: Callable[[str, Any], object],
        ready: Callable[[], bool],
        calls: OwedCalls | None = None,
    ) -> None:
        self._api = api
        self._dispatch = dispatch
        self._ready = ready
        self._calls = calls if calls is not None else OwedCalls()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsent: list[tuple[str, str]] = []  # (call_id, output) for the next session

    def call_done(
        self,
        item: Mapping[str, Any],
        response_id: str,
        tools: ToolRegistry,
        config: SessionConfig,
    ) -> None:
        """A ``function_call`` ``item`` of ``response_id`` is done: run its tool, if ours
        (not for an ``incomplete`` call; a call seen twice runs once).

        ``tools`` are the registered tools, ``config`` holds the tools only defined.
        """
        if item.get("type") != "function_call" or item.get("status") == "incomplete":
            return
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not self._calls.expect(response_id, call_id):
            return
        name = str(item.get("name") or "")
        registered = tools.get(name)
        if registered is None and name in {t.get("name") for t in config.get("model", "tools")}:
            return  # a definition-only tool: the caller answers with send_function_call_output
        self._start(registered, name, call_id, str(item.get("arguments") or ""))

    def _start(self, registered: Tool | None, name: str, call_id: str, arguments: str) -> None:
        async def run() -> None:
            result: ToolResult = await run_tool(registered, name, arguments)
            if not result.ok:
                failed: ErrorEvent = {
                    "type": "tool_error",
                    "error": ToolError(result.error or "tool failed", tool=name),
                    "call_id": call_id,
                }
                self._dispatch("error", failed)
            self.answer(call_id, result.output)

        task = asyncio.get_running_loop().create_task(run(), name=f"tool-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def answer(self, call_id: str, output: str) -> None:
        """Answer ``call_id`` with ``output``; raises UsageError when it was answered."""
        self._calls.claim(call_id)
        if not self._ready():
            # lost mid-call (or the new session is not set up yet): sent once the session
            # is resumed, after the replay, so the model is not left waiting
            self._unsent.append((call_id, output))
            return
        if self._send_output(call_id, output):
            self._api.send("response.create")

    def _send_output(self, call_id: str, output: str) -> bool:
        """Send a call's output; ``True`` when its response may now continue."""
        self._api.send(
            "conversation.item.create",
            {"item": {"type": "function_call_output", "call_id": call_id, "output": output}},
        )
        return self._calls.settle(call_id)

    def send_unsent(self) -> None:
        """A new session is ready: answer the calls the lost one left open, and let their
        responses go on."""
        # the old session's responses are over: none will send response.done now
        ready = self._calls.finish_all()
        unsent, self._unsent = self._unsent, []
        for call_id, output in unsent:
            ready += self._send_output(call_id, output)
        if ready:
            self._api.send("response.create")

    def drop_unsent(self) -> None:
        """Forget the answers waiting for a session (none will come)."""
        self._unsent.clear()

    def clear(self) -> None:
        """Forget every call (the conversation was cleared)."""
        self._calls.clear()

    def cancel(self) -> None:
        """Cancel the handlers running."""
        for task in list(self._tasks):
            task.cancel()

    async def wait(self) -> None:
        """Wait until the handlers' tasks have ended (whatever their outcome)."""
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
