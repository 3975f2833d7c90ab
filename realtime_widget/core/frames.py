"""One websocket frame of the protocol: JSON text holding one event object.

:func:`parse_frame` is the one reader, for the client and the local server alike: it
returns the event as a dict or raises :class:`FrameError`, whose ``problem`` says what was
wrong so that each side reports it in its own words. :func:`event_text` is the writer: JSON
as :func:`json.dumps` writes it (no NaN or infinity), but a :class:`Base64Text` value, which
cannot hold a character JSON escapes, goes in as it is instead of being scanned character
by character (an audio chunk is most of its event's text). Pure: no I/O.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from typing import Any, Literal

from realtime_widget.core.errors import ProtocolError

__all__ = ["Base64Text", "FrameError", "FrameProblem", "event_text", "parse_frame"]

_ENCODER = json.JSONEncoder(allow_nan=False)  # holds no state between calls


class Base64Text(str):
    """Base64 text (letters, digits, ``+``, ``/``, ``=``) that :func:`event_text` writes
    into a frame as it is. Make it with :meth:`from_bytes`, never from other text: a quote
    or a backslash in it would break the frame."""

    __slots__ = ()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview | Any) -> Base64Text:
        """``data`` (any C-contiguous buffer, read as its bytes) in standard base64."""
        return cls(binascii.b2a_base64(data, newline=False), "ascii")


def event_text(event: Mapping[str, Any]) -> str:
    """``event`` as the JSON text of a frame (ASCII: its length is its size in bytes).

    Raises what :func:`json.dumps` raises for a value JSON cannot hold (``TypeError``) or a
    float that is not finite (``ValueError``).
    """
    rest: dict[Any, Any] = {}
    verbatim: list[str] = []
    for key, value in event.items():
        if type(value) is Base64Text and type(key) is str:
            verbatim.append(f'{_ENCODER.encode(key)}: "{value}"')
        else:
            rest[key] = value
    if not verbatim:
        return _ENCODER.encode(event)
    head, tail = _ENCODER.encode(rest), ", ".join(verbatim)
    return f"{{{tail}}}" if head == "{}" else f"{head[:-1]}, {tail}}}"


FrameProblem = Literal["binary", "invalid_json", "too_deep", "not_object"]


class FrameError(ProtocolError):
    """A frame that holds no event.

    ``problem`` is ``"binary"`` (a binary frame of ``size`` bytes), ``"invalid_json"``
    (``reason`` says why, at character ``position`` when known), ``"too_deep"`` (nesting
    past what the parser follows) or ``"not_object"`` (JSON, but not an object).
    """

    def __init__(
        self,
        problem: FrameProblem,
        reason: str,
        *,
        position: int | None = None,
        size: int | None = None,
    ) -> None:
        where = f" at {position}" if position is not None else ""
        messages = {
            "binary": f"binary frame of {size} bytes; expected json text",
            "invalid_json": f"invalid json ({reason}{where})",
            "too_deep": "invalid json: nested too deeply",
            "not_object": "json that is not an object",
        }
        super().__init__(messages[problem])
        self.problem: FrameProblem = problem
        self.reason = reason
        self.position = position
        self.size = size


def parse_frame(frame: str | bytes) -> dict[str, Any]:
    """The event object a text frame holds; raises :class:`FrameError` for any other frame."""
    if not isinstance(frame, str):
        raise FrameError("binary", "binary frame", size=len(frame))
    try:
        event = json.loads(frame)
    except json.JSONDecodeError as exc:
        raise FrameError("invalid_json", exc.msg, position=exc.pos) from None
    except RecursionError:
        raise FrameError("too_deep", "nested too deeply") from None
    except ValueError as exc:  # a number with more digits than int() converts
        problem = str(exc).split(";")[0]
        raise FrameError("invalid_json", problem[:1].lower() + problem[1:]) from None
    if not isinstance(event, dict):
        raise FrameError("not_object", f"a json {type(event).__name__}")
    return event
