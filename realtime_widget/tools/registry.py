"""Tools the model can call: :class:`Tool`, the ``@tool`` decorator, :class:`ToolRegistry`
and :func:`run_tool`.

``@tool`` builds a Tool from a function's signature, hints and docstring and returns the
function unchanged (``__realtime_tool__`` holds the Tool). :func:`run_tool` answers every
call exactly once and never raises for the tool's failures (unknown tool, bad arguments, any
exception, a timeout, an unserialisable or oversized result): each becomes an output
``{"error": ...}`` the model can read; only a cancellation of the runner propagates. Sync
handlers run in a worker thread. A ``str`` result is sent as it is, anything else as JSON
(:mod:`realtime_widget.tools.results`).
"""

from __future__ import annotations

import asyncio
import collections.abc as cabc
import concurrent.futures
import contextvars
import dataclasses
import enum
import functools
import inspect
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Executor, Future
from typing import Any, Literal, ParamSpec, TypeAlias, TypedDict, TypeVar, overload

from realtime_widget.core.checks import need_number
from realtime_widget.core.errors import ToolError, UsageError
from realtime_widget.tools.arguments import (
    bind_arguments,
    decode_arguments,
    describe_exception,
    takes_arguments_dict,
)
from realtime_widget.tools.docstrings import parse_docstring
from realtime_widget.tools.results import OversizedResult, serialise_result
from realtime_widget.tools.schema import (
    ToolDefinition,
    function_schema,
    validate_definition,
    wire_definition,
)
from realtime_widget.tools.typehints import unwrap_partial

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_TIMEOUT",
    "TOOL_ATTRIBUTE",
    "FunctionCallOutputItem",
    "Tool",
    "ToolDefinition",
    "ToolLike",
    "ToolRegistry",
    "ToolResult",
    "as_tool",
    "bind_arguments",
    "function_schema",
    "parse_docstring",
    "run_tool",
    "serialise_result",
    "tool",
    "validate_definition",
    "wire_definition",
]

DEFAULT_TIMEOUT = 30.0
"""Seconds a tool may run before the model is told it timed out."""

DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
"""The largest output (UTF-8 bytes) sent back to the model for one call."""

TOOL_ATTRIBUTE = "__realtime_tool__"
"""The attribute ``@tool`` sets on a function to hold its :class:`Tool`."""


class FunctionCallOutputItem(TypedDict):
    """The item of the ``conversation.item.create`` event answering a function call."""

    type: Literal["function_call_output"]
    call_id: str
    output: str


# -- tools ----------------------------------------------------------------------------------


def _is_async_callable(fn: Any) -> bool:
    fn = unwrap_partial(fn)
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    return not inspect.isroutine(fn) and inspect.iscoroutinefunction(call)


def _check_timeout(timeout: object, name: str) -> None:
    if timeout is None:
        return
    need_number(f"timeout of tool {name!r}", timeout, "positive", above=0)


@dataclasses.dataclass(frozen=True)
class Tool:
    """A tool: its wire definition, its handler and its timeout.

    ``handler`` is called with keyword arguments (see :func:`bind_arguments`), or with the
    arguments dict when ``takes_arguments_dict`` (see :func:`takes_arguments_dict`); it may
    be a coroutine function (``is_async``). ``timeout`` is in seconds, ``None`` for no limit.
    The definition is validated and normalised on construction; raises :class:`UsageError`
    for a bad definition, a handler that is not callable or does not match the definition,
    or a timeout that is not positive.
    """

    definition: ToolDefinition = dataclasses.field(hash=False)
    handler: Callable[..., Any]
    timeout: float | None = DEFAULT_TIMEOUT
    is_async: bool = dataclasses.field(init=False)
    takes_arguments_dict: bool = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "definition", validate_definition(self.definition))
        if not callable(self.handler):
            raise UsageError(f"handler of tool {self.name!r} is not callable: {self.handler!r}")
        _check_timeout(self.timeout, self.name)
        object.__setattr__(self, "is_async", _is_async_callable(self.handler))
        whole = takes_arguments_dict(self.handler, self.definition["parameters"], name=self.name)
        object.__setattr__(self, "takes_arguments_dict", whole)

    @property
    def name(self) -> str:
        """The tool's name, as the model calls it."""
        return self.definition["name"]

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> Tool:
        """A tool calling ``fn``, its definition built by :func:`function_schema`."""
        return cls(function_schema(fn, name=name, description=description), fn, timeout)

    def wire_definition(self) -> ToolDefinition:
        """The definition to send in ``session.tools``."""
        return wire_definition(self.definition)


F = TypeVar("F", bound=Callable[..., Any])


@overload
def tool(fn: F, /) -> F: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout: float | None = ...
) -> Callable[[F], F]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Any:
    """Mark a function as a tool: ``@tool`` or ``@tool(name=..., description=..., timeout=...)``.

    The function is returned unchanged, still callable as before, with its :class:`Tool` in
    the ``__realtime_tool__`` attribute (read it with :func:`as_tool`). Raises
    :class:`UsageError` as :func:`function_schema` does, or when ``fn`` takes no attributes.
    """

    def decorate(function: F) -> F:
        if not callable(function):
            raise UsageError(f"@tool decorates a function, got {function!r}: use @tool(name=...)")
        marked = Tool.from_function(function, name=name, description=description, timeout=timeout)
        try:
            setattr(function, TOOL_ATTRIBUTE, marked)
        except (AttributeError, TypeError):
            raise UsageError(
                f"cannot mark {function!r} as a tool: use Tool.from_function() instead"
            ) from None
        return function

    return decorate if fn is None else decorate(fn)


ToolLike: TypeAlias = Tool | Callable[..., Any] | tuple[Mapping[str, Any], Callable[..., Any]]


def as_tool(obj: ToolLike) -> Tool:
    """The :class:`Tool` of ``obj``.

    ``obj`` may be a Tool (returned as is), a ``(definition, handler)`` pair, a function
    decorated with ``@tool`` or a plain function (its schema built on the fly). A decorated
    function wrapped again (``functools.wraps``) or read as a bound method keeps its name,
    description and timeout but is called as given. Raises :class:`UsageError` for anything
    else, and as :func:`function_schema` and :func:`validate_definition` do.
    """
    if isinstance(obj, Tool):
        return obj
    if isinstance(obj, tuple):
        if len(obj) != 2:
            raise UsageError(f"expected a (definition, handler) pair, got {len(obj)} items")
        definition, handler = obj
        return Tool(validate_definition(definition), handler)
    if callable(obj):
        marked = getattr(obj, TOOL_ATTRIBUTE, None)
        if isinstance(marked, Tool):
            if marked.handler is obj:
                return marked
            description = marked.definition["description"]
            return Tool.from_function(
                obj, name=marked.name, description=description, timeout=marked.timeout
            )
        return Tool.from_function(obj)
    raise UsageError(f"cannot make a tool from {type(obj).__name__} {obj!r}")


class ToolRegistry(Mapping[str, Tool]):
    """An ordered mapping of tool name to :class:`Tool`.

    Registering a name again (re-running a notebook cell) replaces the tool where it stands,
    so the order of ``definitions()`` is stable. Pure: no event loop, no I/O.
    """

    def __init__(self, tools: cabc.Iterable[ToolLike] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.register(item)

    def register(
        self,
        tool: ToolLike | Mapping[str, Any],
        handler: Callable[..., Any] | None = None,
        *,
        replace: bool = True,
    ) -> Tool:
        """Add a tool and return it.

        ``tool`` is anything :func:`as_tool` takes, or a definition mapping with ``handler``.
        Raises :class:`UsageError` for a definition without handler (or a handler without
        definition), and for a name already registered when ``replace`` is false.
        """
        if handler is not None:
            if not isinstance(tool, Mapping):
                raise UsageError(f"a handler goes with a definition mapping, got {tool!r}")
            new = as_tool((tool, handler))
        elif isinstance(tool, Mapping):
            raise UsageError(f"tool definition {tool.get('name')!r} needs a handler")
        else:
            new = as_tool(tool)
        if not replace and new.name in self._tools:
            raise UsageError(f"tool {new.name!r} is already registered")
        self._tools[new.name] = new
        return new

    def unregister(self, name: str) -> Tool:
        """Remove the tool ``name`` and return it. Raises :class:`UsageError` if unknown."""
        try:
            return self._tools.pop(name)
        except KeyError:
            raise UsageError(f"unknown tool {name!r}") from None

    def clear(self) -> None:
        """Remove every tool."""
        self._tools.clear()

    def names(self) -> list[str]:
        """The tool names, in registration order."""
        return list(self._tools)

    def definitions(self) -> list[ToolDefinition]:
        """The wire definitions, in registration order, for ``session.tools``."""
        return [tool.wire_definition() for tool in self._tools.values()]

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names()!r})"


# -- running --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call.

    ``output`` is the string to send back as the ``function_call_output``; on failure it is
    ``{"error": ...}`` and ``error`` holds the message. ``value`` is the handler's raw
    result and ``exception`` the exception behind a failure (for logging; never sent).
    ``duration`` is in seconds.
    """

    name: str
    output: str
    ok: bool
    error: str | None
    duration: float
    value: Any = dataclasses.field(default=None, compare=False)
    exception: BaseException | None = dataclasses.field(default=None, compare=False)

    def as_output_item(self, call_id: str) -> FunctionCallOutputItem:
        """The ``conversation.item.create`` item answering the call ``call_id``."""
        if not isinstance(call_id, str) or not call_id:
            raise UsageError(f"call_id must be a non-empty string, got {call_id!r}")
        return {"type": "function_call_output", "call_id": call_id, "output": self.output}


P = ParamSpec("P")
T = TypeVar("T")


class _DaemonThreadExecutor(Executor):
    """Runs each call in its own daemon thread.

    Tool calls come at the pace of a conversation, so a thread per call costs nothing, and
    a handler that never returns neither starves later calls (as it would a fixed pool) nor
    blocks interpreter exit (as a pool's joined threads would).
    """

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, name="realtime-tool", daemon=True).start()
        return future


_THREADS = _DaemonThreadExecutor()
_abandoned: set[asyncio.Future[Any]] = set()  # timed-out tasks, kept alive until they end


def _abandon(future: asyncio.Future[Any]) -> None:
    future.cancel()
    if future.done():
        return
    _abandoned.add(future)

    def forget(done: asyncio.Future[Any]) -> None:
        _abandoned.discard(done)
        if not done.cancelled():
            done.exception()  # retrieved: no "exception was never retrieved" noise

    future.add_done_callback(forget)


class _Timeout(Exception):
    pass


class _UseToolTimeout(enum.Enum):
    USE = "use"


_USE_TOOL_TIMEOUT = _UseToolTimeout.USE


@dataclasses.dataclass(frozen=True)
class _Ended:
    """How a handler (or a conversion) ended: its value, or the exception it raised."""

    value: Any = None
    exception: BaseException | None = None


def _capture(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> _Ended:
    """``fn``'s outcome, whatever it raised: no exception of a tool leaves its thread."""
    try:
        return _Ended(fn(*args, **kwargs))
    except BaseException as exc:
        return _Ended(exception=exc)


async def _guard(start: Callable[[], Awaitable[Any]]) -> _Ended:
    """The outcome of awaiting ``start()``, whatever it raised.

    A task step that raises ``KeyboardInterrupt`` or ``SystemExit`` re-raises it into the
    event loop (and a notebook's kernel dies), so none may leave a tool's task. Only a real
    cancellation of this task (a timeout, ``disconnect()``) propagates; a ``CancelledError``
    the tool raised on its own is its outcome.
    """
    try:
        return _Ended(await start())
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        return _Ended(exception=exc)
    except BaseException as exc:
        return _Ended(exception=exc)


async def _wait(future: asyncio.Future[_Ended], deadline: float | None) -> _Ended:
    """The future's outcome; raises ``_Timeout`` at ``deadline`` (loop time), abandoning it."""
    loop = asyncio.get_running_loop()
    timeout = None if deadline is None else max(0.0, deadline - loop.time())
    try:
        done, _ = await asyncio.wait({future}, timeout=timeout)
    except asyncio.CancelledError:
        _abandon(future)
        raise
    if not done:
        _abandon(future)
        raise _Timeout
    if future.cancelled():  # the tool cancelled its own task
        return _Ended(exception=asyncio.CancelledError())
    return future.result()


async def _call(
    tool: Tool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    executor: Executor | None,
    deadline: float | None,
) -> _Ended:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_Ended]
    if tool.is_async:
        call = functools.partial(tool.handler, *args, **kwargs)
        future = asyncio.ensure_future(_guard(call))
    else:
        context = contextvars.copy_context()
        run = functools.partial(_capture, context.run, tool.handler, *args, **kwargs)
        future = loop.run_in_executor(executor or _THREADS, run)
    ended = await _wait(future, deadline)
    value = ended.value
    if ended.exception is None and inspect.isawaitable(value):  # a sync callable's coroutine
        ended = await _wait(asyncio.ensure_future(_guard(lambda: value)), deadline)
    return ended


def _describe_ending(name: str, exc: BaseException) -> str:
    """What the model reads when the tool ``name`` raised ``exc``."""
    described = describe_exception(exc)
    if isinstance(exc, asyncio.CancelledError | concurrent.futures.CancelledError):
        return f"tool {name!r} cancelled itself: {described}"
    if isinstance(exc, KeyboardInterrupt):
        return f"tool {name!r} was interrupted: {described}"
    if isinstance(exc, SystemExit):
        return f"tool {name!r} tried to exit the interpreter: {described}"
    if isinstance(exc, Exception):
        return described
    return f"tool {name!r} raised {described}"


async def _convert(value: Any, max_bytes: int, deadline: float | None) -> _Ended:
    """``value`` as the output string, encoded in a worker thread before ``deadline``."""
    convert = functools.partial(_capture, serialise_result, value, max_bytes=max_bytes)
    return await _wait(asyncio.get_running_loop().run_in_executor(_THREADS, convert), deadline)


async def run_tool(
    tool: Tool | None,
    name: str,
    arguments_json: str,
    *,
    executor: Executor | None = None,
    timeout: float | _UseToolTimeout | None = _USE_TOOL_TIMEOUT,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> ToolResult:
    """Run one call of the tool ``name`` with the model's ``arguments_json``.

    ``tool`` is ``None`` when no tool of that name is registered. Sync handlers run in
    ``executor`` (default: a daemon thread per call) so the event loop keeps running; async
    handlers run as tasks. ``timeout`` (seconds, ``None`` for no limit; default
    ``tool.timeout``) bounds the handler and the conversion of its result together; a
    timed-out async handler is cancelled, a timed-out sync handler cannot be stopped and
    runs on, its result dropped. Whatever the handler raises (``KeyboardInterrupt``,
    ``SystemExit``, a ``CancelledError`` of its own included) is a failed result naming the
    tool. The result is converted by :func:`serialise_result` in a worker thread, stopped
    as soon as it passes ``max_output_bytes`` UTF-8 bytes (then the output is an error
    saying so).

    Returns a :class:`ToolResult` for every outcome; raises only ``CancelledError`` when
    the caller is cancelled (the handler is cancelled too, or abandoned if sync), and
    :class:`UsageError` for a ``max_output_bytes`` that is not positive.
    """
    need_number("max_output_bytes", max_output_bytes, "positive", above=0)
    if not isinstance(timeout, _UseToolTimeout):
        _check_timeout(timeout, name)
    started = time.perf_counter()

    def failed(
        message: str, exception: BaseException | None = None, value: Any = None
    ) -> ToolResult:
        """A failed result; the exception behind it is a ToolError with ``message`` if none."""
        output = json.dumps({"error": message}, ensure_ascii=False)
        duration = time.perf_counter() - started
        if exception is None:
            exception = ToolError(message, tool=name)
        return ToolResult(name, output, False, message, duration, value, exception)

    if tool is None:
        return failed(f"unknown tool {name!r}")
    try:
        arguments = decode_arguments(name, arguments_json)
        kwargs: dict[str, Any] = {}
        if tool.takes_arguments_dict:
            args: tuple[Any, ...] = (arguments,)
        else:
            args, kwargs = bind_arguments(tool.handler, arguments, name=name)
    except ToolError as exc:
        return failed(str(exc), exc)
    except Exception as exc:  # a handler whose hints defeat binding: still answer the model
        return failed(f"tool {name!r}: cannot bind arguments: {describe_exception(exc)}", exc)
    limit = tool.timeout if isinstance(timeout, _UseToolTimeout) else timeout
    loop = asyncio.get_running_loop()
    deadline = None if limit is None else loop.time() + limit
    try:
        ended = await _call(tool, args, kwargs, executor, deadline)
    except _Timeout:
        return failed(f"tool {name!r} timed out after {limit:g} s")
    except Exception as exc:  # the executor refused the call (shut down)
        return failed(f"tool {name!r} could not run: {describe_exception(exc)}", exc)
    if ended.exception is not None:
        return failed(_describe_ending(name, ended.exception), ended.exception)
    value = ended.value
    try:
        converted = await _convert(value, max_output_bytes, deadline)
    except _Timeout:
        return failed(f"tool {name!r} timed out after {limit:g} s while converting its result")
    problem = converted.exception
    if isinstance(problem, OversizedResult):
        return failed(f"result of tool {name!r} refused: {problem}", value=value)
    if isinstance(problem, ValueError):  # circular or too deep
        return failed(f"result of tool {name!r} cannot be serialised: {problem}", value=value)
    if problem is not None:  # a result's own conversion (model_dump, __str__) raised
        return failed(
            f"result of tool {name!r} cannot be serialised: {describe_exception(problem)}",
            value=value,
        )
    output: str = converted.value
    return ToolResult(name, output, True, None, time.perf_counter() - started, value)
