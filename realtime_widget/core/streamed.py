"""What each streamed ``response.*`` event does to the item it names.

Each function here takes ``(event type, event, item, audio decoder)`` for an item the
conversation holds, changes it and returns the delta (``None`` when a value was set or
replaced). Every check comes before any change, and a failed one raises
:class:`InvalidEventError` naming the field, so the item is as it was.

Pure: no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from realtime_widget.core.errors import InvalidEventError
from realtime_widget.core.eventfields import (
    AUDIO_PARTS,
    MISSING,
    TEXT_PARTS,
    append_str,
    content_index,
    copy_part,
    decode_pcm16,
    joined,
    merge_part,
    need_room,
    need_str,
    short,
    sync_formatted,
)
from realtime_widget.core.items import set_status
from realtime_widget.core.protocol import ConversationItem, Delta

if TYPE_CHECKING:
    from realtime_widget.audio.formats import AudioDecoder

__all__ = [
    "arguments_delta",
    "arguments_done",
    "audio_delta",
    "audio_done",
    "mcp_call_status",
    "part_added_or_done",
    "part_of",
    "text_delta",
    "text_done",
    "transcript_delta",
    "transcript_done",
]

_Event = dict[str, Any]


def part_of(etype: str, event: _Event, item: ConversationItem) -> dict[str, Any]:
    """The content part of ``item`` the event's ``content_index`` names."""
    index = content_index(etype, event)
    content = item.get("content") or ()
    if index >= len(content):
        raise InvalidEventError(
            etype,
            "content_index",
            f"is out of range: {short(index)} (item has {len(content)} parts)",
        )
    part: dict[str, Any] = content[index]
    return part


def _tool(etype: str, item: ConversationItem) -> dict[str, str]:
    """The ``formatted["tool"]`` of the call ``etype`` streams (a function or MCP call)."""
    kind = "mcp_call" if etype.startswith("response.mcp_call") else "function_call"
    tool: dict[str, str] | None = item["formatted"].get("tool")
    if tool is None or item.get("type") != kind:
        what = "an MCP tool call" if kind == "mcp_call" else "a function call"
        raise InvalidEventError(
            etype, "item_id", f"names a {short(item.get('type'))} item, not {what}"
        )
    return tool


def part_added_or_done(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.content_part.added`` / ``.done``: add the part, or merge it (``.done``
    wins)."""
    index = content_index(etype, event)
    part = copy_part(etype, event.get("part", MISSING), "part")
    content = item.get("content")
    size = len(content) if content is not None else 0
    if index > size:
        raise InvalidEventError(
            etype, "content_index", f"is out of range: {short(index)} (item has {size} parts)"
        )
    final = etype.endswith(".done")
    if content is None:
        item["content"] = [part]
    elif index == size:
        content.append(part)
    else:
        content[index] = merge_part(content[index], part, final)
    sync_formatted(item, final=final)
    return None


def _append(etype: str, event: _Event, item: ConversationItem, key: str) -> str:
    part = part_of(etype, event, item)
    delta = need_str(etype, event, "delta")
    need_room(etype, item, item["formatted"][key], delta)
    append_str(part, key, delta)
    append_str(item["formatted"], key, delta)
    return delta


def text_delta(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.output_text.delta``: text appended to the part and the item."""
    return {"text": _append(etype, event, item, "text")}


def transcript_delta(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.output_audio_transcript.delta``: transcript appended."""
    return {"transcript": _append(etype, event, item, "transcript")}


def audio_delta(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.output_audio.delta``: audio decoded and appended."""
    part_of(etype, event, item)
    data = need_str(etype, event, "delta")
    chunk = (
        decode_pcm16(etype, "delta", data)
        if decoder is None
        else decoder.decode(etype, item["id"], data)
    )
    item["formatted"]["audio"].append(chunk)
    return {"audio": chunk}


def arguments_delta(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.function_call_arguments.delta`` (and MCP's): arguments appended."""
    delta = need_str(etype, event, "delta")
    tool = _tool(etype, item)
    need_room(etype, item, item.get("arguments"), delta)
    need_room(etype, item, tool["arguments"], delta)
    append_str(item, "arguments", delta)
    append_str(tool, "arguments", delta)
    return {"arguments": delta}


def _set_part(
    etype: str, event: _Event, item: ConversationItem, key: str, kinds: frozenset[str]
) -> None:
    part = part_of(etype, event, item)
    value = need_str(etype, event, key)
    part[key] = value
    item["formatted"][key] = joined(item["content"], kinds, key) or value


def text_done(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.output_text.done``: the part's final text."""
    _set_part(etype, event, item, "text", TEXT_PARTS)
    return None


def transcript_done(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.output_audio_transcript.done``: the part's final transcript."""
    _set_part(etype, event, item, "transcript", AUDIO_PARTS)
    return None


def audio_done(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.output_audio.done``: what the decoder still held, appended."""
    part_of(etype, event, item)
    tail = decoder.finish(item["id"]) if decoder else None
    if tail is not None and tail.size:
        item["formatted"]["audio"].append(tail)
        return {"audio": tail}
    return None


def arguments_done(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.function_call_arguments.done`` (and MCP's): the final arguments."""
    arguments = need_str(etype, event, "arguments")
    tool = _tool(etype, item)
    item["arguments"] = arguments
    tool["arguments"] = arguments
    return None


def mcp_call_status(
    etype: str, event: _Event, item: ConversationItem, decoder: AudioDecoder | None
) -> Delta | None:
    """``response.mcp_call.in_progress`` / ``.completed`` / ``.failed``: the call's status."""
    _tool(etype, item)
    set_status(item, etype.rsplit(".", 1)[1])
    return None
