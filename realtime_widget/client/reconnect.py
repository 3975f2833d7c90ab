"""`Reconnector`: reopening a lost session, as one task its owner can stop.

Rules (a client's reconnect, ``RealtimeClient(reconnect=True)``):

- A session is worth reopening when it was lost abnormally (:func:`lost_abnormally`): a
  close code of :data:`RECONNECT_CODES` (1001 going away, 1006 abnormal closure, 1011
  server error, 1012 restart, 1013 try again later; the service's session-length limit among
  them) or no close frame at all (a network failure). The client starts a reconnect
  (:meth:`~Reconnector.start`) when a session that was ready is lost that way, reconnect on
  and no ``disconnect()`` asked for; the ``close`` event it dispatches then already says
  ``reconnecting: True``.
- At most one reconnect runs: :attr:`~Reconnector.running` (the client's ``reconnecting``)
  is true from the moment the loss is seen until the reconnect ends. It makes one try after
  each of the client's ``reconnect_delays`` (read as it begins), each announced by
  ``reconnecting`` ``{attempt, delay, code}`` before its delay. A try opens a connection and
  sets the session up with the same configuration and tools, the conversation so far
  replayed into it (:mod:`~realtime_widget.client.replay`), so the model keeps its context
  while the items stay as they were; it counts as set up once the server has answered the
  session's update (or, from a server that never answers, once ``connect_timeout`` has
  passed). It fails when the connection cannot open, closes or times out before that.
- It ends with ``reconnected`` ``{attempt, replayed}`` at the first try that succeeds, or
  with an ``error`` of type ``reconnect_failed`` ``{error, unsent}`` once every try failed,
  or one failed in a way a retry cannot mend (:func:`worth_retrying`: refused credentials,
  a refused redirect, a misuse, a normal close). ``error`` is the last try's
  :class:`RealtimeError` (else a :class:`ConnectionClosedError` with the first loss's
  code); ``unsent`` is how many calls held for the session were dropped.
  :attr:`running` is false when either is dispatched.
- A ``connect()`` while a reconnect runs takes it over (:meth:`~Reconnector.stop` cancels
  it and waits for it to end) and resumes the session itself, replaying the conversation,
  as does the ``connect()`` after a reconnect that failed; when the cancelled try had
  already set the session up, that ``connect()`` returns at once. ``disconnect()`` cancels
  it (:meth:`~Reconnector.cancel`). A cancelled reconnect dispatches nothing more, even when
  its cancellation reaches it as a try's failure, unless the try it cancelled had already
  set the session up: then it still dispatches ``reconnected``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from realtime_widget.core.errors import (
    AuthenticationError,
    ConnectionClosedError,
    RealtimeError,
    RedirectRefusedError,
    UsageError,
)
from realtime_widget.core.protocol import ErrorEvent, ReconnectedEvent, ReconnectingEvent

__all__ = ["RECONNECT_CODES", "Reconnector", "lost_abnormally", "worth_retrying"]

logger = logging.getLogger("realtime_widget.client")  # the client's decisions, under its name

RECONNECT_CODES: Final = frozenset({1001, 1006, 1011, 1012, 1013})


def lost_abnormally(code: int | None) -> bool:
    """Whether a connection that closed with ``code`` (``None``: no close frame) was lost in
    a way a new connection may mend."""
    return code is None or code in RECONNECT_CODES


def worth_retrying(exc: BaseException) -> bool:
    """Whether a reconnect try that failed with ``exc`` may succeed when tried again."""
    if isinstance(exc, AuthenticationError | RedirectRefusedError | UsageError):
        return False
    if isinstance(exc, ConnectionClosedError):
        return lost_abnormally(exc.code)
    return True


class Reconnector:
    """The reconnect of one client (see the module rules).

    ``open_session`` makes one try and returns how many items it replayed; ``delays``
    returns the seconds to wait before each try; ``dispatch(name, event)`` sends the
    reconnect's events; ``give_up`` runs when the reconnect fails and returns ``unsent``.
    """

    def __init__(
        self,
        open_session: Callable[[], Awaitable[int]],
        delays: Callable[[], Sequence[float]],
        dispatch: Callable[[str, Any], object],
        give_up: Callable[[], int],
    ) -> None:
        self._open_session = open_session
        self._delays = delays
        self._dispatch = dispatch
        self._give_up = give_up
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether a reconnect is under way."""
        return self._task is not None

    def start(self, code: int | None) -> None:
        """Reopen the session lost with close ``code``, in a task (a running loop needed)."""
        self._task = asyncio.get_running_loop().create_task(
            self._run(code), name="realtime-reconnect"
        )

    def cancel(self) -> None:
        """Stop the reconnect under way, if any, without waiting for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        """Stop the reconnect under way, if any, and wait until it has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _run(self, code: int | None) -> None:
        """Reopen the session: ends in ``reconnected`` or a ``reconnect_failed`` error."""
        me = asyncio.current_task()
        failure: BaseException | None = None
        try:
            for attempt, delay in enumerate(self._delays(), start=1):
                trying: ReconnectingEvent = {"attempt": attempt, "delay": delay, "code": code}
                self._dispatch("reconnecting", trying)
                await asyncio.sleep(delay)
                try:
                    replayed = await self._open_session()
                except Exception as exc:  # every failure of a try is a reason to try again
                    if self._task is not me:
                        # stopped while the try ran, its cancellation turned into this failure
                        # on the way (asyncio.wait_for can do that): nothing more to say
                        return
                    failure = exc
                    logger.warning("reconnect attempt %d failed: %s", attempt, exc)
                    if not worth_retrying(exc):
                        break
                    continue
                # stopped too late to matter (the try had set the session up, the cancellation
                # lost on the way): the session is back all the same, and says so
                if self._task is me:
                    self._task = None
                back: ReconnectedEvent = {"attempt": attempt, "replayed": replayed}
                self._dispatch("reconnected", back)
                return
            if self._task is not me:
                return
            self._task = None
            error = failure if isinstance(failure, RealtimeError) else None
            unsent = self._give_up()
            failed: ErrorEvent = {
                "type": "reconnect_failed",
                "error": error or ConnectionClosedError(code, f"reconnect failed: {failure}"),
                "unsent": unsent,
            }
            self._dispatch("error", failed)
        finally:
            if self._task is me:
                self._task = None
