"""Checking server events and copying, merging and formatting the items they carry.

The helpers of :mod:`realtime_widget.core.conversation`, kept apart so the state machine reads on
its own. Every ``need_*`` / ``copy_*`` function validates before it builds anything and
raises :class:`InvalidEventError` naming the event and the field; nothing here mutates state
it was not given. :func:`append_str` grows a streamed string in place (amortised constant
time: the dict's reference is taken out first, so CPython can extend the string instead of
copying it).

Pure: no I/O.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any, Final

import numpy as np

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.core.checks import is_number, number_problem
from realtime_widget.core.errors import InvalidEventError
from realtime_widget.core.protocol import ConversationItem, canonical_part_type

__all__ = [
    "AUDIO_PARTS",
    "MAX_INDEX",
    "MAX_ITEM_TEXT",
    "MISSING",
    "TEXT_PARTS",
    "ConversationItem",
    "append_str",
    "bad",
    "content_index",
    "copy_item",
    "copy_part",
    "decode_base64",
    "decode_pcm16",
    "is_empty",
    "item_audio",
    "joined",
    "merge_part",
    "merge_parts",
    "need_dict",
    "need_ms",
    "need_room",
    "need_str",
    "short",
    "sync_formatted",
]

"""A conversation item: the server's fields plus ``formatted`` (see
:class:`~realtime_widget.core.conversation.Formatted`)."""

MISSING: Final[Any] = object()
MAX_INDEX: Final = 2**31 - 1  # content indexes: far more parts than any item has
MAX_ITEM_TEXT: Final = 16 << 20  # characters of one streamed string (one item's text, ...)
MAX_MS: Final = 1e12  # about 30 years: far beyond any session, small enough to stay exact
PCM16: Final = np.dtype("<i2")
NATIVE_PCM16: Final = np.dtype(np.int16) == PCM16  # little-endian machines: no conversion
TEXT_PARTS: Final = frozenset({"input_text", "output_text"})
AUDIO_PARTS: Final = frozenset({"input_audio", "output_audio"})
ITEM_STRINGS: Final = (
    "type",
    "role",
    "status",
    "name",
    "call_id",
    "arguments",
    "output",
    "server_label",
)
# the ``formatted["tool"]`` of each kind of call item: its type and the fields copied in
_TOOL_TYPES: Final = {
    "function_call": "function",
    "mcp_call": "mcp",
    "mcp_approval_request": "mcp",
}
_TOOL_FIELDS: Final = {
    "function_call": ("name", "call_id", "arguments"),
    "mcp_call": ("name", "server_label", "arguments"),
    "mcp_approval_request": ("name", "server_label", "arguments"),
}
PART_STRINGS: Final = ("text", "transcript", "audio")


def short(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a huge int or a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def bad(etype: str | None, field: str, value: object, expected: str) -> InvalidEventError:
    problem = "is missing" if value is MISSING else f"must be {expected}, got {short(value)}"
    return InvalidEventError(etype, field, problem)


def need_str(etype: str, event: dict[str, Any], key: str) -> str:
    value = event.get(key, MISSING)
    if isinstance(value, str):
        return value
    raise bad(etype, key, value, "a string")


def need_ms(etype: str, event: dict[str, Any], key: str) -> float:
    value = event.get(key, MISSING)
    # the bounds also refuse NaN and infinities, and ints too large for a float
    if number_problem(value, low=0, high=MAX_MS) is None:
        assert is_number(value)
        return value
    raise bad(etype, key, value, f"a number of milliseconds in [0, {MAX_MS:.0e}]")


def need_dict(etype: str | None, value: object, field: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise bad(etype, field, value, "an object")


def content_index(etype: str, event: dict[str, Any], key: str = "content_index") -> int:
    value = event.get(key, MISSING)
    if type(value) is int and 0 <= value <= MAX_INDEX:
        return value
    raise bad(etype, key, value, f"an int in [0, {MAX_INDEX}]")


def need_room(etype: str, item: ConversationItem, value: object, piece: str) -> None:
    """Raise :class:`InvalidEventError` naming the item if appending ``piece`` to the
    streamed string ``value`` would take it past :data:`MAX_ITEM_TEXT` characters."""
    size = len(value) if isinstance(value, str) else 0
    if size + len(piece) > MAX_ITEM_TEXT:
        raise InvalidEventError(
            etype,
            "delta",
            f"would grow item {short(item.get('id'))} past {MAX_ITEM_TEXT} characters",
        )


def decode_base64(etype: str, field: str, data: str) -> bytes:
    """Strict base64 to bytes; raises :class:`InvalidEventError` when it is not base64."""
    try:
        # Strict decoding of bytes is faster than of str, and rejects what lenient mode skips.
        return binascii.a2b_base64(data.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidEventError(etype, field, "is not valid base64") from None


def decode_pcm16(etype: str, field: str, data: str) -> Int16Array:
    """Base64 PCM16 little-endian to int16; raises :class:`InvalidEventError` when it is not."""
    raw = decode_base64(etype, field, data)
    if len(raw) % 2:
        raise InvalidEventError(etype, field, f"holds an odd number of bytes ({len(raw)})")
    if NATIVE_PCM16:
        return np.frombuffer(raw, dtype=np.int16)
    return np.frombuffer(raw, dtype=PCM16).astype(np.int16)


def copy_part(etype: str, value: object, field: str) -> dict[str, Any]:
    """A checked copy of a content part, its type in GA terms."""
    part = dict(need_dict(etype, value, field))
    kind = part.get("type")
    if kind is not None:
        if not isinstance(kind, str):
            raise bad(etype, f"{field}.type", kind, "a string")
        part["type"] = canonical_part_type(kind)
    for key in PART_STRINGS:
        text = part.get(key)
        if text is not None and not isinstance(text, str):
            raise bad(etype, f"{field}.{key}", text, "a string")
    return part


def copy_item(etype: str, value: object, field: str = "item") -> ConversationItem:
    """A checked copy of an item (its content parts copied too), without ``formatted``."""
    item = dict(need_dict(etype, value, field))
    item_id = item.get("id", MISSING)
    if not isinstance(item_id, str) or not item_id:
        raise bad(etype, f"{field}.id", item_id, "a non-empty string")
    for key in ITEM_STRINGS:
        text = item.get(key)
        if text is not None and not isinstance(text, str):
            raise bad(etype, f"{field}.{key}", text, "a string")
    content = item.get("content")
    if content is not None:
        if not isinstance(content, list):
            raise bad(etype, f"{field}.content", content, "a list")
        item["content"] = [
            copy_part(etype, part, f"{field}.content[{i}]") for i, part in enumerate(content)
        ]
    item.pop("formatted", None)
    return item


def item_audio(
    etype: str,
    item: ConversationItem,
    field: str = "item",
    decode: Callable[[str, str, str], Int16Array] = decode_pcm16,
) -> Int16Array | None:
    """The audio carried by the item's ``input_audio`` parts (client-created items), each
    part read by ``decode(etype, field, data)`` (base64 PCM16 by default)."""
    chunks = [
        decode(etype, f"{field}.content[{i}].audio", part["audio"])
        for i, part in enumerate(item.get("content") or ())
        if part.get("type") == "input_audio" and part.get("audio")
    ]
    if not chunks:
        return None
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def joined(content: list[dict[str, Any]], kinds: frozenset[str], key: str) -> str | None:
    """The ``key`` strings of the parts of ``kinds`` joined, or ``None`` when there are none."""
    values = [p[key] for p in content if p.get("type") in kinds and isinstance(p.get(key), str)]
    return "".join(values) if values else None


def append_str(container: dict[str, Any], key: str, piece: str) -> None:
    """Append ``piece`` to the string ``container[key]`` (``None`` or absent counts as empty).

    ``container[key] += piece`` would copy the whole string on every delta. With the dict's
    reference dropped first, the local is the only one left and CPython grows the string in
    place, so a long transcript costs amortised O(len(piece)) per delta.
    """
    value = container.get(key)
    if not isinstance(value, str):
        container[key] = piece
        return
    container[key] = ""
    value += piece
    container[key] = value


def is_empty(value: object) -> bool:
    """Whether a stored value counts as not set yet (missing, ``None`` or ``""``)."""
    return value is None or (isinstance(value, str) and not value)


def sync_formatted(item: ConversationItem, *, final: bool) -> None:
    """Derive ``formatted`` text, transcript, tool and output from the item's fields.

    With ``final`` the item's values win; otherwise they only fill empty formatted values, so
    what deltas accumulated is kept.
    """
    formatted = item["formatted"]
    content = item.get("content") or []
    for key, kinds in (("text", TEXT_PARTS), ("transcript", AUDIO_PARTS)):
        value = joined(content, kinds, key)
        if value is not None and (final or not formatted[key]):
            formatted[key] = value
    kind = item.get("type")
    if kind in _TOOL_FIELDS:
        tool = formatted.get("tool")
        if tool is None:
            tool = formatted["tool"] = {"type": _TOOL_TYPES[kind]}
            tool.update(dict.fromkeys(_TOOL_FIELDS[kind], ""))
        for key in _TOOL_FIELDS[kind]:
            value = item.get(key)
            if isinstance(value, str) and (final or not tool[key]):
                tool[key] = value
    if kind in ("function_call_output", "mcp_call"):
        output = item.get("output")
        if isinstance(output, str) and (final or not formatted.get("output")):
            formatted["output"] = output
    if kind == "mcp_call":
        error = item.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            formatted["error"] = error["message"]
    elif kind == "mcp_approval_response":
        formatted["approval"] = {
            key: item.get(key) for key in ("approval_request_id", "approve", "reason")
        }
    elif kind == "mcp_list_tools":
        tools = item.get("tools")
        if isinstance(tools, list):
            formatted["tools"] = [t.get("name") for t in tools if isinstance(t, dict)]


def merge_part(stored: dict[str, Any], part: dict[str, Any], final: bool) -> dict[str, Any]:
    """``stored`` merged with ``part`` (a new dict).

    Final values overwrite, others only fill missing or empty values; ``None`` never erases.
    """
    merged = dict(stored)
    for key, value in part.items():
        if value is None:
            merged.setdefault(key, None)
        elif final or is_empty(merged.get(key)):
            merged[key] = value
    return merged


def merge_parts(stored: list[dict[str, Any]], incoming: list[dict[str, Any]], final: bool) -> None:
    """Merge ``incoming`` parts into ``stored`` index by index, in place."""
    for index, part in enumerate(incoming):
        if index < len(stored):
            stored[index] = merge_part(stored[index], part, final)
        else:
            stored.append(part)
