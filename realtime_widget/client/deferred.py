"""`HeldCalls`: the caller's sends kept while a session is being set up, run in order after.

Until a new session is set up (:mod:`~realtime_widget.client.setup`), what the caller sends
would reach the server before the session's configuration and history: :meth:`HeldCalls.submit`
holds it, and :meth:`HeldCalls.run_all` runs what is held, in order, once the session is
ready (after the tool outputs that waited for it: the model asked for those). What is held is
bounded (see :meth:`HeldCalls.submit`). No I/O of its own: the calls do what they do.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from realtime_widget.core.errors import RealtimeError, UsageError
from realtime_widget.core.protocol import SAMPLE_RATE

__all__ = ["MAX_HELD_CALLS", "MAX_HELD_SAMPLES", "HeldCall", "HeldCalls"]

logger = logging.getLogger("realtime_widget.client")  # the client's decisions, under its name

MAX_HELD_CALLS: Final = 256
MAX_HELD_SAMPLES: Final = SAMPLE_RATE * 30  # 30 s of 24 kHz audio


@dataclass(frozen=True)
class HeldCall:
    """One call kept for later: what it was (for messages), how to run it, its audio."""

    what: str
    run: Callable[[], object]
    samples: int = 0


class HeldCalls:
    """Calls waiting for the session to be ready, oldest first (see the module docstring)."""

    def __init__(
        self, max_calls: int = MAX_HELD_CALLS, max_samples: int = MAX_HELD_SAMPLES
    ) -> None:
        self.max_calls = max_calls
        self.max_samples = max_samples
        self._calls: deque[HeldCall] = deque()
        self._samples = 0
        self._silent = 0  # calls without audio

    def __len__(self) -> int:
        return len(self._calls)

    @property
    def samples(self) -> int:
        """Samples of audio held."""
        return self._samples

    def hold(self, call: HeldCall) -> bool:
        """Keep ``call``; ``False`` (and nothing kept) when a bound would be passed."""
        if call.samples:
            if self._samples + call.samples > self.max_samples:
                return False
        elif self._silent >= self.max_calls:
            return False
        self._calls.append(call)
        self._samples += call.samples
        self._silent += not call.samples
        return True

    def pop(self) -> HeldCall | None:
        """The oldest call, removed; ``None`` when none is held."""
        if not self._calls:
            return None
        call = self._calls.popleft()
        self._samples -= call.samples
        self._silent -= not call.samples
        return call

    def clear(self) -> int:
        """Drop every call; returns how many there were."""
        count = len(self._calls)
        self._calls.clear()
        self._samples = 0
        self._silent = 0
        return count

    def submit(self, call: HeldCall, ready: bool) -> bool:
        """Run ``call`` now if ``ready`` and nothing is held, else hold it.

        Returns ``False`` when its audio was dropped (too much held); raises
        :class:`UsageError` when it has no audio and too many calls are held.
        """
        if ready and not self._calls:
            call.run()
            return True
        if self.hold(call):
            return True
        if call.samples:
            logger.warning(
                "dropped %d samples of input audio: %d are already held for the session",
                call.samples,
                self._samples,
            )
            return False
        raise UsageError(
            f"cannot {call.what}: the session is being set up and {len(self)} calls "
            "already wait for it"
        )

    def run_all(self, failed: Callable[[HeldCall, RealtimeError], object]) -> None:
        """Run every call held, oldest first; ``failed(call, error)`` for one that raises."""
        while (call := self.pop()) is not None:
            try:
                call.run()
            except RealtimeError as exc:
                logger.warning("a held %s failed: %s", call.what, exc)
                failed(call, exc)

    def drop(self, why: str) -> int:
        """Drop every call held (logged with ``why``); returns how many there were."""
        dropped = self.clear()
        if dropped:
            logger.warning("dropped %d calls held for the session: %s", dropped, why)
        return dropped
