"""Random ids for events, items and sessions: a prefix and letters and digits.

One generator for both sides: the client names the events and items it sends, the local
server names everything it makes. Pure apart from drawing from :mod:`secrets`, which it
does a few kilobytes at a time: an id is made for every event sent, an audio chunk's
included, and one draw per id would be a system call each.
"""

from __future__ import annotations

import os
import secrets
import string
import threading

from realtime_widget.core.errors import UsageError

__all__ = ["generate_id"]

_ALPHABET = (string.ascii_letters + string.digits).encode("ascii")
# bytes at or past this are dropped, so every character of the alphabet stays equally likely
_LIMIT = 256 - 256 % len(_ALPHABET)
# one C-level pass turns random bytes into characters: the byte's value modulo the alphabet
_TABLE = bytes(_ALPHABET[b % len(_ALPHABET)] if b < _LIMIT else 0 for b in range(256))
_DROPPED = bytes(range(_LIMIT, 256))
_POOL_BYTES = 4096  # drawn at once: about 3,900 characters once the dropped bytes are out
_pool = ""  # characters drawn; those from _taken on are not handed out yet
_taken = 0
_pool_lock = threading.Lock()  # two threads never get the same characters


def _forget_pool() -> None:
    """In a forked child: draw afresh, so parent and child never hand out the same ids."""
    global _pool, _taken, _pool_lock
    _pool, _taken, _pool_lock = "", 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def generate_id(prefix: str, length: int = 21) -> str:
    """``prefix`` followed by random letters and digits, ``length`` characters in all.

    Raises :class:`UsageError` unless ``length`` exceeds ``len(prefix)``, ``TypeError`` for
    a non-str prefix or a non-int length.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"id prefix must be str, got {type(prefix).__name__}")
    if not isinstance(length, int) or isinstance(length, bool):
        raise TypeError(f"id length must be int, got {type(length).__name__}")
    if length <= len(prefix):
        raise UsageError(f"id length {length} leaves no room after prefix {prefix!r}")
    return prefix + _characters(length - len(prefix))


def _characters(count: int) -> str:
    """``count`` random characters of the alphabet, each handed out once."""
    global _pool, _taken
    with _pool_lock:
        start, end = _taken, _taken + count
        if end > len(_pool):  # one draw, one C-level translation, for many ids
            drawn = b""
            while len(drawn) < count:
                size = max(_POOL_BYTES, 2 * count)
                drawn += secrets.token_bytes(size).translate(_TABLE, _DROPPED)
            _pool, start, end = drawn.decode("ascii"), 0, count
        _taken = end
        return _pool[start:end]
