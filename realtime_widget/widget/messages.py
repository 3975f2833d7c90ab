"""The widget's wire between kernel and browser: message shapes, checks and item summaries.

Kernel to browser: the :data:`KernelMessage` types, as anywidget custom messages (the
widget's parts send them through a :class:`SendMessage`). Browser to kernel: the
:data:`BrowserMessage` types, each checked whole by :func:`parse_browser_message` before
anything acts on it. Audio travels as one binary buffer of PCM16 little-endian 24 kHz mono
samples, or as base64 text in the message's ``data`` where the host drops buffers (see
:mod:`realtime_widget.widget.wire`). Each item summary carries the widget's revision when
it was made; the browser keeps the newest of what it got (its rules are in
``js/widget/items.js``).

Pure: no traitlets, no ipywidgets, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NotRequired, Protocol, TypeAlias, TypedDict

from realtime_widget.core.errors import ProtocolError
from realtime_widget.core.protocol import SAMPLE_RATE
from realtime_widget.widget.callwire import (
    BrowserCallFailed,
    BrowserCallStarted,
    CallMessage,
    HangUpMessage,
    parse_call_message,
)
from realtime_widget.widget.eventlog import LogEntry
from realtime_widget.widget.wire import (
    BrowserProbe,
    BrowserProbeResult,
    BrowserSocketSwitch,
    PageSocketNotice,
    ProbeEchoMessage,
    buffer_intact,
    decode_audio,
    is_page_id,
)

__all__ = [
    "MAX_AUDIO_BYTES",
    "MAX_TEXT_CHARS",
    "AudioDoneMessage",
    "AudioMessage",
    "BrowserAudio",
    "BrowserBare",
    "BrowserItemAsk",
    "BrowserKernelDevice",
    "BrowserMcpApproval",
    "BrowserMessage",
    "BrowserPlayed",
    "BrowserText",
    "BrowserTranscript",
    "BrowserUnderruns",
    "CallRecord",
    "DeltaField",
    "DeltaMessage",
    "InterruptMessage",
    "ItemAudioMessage",
    "ItemImagesMessage",
    "ItemMessage",
    "ItemRemovedMessage",
    "ItemSummary",
    "ItemsState",
    "KernelMessage",
    "LogMessage",
    "MicCheckMessage",
    "SendMessage",
    "SnapshotMessage",
    "ToolState",
    "TranscriptFormat",
    "TranscriptMessage",
    "call_failed",
    "items_state",
    "parse_browser_message",
    "same_summary",
    "summarize_item",
]

MAX_AUDIO_BYTES: Final = 1 << 20  # about 22 s of PCM16 at 24 kHz, far above one chunk
MAX_TEXT_CHARS: Final = 20_000
_MAX_SAMPLES: Final = 1 << 40

DeltaField = Literal["text", "transcript", "arguments"]
ToolState = Literal["running", "done", "error"]
TranscriptFormat = Literal["markdown", "json"]
BareType = Literal[
    "stop",
    "ptt_start",
    "ptt_stop",
    "connect",
    "disconnect",
    "hello",
    "mic_check",
    "mic_held",
    "new_conversation",
]
_BARE: Final[frozenset[str]] = frozenset(
    {
        "stop",
        "ptt_start",
        "ptt_stop",
        "connect",
        "disconnect",
        "hello",
        "mic_check",
        "mic_held",
        "new_conversation",
    }
)
AudioPurpose = Literal["play", "download"]


# -- kernel to browser ------------------------------------------------------------------------


class ItemSummary(TypedDict):
    """What the browser shows of one conversation item (no audio samples)."""

    id: str
    type: str  # message | function_call | function_call_output | ...
    role: str  # user | assistant | system | "" for non-messages
    status: str  # in_progress | completed | incomplete | ""
    text: str
    transcript: str
    name: str  # function_call: the tool's name
    arguments: str  # function_call: the JSON arguments
    output: str  # function_call: its output once answered; function_call_output: the output
    call_id: str
    audio_ms: int  # milliseconds of audio the item holds
    images: int  # input images in a user message
    tool_state: ToolState | None  # function_call only
    tool_ms: int | None  # function_call: how long the tool ran, once it returned
    truncated_ms: int | None  # assistant audio cut at this position after an interruption
    full_ms: int | None  # with truncated_ms: the audio the item held when it was cut
    transcription_error: str
    server_label: str  # MCP items: the server's label
    approval: str  # an MCP approval request: pending | approved | denied | "" (not asked yet)
    rev: int  # the widget's revision when this summary was made (a later one's is higher)


class DeltaMessage(TypedDict):
    """One streamed piece of an item's text, transcript or arguments."""

    type: Literal["delta"]
    item_id: str
    field: DeltaField
    delta: str


class AudioMessage(TypedDict):
    """Sent with one buffer: the item's next PCM16 samples (or them as base64 ``data``)."""

    type: Literal["audio"]
    item_id: str
    data: NotRequired[str]


class AudioDoneMessage(TypedDict):
    """The item's audio is complete."""

    type: Literal["audio_done"]
    item_id: str


class InterruptMessage(TypedDict):
    """The user started speaking (barge-in)."""

    type: Literal["interrupt"]


class ItemMessage(TypedDict):
    """An item appended (a new id goes last) or changed."""

    type: Literal["item"]
    item: ItemSummary


class ItemRemovedMessage(TypedDict):
    """An item deleted."""

    type: Literal["item_removed"]
    item_id: str
    rev: int  # the widget's revision at the deletion


class ItemsState(TypedDict):
    """The ``items`` trait as the browser gets it: every summary, in conversation order."""

    rev: int  # the widget's revision when the state was taken
    items: list[ItemSummary]


class SnapshotMessage(TypedDict):
    """The answer to ``hello``: where a page starting catches up."""

    type: Literal["snapshot"]
    # items whose text streamed since their summary: as they are now, with its revision
    items: list[ItemSummary]
    audio_sent: dict[str, int]  # items whose audio still streams: samples sent before this
    log: list[LogEntry]  # the event log kept, in place of what the page holds


class MicCheckMessage(TypedDict):
    """Asks every page whether it captures the mic (one that does answers ``mic_held``)."""

    type: Literal["mic_check"]


class LogMessage(TypedDict):
    """Event log entries added or grown since the last ``log`` message (all of them, in
    answer to ``hello``); an entry with a ``seq`` the page holds replaces it."""

    type: Literal["log"]
    entries: list[LogEntry]
    reset: bool  # the page drops what it holds first (a hello's answer, a new conversation)


class TranscriptMessage(TypedDict):
    """The answer to a ``transcript`` request."""

    type: Literal["transcript"]
    format: TranscriptFormat
    text: str


class ItemAudioMessage(TypedDict):
    """The answer to an ``item_audio`` request, with one buffer: the item's PCM16 samples
    (or them as base64 ``data``)."""

    type: Literal["item_audio"]
    item_id: str
    purpose: AudioPurpose
    data: NotRequired[str]


class ItemImagesMessage(TypedDict):
    """The answer to an ``item_images`` request: the item's images as data URLs."""

    type: Literal["item_images"]
    item_id: str
    urls: list[str]


KernelMessage: TypeAlias = (
    DeltaMessage
    | AudioMessage
    | AudioDoneMessage
    | InterruptMessage
    | ItemMessage
    | ItemRemovedMessage
    | SnapshotMessage
    | MicCheckMessage
    | LogMessage
    | TranscriptMessage
    | ItemAudioMessage
    | ItemImagesMessage
    | ProbeEchoMessage
    | PageSocketNotice
    | CallMessage
    | HangUpMessage
)


class SendMessage(Protocol):
    """Sends one kernel-to-browser message, with the binary buffers it carries."""

    def __call__(self, message: KernelMessage, buffers: list[bytes] | None = None) -> None: ...


# -- browser to kernel ------------------------------------------------------------------------


class BrowserAudio(TypedDict):
    """The mic's next samples: an even number of bytes, at most :data:`MAX_AUDIO_BYTES`
    (one buffer, or base64 ``data``)."""

    type: Literal["audio"]
    data: memoryview


class BrowserInterrupted(TypedDict):
    """Playback stopped (a barge-in, or the stop button) in the item playing, if any."""

    type: Literal["interrupted"]
    item_id: str | None
    played_samples: int


class BrowserPlayed(TypedDict):
    """The samples of an item played so far."""

    type: Literal["played"]
    item_id: str
    played_samples: int


class BrowserUnderruns(TypedDict):
    """An item's playback ran out of audio ``count`` times, playing ``fill_samples`` (24 kHz)
    of silence meanwhile."""

    type: Literal["underruns"]
    item_id: str
    count: int
    fill_samples: int


class BrowserMcpApproval(TypedDict):
    """The user's answer to an MCP approval request (the card's approve or deny button)."""

    type: Literal["mcp_approval"]
    request_id: str
    approve: bool


class BrowserText(TypedDict):
    """A user message: 1 to :data:`MAX_TEXT_CHARS` characters."""

    type: Literal["text"]
    text: str


class BrowserTranscript(TypedDict):
    """Asks for the transcript in ``format``."""

    type: Literal["transcript"]
    format: TranscriptFormat


class BrowserItemAsk(TypedDict):
    """Asks for an item's audio (to ``play`` or ``download``) or its images."""

    type: Literal["item_audio", "item_images"]
    item_id: str
    purpose: AudioPurpose


class BrowserKernelDevice(TypedDict):
    """A kernel device chosen in a picker: its index for the ``input`` or ``output`` side."""

    type: Literal["kernel_device"]
    side: Literal["input", "output"]
    index: int


class BrowserBare(TypedDict):
    """A request with no fields: ``mic_check`` comes from a page starting while ``mic``
    reads on, ``mic_held`` from a page that captures; the others are the page's buttons
    and a page starting (``hello``)."""

    type: BareType


BrowserMessage: TypeAlias = (
    BrowserAudio
    | BrowserInterrupted
    | BrowserPlayed
    | BrowserUnderruns
    | BrowserText
    | BrowserTranscript
    | BrowserItemAsk
    | BrowserMcpApproval
    | BrowserKernelDevice
    | BrowserProbe
    | BrowserProbeResult
    | BrowserSocketSwitch
    | BrowserBare
    | BrowserCallStarted
    | BrowserCallFailed
)


def _bad(kind: object, problem: str) -> ProtocolError:
    label = kind if isinstance(kind, str) else None
    return ProtocolError(f"browser message {label or '<no type>'}: {problem}", event_type=label)


def _samples(kind: str, content: Mapping[str, Any], key: str = "played_samples") -> int:
    value = content.get(key)
    if type(value) is float and value.is_integer():
        value = int(value)  # JSON numbers from the browser may arrive as floats
    if type(value) is not int or not 0 <= value < _MAX_SAMPLES:
        raise _bad(kind, f"{key} must be a non-negative int, got {value!r}")
    return value


def _item_id(
    kind: str, content: Mapping[str, Any], *, optional: bool, key: str = "item_id"
) -> str | None:
    value = content.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > 256:
        raise _bad(kind, f"{key} must be a non-empty string, got {value!r}")
    return value


def _buffer(kind: str, content: Mapping[str, Any], buffers: Sequence[object]) -> memoryview:
    if not buffers and "data" in content:  # the fallback's base64 text
        try:
            buffers = [decode_audio(content["data"])]
        except ValueError as exc:
            raise _bad(kind, str(exc)) from None
    if len(buffers) != 1:
        raise _bad(kind, f"expected one binary buffer, got {len(buffers)}")
    try:
        view = memoryview(buffers[0])  # type: ignore[arg-type]
    except TypeError:
        raise _bad(kind, f"buffer is not binary: {type(buffers[0]).__name__}") from None
    view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
    if view.nbytes % 2:
        raise _bad(kind, f"pcm16 audio needs an even number of bytes, got {view.nbytes}")
    if view.nbytes > MAX_AUDIO_BYTES:
        raise _bad(kind, f"audio chunk of {view.nbytes} bytes is over {MAX_AUDIO_BYTES}")
    return view


def parse_browser_message(content: object, buffers: Sequence[object] = ()) -> BrowserMessage:
    """The checked message, or :class:`ProtocolError` saying what is wrong with it. Extra
    keys are ignored."""
    if not isinstance(content, Mapping):
        raise _bad(None, f"must be an object, got {type(content).__name__}")
    kind = content.get("type")
    if kind == "audio":
        return {"type": "audio", "data": _buffer(kind, content, buffers)}
    if kind == "interrupted":
        item_id = _item_id(kind, content, optional=True)
        return {
            "type": "interrupted",
            "item_id": item_id,
            "played_samples": _samples(kind, content),
        }
    if kind == "played":
        played_id = _item_id(kind, content, optional=False)
        assert played_id is not None
        return {"type": "played", "item_id": played_id, "played_samples": _samples(kind, content)}
    if kind == "underruns":
        starved_id = _item_id(kind, content, optional=False)
        assert starved_id is not None
        return {
            "type": "underruns",
            "item_id": starved_id,
            "count": _samples(kind, content, "count"),
            "fill_samples": _samples(kind, content, "fill_samples"),
        }
    if kind == "text":
        text = content.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad(kind, f"text must be a non-empty string, got {text!r}")
        if len(text) > MAX_TEXT_CHARS:
            raise _bad(kind, f"text of {len(text)} characters is over {MAX_TEXT_CHARS}")
        return {"type": "text", "text": text}
    if kind == "transcript":
        format = content.get("format")
        if format not in ("markdown", "json"):
            raise _bad(kind, f"format must be 'markdown' or 'json', got {format!r}")
        return {"type": "transcript", "format": format}
    if kind in ("item_audio", "item_images"):
        asked_id = _item_id(kind, content, optional=False)
        assert asked_id is not None
        purpose = content.get("purpose", "play")
        if purpose not in ("play", "download"):
            raise _bad(kind, f"purpose must be 'play' or 'download', got {purpose!r}")
        return {"type": kind, "item_id": asked_id, "purpose": purpose}
    if kind == "mcp_approval":
        request_id = _item_id(kind, content, optional=False, key="request_id")
        approve = content.get("approve")
        if request_id is None or not isinstance(approve, bool):
            raise _bad(kind, f"approve must be true or false, got {approve!r}")
        return {"type": "mcp_approval", "request_id": request_id, "approve": approve}
    if kind == "kernel_device":
        side = content.get("side")
        if side not in ("input", "output"):
            raise _bad(kind, f"side must be 'input' or 'output', got {side!r}")
        return {"type": "kernel_device", "side": side, "index": _samples(kind, content, "index")}
    if kind in ("probe", "probe_result", "socket_switch"):
        probe_id = _item_id(kind, content, optional=False, key="id")
        assert probe_id is not None
        if kind == "socket_switch":
            if not is_page_id(probe_id):
                raise _bad(
                    kind, f"id must be a page id (letters, digits, - and _), got {probe_id!r}"
                )
            return {"type": "socket_switch", "id": probe_id}
        if kind == "probe":
            return {"type": "probe", "id": probe_id, "intact": buffer_intact(buffers)}
        intact = content.get("intact")
        if not isinstance(intact, bool):
            raise _bad(kind, f"intact must be true or false, got {intact!r}")
        return {"type": "probe_result", "id": probe_id, "intact": intact}
    if kind in ("call_started", "call_failed"):
        return parse_call_message(kind, content)
    if isinstance(kind, str) and kind in _BARE:
        return {"type": kind}  # type: ignore[typeddict-item]
    raise _bad(kind, f"unknown type {kind!r}")


# -- summaries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the widget knows about one tool call beyond the item: its run and result."""

    state: ToolState
    started: float  # time.monotonic() when the call was complete and the tool started
    ms: int | None = None
    output: str = ""


def call_failed(output: str) -> bool:
    """Whether a function call output is the ``{"error": ...}`` sent for a failed tool."""
    try:
        value = json.loads(output)
    except ValueError:
        return False
    return isinstance(value, dict) and set(value) == {"error"}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def items_state(summaries: list[ItemSummary], rev: int) -> ItemsState:
    """The ``items`` trait's value as sent: ``summaries`` (not copied) taken at ``rev``."""
    return {"rev": rev, "items": summaries}


def same_summary(a: ItemSummary, b: ItemSummary) -> bool:
    """Whether two summaries say the same of their item (their revisions aside)."""
    return all(value == b[key] for key, value in a.items() if key != "rev")  # type: ignore[literal-required]


def summarize_item(
    item: Mapping[str, Any],
    *,
    call: CallRecord | None = None,
    heard_transcript: str | None = None,
    truncated_ms: int | None = None,
    full_ms: int | None = None,
    approval: str = "",
) -> ItemSummary:
    """The summary of a conversation item (see :class:`ItemSummary`): JSON-safe, every key
    present, at revision 0 (the :class:`~realtime_widget.widget.items.ItemList` that keeps
    it sets its ``rev``).

    ``call`` is the record of a function or MCP call's run (an MCP call's output is its
    error when it failed), ``approval`` the state of an MCP approval request.
    ``heard_transcript`` is shown when the item's own transcript was dropped by a
    truncation, ``truncated_ms`` where it was cut, ``full_ms`` how much audio it held then.
    """
    formatted = item.get("formatted")
    formatted = formatted if isinstance(formatted, Mapping) else {}
    tool = formatted.get("tool")
    tool = tool if isinstance(tool, Mapping) else {}
    audio = formatted.get("audio")
    samples = len(audio) if audio is not None else 0
    transcript = _str(formatted.get("transcript"))
    if not transcript and heard_transcript:
        transcript = heard_transcript
    kind = _str(item.get("type"))
    images = sum(
        1
        for part in item.get("content") or ()
        if isinstance(part, Mapping) and part.get("type") == "input_image"
    )
    error = formatted.get("transcription_error")
    output = _str(formatted.get("output")) or _str(item.get("output"))
    output = output or _str(formatted.get("error"))
    if call is not None and call.output:
        output = call.output
    return {
        "id": _str(item.get("id")),
        "type": kind,
        "role": _str(item.get("role")),
        "status": _str(item.get("status")),
        "text": _str(formatted.get("text")),
        "transcript": transcript,
        "name": _str(tool.get("name")) or _str(item.get("name")),
        "arguments": _str(tool.get("arguments")) or _str(item.get("arguments")),
        "output": output,
        "call_id": _str(item.get("call_id")) or _str(tool.get("call_id")),
        "audio_ms": samples * 1000 // SAMPLE_RATE,
        "images": images,
        "tool_state": call.state if call is not None else None,
        "tool_ms": call.ms if call is not None else None,
        "truncated_ms": truncated_ms,
        "full_ms": full_ms if truncated_ms is not None else None,
        "transcription_error": (
            _str(error.get("message")) or "transcription failed"
            if isinstance(error, Mapping)
            else ""
        ),
        "server_label": _str(item.get("server_label")),
        "approval": approval,
        "rev": 0,
    }
