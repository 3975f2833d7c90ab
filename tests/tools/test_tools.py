"""Tools: the decorator, as_tool, the registry, serialising results and the runner."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime
import functools
import inspect
import json
import math
import pathlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from tool_samples import (
    Color,
    Level,
    Opaque,
    Point,
    define,
    documented,
)

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import ToolError, UsageError
from realtime_widget.tools.registry import (
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_TIMEOUT,
    TOOL_ATTRIBUTE,
    Tool,
    ToolRegistry,
    ToolResult,
    as_tool,
    function_schema,
    run_tool,
    serialise_result,
    tool,
    validate_definition,
)

# -- tools, decorator, as_tool --------------------------------------------------------------


class TestToolDecorator:
    def test_bare_decorator_leaves_the_function_callable(self) -> None:
        def add(a: int, b: int) -> int:
            """Add two numbers."""
            return a + b

        decorated = tool(add)
        assert decorated is add
        assert add(2, 3) == 5
        marked = getattr(add, TOOL_ATTRIBUTE)
        assert marked == Tool(function_schema(add), add, DEFAULT_TIMEOUT)
        assert (marked.name, marked.is_async, marked.timeout) == ("add", False, 30.0)
        assert as_tool(add) is marked

    def test_decorator_with_options(self) -> None:
        @tool(name="lookup", description="Look it up.", timeout=2.5)
        async def find(query: str) -> str:
            return query

        marked = as_tool(find)
        assert (marked.name, marked.definition["description"]) == ("lookup", "Look it up.")
        assert (marked.timeout, marked.is_async) == (2.5, True)
        assert inspect.iscoroutinefunction(find)

    def test_no_timeout(self) -> None:
        @tool(timeout=None)
        def f() -> None:
            pass

        assert as_tool(f).timeout is None

    @pytest.mark.parametrize("timeout", [0, -1.0, True, "3"])
    def test_bad_timeout(self, timeout: Any) -> None:
        with pytest.raises(UsageError, match="timeout of tool 'f' must be positive"):
            tool(timeout=timeout)(define("def f(): pass"))

    def test_misuse(self) -> None:
        with pytest.raises(UsageError, match="@tool decorates a function, got 'name'"):
            tool("name")  # type: ignore[call-overload]
        with pytest.raises(UsageError, match="positional-only parameter 'obj'"):
            tool(len)

        class Shop:
            def price(self, item: str) -> float:
                return 1.0

        with pytest.raises(UsageError, match=r"cannot mark .* as a tool"):
            tool(Shop().price)

    def test_redecorating_replaces_the_tool(self) -> None:
        @tool
        def f() -> None:
            pass

        tool(name="g")(f)
        assert as_tool(f).name == "g"


class TestTool:
    def test_is_async_detection(self) -> None:
        async def coro(a: int) -> int:
            return a

        class AsyncCallable:
            async def __call__(self) -> None:
                pass

        definition = {"name": "t"}
        assert Tool(validate_definition(definition), coro).is_async
        assert Tool(validate_definition(definition), functools.partial(coro, 1)).is_async
        assert Tool(validate_definition(definition), AsyncCallable()).is_async
        assert not Tool(validate_definition(definition), print).is_async

    def test_validation(self) -> None:
        with pytest.raises(UsageError, match="handler of tool 't' is not callable"):
            Tool(validate_definition({"name": "t"}), "nope")  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="invalid tool name"):
            Tool({"name": "a b"}, print)  # type: ignore[typeddict-item]

    def test_frozen_and_hashable(self) -> None:
        made = Tool.from_function(documented)
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.timeout = 1.0  # type: ignore[misc]
        assert hash(made) == hash(Tool.from_function(documented))
        assert made.wire_definition() == function_schema(documented)


class TestAsTool:
    def test_kinds(self) -> None:
        made = Tool.from_function(documented)
        assert as_tool(made) is made
        assert as_tool(documented) == made
        pair = as_tool(({"name": "echo", "extra": 1}, print))
        assert (pair.name, pair.handler, pair.timeout) == ("echo", print, DEFAULT_TIMEOUT)

    def test_rejects_other_objects(self) -> None:
        with pytest.raises(UsageError, match="cannot make a tool from int 3"):
            as_tool(3)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="got 3 items"):
            as_tool(({"name": "a"}, print, 1))  # type: ignore[arg-type]

    def test_wrapped_decorated_function_is_called_through_the_wrapper(self) -> None:
        calls: list[str] = []

        @tool(name="greet", timeout=3)
        def greet(who: str) -> str:
            """Say hello."""
            return f"hello {who}"

        @functools.wraps(greet)
        def logged(*args: Any, **kwargs: Any) -> str:
            calls.append("logged")
            return greet(*args, **kwargs)

        made = as_tool(logged)
        assert made.handler is logged
        assert made.definition == as_tool(greet).definition
        assert made.timeout == 3

    def test_bound_method_drops_self(self) -> None:
        class Shop:
            @tool
            def price(self, item: str) -> float:
                """The price of an item."""
                return 1.0

        made = as_tool(Shop().price)
        assert list(made.definition["parameters"]["properties"]) == ["item"]
        assert made.definition["description"] == "The price of an item."


# -- registry -------------------------------------------------------------------------------


def _named(name: str, result: str = "") -> Callable[[], str]:
    def handler() -> str:
        return result or name

    handler.__name__ = name
    return handler


class TestRegistry:
    def test_order_and_replace_in_place(self) -> None:
        registry = ToolRegistry()
        for name in ("a", "b", "c"):
            registry.register(_named(name))
        replacement = registry.register(_named("b", "new"))
        assert registry.names() == ["a", "b", "c"]
        assert registry["b"] is replacement
        assert registry.get("b") is replacement
        assert list(registry) == ["a", "b", "c"]
        assert len(registry) == 3
        assert "c" in registry
        assert "z" not in registry
        assert registry.get("z") is None

    def test_replace_false(self) -> None:
        registry = ToolRegistry([_named("a")])
        with pytest.raises(UsageError, match="tool 'a' is already registered"):
            registry.register(_named("a"), replace=False)

    def test_unregister(self) -> None:
        registry = ToolRegistry([_named("a"), _named("b")])
        removed = registry.unregister("a")
        assert removed.name == "a"
        assert registry.names() == ["b"]
        with pytest.raises(UsageError, match="unknown tool 'a'"):
            registry.unregister("a")
        registry.clear()
        assert len(registry) == 0

    def test_definitions_are_wire_form(self) -> None:
        registry = ToolRegistry()
        registry.register({"name": "raw", "strict": True}, print)
        registry.register(documented)
        assert registry.definitions() == [
            {
                "type": "function",
                "name": "raw",
                "description": "",
                "parameters": {"type": "object", "properties": {}},
            },
            function_schema(documented),
        ]
        assert repr(registry) == "ToolRegistry(['raw', 'documented'])"

    def test_register_misuse(self) -> None:
        registry = ToolRegistry()
        with pytest.raises(UsageError, match="tool definition 'x' needs a handler"):
            registry.register({"name": "x"})
        with pytest.raises(UsageError, match="a handler goes with a definition mapping"):
            registry.register(documented, print)


# -- serialising results --------------------------------------------------------------------


@dataclasses.dataclass
class Forecast:
    city: str
    temps: tuple[float, ...]
    when: datetime.date
    sky: Color


class TestSerialiseResult:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("plain text", "plain text"),
            (Color.RED, "red"),
            (None, "null"),
            (True, "true"),
            (3, "3"),
            (2.5, "2.5"),
            ({"a": [1, (2, 3)]}, '{"a": [1, [2, 3]]}'),
            ({3, 1, 2}, "[1, 2, 3]"),
            (
                {1: "a", Color.GREEN: "b", None: "c", 2.5: "d"},
                '{"1": "a", "green": "b", "null": "c", "2.5": "d"}',
            ),
            ([math.nan, math.inf, -math.inf], "[null, null, null]"),
            (datetime.datetime(2024, 5, 1, 12, 30), '"2024-05-01T12:30:00"'),
            (datetime.time(8, 15), '"08:15:00"'),
            (pathlib.PurePosixPath("/tmp/x"), '"/tmp/x"'),
            (b"caf\xc3\xa9", '"café"'),
            (b"\xff\x00", '"<2 bytes of binary data>"'),
            (Opaque(), '"opaque thing"'),
            (Level.HIGH, "2"),
        ],
    )
    def test_values(self, value: Any, expected: str) -> None:
        assert serialise_result(value) == expected

    def test_dataclass(self) -> None:
        value = Forecast("Oslo", (1.5, math.nan), datetime.date(2024, 1, 2), Color.GREEN)
        assert json.loads(serialise_result(value)) == {
            "city": "Oslo",
            "temps": [1.5, None],
            "when": "2024-01-02",
            "sky": "green",
        }

    def test_numpy(self) -> None:
        value = {"a": np.array([[1.5, np.nan], [2, 3]]), "n": np.int64(7), "f": np.float32(0.5)}
        assert json.loads(serialise_result(value)) == {
            "a": [[1.5, None], [2.0, 3.0]],
            "n": 7,
            "f": 0.5,
        }
        assert serialise_result(np.bool_(True)) == "true"

    def test_model_dump(self) -> None:
        class Model:
            def model_dump(self) -> dict[str, Any]:
                return {"x": {1, 2}}

        assert serialise_result(Model()) == '{"x": [1, 2]}'

    def test_circular_and_deep(self) -> None:
        loop: list[Any] = []
        loop.append(loop)
        with pytest.raises(ValueError, match="circular reference"):
            serialise_result(loop)
        deep: list[Any] = []
        for _ in range(200):
            deep = [deep]
        with pytest.raises(ValueError, match="nested deeper than 100"):
            serialise_result(deep)
        shared = [1]
        assert serialise_result([shared, shared]) == "[[1], [1]]"


# -- running --------------------------------------------------------------------------------


def _make(fn: Callable[..., Any], timeout: float | None = DEFAULT_TIMEOUT) -> Tool:
    return Tool.from_function(fn, timeout=timeout)


def add(a: int, b: float = 0.5) -> float:
    """Add."""
    return a + b


class TestRunTool:
    async def test_sync_result(self) -> None:
        result = await run_tool(_make(add), "add", '{"a": 2}')
        assert (result.name, result.output, result.ok, result.error) == ("add", "2.5", True, None)
        assert result.value == 2.5
        assert result.exception is None
        assert 0 <= result.duration < 5
        assert result.as_output_item("call_1") == {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": "2.5",
        }

    async def test_runs_in_another_thread_with_the_callers_context(self) -> None:
        var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
        var.set("set")

        def where() -> dict[str, Any]:
            return {"main": threading.current_thread() is threading.main_thread(), "var": var.get()}

        result = await run_tool(_make(where), "where", "{}")
        assert json.loads(result.output) == {"main": False, "var": "set"}

    async def test_async_result_and_str_is_sent_as_is(self) -> None:
        async def greet(who: str) -> str:
            await asyncio.sleep(0)
            return f'hello "{who}"'

        result = await run_tool(_make(greet), "greet", '{"who": "Ada"}')
        assert (result.output, result.ok) == ('hello "Ada"', True)

    async def test_given_executor(self) -> None:
        with ThreadPoolExecutor(1, thread_name_prefix="given") as pool:

            def name() -> str:
                return threading.current_thread().name

            result = await run_tool(_make(name), "name", "{}", executor=pool)
        assert result.output.startswith("given")

    async def test_raising_handler(self) -> None:
        def fail(a: int) -> None:
            raise ValueError(f"bad value {a}")

        result = await run_tool(_make(fail), "fail", '{"a": 3}')
        assert result.output == '{"error": "ValueError: bad value 3"}'
        assert (result.ok, result.error) == (False, "ValueError: bad value 3")
        assert isinstance(result.exception, ValueError)

    async def test_raising_async_handler_without_message(self) -> None:
        async def fail() -> None:
            raise KeyError

        result = await run_tool(_make(fail), "fail", "")
        assert json.loads(result.output) == {"error": "KeyError"}

    async def test_sys_exit_in_a_sync_tool_is_a_failure(self) -> None:
        def leave() -> None:
            raise SystemExit(2)

        result = await run_tool(_make(leave), "leave", "{}")
        assert result.error == "tool 'leave' tried to exit the interpreter: SystemExit: 2"

    async def test_unknown_tool(self) -> None:
        result = await run_tool(None, "nope", "{}")
        assert result.output == '{"error": "unknown tool \'nope\'"}'
        assert not result.ok
        assert isinstance(result.exception, ToolError)

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            ('{"a": ', "invalid JSON arguments for tool 'add': Expecting value"),
            ("[1, 2]", "arguments of tool 'add' must be a JSON object, got array"),
            ('"a"', "arguments of tool 'add' must be a JSON object, got string"),
            ("null", "arguments of tool 'add' must be a JSON object, got null"),
            ('{"a": "x"}', "tool 'add': argument 'a': expected integer, got string 'x'"),
            ('{"b": 1}', "tool 'add': missing required argument 'a'"),
            ('{"a": 1, "c": 1}', "tool 'add': unknown argument 'c'"),
        ],
    )
    async def test_bad_arguments(self, arguments: str, message: str) -> None:
        called = []

        def spy(a: int, b: float = 0.5) -> None:
            called.append((a, b))

        result = await run_tool(Tool(function_schema(add), spy), "add", arguments)
        assert not result.ok
        assert result.error is not None and result.error.startswith(message)
        assert json.loads(result.output) == {"error": result.error}
        assert called == []

    async def test_empty_arguments_mean_none(self) -> None:
        def done() -> str:
            return "done"

        result = await run_tool(_make(done), "done", "  ")
        assert (result.ok, result.output) == (True, "done")

    async def test_slow_sync_tool_times_out_and_does_not_block(self) -> None:
        release = threading.Event()
        finished = threading.Event()

        def slow() -> str:
            release.wait(5)
            finished.set()
            return "late"

        started = time.perf_counter()
        result = await run_tool(_make(slow, timeout=0.05), "slow", "{}")
        elapsed = time.perf_counter() - started
        try:
            assert result.output == '{"error": "tool \'slow\' timed out after 0.05 s"}'
            assert isinstance(result.exception, ToolError)
            assert 0.04 < elapsed < 1.0
            assert not finished.is_set()  # the thread runs on; its result is dropped
        finally:
            release.set()
        assert finished.wait(2)

    async def test_slow_async_tool_times_out_and_is_cancelled(self) -> None:
        cancelled = asyncio.Event()

        async def slow() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        result = await run_tool(_make(slow, timeout=0.05), "slow", "{}")
        assert result.error == "tool 'slow' timed out after 0.05 s"
        await asyncio.wait_for(cancelled.wait(), 1)

    async def test_async_tool_ignoring_cancellation_is_abandoned(self) -> None:
        release = asyncio.Event()

        async def stubborn() -> str:
            while True:
                try:
                    await release.wait()
                    return "done"
                except asyncio.CancelledError:
                    continue

        started = time.perf_counter()
        result = await run_tool(_make(stubborn, timeout=0.05), "stubborn", "{}")
        assert result.error == "tool 'stubborn' timed out after 0.05 s"
        assert time.perf_counter() - started < 1.0
        release.set()
        await asyncio.sleep(0.01)

    async def test_timeout_override(self) -> None:
        async def slow() -> str:
            await asyncio.sleep(0.2)
            return "ok"

        slow_tool = _make(slow, timeout=0.01)
        assert (await run_tool(slow_tool, "slow", "{}", timeout=None)).output == "ok"
        quick = await run_tool(_make(slow), "slow", "{}", timeout=0.02)
        assert quick.error == "tool 'slow' timed out after 0.02 s"
        with pytest.raises(UsageError, match="timeout of tool 'slow' must be positive"):
            await run_tool(slow_tool, "slow", "{}", timeout=0)

    async def test_slow_sync_tool_does_not_stall_the_loop(self) -> None:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        def busy() -> str:
            time.sleep(0.3)
            return "done"

        task = asyncio.create_task(ticker())
        result = await run_tool(_make(busy), "busy", "{}")
        stop.set()
        await task
        assert result.output == "done"
        assert ticks >= 10

    async def test_cancelling_the_runner_cancels_the_handler(self) -> None:
        started = asyncio.Event()
        cancelled = asyncio.Event()

        async def slow() -> None:
            started.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        runner = asyncio.create_task(run_tool(_make(slow), "slow", "{}"))
        await started.wait()
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        await asyncio.wait_for(cancelled.wait(), 1)

    async def test_handler_cancelling_itself_is_a_failure(self) -> None:
        async def quits() -> None:
            raise asyncio.CancelledError

        result = await run_tool(_make(quits), "quits", "{}")
        assert result.error == "tool 'quits' cancelled itself: CancelledError"

    async def test_sync_handler_returning_a_coroutine(self) -> None:
        async def later() -> int:
            return 5

        result = await run_tool(Tool(validate_definition({"name": "x"}), lambda: later()), "x", "")
        assert (result.output, result.value) == ("5", 5)

    @pytest.mark.parametrize(
        ("value", "output"),
        [
            ({1, 2}, "[1, 2]"),
            (np.arange(3), "[0, 1, 2]"),
            (Point(1.0, 2.0), '{"x": 1.0, "y": 2.0}'),
            (Opaque(), '"opaque thing"'),
            ({"v": math.nan}, '{"v": null}'),
        ],
    )
    async def test_non_json_results(self, value: Any, output: str) -> None:
        result = await run_tool(Tool(validate_definition({"name": "x"}), lambda: value), "x", "")
        assert (result.output, result.ok) == (output, True)
        assert result.value is value

    async def test_unserialisable_result(self) -> None:
        loop: dict[str, Any] = {}
        loop["self"] = loop
        result = await run_tool(Tool(validate_definition({"name": "x"}), lambda: loop), "x", "")
        assert (
            result.error == "result of tool 'x' cannot be serialised: circular reference in result"
        )
        assert result.value is loop

    async def test_huge_result_is_capped(self) -> None:
        def flood() -> str:
            return "x" * 10_000_000

        result = await run_tool(_make(flood), "flood", "{}")
        expected = (
            "result of tool 'flood' refused: text of 10000000 characters is over the limit "
            f"of {DEFAULT_MAX_OUTPUT_BYTES} bytes"
        )
        assert (result.ok, result.error) == (False, expected)
        assert result.output == json.dumps({"error": expected})
        assert len(result.value) == 10_000_000

    async def test_output_limit_is_configurable_and_counts_utf8_bytes(self) -> None:
        def text() -> str:
            return "é" * 6  # 12 bytes

        at_limit = await run_tool(_make(text), "text", "{}", max_output_bytes=12)
        assert at_limit.ok
        over = await run_tool(_make(text), "text", "{}", max_output_bytes=11)
        assert over.error == (
            "result of tool 'text' refused: text of 12 bytes is over the limit of 11 bytes"
        )
        with pytest.raises(UsageError, match="max_output_bytes must be positive"):
            await run_tool(_make(text), "text", "{}", max_output_bytes=0)

    def test_result_item_needs_a_call_id(self) -> None:
        result = ToolResult("x", "1", True, None, 0.0)
        with pytest.raises(UsageError, match="call_id must be a non-empty string"):
            result.as_output_item("")

    async def test_a_binding_failure_still_answers_the_model(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import realtime_widget.tools.registry as tools_module

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("odd handler")

        monkeypatch.setattr(tools_module, "bind_arguments", broken)
        result = await run_tool(_make(add), "add", '{"a": 1}')
        assert result.error == "tool 'add': cannot bind arguments: RuntimeError: odd handler"
        assert isinstance(result.exception, RuntimeError)


# -- handlers of explicit definitions ------------------------------------------------------------

CALCULATE = {
    "name": "calculate",
    "description": "Performs a calculation",
    "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
}


class TestDefinitionHandlers:
    async def test_a_one_parameter_handler_gets_the_arguments_dict(self) -> None:
        def by_dict(args: dict[str, Any]) -> int:
            return int(eval(args["expression"]))

        for handler in (lambda args: eval(args["expression"]), by_dict):
            made = as_tool((CALCULATE, handler))
            result = await run_tool(made, "calculate", '{"expression": "2 + 2"}')
            assert (result.ok, result.output) == (True, "4")

    async def test_the_arguments_dict_is_passed_as_decoded(self) -> None:
        seen: list[Any] = []
        made = as_tool(({"name": "now"}, seen.append))
        assert (await run_tool(made, "now", "")).ok
        assert (await run_tool(made, "now", '{"x": [1, {"y": null}]}')).ok
        assert seen == [{}, {"x": [1, {"y": None}]}]

    async def test_a_handler_naming_the_properties_gets_keywords(self) -> None:
        made = as_tool((CALCULATE, lambda expression: eval(expression)))
        assert (await run_tool(made, "calculate", '{"expression": "3 * 3"}')).output == "9"
        single = {**CALCULATE, "parameters": {"properties": {"args": {"type": "string"}}}}
        made = as_tool((single, lambda args: args.upper()))  # 'args' is a property here
        assert (await run_tool(made, "calculate", '{"args": "ok"}')).output == "OK"

    async def test_keyword_handlers_are_checked_against_the_definition(self) -> None:
        two = {"name": "t", "parameters": {"properties": {"a": {}, "b": {}}}}
        with pytest.raises(UsageError, match=r"properties 'a', 'b' .* not parameters"):
            as_tool((two, lambda x, y: None))
        with pytest.raises(UsageError, match=r"property 'b' is not a parameter"):
            as_tool((two, lambda a, c=1: None))
        with pytest.raises(UsageError, match=r"parameter 'c' is not a property"):
            as_tool((two, lambda a, b, c: None))
        with pytest.raises(UsageError, match=r"tool 't'"):
            ToolRegistry().register(two, lambda a: None)
        # what the model may leave out or add is fine
        as_tool((two, lambda a, b, c=None: None))
        as_tool((two, lambda a, **rest: None))
        as_tool((two, lambda *args, **kwargs: None))
        as_tool(({"name": "t"}, lambda: None))

    async def test_the_seeds_register_tool_example_runs(self) -> None:
        client = RealtimeClient(url="ws://127.0.0.1:9/v1/realtime")
        client.register_tool(CALCULATE, lambda args: eval(args["expression"]))
        assert await client.execute_tool("calculate", {"expression": "2 + 2"}) == 4
