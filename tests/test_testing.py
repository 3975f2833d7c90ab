"""realtime_widget.testing against the real local server: calls, answers, failures, misuse."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import pytest

from realtime_widget import Tool, UsageError, testing, tool
from realtime_widget.core.errors import ConnectionClosedError


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def greet(name: str, excited: bool = False) -> str:
    """Greet someone."""
    await asyncio.sleep(0)
    return f"Hello, {name}{'!' if excited else '.'}"


def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"broken {reason}")


@tool(timeout=0.2)
async def dawdle() -> str:
    """Takes longer than its timeout."""
    await asyncio.sleep(5)
    return "too late"


@tool(timeout=0.2)
def dawdle_in_thread() -> str:
    """A sync tool that takes longer than its timeout."""
    time.sleep(3)
    return "too late"


@dataclasses.dataclass
class Weather:
    city: str
    celsius: float


def get_weather(city: str) -> Weather:
    """Today's weather."""
    return Weather(city, 21.5)


def lookup(city: str) -> dict[str, Any]:
    """A dict result."""
    return {"city": city, "found": True, "tags": ["a", "b"]}


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_call_runs_the_tool_over_the_wire(dialect: str) -> None:
    async with testing.tool_session(add, greet, dialect=dialect) as session:
        result = await session.call("add", a=2, b=3)
        assert json.loads(result.arguments) == {"a": 2, "b": 3}
        assert (result.output, result.value, result.error, result.ok) == ("5", 5, None, True)
        assert result.answer == "add returned 5."
        assert 0 <= result.duration < 5
        connection = session.server.connections[0]
        assert connection.dialect == dialect
        # the server got the output from the client, for the call it made
        outputs = [
            e["item"]
            for e in connection.received
            if e["type"] == "conversation.item.create"
            and e["item"]["type"] == "function_call_output"
        ]
        assert outputs == [
            {"type": "function_call_output", "call_id": result.call_id, "output": "5"}
        ]

        hello = await session.call("greet", name="Ada", excited=True)
        assert (hello.value, hello.answer) == ("Hello, Ada!", "greet returned Hello, Ada!.")


async def test_arguments_reach_the_tool_exactly_as_given() -> None:
    seen: list[dict[str, Any]] = []

    def record(args: dict[str, Any]) -> str:
        seen.append(args)
        return "ok"

    definition = {"name": "record", "parameters": {"type": "object", "properties": {}}}
    async with testing.tool_session((definition, record)) as session:
        text = 'quotes " and {braces}, é, and "record" itself'
        result = await session.call("record", text=text, n=1.5, items=[1, None, {"k": False}])
    assert seen == [{"text": text, "n": 1.5, "items": [1, None, {"k": False}]}]
    assert json.loads(result.arguments) == seen[0]


async def test_a_forced_tool_choice_does_not_change_the_call() -> None:
    config = {"model": {"tool_choice": "required"}}
    async with testing.tool_session(greet, add, config=config) as session:
        result = await session.call("add", a=7, b=8)
        assert (json.loads(result.arguments), result.value) == ({"a": 7, "b": 8}, 15)
        assert session.client.config.get("model", "tool_choice") == "required"


async def test_a_failing_tool_gives_the_error_the_model_read() -> None:
    async with testing.tool_session(explode) as session:
        result = await session.call("explode", reason="on purpose")
    assert result.error == "RuntimeError: broken on purpose"
    assert result.value == {"error": "RuntimeError: broken on purpose"}
    assert not result.ok
    assert result.answer == "explode failed: RuntimeError: broken on purpose."


@pytest.mark.parametrize("slow", [dawdle, dawdle_in_thread])
async def test_a_tool_past_its_timeout_is_an_error(slow: Any) -> None:
    async with testing.tool_session(slow) as session:
        result = await session.call(slow.__name__)
    assert result.error == f"tool {slow.__name__!r} timed out after 0.2 s"
    assert 0.2 <= result.duration < 2.5  # the timeout, not the handler, ended it
    assert result.answer.startswith(f"{slow.__name__} failed: ")


async def test_arguments_the_schema_refuses_are_the_error_the_model_saw() -> None:
    async with testing.tool_session(add) as session:
        wrong_type = await session.call("add", a="2", b=3)
        missing = await session.call("add", a=1)
        unknown = await session.call("add", a=1, b=2, c=3)
        ok = await session.call("add", a=1, b=2)
    assert wrong_type.error == "tool 'add': argument 'a': expected integer, got string '2'"
    assert missing.error is not None and "'b'" in missing.error
    assert unknown.error is not None and "'c'" in unknown.error
    assert ok.value == 3  # the session goes on after refusals


async def test_an_unknown_tool_is_answered_with_an_error() -> None:
    async with testing.tool_session(add) as session:
        result = await session.call("subtract", a=1)
    assert result.error == "unknown tool 'subtract'"
    assert result.answer == "subtract failed: unknown tool 'subtract'."


async def test_dict_and_dataclass_results_are_json() -> None:
    async with testing.tool_session(get_weather, Tool.from_function(lookup)) as session:
        weather = await session.call("get_weather", city="Oslo")
        found = await session.call("lookup", city="Rome")
    assert weather.value == {"city": "Oslo", "celsius": 21.5}
    assert json.loads(weather.output) == weather.value
    assert weather.answer == 'get_weather returned {"city": "Oslo", "celsius": 21.5}.'
    assert found.value == {"city": "Rome", "found": True, "tags": ["a", "b"]}


async def test_ask_runs_the_tools_named_in_the_words() -> None:
    async with testing.tool_session(add, greet) as session:
        answer = await session.ask("Please use add with 4 and 5.")
        assert answer.transcript == "add returned 9."
        assert answer.item is not None and answer.item["role"] == "assistant"
        assert [(c.name, json.loads(c.arguments), c.value) for c in answer.calls] == [
            ("add", {"a": 4, "b": 5}, 9)
        ]
        plain = await session.ask("What a nice day")
        assert (plain.transcript, plain.calls) == ("You said: What a nice day.", ())


async def test_ask_follows_a_scripted_message_and_call_to_the_last_answer() -> None:
    script = {
        "dialogues": [
            {
                "prompts": ["weather please"],
                "responses": [
                    {"type": "message", "message": "Let me look."},
                    {"type": "function", "function": {"name": "get_weather", "arguments": {}}},
                ],
            }
        ]
    }
    config = {"knowledge": {"scripts": [script]}}
    async with testing.tool_session(get_weather, config=config, dialect="beta") as session:
        answer = await session.ask("Weather please!")
    assert answer.transcript.startswith("get_weather failed: ")
    assert [c.name for c in answer.calls] == ["get_weather"]
    assert answer.calls[0].error is not None and "'city'" in answer.calls[0].error


async def test_calls_on_one_session_run_one_after_another() -> None:
    async with testing.tool_session(add) as session:
        first, second = await asyncio.gather(
            session.call("add", a=1, b=1), session.call("add", a=2, b=2)
        )
    assert (first.value, second.value) == (2, 4)
    assert (first.answer, second.answer) == ("add returned 2.", "add returned 4.")


async def test_no_answer_in_time_is_a_timeout_error() -> None:
    @tool(timeout=None)
    async def forever() -> str:
        """Never returns."""
        await asyncio.sleep(60)
        return "never"

    async with testing.tool_session(forever, timeout=0.3) as session:
        with pytest.raises(TimeoutError, match=r"no answer within 0\.3 s"):
            await session.call("forever")


async def test_a_lost_connection_ends_the_call() -> None:
    @tool(timeout=None)
    async def wait_a_bit() -> str:
        """Slow enough to break the connection meanwhile."""
        await asyncio.sleep(2)
        return "done"

    async with testing.tool_session(wait_a_bit) as session:
        call = asyncio.create_task(session.call("wait_a_bit"))
        await asyncio.sleep(0.2)
        await session.server.break_connections()
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(call, 5)


async def test_misuse_is_a_usage_error_naming_the_value() -> None:
    async with testing.tool_session(add) as session:
        session.client.add_tool({"name": "by_hand", "parameters": {"type": "object"}})
        with pytest.raises(UsageError, match="got None"):
            await session.call(None)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="got ''"):
            await session.call("")
        with pytest.raises(UsageError, match="argument 'b' of 'add' is not json"):
            await session.call("add", a=1, b=object())
        with pytest.raises(UsageError, match="argument 'a' of 'add' is not json: nan"):
            await session.call("add", a=float("nan"), b=1)
        with pytest.raises(UsageError, match="tool 'by_hand' has no handler"):
            await session.call("by_hand")
        with pytest.raises(UsageError, match="got '  '"):
            await session.ask("  ")
        assert (await session.call("add", a=1, b=1)).value == 2
    with pytest.raises(UsageError, match="drop url="):
        async with testing.tool_session(add, url="ws://127.0.0.1:1/v1/realtime"):
            pass
    with pytest.raises(UsageError, match="got 0"):
        async with testing.tool_session(add, timeout=0):
            pass
    with pytest.raises(UsageError, match="two tools are named 'add'"):
        async with testing.tool_session(add, Tool.from_function(add)):
            pass


def test_call_tool_runs_one_call_synchronously() -> None:
    result = testing.call_tool(add, a=20, b=22)
    assert (result.value, result.answer) == (42, "add returned 42.")
    failed = testing.call_tool(explode, reason="here")
    assert failed.error == "RuntimeError: broken here"


async def test_call_tool_refuses_a_running_loop() -> None:
    with pytest.raises(UsageError, match="running event loop"):
        testing.call_tool(add, a=1, b=2)
