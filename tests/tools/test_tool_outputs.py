"""A tool's result is bounded before it is converted, and converted off the event loop.

The size limit (``max_output_bytes``) stops the conversion: a sized result whose JSON cannot
fit is refused from its length, anything else is encoded until the limit is passed. The
conversion runs in a worker thread, within the tool's timeout.
"""

from __future__ import annotations

import asyncio
import collections.abc as cabc
import json
import threading
import time
from typing import Any

import numpy as np
import pytest

from realtime_widget import testing
from realtime_widget.tools.registry import (
    DEFAULT_MAX_OUTPUT_BYTES,
    Tool,
    run_tool,
    serialise_result,
    validate_definition,
)
from realtime_widget.tools.results import OversizedResult

LIMIT = DEFAULT_MAX_OUTPUT_BYTES


def _returning(name: str, value: Any, timeout: float | None = 30.0) -> Tool:
    return Tool(validate_definition({"name": name}), lambda: value, timeout)


class Counted(cabc.Sequence[str]):
    """A sequence of long strings that counts the items read from it."""

    def __init__(self, count: int, size: int) -> None:
        self.count, self.size, self.read = count, size, 0

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, int) or not 0 <= index < self.count:
            raise IndexError(index)
        self.read += 1
        return "x" * self.size


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (np.zeros(30_000_000), "ndarray of 30000000 items"),
        (range(30_000_000), "range of 30000000 items"),
        ([0] * 2_000_000, "list of 2000000 items"),
    ],
    ids=["numpy", "range", "list"],
)
async def test_a_huge_sized_result_is_refused_from_its_length(value: Any, what: str) -> None:
    result = await run_tool(_returning("huge", value), "huge", "")
    expected = f"result of tool 'huge' refused: {what} is over the limit of {LIMIT} bytes as JSON"
    assert (result.ok, result.error) == (False, expected)
    assert json.loads(result.output) == {"error": expected}
    assert result.value is value


async def test_encoding_stops_once_the_limit_is_passed() -> None:
    value = Counted(1_000, 10_000)  # 10 MB of text, 1,000 items: not refused from its length
    result = await run_tool(_returning("long", value), "long", "")
    assert result.error == (
        f"result of tool 'long' refused: its JSON passed the limit of {LIMIT} bytes "
        "(encoding stopped there)"
    )
    assert value.read <= LIMIT // 10_000 + 2


async def test_a_result_just_under_the_limit_is_sent_whole() -> None:
    value = ["é" * 1000] * 100  # 200,000 bytes of UTF-8 text
    result = await run_tool(_returning("fits", value), "fits", "", max_output_bytes=210_000)
    assert result.ok
    assert json.loads(result.output) == value
    over = await run_tool(_returning("fits", value), "fits", "", max_output_bytes=190_000)
    assert over.error is not None and "passed the limit of 190000 bytes" in over.error


class Slow:
    """A result whose conversion (``model_dump``) waits to be released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.thread: threading.Thread | None = None

    def model_dump(self) -> dict[str, Any]:
        self.thread = threading.current_thread()
        self.release.wait(10)
        return {"done": True}


async def test_the_conversion_runs_off_the_loop() -> None:
    value = Slow()
    value.release.set()
    result = await run_tool(_returning("slow", value), "slow", "")
    assert result.output == '{"done": true}'
    assert value.thread is not None and value.thread is not threading.main_thread()


async def test_the_conversion_is_bounded_by_the_tools_timeout() -> None:
    value = Slow()
    started = time.perf_counter()
    try:
        result = await run_tool(_returning("slow", value, timeout=0.2), "slow", "")
    finally:
        value.release.set()
    assert result.error == "tool 'slow' timed out after 0.2 s while converting its result"
    assert time.perf_counter() - started < 9  # the timeout ended it, not the release


async def test_the_loop_keeps_running_while_a_huge_result_is_refused() -> None:
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    try:
        async with testing.tool_session(({"name": "numbers"}, lambda: range(30_000_000))) as s:
            result = await s.call("numbers")
    finally:
        stop.set()
        await task
    assert result.error is not None and "refused" in result.error
    # the old conversion held the loop for tens of seconds; the figure is the benchmark's
    assert max(gaps) < 2.0


def test_serialise_result_takes_a_limit() -> None:
    assert serialise_result([1, 2], max_bytes=6) == "[1, 2]"
    with pytest.raises(OversizedResult, match="over the limit of 5 bytes") as caught:
        serialise_result([1, 2], max_bytes=5)
    assert caught.value.limit == 5
    assert serialise_result(np.arange(3)) == "[0, 1, 2]"


@pytest.mark.parametrize(
    "array",
    [
        np.linspace(0.0, 1.0, 1_000),
        np.arange(12, dtype=np.uint8).reshape(3, 4),
        np.array([[True], [False]]),
        np.array([1.5, np.inf, np.nan], dtype=np.float32),
        np.array(["a", "é"]),
    ],
    ids=["float", "uint8-2d", "bool", "not-finite", "text"],
)
def test_numpy_arrays_that_fit_are_sent_whole(array: Any) -> None:
    expected = [None if isinstance(x, float) and not np.isfinite(x) else x for x in array.tolist()]
    output = serialise_result(array, max_bytes=LIMIT)
    assert json.loads(output) == expected
    assert output == json.dumps(expected, ensure_ascii=False)
