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
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, NotRequired, TypedDict

__all__ = [
    "AUDIO_FORMATS",
    "AUDIO_FORMAT_RATES",
    "BETA_HEADER",
    "DEFAULT_MODEL",
    "SAMPLE_RATE",
    "AudioFormat",
    "ContentPart",
    "Dialect",
    "ErrorEvent",
    "Item",
    "ServerEvent",
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

# beta content part type -> GA content part type (assistant output parts)
_BETA_TO_GA_PARTS = {"text": "output_text", "audio": "output_audio"}
_GA_TO_BETA_PARTS = {ga: beta for beta, ga in _BETA_TO_GA_PARTS.items()}


def canonical_event_type(event_type: str) -> str:
    """The GA name of a server event type given in either dialect."""
    return _BETA_TO_GA_EVENTS.get(event_type, event_type)


def dialect_event_type(event_type: str, dialect: Dialect) -> str:
    """The name of a GA server event type in ``dialect``."""
    return _GA_TO_BETA_EVENTS.get(event_type, event_type) if dialect == "beta" else event_type


def canonical_part_type(part_type: str) -> str:
    """The GA type of an assistant content part given in either dialect."""
    return _BETA_TO_GA_PARTS.get(part_type, part_type)


def dialect_part_type(part_type: str, dialect: Dialect) -> str:
    """The type of a GA assistant content part in ``dialect``."""
    return _GA_TO_BETA_PARTS.get(part_type, part_type) if dialect == "beta" else part_type


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
    type: str
    code: str | None
    message: str
    param: str | None
    event_id: str | None


class ErrorEvent(TypedDict):
    """The server's ``error`` event."""

    type: Literal["error"]
    event_id: NotRequired[str]
    error: ErrorDetail


ServerEvent = dict[str, Any]
