"""The rate limits a connection reports after each response (``rate_limits.updated``).

Two limits, as the service reports them: ``requests`` (responses) and ``tokens`` (each
response's ``usage.total_tokens``). Each is a bucket refilled evenly over a minute: a response
takes one request and its tokens, ``remaining`` is what is left (never below zero), and
``reset_seconds`` how long the bucket takes to fill up again. Nothing is refused when a bucket
runs dry: the numbers are there for clients to read and show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["REQUESTS_PER_MINUTE", "TOKENS_PER_MINUTE", "RateLimits"]

REQUESTS_PER_MINUTE = 5_000
TOKENS_PER_MINUTE = 400_000
_REFILL_SECONDS = 60.0


class _Bucket:
    def __init__(self, name: str, limit: int, now: float) -> None:
        self.name = name
        self.limit = limit
        self.level = float(limit)
        self.stamp = now

    def take(self, amount: int, now: float) -> dict[str, Any]:
        refill = (now - self.stamp) * self.limit / _REFILL_SECONDS
        self.level = max(0.0, min(float(self.limit), self.level + refill) - amount)
        self.stamp = now
        missing = self.limit - self.level
        return {
            "name": self.name,
            "limit": self.limit,
            "remaining": int(self.level),
            "reset_seconds": round(missing * _REFILL_SECONDS / self.limit, 3),
        }


class RateLimits:
    """One connection's two buckets; ``clock`` gives seconds (monotonic by default)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        now = clock()
        self._requests = _Bucket("requests", REQUESTS_PER_MINUTE, now)
        self._tokens = _Bucket("tokens", TOKENS_PER_MINUTE, now)

    def spend(self, tokens: int) -> dict[str, Any]:
        """The ``rate_limits.updated`` event after a response that used ``tokens``."""
        now = self._clock()
        limits = [self._requests.take(1, now), self._tokens.take(max(0, tokens), now)]
        return {"type": "rate_limits.updated", "rate_limits": limits}
