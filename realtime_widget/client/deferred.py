"""`HeldCalls`: the caller's sends kept while a session is being set up, run in order after.

Rules:

- Between the moment a connection opens and the moment its session is set up (its
  ``session.update`` sent and, after a reconnect, the conversation replayed and the update
  answered), what the caller sends would reach the server before the session's configuration
  and history. The client keeps those calls here and runs them, in the order they were made,
  once the session is ready.
- At most ``max_calls`` calls without audio and ``max_samples`` samples of audio are kept:
  past either, :meth:`HeldCalls.hold` keeps nothing and returns ``False`` (the client then
  refuses the call, or drops the audio chunk on both sides so sample offsets stay aligned).
- :meth:`HeldCalls.pop` takes the oldest call; :meth:`HeldCalls.clear` drops them all.

Pure bookkeeping: no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from realtime_widget.core.protocol import SAMPLE_RATE

__all__ = ["MAX_HELD_CALLS", "MAX_HELD_SAMPLES", "HeldCall", "HeldCalls"]

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
