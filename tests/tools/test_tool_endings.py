"""Every way a tool can end is answered once, and none of them reaches the event loop.

A tool raising ``KeyboardInterrupt`` (what pressing Interrupt during an async tool gives),
``SystemExit``, another ``BaseException`` or a ``CancelledError`` of its own gets an error
output naming the tool; only a real cancellation of the runner (``disconnect()``) propagates
(see also ``test_tools.py``: cancelling the runner cancels the handler).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from realtime_widget import testing
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.tools.registry import Tool, run_tool, validate_definition


class Odd(BaseException):
    """A BaseException that is none of the usual ones."""


# (the exception raised, what the error text says about it)
ENDINGS: list[tuple[BaseException, str]] = [
    (KeyboardInterrupt(), "KeyboardInterrupt"),
    (SystemExit(3), "SystemExit: 3"),
    (Odd("strange"), "Odd: strange"),
    (GeneratorExit(), "GeneratorExit"),
    (concurrent.futures.CancelledError(), "CancelledError"),
    (asyncio.CancelledError(), "CancelledError"),
]
IDS = ["interrupt", "exit", "odd", "generator-exit", "futures-cancelled", "asyncio-cancelled"]


def _raising(name: str, exc: BaseException, *, asynchronous: bool) -> Tool:
    definition = validate_definition({"name": name})
    if asynchronous:

        async def handler() -> None:
            await asyncio.sleep(0)
            raise exc

        return Tool(definition, handler)

    def sync_handler() -> None:
        raise exc

    return Tool(definition, sync_handler)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("exc", "text"), ENDINGS, ids=IDS)
async def test_a_tool_ending_in_any_exception_is_an_error_naming_it(
    exc: BaseException, text: str, asynchronous: bool
) -> None:
    made = _raising("ending", exc, asynchronous=asynchronous)
    result = await run_tool(made, "ending", "{}")
    assert not result.ok
    assert result.error is not None
    assert "tool 'ending'" in result.error
    assert result.error.endswith(text)
    assert json.loads(result.output) == {"error": result.error}
    assert result.exception is exc


async def test_a_tool_cancelling_its_own_task_is_an_error_naming_it() -> None:
    async def quits() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    result = await run_tool(Tool(validate_definition({"name": "quits"}), quits), "quits", "")
    assert result.error == "tool 'quits' cancelled itself: CancelledError"


async def test_a_coroutine_returned_by_a_sync_tool_is_guarded_too() -> None:
    async def interrupted() -> None:
        raise KeyboardInterrupt

    made = Tool(validate_definition({"name": "later"}), lambda: interrupted())
    result = await run_tool(made, "later", "")
    assert result.error == "tool 'later' was interrupted: KeyboardInterrupt"


# -- over the wire: one output per call, and the session goes on -----------------------------


def _outputs(server: LocalRealtimeServer) -> list[dict[str, Any]]:
    return [
        event["item"]
        for connection in server.connections
        for event in connection.received
        if event.get("type") == "conversation.item.create"
        and event.get("item", {}).get("type") == "function_call_output"
    ]


def _handlers() -> list[tuple[dict[str, Any], Callable[..., Any]]]:
    async def interrupt_async(args: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        raise KeyboardInterrupt

    def interrupt_sync(args: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    def leave(args: dict[str, Any]) -> None:
        raise SystemExit("bye")

    async def odd(args: dict[str, Any]) -> None:
        raise Odd("strange")

    def futures_cancelled(args: dict[str, Any]) -> None:
        raise concurrent.futures.CancelledError

    async def cancels_itself(args: dict[str, Any]) -> None:
        raise asyncio.CancelledError

    handlers = [interrupt_async, interrupt_sync, leave, odd, futures_cancelled, cancels_itself]
    return [({"name": h.__name__}, h) for h in handlers]


async def test_every_ending_is_answered_once_over_the_wire_and_the_session_goes_on() -> None:
    tools = _handlers()
    async with testing.tool_session(*tools, timeout=30) as session:
        results = [await session.call(definition["name"]) for definition, _ in tools]
        answer = await session.ask("Hello after the failures.")
        outputs = _outputs(session.server)
        assert session.client.is_connected()
    for (definition, _), result in zip(tools, results, strict=True):
        assert result.error is not None and f"tool {definition['name']!r}" in result.error
        assert [o["output"] for o in outputs if o["call_id"] == result.call_id] == [result.output]
    assert len(outputs) == len(tools)
    assert answer.transcript


async def test_disconnect_cancels_a_running_tool_and_sends_nothing() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def waits(args: dict[str, Any]) -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    async with testing.tool_session(({"name": "waits"}, waits), timeout=30) as session:
        call = asyncio.create_task(session.call("waits"))
        await asyncio.wait_for(started.wait(), 30)
        await session.client.disconnect()
        await asyncio.wait_for(cancelled.wait(), 10)
        call.cancel()  # the turn waits for an answer that will not come
        with contextlib.suppress(asyncio.CancelledError):
            await call
        await session.client.aclose()
        assert _outputs(session.server) == []
