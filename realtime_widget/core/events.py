"""`RealtimeEventHandler`: named events with ``*`` wildcards, persistent and one-shot handlers.

Handlers are plain data in a table; matching names against wildcard patterns is cached per
name, at most :data:`CACHE_SIZE` names, the oldest entry going first (names such as
``server.<type>`` come from the peer, so the cache must not grow with what it sends). A
handler that raises never stops the others. No I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from realtime_widget.core.errors import UsageError

__all__ = ["CACHE_SIZE", "EventCallback", "RealtimeEventHandler"]

logger = logging.getLogger("realtime_widget.events")

EventCallback = Callable[[Any], Awaitable[Any] | Any]
C = TypeVar("C", bound=EventCallback)

CACHE_SIZE: Final = 256
"""How many event names the match cache remembers (the oldest entry goes first)."""


def _compile(pattern: str) -> re.Pattern[str] | None:
    """A regex for a wildcard pattern, or ``None`` when the pattern is a plain name."""
    if "*" not in pattern:
        return None
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


class _Entry:
    __slots__ = ("active", "callback", "once", "pattern", "regex")

    def __init__(self, pattern: str, callback: EventCallback, once: bool) -> None:
        self.pattern = pattern
        self.regex = _compile(pattern)
        self.callback = callback
        self.once = once
        # False once removed, or once a one-shot handler has been called
        self.active = True

    def matches(self, name: str) -> bool:
        return self.pattern == name if self.regex is None else bool(self.regex.match(name))


class RealtimeEventHandler:
    """Dispatches named events to handlers registered with ``on`` and ``on_next``."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        # name -> the matching entries, persistent first then one-shot, each in order added.
        self._cache: dict[str, tuple[_Entry, ...]] = {}
        # one-shot entries taken out of the table by dispatches still under way
        self._taken: list[_Entry] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- registration -------------------------------------------------------------------

    def on(self, event_name: str, callback: C) -> C:
        """Call ``callback(event)`` on every event matching ``event_name``; returns ``callback``.

        ``event_name`` may hold ``*`` wildcards, each matching any run of characters, dots
        included (``server.*``, ``conversation.item.*``, ``*``). ``callback`` may be a
        coroutine function: its coroutine runs as a task on the running loop (kept until it
        ends).
        """
        self._add(event_name, callback, once=False)
        return callback

    def on_next(self, event_name: str, callback: C) -> C:
        """Call ``callback(event)`` on the next event matching ``event_name`` only."""
        self._add(event_name, callback, once=True)
        return callback

    def off(self, event_name: str, callback: EventCallback | None = None) -> bool:
        """Remove persistent handlers of ``event_name`` (all of them when ``callback`` is None).

        Raises :class:`UsageError` when ``callback`` was never added for ``event_name``.
        Returns ``True``.
        """
        self._remove(event_name, callback, once=False)
        return True

    def off_next(self, event_name: str, callback: EventCallback | None = None) -> bool:
        """Remove one-shot handlers of ``event_name``, like :meth:`off`. Returns ``True``."""
        self._remove(event_name, callback, once=True)
        return True

    def clear_event_handlers(self) -> bool:
        """Remove every handler. Returns ``True``."""
        for entry in self._entries + self._taken:
            entry.active = False
        self._entries.clear()
        self._taken.clear()
        self._cache.clear()
        return True

    def _add(self, event_name: str, callback: EventCallback, *, once: bool) -> None:
        if not isinstance(event_name, str) or not event_name:
            raise UsageError(f"event name must be a non-empty string, got {event_name!r}")
        if not callable(callback):
            raise UsageError(f"callback for {event_name!r} is not callable: {callback!r}")
        self._entries.append(_Entry(event_name, callback, once))
        self._cache.clear()

    def _remove(self, event_name: str, callback: EventCallback | None, *, once: bool) -> None:
        def same(entry: _Entry) -> bool:
            return (
                entry.once == once
                and entry.pattern == event_name
                and (callback is None or entry.callback == callback)
            )

        candidates = self._entries
        if once:  # one-shot handlers taken by a dispatch under way, not called yet, count too
            candidates = candidates + [e for e in self._taken if e.active]
        found = [e for e in candidates if same(e)]
        if callback is not None:
            if not found:
                raise UsageError(
                    f"callback {getattr(callback, '__name__', callback)!r} was never added "
                    f"with {'on_next' if once else 'on'}({event_name!r})"
                )
            del found[1:]
        for entry in found:
            entry.active = False
        if found:
            self._entries = [e for e in self._entries if e.active]
            self._cache.clear()

    # -- dispatch -----------------------------------------------------------------------

    def _matching(self, name: str) -> tuple[_Entry, ...]:
        """The entries matching ``name``: persistent ones first, then one-shot ones."""
        found = self._cache.get(name)
        if found is None:
            matching = [e for e in self._entries if e.matches(name)]
            found = tuple(e for e in matching if not e.once) + tuple(e for e in matching if e.once)
            if len(self._cache) >= CACHE_SIZE:
                del self._cache[next(iter(self._cache))]
            self._cache[name] = found
        return found

    def dispatch(self, event_name: str, event: Any) -> bool:
        """Call every handler matching ``event_name`` with ``event``; returns ``True``.

        Persistent handlers run first, then one-shot ones, each in the order they were added.
        One-shot handlers are taken out of the table before they run, so one may re-arm itself
        and a nested dispatch does not run it twice. A handler removed while a dispatch is
        under way is not called by it if its turn has not come (a one-shot handler taken but
        not run yet can still be removed with ``off_next``). A handler that raises is reported
        through :meth:`report_handler_error` and the others still run.
        """
        entries = self._matching(event_name)
        if not entries:
            return True
        taken = entries[-1].once  # one-shot entries come last
        if taken:
            self._entries = [e for e in self._entries if not (e.once and e in entries)]
            self._taken.extend(e for e in entries if e.once)
            self._cache.clear()
        try:
            for entry in entries:
                if not entry.active:
                    continue  # removed by a handler that ran before it
                if entry.once:
                    entry.active = False
                try:
                    result = entry.callback(event)
                except Exception as exc:
                    self.report_handler_error(event_name, entry.callback, exc)
                    continue
                if result is not None and inspect.isawaitable(result):
                    self._schedule(event_name, entry.callback, result)
        finally:
            if taken:
                self._taken = [e for e in self._taken if e.active]
        return True

    def _schedule(self, event_name: str, callback: EventCallback, awaitable: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            self.report_handler_error(
                event_name,
                callback,
                UsageError(f"async handler for {event_name!r} needs a running event loop"),
            )
            return

        async def run() -> None:
            try:
                await awaitable
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.report_handler_error(event_name, callback, exc)

        task = loop.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def report_handler_error(
        self, event_name: str, callback: EventCallback, exc: BaseException
    ) -> None:
        """Called when a handler raised (an async one: when its task did). Logs it;
        subclasses may also surface it as an event."""
        logger.error(
            "handler %s for %r raised %s: %s",
            getattr(callback, "__qualname__", repr(callback)),
            event_name,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )

    async def wait_for_next(self, event_name: str, timeout: float | None = None) -> Any:
        """Wait for the next event matching ``event_name`` (on a future: no polling).

        Returns the event, or ``None`` when ``timeout`` seconds pass first (``None`` or
        ``math.inf`` waits for ever). The timeout is in seconds, where the JavaScript
        client's ``waitForNext`` takes milliseconds. Raises :class:`UsageError` unless
        ``timeout`` is ``None`` or a non-negative number of seconds (not a bool, not NaN).
        Must be awaited on the loop that dispatches the events.
        """
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0
        ):
            raise UsageError(
                f"timeout must be a non-negative number of seconds or None, got {timeout!r}"
            )
        if timeout == math.inf:
            timeout = None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def resolve(event: Any) -> None:
            if not future.done():
                future.set_result(event)

        self.on_next(event_name, resolve)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancellation that
            # arrives as the event does
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return None
        finally:
            self._discard(event_name, resolve)

    def _discard(self, event_name: str, callback: EventCallback) -> None:
        """Remove a one-shot handler if it is still registered (no error when it is not)."""
        with contextlib.suppress(UsageError):
            self._remove(event_name, callback, once=True)

    async def drain_handler_tasks(self) -> None:
        """Wait until every scheduled async handler has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel_handler_tasks(self) -> None:
        """Cancel every scheduled async handler that is still running."""
        for task in list(self._tasks):
            task.cancel()
