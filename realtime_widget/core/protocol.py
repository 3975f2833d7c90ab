"""The wire vocabulary shared by the client, the conversation and the local server.

Two dialects name the same things differently:

- ``"ga"``, the current Realtime API (the default);
- ``"beta"``, the older shape (``OpenAI-Beta: realtime=v1``), still spoken by older
  deployments and by many compatible servers.

Everything inside the package speaks GA names. :func:`canonical_event_type` maps a beta
server event type to its GA name, and :func:`dialect_event_type` the other way for the
local server; :func:`canonical_part_type` does the same for content part types.

Audio formats are named the beta way (``pcm16``, ``g711_ulaw``, ``g711_alaw``) or given as GA
format objects (``{"type": "audio/pcmu"}``); :data:`AUDIO_FORMATS` is the one list of them,
and :func:`~realtime_widget.core.sessionmap.audio_format_name` reads either spelling, for the
client and the local server alike.

The events a client dispatches to its handlers are typed here too, one :class:`TypedDict` per
shape; :data:`CLIENT_EVENTS` maps each event name to its shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, NotRequired, TypedDict

from realtime_widget.audio.buffers import AudioBuffer, Int16Array
from realtime_widget.core.errors import ConnectionClosedError

__all__ = [
    "AUDIO_FORMATS",
    "AUDIO_FORMAT_RATES",
    "BETA_HEADER",
    "CLIENT_EVENTS",
    "DEFAULT_MODEL",
    "SAMPLE_RATE",
    "AudioFormat",
    "CloseEvent",
    "ContentPart",
    "ConversationItem",
    "ConversationUpdatedEvent",
    "Delta",
    "Dialect",
    "ErrorDetail",
    "ErrorEvent",
    "ErrorType",
    "Formatted",
    "InterruptedEvent",
    "Item",
    "ItemDeletedEvent",
    "ItemEvent",
    "ItemTruncatedEvent",
    "RealtimeLogEvent",
    "ReconnectedEvent",
    "ReconnectingEvent",
    "Response",
    "ServerErrorEvent",
    "ServerEvent",
    "SessionUpdateEvent",
    "ToolsUpdatedEvent",
    "TransportCloseEvent",
    "canonical_event_type",
    "canonical_part_type",
    "dialect_event_type",
    "dialect_part_type",
]

Dialect = Literal["ga", "beta"]

DEFAULT_MODEL = "gpt-realtime"
SAMPLE_RATE = 24_000
BETA_HEADER = ("OpenAI-Beta", "realtime=v1")

AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
"""An audio format by its beta name."""

AUDIO_FORMATS: Final[Mapping[AudioFormat, Mapping[str, Any]]] = MappingProxyType(
    {
        "pcm16": MappingProxyType({"type": "audio/pcm", "rate": SAMPLE_RATE}),
        "g711_ulaw": MappingProxyType({"type": "audio/pcmu"}),
        "g711_alaw": MappingProxyType({"type": "audio/pcma"}),
    }
)
"""Every audio format of the protocol: its beta name and its GA format object."""

AUDIO_FORMAT_RATES: Final[Mapping[AudioFormat, int]] = MappingProxyType(
    {"pcm16": SAMPLE_RATE, "g711_ulaw": 8000, "g711_alaw": 8000}
)
"""The sample rate of each audio format: PCM16 at 24 kHz, G.711 at 8 kHz."""

# beta server event type -> GA server event type (only the names that differ)
_BETA_TO_GA_EVENTS: dict[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
}
_GA_TO_BETA_EVENTS = {ga: beta for beta, ga in _BETA_TO_GA_EVENTS.items()}
# a beta transcription session's events, read as the GA session's (a GA transcription
# session says session.created / .updated); the local server names them itself
_BETA_SESSION_EVENTS = {
    "transcription_session.created": "session.created",
    "transcription_session.updated": "session.updated",
}

# beta content part type -> GA content part type (assistant output parts)
_BETA_TO_GA_PARTS = {"text": "output_text", "audio": "output_audio"}
_GA_TO_BETA_PARTS = {ga: beta for beta, ga in _BETA_TO_GA_PARTS.items()}


def canonical_event_type(event_type: str) -> str:
    """The GA name of a server event type given in either dialect (a beta transcription
    session's ``transcription_session.created`` / ``.updated`` are ``session.*``)."""
    return _BETA_TO_GA_EVENTS.get(event_type) or _BETA_SESSION_EVENTS.get(event_type, event_type)


def dialect_event_type(event_type: str, dialect: Dialect) -> str:
    """The name of a GA server event type in ``dialect``."""
    return _GA_TO_BETA_EVENTS.get(event_type, event_type) if dialect == "beta" else event_type


def canonical_part_type(part_type: str) -> str:
    """The GA type of an assistant content part given in either dialect."""
    return _BETA_TO_GA_PARTS.get(part_type, part_type)


def dialect_part_type(part_type: str, dialect: Dialect) -> str:
    """The type of a GA assistant content part in ``dialect``."""
    return _GA_TO_BETA_PARTS.get(part_type, part_type) if dialect == "beta" else part_type


# -- the wire ---------------------------------------------------------------------------------

ServerEvent = dict[str, Any]
"""A server event as received: a JSON object with a ``type``."""


class ContentPart(TypedDict, total=False):
    """One part of a message item's ``content``."""

    type: str  # input_text | input_audio | input_image | output_text | output_audio
    text: str
    audio: str  # base64 PCM16 (input_audio parts sent by the client)
    transcript: str | None
    image_url: str


class Item(TypedDict, total=False):
    """A conversation item as the server sends it."""

    id: str
    object: str
    type: str  # message | function_call | function_call_output | mcp_*
    status: str  # in_progress | completed | incomplete
    role: str  # user | assistant | system
    content: list[ContentPart]
    name: str
    call_id: str
    arguments: str
    output: str


class ErrorDetail(TypedDict, total=False):
    """The ``error`` of the server's ``error`` event."""

    type: str
    code: str | None
    message: str
    param: str | None
    event_id: str | None


class ServerErrorEvent(TypedDict):
    """The server's ``error`` event."""

    type: Literal["error"]
    event_id: NotRequired[str]
    error: ErrorDetail


class SessionUpdateEvent(TypedDict):
    """The ``session.update`` client event, as sent (a beta transcription session's
    ``transcription_session.update``)."""

    type: Literal["session.update", "transcription_session.update"]
    event_id: str
    session: dict[str, Any]


class ItemTruncatedEvent(TypedDict):
    """The server's ``conversation.item.truncated``: the item's audio ends at ``audio_end_ms``."""

    type: Literal["conversation.item.truncated"]
    event_id: NotRequired[str]
    item_id: str
    content_index: int
    audio_end_ms: int


class ItemDeletedEvent(TypedDict):
    """The server's ``conversation.item.deleted``."""

    type: Literal["conversation.item.deleted"]
    event_id: NotRequired[str]
    item_id: str


# -- the conversation's items ------------------------------------------------------------------

ConversationItem = dict[str, Any]
"""A conversation item: the server's fields (see :class:`Item`) plus ``formatted``
(see :class:`Formatted`)."""


class Formatted(TypedDict, total=False):
    """The ``formatted`` value of an item: its content, decoded and joined."""

    audio: AudioBuffer
    text: str
    transcript: str
    tool: dict[str, str]
    output: str
    transcription_error: dict[str, Any]
    error: str  # an MCP tool call's error message
    approval: dict[str, Any]  # an MCP approval response: approval_request_id, approve, reason
    tools: list[str]  # the names an MCP tool list holds
    segments: list[TranscriptSegment]


class TranscriptSegment(TypedDict):
    """One segment of an input transcription (seconds within the item's audio)."""

    id: str
    start: float
    end: float
    text: str
    speaker: str


class Delta(TypedDict, total=False):
    """What an event appended to an item."""

    audio: Int16Array
    text: str
    transcript: str
    arguments: str


class Response(TypedDict, total=False):
    """A response as the conversation keeps it: the server's fields, ``output`` as item ids."""

    id: str
    object: str
    status: str  # in_progress | completed | cancelled | incomplete | failed
    status_details: dict[str, Any] | None
    output: list[str]
    usage: dict[str, Any] | None
    metadata: dict[str, Any] | None


# -- what a client dispatches ------------------------------------------------------------------


class ConversationUpdatedEvent(TypedDict):
    """``conversation.updated``: ``item`` changed; ``delta`` is what was appended to it
    (``None`` when a value was set or replaced: read the item)."""

    item: ConversationItem
    delta: Delta | None


class ItemEvent(TypedDict):
    """``conversation.item.appended`` (once per new item) and ``conversation.item.completed``
    (once per finished item)."""

    item: ConversationItem


class InterruptedEvent(TypedDict):
    """``conversation.interrupted``: the server event saying the user started speaking."""

    event: ServerEvent


class RealtimeLogEvent(TypedDict):
    """``realtime.event``: an event either way, with the ISO time it was seen."""

    time: str
    source: Literal["client", "server"]
    event: dict[str, Any]


ErrorType = Literal[
    "server_error",
    "protocol_error",
    "internal_error",
    "handler_error",
    "tool_error",
    "reconnect_failed",
]
"""What went wrong, by who is at fault: the server refused something (``server_error``), sent
something that cannot be applied (``protocol_error``), this side failed on an event
(``internal_error``), a handler raised (``handler_error``), a tool failed (``tool_error``), a
reconnect gave up (``reconnect_failed``)."""


class ErrorEvent(TypedDict):
    """``error``: the one shape of every error a client dispatches.

    ``error`` is the exception: a :class:`ServerError`, :class:`ProtocolError`,
    :class:`ToolError` or :class:`RealtimeError` subclass, or what a handler or the client
    itself raised (``handler_error``, ``internal_error``). The other keys say where it
    came from, when they apply.
    """

    type: ErrorType
    error: BaseException
    event: NotRequired[Any]  # the server event it came from; for handler_error, the event name
    message: NotRequired[str]  # a frame the socket layer could not read: what was wrong
    call_id: NotRequired[str]  # tool_error: the function call, answered with the error
    call: NotRequired[str]  # internal_error of a call held for the session: which call
    unsent: NotRequired[int]  # reconnect_failed: how many held calls were dropped


class TransportCloseEvent(TypedDict):
    """``close`` from the socket layer: the close ``code`` and ``reason``, whether it was an
    ``error`` (any code but 1000) and the :class:`ConnectionClosedError` for it."""

    code: int
    reason: str
    error: bool
    exception: ConnectionClosedError
    time: str


class CloseEvent(TransportCloseEvent):
    """``close`` from a client: the socket layer's, plus whether a reconnect follows."""

    reconnecting: bool


class ReconnectingEvent(TypedDict):
    """``reconnecting``: a reconnect try ``attempt`` starts after ``delay`` seconds, for a
    session lost with close ``code`` (``None``: no close frame)."""

    attempt: int
    delay: float
    code: int | None


class ReconnectedEvent(TypedDict):
    """``reconnected``: try ``attempt`` set the session up, ``replayed`` items into it."""

    attempt: int
    replayed: int


class ToolsUpdatedEvent(TypedDict):
    """``tools.updated``: every tool definition, after a change."""

    tools: list[dict[str, Any]]


CLIENT_EVENTS: Final[Mapping[str, type]] = MappingProxyType(
    {
        "conversation.updated": ConversationUpdatedEvent,
        "conversation.item.appended": ItemEvent,
        "conversation.item.completed": ItemEvent,
        "conversation.interrupted": InterruptedEvent,
        "conversation.item.truncated": ItemTruncatedEvent,
        "conversation.item.deleted": ItemDeletedEvent,
        "session.update.sent": SessionUpdateEvent,
        "realtime.event": RealtimeLogEvent,
        "tools.updated": ToolsUpdatedEvent,
        "error": ErrorEvent,
        "close": CloseEvent,
        "reconnecting": ReconnectingEvent,
        "reconnected": ReconnectedEvent,
    }
)
"""Every event a :class:`~realtime_widget.client.client.RealtimeClient` dispatches, by name,
with its shape."""
