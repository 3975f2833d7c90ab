"""`InputCommits`: the client's commits and clears of input audio, until the server answers.

:attr:`InputCommits.offset` is where the server's uncommitted audio starts (session-absolute
samples) as far as the server has confirmed; :attr:`InputCommits.cursor` is where the next
commit would start if every request in flight succeeds. A request moves nothing until the
server answers, and the server answers in the order requests were sent; one it refuses
leaves its audio to the next commit, as on the server. At most :data:`MAX_REQUESTS` wait:
past that the oldest is taken as answered. No I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["MAX_REQUESTS", "InputCommits"]

MAX_REQUESTS: Final = 64


@dataclass(frozen=True)
class _Request:
    kind: Literal["commit", "clear"]
    event_id: str
    end: int


class InputCommits:
    """Commits and clears of the input buffer in flight (see the module docstring)."""

    def __init__(self) -> None:
        self.offset = 0
        self._requests: deque[_Request] = deque()

    @property
    def cursor(self) -> int:
        """Where the next commit starts when every request in flight succeeds."""
        return self._requests[-1].end if self._requests else self.offset

    def __len__(self) -> int:
        return len(self._requests)

    def commit(self, event_id: str, end: int) -> None:
        """A commit of the audio up to ``end`` was sent with ``event_id``."""
        self._add(_Request("commit", event_id, end))

    def clear(self, event_id: str, end: int) -> None:
        """A clear of the audio up to ``end`` was sent with ``event_id``."""
        self._add(_Request("clear", event_id, end))

    def committed(self) -> tuple[int, int] | None:
        """The server committed: the span of the oldest commit, or ``None`` when none waits
        (the server's own commit, by voice activity).

        Clears sent before that commit are taken as answered on the way.
        """
        if not any(r.kind == "commit" for r in self._requests):
            return None
        while True:
            request = self._requests.popleft()
            if request.kind == "commit":
                span = (self.offset, max(self.offset, request.end))
                self.offset = span[1]
                return span
            self.offset = max(self.offset, request.end)

    def cleared(self, end: int) -> int:
        """The server cleared its buffer; returns the new offset.

        The oldest clear sets it; with no clear in flight (not asked for here) it is ``end``,
        the end of the input audio now. Requests sent before that clear are over.
        """
        while self._requests:
            request = self._requests.popleft()
            if request.kind == "clear":
                end = request.end
                break
        self.offset = max(self.offset, end)
        return self.offset

    def refuse(self, event_id: object) -> bool:
        """The server refused the request sent with ``event_id``; ``False`` if none was."""
        for request in self._requests:
            if request.event_id == event_id:
                self._requests.remove(request)
                return True
        return False

    def refuse_oldest_commit(self) -> bool:
        """The server refused a commit without naming it: the oldest one in flight."""
        for request in self._requests:
            if request.kind == "commit":
                self._requests.remove(request)
                return True
        return False

    def advance(self, offset: int) -> None:
        """The server committed up to ``offset`` on its own (voice activity)."""
        self.offset = max(self.offset, offset)

    def reset(self) -> None:
        """A new session: nothing appended, nothing in flight."""
        self.offset = 0
        self._requests.clear()

    def _add(self, request: _Request) -> None:
        if len(self._requests) >= MAX_REQUESTS:
            oldest = self._requests.popleft()
            self.offset = max(self.offset, oldest.end)
        self._requests.append(request)
