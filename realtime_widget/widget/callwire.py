"""The wire of the widget's WebRTC calls between kernel and page, and the transport's name.

The kernel asks a page for a call (:class:`CallMessage`) or ends it (:class:`HangUpMessage`);
a page answers :class:`BrowserCallStarted` or :class:`BrowserCallFailed`, checked by
:func:`parse_call_message`. The rules of the calls are in :mod:`~realtime_widget.widget.webrtc`.

Pure: no traitlets, no ipywidgets, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias, TypedDict

from realtime_widget.core.errors import ProtocolError, UsageError

__all__ = [
    "CALL_TIMEOUT_SECONDS",
    "TRANSPORTS",
    "BrowserCallFailed",
    "BrowserCallStarted",
    "CallAnswer",
    "CallMessage",
    "HangUpMessage",
    "TransportMode",
    "carries_audio",
    "check_transport",
    "parse_call_message",
]

TransportMode = Literal["websocket", "webrtc"]
TRANSPORTS: Final[tuple[TransportMode, ...]] = ("websocket", "webrtc")
CALL_TIMEOUT_SECONDS: Final = 15.0  # a page's time to make the call, ICE included
_AUDIO_MESSAGES: Final = frozenset({"audio", "audio_done", "interrupt"})
_MAX_REASON: Final = 500


def check_transport(value: object) -> TransportMode:
    """``value`` if it names a transport, else :class:`UsageError` naming it."""
    if value not in TRANSPORTS:
        raise UsageError(f"transport must be 'websocket' or 'webrtc', got {value!r}")
    return value


def carries_audio(message: Mapping[str, Any]) -> bool:
    """Whether a kernel-to-page message carries or cuts relayed audio (none in a call)."""
    return message.get("type") in _AUDIO_MESSAGES


class CallMessage(TypedDict):
    """Kernel to page: make a call to ``url`` with the client secret ``secret``."""

    type: Literal["call"]
    request: str
    url: str
    secret: str
    timeout_ms: int


class HangUpMessage(TypedDict):
    """Kernel to page: end the call ``call_id`` (``None``: any call)."""

    type: Literal["hang_up"]
    call_id: str | None


class BrowserCallStarted(TypedDict):
    """Page to kernel: the call asked for by ``request`` is up, with id ``call_id``."""

    type: Literal["call_started"]
    request: str
    call_id: str


class BrowserCallFailed(TypedDict):
    """Page to kernel: the call asked for by ``request`` could not be made, and why."""

    type: Literal["call_failed"]
    request: str
    reason: str


CallAnswer: TypeAlias = BrowserCallStarted | BrowserCallFailed


def _text(kind: str, content: Mapping[str, Any], key: str, limit: int) -> str:
    value = content.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        shown = repr(value) if not isinstance(value, str) else f"{len(value)} characters"
        raise ProtocolError(
            f"browser message {kind}: {key} must be a string of 1 to {limit} characters, "
            f"got {shown}",
            event_type=kind,
        )
    return value


def parse_call_message(kind: str, content: Mapping[str, Any]) -> CallAnswer:
    """A page's answer to a ``call``, checked; :class:`ProtocolError` saying what is wrong."""
    request = _text(kind, content, "request", 64)
    if kind == "call_started":
        return {
            "type": "call_started",
            "request": request,
            "call_id": _text(kind, content, "call_id", 256),
        }
    reason = content.get("reason")
    text = reason[:_MAX_REASON] if isinstance(reason, str) and reason else "no reason given"
    return {"type": "call_failed", "request": request, "reason": text}
