"""RealtimeEventHandler: order, wildcards, one-shot handlers, errors, async handlers, waits."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import pytest

from realtime_widget.core.errors import UsageError
from realtime_widget.core.events import RealtimeEventHandler


def test_on_returns_callback_and_dispatch_returns_true() -> None:
    handler = RealtimeEventHandler()
    seen: list[Any] = []

    def cb(event: Any) -> None:
        seen.append(event)

    assert handler.on("a", cb) is cb
    assert handler.dispatch("a", {"x": 1}) is True
    assert handler.dispatch("b", {"x": 2}) is True
    assert seen == [{"x": 1}]


def test_on_handlers_in_order_then_on_next_handlers_in_order() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []
    handler.on_next("e", lambda _: calls.append("next1"))
    handler.on("e", lambda _: calls.append("on1"))
    handler.on_next("e", lambda _: calls.append("next2"))
    handler.on("e", lambda _: calls.append("on2"))
    handler.dispatch("e", None)
    assert calls == ["on1", "on2", "next1", "next2"]
    handler.dispatch("e", None)
    assert calls == ["on1", "on2", "next1", "next2", "on1", "on2"]


def test_wildcards_match_any_run_of_characters() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []
    handler.on("server.*", lambda _: calls.append("server"))
    handler.on("conversation.item.*", lambda _: calls.append("item"))
    handler.on("*", lambda _: calls.append("all"))
    handler.on("*.done", lambda _: calls.append("done"))
    handler.dispatch("server.response.done", None)
    handler.dispatch("conversation.item.appended", None)
    handler.dispatch("conversation.updated", None)
    handler.dispatch("client.session.update", None)
    assert calls == ["server", "all", "done", "item", "all", "all", "all"]


def test_wildcard_pattern_is_not_a_regex() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []
    handler.on("a.b", lambda _: calls.append("exact"))
    handler.on("a.*", lambda _: calls.append("wild"))
    handler.dispatch("axb", None)
    handler.dispatch("a.b", None)
    assert calls == ["exact", "wild"]


def test_handler_added_later_is_seen_by_later_dispatches() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []
    handler.dispatch("x", None)
    handler.on("x", lambda _: calls.append("late"))
    handler.dispatch("x", None)
    assert calls == ["late"]


def test_on_next_may_rearm_itself() -> None:
    handler = RealtimeEventHandler()
    calls: list[int] = []

    def once(event: int) -> None:
        calls.append(event)
        if event < 3:
            handler.on_next("tick", once)

    handler.on_next("tick", once)
    for n in range(1, 6):
        handler.dispatch("tick", n)
    assert calls == [1, 2, 3]


def test_off_removes_one_or_all_and_rejects_unknown_callbacks() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []

    def a(_: Any) -> None:
        calls.append("a")

    def b(_: Any) -> None:
        calls.append("b")

    handler.on("e", a)
    handler.on("e", b)
    assert handler.off("e", a) is True
    handler.dispatch("e", None)
    assert calls == ["b"]
    with pytest.raises(UsageError, match=r"'a' was never added with on\('e'\)"):
        handler.off("e", a)
    assert handler.off("e") is True
    handler.dispatch("e", None)
    assert calls == ["b"]
    # off with no callback on a name without handlers is fine
    assert handler.off("nothing") is True


def test_off_next_removes_one_shot_handlers_only() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []

    def cb(_: Any) -> None:
        calls.append("cb")

    handler.on("e", cb)
    handler.on_next("e", cb)
    assert handler.off_next("e", cb) is True
    handler.dispatch("e", None)
    assert calls == ["cb"]
    with pytest.raises(UsageError, match="on_next"):
        handler.off_next("e", cb)
    handler.on_next("e", cb)
    assert handler.off_next("e") is True
    handler.dispatch("e", None)
    assert calls == ["cb", "cb"]


def test_clear_event_handlers() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []
    handler.on("*", lambda _: calls.append("x"))
    handler.on_next("e", lambda _: calls.append("y"))
    assert handler.clear_event_handlers() is True
    handler.dispatch("e", None)
    assert calls == []


def test_bad_registration_arguments() -> None:
    handler = RealtimeEventHandler()
    with pytest.raises(UsageError, match="non-empty string"):
        handler.on("", lambda _: None)
    with pytest.raises(UsageError, match="not callable"):
        handler.on("e", 42)  # type: ignore[type-var]


def test_raising_handler_does_not_stop_others(caplog: pytest.LogCaptureFixture) -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []

    def boom(_: Any) -> None:
        raise RuntimeError("kaput")

    handler.on("e", boom)
    handler.on("e", lambda _: calls.append("after"))
    handler.on_next("e", boom)
    handler.on_next("e", lambda _: calls.append("next"))
    with caplog.at_level(logging.ERROR, logger="realtime_widget.events"):
        assert handler.dispatch("e", None) is True
    assert calls == ["after", "next"]
    assert sum("kaput" in r.getMessage() for r in caplog.records) == 2


def test_report_handler_error_can_be_overridden() -> None:
    reported: list[tuple[str, BaseException]] = []

    class Reporting(RealtimeEventHandler):
        def report_handler_error(self, event_name: str, callback: Any, exc: BaseException) -> None:
            reported.append((event_name, exc))

    handler = Reporting()
    handler.on("e", lambda _: 1 / 0)
    handler.dispatch("e", None)
    assert len(reported) == 1
    assert reported[0][0] == "e"
    assert isinstance(reported[0][1], ZeroDivisionError)


async def test_async_handlers_run_as_tasks_and_errors_are_reported() -> None:
    reported: list[BaseException] = []

    class Reporting(RealtimeEventHandler):
        def report_handler_error(self, event_name: str, callback: Any, exc: BaseException) -> None:
            reported.append(exc)

    handler = Reporting()
    seen: list[int] = []

    async def good(event: int) -> None:
        await asyncio.sleep(0)
        seen.append(event)

    async def bad(event: int) -> None:
        await asyncio.sleep(0)
        raise ValueError(f"bad {event}")

    handler.on("e", good)
    handler.on("e", bad)
    handler.dispatch("e", 7)
    assert seen == []  # scheduled, not run inline
    await handler.drain_handler_tasks()
    assert seen == [7]
    assert [str(e) for e in reported] == ["bad 7"]


def test_async_handler_without_loop_is_reported_not_lost() -> None:
    reported: list[BaseException] = []

    class Reporting(RealtimeEventHandler):
        def report_handler_error(self, event_name: str, callback: Any, exc: BaseException) -> None:
            reported.append(exc)

    handler = Reporting()

    async def needs_loop(_: Any) -> None:
        return None

    handler.on("e", needs_loop)
    handler.dispatch("e", None)
    assert len(reported) == 1
    assert "running event loop" in str(reported[0])


async def test_wait_for_next_resolves_with_the_event() -> None:
    handler = RealtimeEventHandler()
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, handler.dispatch, "server.response.done", {"id": 1})
    event = await handler.wait_for_next("server.*", timeout=2)
    assert event == {"id": 1}
    # the one-shot handler is gone
    assert handler._matching("server.x") == ()


async def test_wait_for_next_times_out_with_none_and_cleans_up() -> None:
    handler = RealtimeEventHandler()
    assert await handler.wait_for_next("never", timeout=0.01) is None
    assert handler._matching("never") == ()


async def test_wait_for_next_cancelled_cleans_up() -> None:
    handler = RealtimeEventHandler()
    task = asyncio.ensure_future(handler.wait_for_next("e"))
    await asyncio.sleep(0)
    assert len(handler._matching("e")) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert handler._matching("e") == ()


async def test_wait_for_next_rejects_bad_timeout() -> None:
    handler = RealtimeEventHandler()
    with pytest.raises(UsageError, match="-1"):
        await handler.wait_for_next("e", timeout=-1)


async def test_concurrent_waiters_each_get_the_event() -> None:
    handler = RealtimeEventHandler()
    waiters = [asyncio.ensure_future(handler.wait_for_next("e", 2)) for _ in range(3)]
    await asyncio.sleep(0)
    handler.dispatch("e", "payload")
    assert await asyncio.gather(*waiters) == ["payload"] * 3


# -- removal during a dispatch -----------------------------------------------------------------


def test_off_next_during_dispatch_cancels_a_one_shot_handler_not_run_yet() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []
    results: list[bool] = []  # asserted outside: a handler's failure is only logged

    def once(_: Any) -> None:
        calls.append("once")

    def cancel(_: Any) -> None:
        calls.append("cancel")
        results.append(handler.off_next("e", once))

    handler.on("e", cancel)
    handler.on_next("e", once)
    handler.dispatch("e", None)
    assert calls == ["cancel"]
    assert results == [True]
    handler.off("e", cancel)
    handler.dispatch("e", None)  # cancelled, not merely skipped once
    assert calls == ["cancel"]


def test_off_next_of_a_one_shot_handler_that_already_ran_is_refused() -> None:
    handler = RealtimeEventHandler()
    errors: list[str] = []

    def first(_: Any) -> None:
        pass

    def second(_: Any) -> None:
        try:
            handler.off_next("e", first)
        except UsageError as exc:
            errors.append(str(exc))

    handler.on_next("e", first)
    handler.on_next("e", second)
    handler.dispatch("e", None)
    assert len(errors) == 1 and "was never added with on_next('e')" in errors[0]


def test_off_next_without_callback_during_dispatch_cancels_every_pending_one() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []
    handler.on("e", lambda _: handler.off_next("e"))
    handler.on_next("e", lambda _: calls.append("a"))
    handler.on_next("e", lambda _: calls.append("b"))
    handler.dispatch("e", None)
    assert calls == []


def test_off_during_dispatch_stops_a_handler_not_run_yet() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []

    def second(_: Any) -> None:
        calls.append("second")

    def first(_: Any) -> None:
        calls.append("first")
        handler.off("z", second)

    handler.on("z", first)
    handler.on("z", second)
    handler.dispatch("z", None)
    assert calls == ["first"]


def test_nested_dispatch_runs_a_one_shot_handler_once() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []

    def outer(_: Any) -> None:
        handler.dispatch("e", "inner")

    handler.on("e", outer)
    handler.on_next("e", calls.append)
    handler.dispatch("e", "outer")
    assert calls == ["outer"]


# -- wait_for_next timeouts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "shown"),
    [(math.nan, "nan"), (True, "True"), (False, "False"), (-0.5, "-0.5"), ("1", "'1'")],
)
async def test_wait_for_next_rejects_timeouts_that_are_not_durations(
    timeout: Any, shown: str
) -> None:
    handler = RealtimeEventHandler()
    with pytest.raises(UsageError, match=f"timeout must be .*, got {shown}$"):
        await handler.wait_for_next("e", timeout=timeout)
    assert handler._matching("e") == ()


@pytest.mark.parametrize("timeout", [0, 0.0, 0.01])
async def test_wait_for_next_with_a_finite_timeout_gives_none_when_nothing_comes(
    timeout: float,
) -> None:
    handler = RealtimeEventHandler()
    assert await handler.wait_for_next("e", timeout=timeout) is None


@pytest.mark.parametrize("timeout", [math.inf, None, 5])
async def test_wait_for_next_accepts_inf_and_none(timeout: float | None) -> None:
    handler = RealtimeEventHandler()
    asyncio.get_running_loop().call_later(0.01, handler.dispatch, "e", "x")
    assert await handler.wait_for_next("e", timeout=timeout) == "x"


# -- the match cache ---------------------------------------------------------------------------


def test_match_cache_stays_bounded_whatever_names_are_dispatched() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []
    handler.on("server.*", lambda e: calls.append(e))
    handler.on("server.hot", lambda e: calls.append("exact"))
    for n in range(10_000):
        handler.dispatch(f"server.item.{n}", str(n))
        handler.dispatch("server.hot", "hot")
    assert len(calls) == 30_000  # every name still matched
    assert len(handler._cache) <= 1_024


def test_match_cache_follows_registrations() -> None:
    handler = RealtimeEventHandler()
    calls: list[str] = []
    handler.dispatch("a.b", None)  # cached as matching nothing
    handler.on("a.*", lambda _: calls.append("wild"))
    handler.dispatch("a.b", None)
    handler.off("a.*")
    handler.dispatch("a.b", None)
    assert calls == ["wild"]
