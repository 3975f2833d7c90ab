"""The reconnect task on its own: tries, delays, endings, and stopping it."""

from __future__ import annotations

import asyncio
from typing import Any

from realtime_widget.client.reconnect import Reconnector
from realtime_widget.core.errors import ConnectError, ConnectionClosedError


class Owner:
    """What a client gives its reconnector: tries that fail or succeed as scripted."""

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.events: list[tuple[str, Any]] = []
        self.tries = 0
        self.in_try = asyncio.Event()
        self.reconnector = Reconnector(
            self.open_session, lambda: (0.0, 0.0, 0.0), self.note, self.give_up
        )

    async def open_session(self) -> int:
        self.tries += 1
        outcome = self.outcomes.pop(0)
        if outcome == "hang, then fail":
            self.in_try.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                # as a cancelled handshake can surface: an ordinary failure, the cancel lost
                raise ConnectError(
                    "disconnect() was called while connecting", url="ws://127.0.0.1:1"
                ) from None
        if outcome == "hang, then succeed":
            self.in_try.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                return 2  # the cancellation lost on the way (asyncio.wait_for can do that)
        if isinstance(outcome, BaseException):
            raise outcome
        return int(outcome)

    def note(self, name: str, event: Any) -> None:
        self.events.append((name, event))

    def give_up(self) -> int:
        return 0

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


async def test_it_tries_until_one_succeeds() -> None:
    owner = Owner([ConnectError("refused", url="ws://127.0.0.1:1"), 3])
    owner.reconnector.start(1006)
    while owner.reconnector.running:
        await asyncio.sleep(0)
    assert owner.names() == ["reconnecting", "reconnecting", "reconnected"]
    assert owner.events[-1][1] == {"attempt": 2, "replayed": 3}


async def test_a_try_that_cannot_be_mended_ends_it() -> None:
    owner = Owner([ConnectionClosedError(1000, "bye"), 1])
    owner.reconnector.start(1011)
    while owner.reconnector.running:
        await asyncio.sleep(0)
    assert owner.names() == ["reconnecting", "error"]
    assert owner.events[-1][1]["type"] == "reconnect_failed" and owner.tries == 1


async def test_a_cancel_that_reaches_a_try_as_a_failure_still_stops_it() -> None:
    owner = Owner(["hang, then fail", 1, 1])
    owner.reconnector.start(1011)
    await owner.in_try.wait()
    owner.reconnector.cancel()
    await asyncio.sleep(0.05)
    assert owner.names() == ["reconnecting"]  # no second try, no reconnect_failed
    assert owner.tries == 1 and not owner.reconnector.running


async def test_stop_waits_for_the_end() -> None:
    owner = Owner(["hang, then fail", 1])
    owner.reconnector.start(1006)
    await owner.in_try.wait()
    await owner.reconnector.stop()
    assert owner.names() == ["reconnecting"] and owner.tries == 1


async def test_a_try_that_succeeds_despite_the_cancel_still_says_reconnected() -> None:
    owner = Owner(["hang, then succeed"])
    owner.reconnector.start(1011)
    await owner.in_try.wait()
    await owner.reconnector.stop()
    assert owner.names() == ["reconnecting", "reconnected"]
    assert not owner.reconnector.running
