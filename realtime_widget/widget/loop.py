"""`HomeLoop`: the event loop and thread a widget's client runs on, and the widget's tasks.

The client is not thread-safe, and comm messages and trait changes from the browser may be
handled in another thread (JupyterLab sends widget messages on a kernel subshell, whose
thread has its own loop): :meth:`HomeLoop.run` brings them to the home thread. Nothing
raises into the caller (the comm): failures go to the owner's ``report`` (the ``error``
trait, scrubbed of credentials there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from realtime_widget.core.errors import RealtimeError

__all__ = ["HomeLoop"]

logger = logging.getLogger("realtime_widget.widget")  # the widget's failures, under its name


class HomeLoop:
    """Where a widget's client runs: the loop running where the widget is made (in a kernel,
    the kernel's main loop), or the one :meth:`adopt` is called on; without either, tasks
    and timers go to the policy's loop.

    ``report(text)`` shows a failure to the user; ``scrub(text)`` takes the credentials out
    of a text before it is logged.
    """

    def __init__(self, report: Callable[[str], None], scrub: Callable[[str], str]) -> None:
        self._report = report
        self._scrub = scrub
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        with contextlib.suppress(RuntimeError):
            self.adopt()

    def adopt(self) -> None:
        """Make the running loop, in this thread, the home loop. RuntimeError without one."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def run(self, action: Callable[[], None], what: str) -> None:
        """Run ``action`` in the home thread: through ``call_soon_threadsafe`` when called
        from another thread while the home loop runs, else at once. A :class:`RealtimeError`
        it raises is reported as its message; any other exception is logged with its
        traceback and reported as ``"<what> failed: <exception>"``."""

        loop = self._loop
        elsewhere = self._thread is not None and self._thread != threading.get_ident()
        if loop is not None and elsewhere and loop.is_running():
            loop.call_soon_threadsafe(self._guarded, action, what)
        else:
            self._guarded(action, what)

    def _guarded(self, action: Callable[[], None], what: str) -> None:
        try:
            action()
        except RealtimeError as exc:
            self._report(str(exc))
        except Exception as exc:
            logger.exception("%s failed", what)
            self._report(f"{what} failed: {exc}")

    def spawn(self, coroutine: Coroutine[Any, Any, Any], what: str) -> None:
        """Run ``coroutine`` as a background task on the home loop (call in its thread),
        keeping a reference until it ends. Failures are reported as :meth:`run` does, but a
        :class:`RealtimeError` is only logged (scrubbed): the coroutine reported it itself."""

        async def guarded() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except RealtimeError as exc:
                logger.info("%s failed: %s", what, self._scrub(str(exc)))
            except Exception as exc:
                logger.exception("%s failed", what)
                self._report(f"{what} failed: {exc}")

        task = self._target().create_task(guarded(), name=f"realtime-widget-{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        """Call ``callback`` on the home loop in ``delay`` seconds (call in its thread)."""
        return self._target().call_later(delay, callback)

    def _target(self) -> asyncio.AbstractEventLoop:
        return self._loop or asyncio.get_event_loop_policy().get_event_loop()
