"""Test your own tools through the real wire path: no key, no network, deterministic.

::

    from realtime_widget import testing

    async with testing.tool_session(get_weather) as session:
        result = await session.call("get_weather", city="Paris")
        assert result.value == {"city": "Paris", "sky": "sunny"}
        answer = await session.ask("Please call get_weather for Rome.")

Rules:

- :func:`tool_session` starts a :class:`~realtime_widget.server.LocalRealtimeServer`
  (``pace="fast"``) on the running loop and a
  :class:`~realtime_widget.client.client.RealtimeClient` connected to it with ``tools``
  registered (anything :func:`~realtime_widget.tools.registry.as_tool`
  takes: decorated or plain functions, ``Tool`` objects, ``(definition, handler)`` pairs).
  Keyword options are the client's (``dialect="beta"``, ``config=...``), except
  ``url`` and ``api_key``. Leaving the block disconnects the client and stops the server.
- :meth:`ToolSession.call` makes the model call a tool with exactly the given arguments: a
  knowledge script on the server, above any other, answers a prompt of its own with that
  function call, and the response asks for ``tool_choice`` ``auto`` so that a forced tool
  choice in the session does not pick another. The client then does what it does in any
  session (checks and binds the arguments, runs the handler with its timeout, sends the
  output) and the model answers. :meth:`ToolSession.ask` sends a user text as it is.
- A failure on the tool's side never raises: an unknown tool, arguments the handler's schema
  refuses, a handler that raises or times out all give a result whose ``error`` is what the
  model read. Misuse of this module raises :class:`~realtime_widget.core.errors.UsageError`
  naming the bad value; ``TimeoutError`` when no answer comes within the session's
  ``timeout`` (the session is then best closed); ``ConnectionClosedError`` when the
  connection is lost meanwhile. Calls and asks on one session run one after another.
- :func:`call_tool` is the synchronous one-shot form, for scripts and plain test functions:
  it runs its own event loop, so it refuses to run where one is already running (a notebook
  cell, an async test), which would block that loop; there, use ``await`` with
  :func:`tool_session` (notebooks accept top-level ``async with`` and ``await``).

An I/O layer (asyncio, websockets through the client and the server), not part of the core.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from realtime_widget.client.client import RealtimeClient
from realtime_widget.client.content import user_message
from realtime_widget.client.replay import answer_text
from realtime_widget.core.checks import need_number
from realtime_widget.core.errors import ConnectionClosedError, RealtimeError, UsageError
from realtime_widget.core.events import EventCallback
from realtime_widget.core.protocol import RealtimeLogEvent
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.tools.registry import ToolLike, as_tool

__all__ = [
    "DEFAULT_ANSWER_TIMEOUT",
    "Answer",
    "ToolCallResult",
    "ToolSession",
    "call_tool",
    "tool_session",
]

DEFAULT_ANSWER_TIMEOUT = 60.0
"""Seconds :meth:`ToolSession.call` and :meth:`ToolSession.ask` wait for the answer."""


@dataclass(frozen=True)
class ToolCallResult:
    """One tool call as it went over the wire.

    ``arguments`` is the call's JSON as the model sent it; ``output`` the string the client
    sent back and ``value`` that output decoded as JSON (the string itself when it is not
    JSON). ``error`` is the message of an output ``{"error": ...}`` (the model reads the call
    as failed), else ``None``. ``duration`` is the seconds from the call's arrival to its
    output leaving; ``answer`` the transcript (or text) of the assistant's answer after it.
    """

    name: str
    call_id: str
    arguments: str
    output: str
    value: Any
    error: str | None
    duration: float
    answer: str

    @property
    def ok(self) -> bool:
        """Whether the tool answered without an error."""
        return self.error is None


@dataclass(frozen=True)
class Answer:
    """The assistant's answer to a user text: its ``transcript`` (or text), the answer
    ``item`` (``None`` when the model said nothing) and the tool ``calls`` on the way."""

    transcript: str
    item: dict[str, Any] | None
    calls: tuple[ToolCallResult, ...]


@dataclass
class _Call:
    name: str
    arguments: str
    started: float
    output: str | None = None
    ended: float | None = None

    def result(self, call_id: str, answer: str) -> ToolCallResult:
        output = self.output if self.output is not None else ""
        try:
            value: Any = json.loads(output)
        except ValueError:
            value = output
        error = None
        if isinstance(value, dict) and set(value) == {"error"}:
            error = (
                value["error"] if isinstance(value["error"], str) else json.dumps(value["error"])
            )
        ended = self.ended if self.ended is not None else self.started
        return ToolCallResult(
            self.name, call_id, self.arguments, output, value, error, ended - self.started, answer
        )


@dataclass
class _Turn:
    """What happens between a user text and the response that calls no more tools."""

    finished: asyncio.Future[None]
    calls: dict[str, _Call] = field(default_factory=dict)
    answer: dict[str, Any] | None = None

    def completed(self, event: dict[str, Any]) -> None:
        item = event["item"]
        if item.get("type") == "function_call" and isinstance(item.get("call_id"), str):
            arguments = str(item.get("arguments") or "")
            call = _Call(str(item.get("name") or ""), arguments, time.monotonic())
            self.calls.setdefault(item["call_id"], call)
        elif item.get("type") == "message" and item.get("role") == "assistant":
            self.answer = item

    def sent(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            call = self.calls.get(str(item.get("call_id")))
            if call is not None:
                call.output, call.ended = str(item.get("output") or ""), time.monotonic()

    def response_done(self, event: dict[str, Any]) -> None:
        output = (event.get("response") or {}).get("output") or []
        calls = any(isinstance(o, dict) and o.get("type") == "function_call" for o in output)
        if not calls and not self.finished.done():
            self.finished.set_result(None)

    def closed(self, event: dict[str, Any]) -> None:
        if not self.finished.done():
            lost = ConnectionClosedError(event.get("code"), str(event.get("reason") or ""))
            self.finished.set_exception(lost)

    def results(self) -> tuple[ToolCallResult, ...]:
        answer = answer_text(self.answer)
        return tuple(call.result(call_id, answer) for call_id, call in self.calls.items())


@contextlib.contextmanager
def _listening(client: RealtimeClient, turn: _Turn) -> Iterator[None]:
    def logged(event: RealtimeLogEvent) -> None:
        kind = (event["source"], event["event"].get("type"))
        if kind == ("client", "conversation.item.create"):
            turn.sent(event["event"])
        elif kind == ("server", "response.done"):
            turn.response_done(event["event"])

    hooks: list[tuple[str, EventCallback]] = [
        ("conversation.item.completed", turn.completed),
        ("close", turn.closed),
        ("realtime.event", logged),
    ]
    for name, callback in hooks:
        client.on(name, callback)
    try:
        yield
    finally:
        for name, callback in hooks:
            client.off(name, callback)


class ToolSession:
    """A client connected to a local server, for testing tools (see the module rules).

    ``client`` is the :class:`RealtimeClient` (register more tools on it, read its items),
    ``server`` the :class:`LocalRealtimeServer` (its fault hooks: ``stall_responses``,
    ``break_connections()``, ...; its knowledge scripts are this session's own, give yours
    to the client's ``config``). Made by :func:`tool_session`.
    """

    def __init__(self, server: LocalRealtimeServer, client: RealtimeClient, timeout: float) -> None:
        self.server = server
        self.client = client
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._count = 0

    async def call(self, name: str, /, **arguments: Any) -> ToolCallResult:
        """Have the model call tool ``name`` with exactly ``arguments``; the call's result.

        Raises :class:`UsageError` for a ``name`` that is not a non-empty string or names a
        tool defined without a handler, and for an argument that is not JSON.
        """
        if not isinstance(name, str) or not name:
            raise UsageError(f"tool name must be a non-empty string, got {name!r}")
        defined = {t.get("name") for t in self.client.config.get("model", "tools") or []}
        if name in defined and name not in self.client.tools:
            raise UsageError(f"tool {name!r} has no handler: register it with one to call it")
        for key, value in arguments.items():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                raise UsageError(f"argument {key!r} of {name!r} is not json: {value!r}") from None
        async with self._lock:
            self._count += 1
            prompt = f"Test call {self._count}: call {name} with the given arguments."
            function = {"name": name, "arguments": arguments}
            dialogue = {
                "prompts": [prompt],
                "responses": [{"type": "function", "function": function}],
            }
            script = {
                "id": "realtime_widget.testing",
                "priority": math.inf,
                "dialogues": [dialogue],
            }
            self.server.set_knowledge({"scripts": [script]})
            turn = await self._turn(prompt, scripted=True)
        for result in turn.results():
            if result.name == name:
                return result
        # only when the server was made to answer otherwise (its knowledge replaced meanwhile)
        raise RealtimeError(f"the local model did not call {name!r}")

    async def ask(self, text: str) -> Answer:
        """Send the user text ``text`` and return the answer once no more tools are called.

        Raises :class:`UsageError` for a ``text`` that is not a non-empty string.
        """
        if not isinstance(text, str) or not text.strip():
            raise UsageError(f"text must be a non-empty string, got {text!r}")
        async with self._lock:
            turn = await self._turn(text, scripted=False)
        return Answer(answer_text(turn.answer), turn.answer, turn.results())

    async def _turn(self, text: str, *, scripted: bool) -> _Turn:
        turn = _Turn(asyncio.get_running_loop().create_future())
        with _listening(self.client, turn):
            if scripted:
                item = user_message(text)
                self.client.realtime.send("conversation.item.create", {"item": item})
                self.client.realtime.send("response.create", {"response": {"tool_choice": "auto"}})
            else:
                self.client.send_user_message_content(text)
            try:
                async with asyncio.timeout(self.timeout):
                    await turn.finished
            except TimeoutError:
                raise TimeoutError(
                    f"no answer within {self.timeout:g} s: a tool still running? "
                    "(tool_session(timeout=...) waits longer)"
                ) from None
        return turn


@contextlib.asynccontextmanager
async def tool_session(
    *tools: ToolLike, timeout: float = DEFAULT_ANSWER_TIMEOUT, **client_options: Any
) -> AsyncIterator[ToolSession]:
    """``async with tool_session(*tools, **client_options) as session``: a :class:`ToolSession`.

    ``timeout`` (seconds) bounds each ``call()`` and ``ask()``. Raises :class:`UsageError`
    for a tool :func:`~realtime_widget.tools.registry.as_tool` refuses, two tools of one name, a
    ``timeout`` that is not positive, and ``url`` or ``api_key`` among the options;
    ``TypeError`` for an option the client does not take.
    """
    need_number("timeout", timeout, "a positive number of seconds", above=0)
    for option in ("url", "api_key"):
        if option in client_options:
            raise UsageError(f"tool_session runs its own local server: drop {option}=")
    registered = [as_tool(t) for t in tools]
    names = [t.name for t in registered]
    for name in names:
        if names.count(name) > 1:
            raise UsageError(f"two tools are named {name!r}")
    async with LocalRealtimeServer(pace="fast") as server:
        client = RealtimeClient(url=server.url, **client_options)
        for one in registered:
            client.register_tool(one)
        try:
            await client.connect()
            yield ToolSession(server, client, float(timeout))
        finally:
            await client.aclose()


def call_tool(tool: ToolLike, /, **arguments: Any) -> ToolCallResult:
    """Call ``tool`` once with ``arguments`` in a session of its own, synchronously.

    For scripts and plain test functions. Raises :class:`UsageError` when an event loop
    runs in this thread (a notebook cell, an async test: use :func:`tool_session` with
    ``await``), and as :meth:`ToolSession.call` does.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise UsageError(
            "call_tool() cannot run on a running event loop (a notebook cell, an async test): "
            "use `async with testing.tool_session(...)` and `await session.call(...)`"
        )
    registered = as_tool(tool)

    async def main() -> ToolCallResult:
        async with tool_session(registered) as session:
            return await session.call(registered.name, **arguments)

    return asyncio.run(main())
