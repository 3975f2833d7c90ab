"""`Records`: a log the server keeps for tests and measurements, bounded in count and bytes."""

from __future__ import annotations

from typing import Generic, TypeVar

from realtime_widget.core.checks import need_int

__all__ = ["Records", "check_budget"]

T = TypeVar("T")


def check_budget(name: str, value: object) -> int:
    """``value`` when it is a positive int, else ``ValueError`` naming ``name``."""
    return need_int(name, value, "a positive integer", above=0, error=ValueError)


class Records(Generic[T]):
    """A log of at most ``limit`` entries and ``max_bytes`` bytes, oldest first.

    :attr:`entries` is a plain list trimmed in place (a reference to it stays current). Each
    entry comes with its size as the caller knows it (the length of its frame): nothing is
    measured here. An entry that would pass a budget first drops the oldest until at most
    half of each budget is used and it fits, so trimming is rare; the newest entry is always
    kept, even one larger than ``max_bytes`` (it goes at the next one).
    """

    def __init__(self, limit: int, max_bytes: int) -> None:
        self.limit = check_budget("record_limit", limit)
        self.max_bytes = check_budget("record_bytes", max_bytes)
        self.entries: list[T] = []
        self.bytes = 0
        self._sizes: list[int] = []

    def add(self, entry: T, size: int) -> None:
        """Append ``entry`` of ``size`` bytes, dropping the oldest entries when full."""
        if len(self.entries) >= self.limit or self.bytes + size > self.max_bytes:
            drop, kept = 0, self.bytes
            while drop < len(self.entries) and (
                len(self.entries) - drop > self.limit // 2
                or kept > self.max_bytes // 2
                or kept + size > self.max_bytes
            ):
                kept -= self._sizes[drop]
                drop += 1
            del self.entries[:drop]
            del self._sizes[:drop]
            self.bytes = kept
        self.entries.append(entry)
        self._sizes.append(size)
        self.bytes += size
