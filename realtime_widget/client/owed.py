"""`OwedCalls`: which function calls each response still owes, and when to go on.

A response may make several function calls. Once EVERY call is answered (a
``function_call_output`` item) and the response itself is done, exactly one
``response.create`` follows (PROTOCOL.md, "Tool calls": one per call, or one before
``response.done``, collides with the running response). :meth:`~OwedCalls.settle` and
:meth:`~OwedCalls.finish` return ``True`` exactly once per response: when that
``response.create`` is due. No I/O.
"""

from __future__ import annotations

from realtime_widget.core.errors import UsageError

__all__ = ["OwedCalls"]


class _Response:
    __slots__ = ("done", "pending")

    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.done = False


class OwedCalls:
    """The function calls of each response and their answers (see the module docstring)."""

    def __init__(self) -> None:
        self._responses: dict[str, _Response] = {}
        self._response_of: dict[str, str] = {}
        self._claimed: set[str] = set()

    def expect(self, response_id: str, call_id: str) -> bool:
        """Record ``call_id`` as a call of ``response_id``; ``False`` if already known."""
        if call_id in self._response_of:
            return False
        self._responses.setdefault(response_id, _Response()).pending.add(call_id)
        self._response_of[call_id] = response_id
        return True

    def claim(self, call_id: str) -> None:
        """Mark ``call_id`` answered; raises UsageError when it already was."""
        if call_id in self._claimed:
            raise UsageError(f"function call {call_id!r} was already answered")
        self._claimed.add(call_id)

    def settle(self, call_id: str) -> bool:
        """The answer to ``call_id`` was sent; ``True`` when its response may now continue."""
        response_id = self._response_of.get(call_id)
        response = self._responses.get(response_id) if response_id is not None else None
        if response is None or response_id is None:
            return False
        response.pending.discard(call_id)
        return self._ready(response_id)

    def finish(self, response_id: str) -> bool:
        """``response_id`` is done; ``True`` when it made calls and all are answered."""
        response = self._responses.get(response_id)
        if response is None:
            return False
        response.done = True
        return self._ready(response_id)

    def finish_all(self) -> int:
        """Every response is over (its session was lost); how many may now continue."""
        ready = 0
        for response_id in list(self._responses):
            ready += self.finish(response_id)
        return ready

    def clear(self) -> None:
        self._responses.clear()
        self._response_of.clear()
        self._claimed.clear()

    def _ready(self, response_id: str) -> bool:
        response = self._responses[response_id]
        if response.pending or not response.done:
            return False
        del self._responses[response_id]
        return True
