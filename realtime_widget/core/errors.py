"""The exception tree of realtime_widget.

Every exception the package raises on purpose derives from :class:`RealtimeError`, and
is split by who is at fault:

- :class:`UsageError`: the caller misused the API (a bad argument, a call in the wrong
  state). Also a :class:`ValueError`, so ordinary ``except ValueError`` code keeps working.
  :class:`MissingKeyError`: no API key for the real service, said before connecting.
  :class:`AudioFormatError` is one: a value that is no audio format.
- :class:`ProtocolError`: the peer sent something this side cannot apply. Its subclasses
  :class:`InvalidEventError` (a malformed event: a missing or wrongly typed field, bad
  base64, an odd byte count) and :class:`UnknownItemError` (an event naming an item the
  conversation does not hold) are raised by the sans-I/O core and never end a session.
- :class:`ServerError`: the server answered with an ``error`` event; the raw event is kept.
- :class:`ConnectError` and its subclasses: the connection could not be opened
  (:class:`RedirectRefusedError`: it would have sent credentials to another host).
- :class:`ConnectionClosedError`: an open connection was lost (close code and reason kept).
- :class:`ToolError`: a tool handler failed, timed out or is unknown.
- :class:`AnswerTimeoutError`: an awaited answer (a response, a retrieved item) did not come
  in time; also a :class:`TimeoutError`.

Messages are short, lower-case, and name the offending value.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnswerTimeoutError",
    "AudioFormatError",
    "AuthenticationError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "DNSError",
    "InvalidEventError",
    "MissingKeyError",
    "ProtocolError",
    "RealtimeError",
    "RedirectRefusedError",
    "ServerError",
    "ServerUnreachableError",
    "ToolError",
    "UnknownItemError",
    "UsageError",
]


class RealtimeError(Exception):
    """Root of every exception raised on purpose by realtime_widget."""


class UsageError(RealtimeError, ValueError):
    """The caller misused the API: a bad argument or a call in the wrong state."""


class MissingKeyError(UsageError):
    """No API key for the real service: refused before anything was sent. ``url`` is where."""

    def __init__(self, *, url: str) -> None:
        super().__init__(
            "no API key: set OPENAI_API_KEY or pass api_key=, or use a local server (url=...)"
        )
        self.url = url


class AudioFormatError(UsageError):
    """A value that is no audio format.

    ``field`` is where the problem is inside the value (``""`` for the value itself,
    ``".type"``, ``".rate"`` or ``".<key>"`` for an unknown key), ``value`` the offending
    part and ``expected`` what would do.
    """

    def __init__(self, message: str, *, field: str, value: Any, expected: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.expected = expected


class ProtocolError(RealtimeError):
    """The peer sent an event that cannot be applied.

    ``event_type`` is the offending event's ``type`` (``None`` when it had none).
    """

    def __init__(self, message: str, *, event_type: str | None = None) -> None:
        super().__init__(message)
        self.event_type = event_type


class InvalidEventError(ProtocolError):
    """A malformed event: a field is missing, has the wrong type or cannot be decoded.

    ``field`` names the offending field as a dotted path (``"item.id"``, ``"delta"``).
    """

    def __init__(self, event_type: str | None, field: str, problem: str) -> None:
        name = event_type if event_type is not None else "<event without type>"
        super().__init__(f"{name}: field {field!r} {problem}", event_type=event_type)
        self.field = field
        self.problem = problem


class UnknownItemError(ProtocolError):
    """An event names an item (or response) the conversation does not hold."""

    def __init__(self, event_type: str, item_id: str, *, kind: str = "item") -> None:
        super().__init__(f"{event_type}: {kind} {item_id!r} not found", event_type=event_type)
        self.item_id = item_id
        self.kind = kind


class ServerError(RealtimeError):
    """The server sent an ``error`` event. ``event`` is the raw event, ``code`` its code."""

    def __init__(self, event: dict[str, Any]) -> None:
        error = event.get("error") if isinstance(event.get("error"), dict) else {}
        assert isinstance(error, dict)
        self.event = event
        self.code: str | None = error.get("code")
        self.error_type: str | None = error.get("type")
        self.param: str | None = error.get("param")
        message = error.get("message") or "server error"
        label = self.code or self.error_type or "error"
        super().__init__(f"server error {label}: {message}")


class ConnectError(RealtimeError):
    """The connection to the realtime server could not be opened. ``url`` is where."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class AuthenticationError(ConnectError):
    """The server refused the credentials (HTTP 401 or 403 on the handshake)."""

    def __init__(self, message: str, *, url: str, status: int) -> None:
        super().__init__(message, url=url)
        self.status = status


class ServerUnreachableError(ConnectError):
    """Nothing listens at the address, or the handshake was rejected with another status."""


class RedirectRefusedError(ConnectError):
    """The server redirected the handshake to another origin while it carried credentials.

    ``origin`` and ``target`` are the two ``host:port``; nothing was sent to ``target``.
    """

    def __init__(self, message: str, *, url: str, origin: str, target: str) -> None:
        super().__init__(message, url=url)
        self.origin = origin
        self.target = target


class DNSError(ConnectError):
    """The host name of the URL could not be resolved."""


class ConnectTimeoutError(ConnectError):
    """Opening the connection took longer than the allowed time."""


class ConnectionClosedError(RealtimeError):
    """An open connection was closed. ``code`` and ``reason`` are the close frame's."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        detail = f"code {code}" if code is not None else "no close frame"
        if reason:
            detail += f", reason {reason!r}"
        super().__init__(f"connection closed ({detail})")
        self.code = code
        self.reason = reason


class ToolError(RealtimeError):
    """A tool could not be run: unknown, failing, timed out or given bad arguments."""

    def __init__(self, message: str, *, tool: str) -> None:
        super().__init__(message)
        self.tool = tool


class AnswerTimeoutError(RealtimeError, TimeoutError):
    """The server's answer to an awaited request did not come within its timeout."""
