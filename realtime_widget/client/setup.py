"""`SessionSetup`: from an open connection to a session that is set up.

:meth:`SessionSetup.open` connects, waits for ``session.created`` and sends the session; when
a lost session is resumed it also replays the conversation and waits for the server's answer
to that update (``session.updated``, or an ``error`` naming it; a server that never answers
is taken as set up once the deadline passes with the connection still open). All of it
within one ``timeout``; whatever it opened is closed again when it fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from realtime_widget.audio.utils import generate_id
from realtime_widget.client.transport import Transport
from realtime_widget.core.errors import ConnectionClosedError, ConnectTimeoutError
from realtime_widget.core.protocol import ServerEvent

__all__ = ["SessionSetup"]

logger = logging.getLogger("realtime_widget.client")  # the client's decisions, under its name

T = TypeVar("T")


class SessionSetup:
    """The setup of a client's sessions, one at a time (see the module docstring)."""

    def __init__(self) -> None:
        self.created = False  # the server said session.created
        self.session: dict[str, Any] | None = None  # the server's session, as last stated
        self.update_id: str | None = None  # the event id of the last session.update
        self._created: asyncio.Future[ServerEvent] | None = None
        self._answered: asyncio.Future[None] | None = None

    def next_update_id(self) -> str:
        """A new event id for the ``session.update`` about to be sent."""
        self.update_id = generate_id("evt_")
        return self.update_id

    def on_session(self, kind: str, event: ServerEvent) -> None:
        """``session.created`` or ``session.updated`` (``kind``) arrived."""
        session = event.get("session")
        if isinstance(session, dict):
            self.session = session
        if kind == "session.created":
            self.created = True
            if self._created is not None and not self._created.done():
                self._created.set_result(event)
        else:
            self._answer()

    def on_error(self, event: ServerEvent) -> None:
        """An ``error`` arrived: one refusing the session update answers it all the same."""
        details = event.get("error")
        refused = details.get("event_id") if isinstance(details, Mapping) else None
        if refused is not None and refused == self.update_id:
            self._answer()

    def end(self, error: BaseException) -> None:
        """The session is over: what waits for its setup fails with ``error``."""
        self.created = False
        for waiter in (self._created, self._answered):
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)

    async def open(
        self,
        transport: Transport,
        timeout: float,
        send_session: Callable[[], object],
        replay: Callable[[], Awaitable[int]] | None = None,
    ) -> int:
        """Connect and set the session up; returns how many items ``replay`` sent.

        ``replay`` (a resume) also waits for the answer to the session update.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.created = False
        created: asyncio.Future[ServerEvent] = loop.create_future()
        answered: asyncio.Future[None] = loop.create_future()
        self._created = created
        replayed = 0
        try:
            transport.open_timeout = timeout
            await transport.connect()
            await _wait(created, deadline, f"no session.created within {timeout:g} s", transport)
            _check_open(transport)
            self._answered = answered
            send_session()
            if replay is not None:
                replayed = await replay()
                try:
                    what = f"no answer to session.update within {timeout:g} s"
                    await _wait(answered, deadline, what, transport)
                except ConnectTimeoutError:
                    logger.info("the server did not answer session.update: going on")
                _check_open(transport)
        except BaseException:
            transport.disconnect()
            raise
        finally:
            self._created = None
            self._answered = None
            for waiter in (created, answered):
                # a failure set on a wait that never came (the try was cancelled) is known
                if waiter.done() and not waiter.cancelled():
                    waiter.exception()
                waiter.cancel()
        return replayed

    def _answer(self) -> None:
        if self._answered is not None and not self._answered.done():
            self._answered.set_result(None)


async def _wait(future: asyncio.Future[T], deadline: float, what: str, transport: Transport) -> T:
    remaining = max(deadline - asyncio.get_running_loop().time(), 0.0)
    try:
        # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancellation that arrives
        # as the future completes, and a stopped reconnect would go on
        async with asyncio.timeout(remaining):
            return await asyncio.shield(future)
    except TimeoutError:
        raise ConnectTimeoutError(what, url=transport.url) from None


def _check_open(transport: Transport) -> None:
    if not transport.is_connected():
        transport.raise_if_closed("set the session up")  # the code and reason
        raise ConnectionClosedError(None, "closed before the session was set up")
