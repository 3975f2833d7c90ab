"""Wire helpers of the local server: client-caused errors, ``error`` events, :data:`Emit`.

A handler that finds a client event it cannot apply raises :class:`ClientEventError` (a
frame that holds no event: :func:`frame_error`); the connection turns it into an ``error``
event (echoing the client's ``event_id``) and carries on. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from realtime_widget.core.frames import FrameError

__all__ = ["ClientEventError", "Emit", "error_event", "frame_error", "http_error"]

Emit = Callable[[dict[str, Any]], Awaitable[None]]
"""How a server event goes out: ``await emit(event)`` (the connection adds its ``event_id``)."""


class ClientEventError(Exception):
    """A client event the server refuses; becomes an ``error`` event, never ends the session.

    ``code`` is the machine-readable reason (``unknown_parameter``, ``invalid_value``, ...),
    ``param`` the offending field as a dotted path, ``error_type`` the error family.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.error_type = error_type

    @classmethod
    def unknown_parameter(cls, param: str) -> ClientEventError:
        return cls(f"unknown parameter: {param!r}", code="unknown_parameter", param=param)

    @classmethod
    def invalid_type(cls, param: str, expected: str, value: Any) -> ClientEventError:
        got = type(value).__name__ if value is not None else "null"
        return cls(
            f"invalid type for {param!r}: expected {expected}, got {got}",
            code="invalid_type",
            param=param,
        )

    @classmethod
    def invalid_value(cls, param: str, value: Any, expected: str) -> ClientEventError:
        return cls(
            f"invalid value for {param!r}: {_short(value)}; expected {expected}",
            code="invalid_value",
            param=param,
        )

    @classmethod
    def missing(cls, param: str) -> ClientEventError:
        return cls(
            f"missing required parameter: {param!r}",
            code="missing_required_parameter",
            param=param,
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _error_body(error: ClientEventError) -> dict[str, Any]:
    return {
        "type": error.error_type,
        "code": error.code,
        "message": error.message,
        "param": error.param,
    }


def error_event(error: ClientEventError, client_event_id: str | None) -> dict[str, Any]:
    """The ``error`` server event for ``error`` (without its own ``event_id``)."""
    return {"type": "error", "error": {**_error_body(error), "event_id": client_event_id}}


def http_error(error: ClientEventError) -> tuple[int, dict[str, Any]]:
    """A plain HTTP request's answer for ``error``: 400 and ``{"error": {...}}``."""
    return 400, {"error": _error_body(error)}


def frame_error(error: FrameError) -> ClientEventError:
    """The ``error`` to send for a client frame that holds no event."""
    if error.problem == "binary":
        return ClientEventError("binary frames are not supported", code="invalid_frame")
    messages = {
        "invalid_json": f"invalid json: {error.reason.lower()}",
        "too_deep": "json nested too deeply",
        "not_object": "an event must be a json object",
    }
    return ClientEventError(messages[error.problem], code="invalid_json")
