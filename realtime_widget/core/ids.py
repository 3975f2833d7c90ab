"""Random ids for events, items and sessions: a prefix and letters and digits.

One generator for both sides: the client names the events and items it sends, the local
server names everything it makes. Pure apart from drawing from :mod:`secrets`.
"""

from __future__ import annotations

import secrets
import string

from realtime_widget.core.errors import UsageError

__all__ = ["generate_id"]

_ALPHABET = (string.ascii_letters + string.digits).encode("ascii")
# bytes at or past this are dropped, so every character of the alphabet stays equally likely
_LIMIT = 256 - 256 % len(_ALPHABET)
# one C-level pass turns random bytes into characters: the byte's value modulo the alphabet
_TABLE = bytes(_ALPHABET[b % len(_ALPHABET)] if b < _LIMIT else 0 for b in range(256))
_DROPPED = bytes(range(_LIMIT, 256))


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
    wanted = length - len(prefix)
    drawn = b""
    while len(drawn) < wanted:  # ids are made for every event: one draw, one translation
        drawn += secrets.token_bytes(wanted + 8).translate(_TABLE, _DROPPED)
    return prefix + drawn[:wanted].decode("ascii")
