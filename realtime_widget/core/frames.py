"""Reading one websocket frame of the protocol: JSON text holding one event object.

:func:`parse_frame` is the one reader, for the client and the local server alike: it
returns the event as a dict or raises :class:`FrameError`, whose ``problem`` says what was
wrong so that each side reports it in its own words. Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from realtime_widget.core.errors import ProtocolError

__all__ = ["FrameError", "FrameProblem", "parse_frame"]

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
