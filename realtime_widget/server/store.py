"""The server's copy of one connection's conversation, and the rules for client items.

Items are stored in the GA shape, in conversation order, with their audio and the
bookkeeping truncation needs beside them (:class:`StoredItem`); :func:`render_item` gives a
dialect's shape, never with audio bytes. :func:`parse_client_item` checks a client's item
the way the service does. Refusals are :class:`~realtime_widget.server.wire.ClientEventError`
with a dotted ``param``. No I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import realtime_widget.server.fields as f
from realtime_widget.audio.buffers import Int16Array
from realtime_widget.core.checks import is_int
from realtime_widget.core.ids import generate_id
from realtime_widget.core.protocol import (
    SAMPLE_RATE,
    Dialect,
    canonical_part_type,
    dialect_part_type,
)
from realtime_widget.server.synth import WordTiming
from realtime_widget.server.wire import ClientEventError

__all__ = ["Conversation", "StoredItem", "parse_client_item", "render_item"]

ClipDecoder = Callable[[Any, str], Int16Array]
"""``decode(value, param)``: a client's base64 clip as 24 kHz samples, or ClientEventError."""

_COMMON_KEYS = {"id", "type", "object", "status"}
_KEYS = {
    "message": _COMMON_KEYS | {"role", "content"},
    "function_call": _COMMON_KEYS | {"name", "call_id", "arguments"},
    "function_call_output": _COMMON_KEYS | {"call_id", "output"},
    # MCP items, as the GA item types a client may create declare them
    "mcp_approval_response": {"id", "type", "approval_request_id", "approve", "reason"},
    "mcp_approval_request": {"id", "type", "server_label", "name", "arguments"},
    "mcp_call": {
        "id",
        "type",
        "server_label",
        "name",
        "arguments",
        "approval_request_id",
        "output",
        "error",
    },
    "mcp_list_tools": {"id", "type", "server_label", "tools"},
}
_ITEM_TYPES = ", ".join(_KEYS)
_PART_KEYS = {
    "input_text": {"type", "text"},
    "input_audio": {"type", "audio", "transcript"},
    "input_image": {"type", "image_url", "detail"},
    "output_text": {"type", "text"},
    "output_audio": {"type", "audio", "transcript"},
}
_ROLE_PARTS = {
    "user": ("input_text", "input_audio", "input_image"),
    "system": ("input_text",),
    "assistant": ("output_text", "output_audio"),
}


@dataclass
class StoredItem:
    """One item with the server's bookkeeping beside it (mutable: the store owns it)."""

    item: dict[str, Any]
    audio: dict[int, Int16Array] = field(default_factory=dict)
    heard: dict[int, str] = field(default_factory=dict)  # recognized speech per content index
    audio_sent: int = 0  # assistant audio samples sent to the client
    words: tuple[WordTiming, ...] = ()
    response_id: str | None = None
    truncated: bool = False

    @property
    def id(self) -> str:
        return str(self.item["id"])


def render_item(item: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    """A copy of a stored item in ``dialect``'s shape, without audio bytes."""
    rendered = copy.deepcopy(item)
    for part in rendered.get("content", ()):
        part.pop("audio", None)
        part["type"] = dialect_part_type(part["type"], dialect)
    return rendered


def _parse_part(
    value: Any, path: str, role: str, dialect: Dialect, decode_audio: ClipDecoder
) -> tuple[dict[str, Any], Int16Array | None]:
    part = f.require_object(value, path)
    given = part.get("type")
    if given is None:
        raise ClientEventError.missing(f"{path}.type")
    beta_output = dialect == "beta" and role == "assistant" and isinstance(given, str)
    kind = canonical_part_type(given) if beta_output else given
    if kind not in _ROLE_PARTS[role]:
        allowed = [dialect_part_type(p, dialect) for p in _ROLE_PARTS[role]]
        raise ClientEventError.invalid_value(
            f"{path}.type", given, f"one of {', '.join(allowed)} for role {role}"
        )
    f.check_keys(part, path, _PART_KEYS[kind])
    if kind in ("input_text", "output_text"):
        if "text" not in part:
            raise ClientEventError.missing(f"{path}.text")
        return {"type": kind, "text": f.validate_string(part["text"], f"{path}.text")}, None
    if kind == "input_image":
        if "image_url" not in part:
            raise ClientEventError.missing(f"{path}.image_url")
        url = f.validate_string(part["image_url"], f"{path}.image_url")
        if not url.startswith(("data:image/", "http://", "https://")):
            raise ClientEventError.invalid_value(f"{path}.image_url", url, "an image data url")
        result = {"type": kind, "image_url": url}
        if part.get("detail") is not None:
            detail = part["detail"]
            if detail not in ("auto", "low", "high"):
                raise ClientEventError.invalid_value(f"{path}.detail", detail, "auto, low or high")
            result["detail"] = detail
        return result, None
    transcript = part.get("transcript")
    if transcript is not None:
        f.validate_string(transcript, f"{path}.transcript")
    audio: Int16Array | None = None
    if part.get("audio") is not None:
        audio = decode_audio(part["audio"], f"{path}.audio")
    elif kind == "input_audio":
        raise ClientEventError.missing(f"{path}.audio")
    if kind == "output_audio" and transcript is None:
        raise ClientEventError.missing(f"{path}.transcript")
    return {"type": kind, "transcript": transcript}, audio


def parse_client_item(
    value: Any, path: str, dialect: Dialect, decode_audio: ClipDecoder
) -> StoredItem:
    """Validate a client item as the service does (types, roles, part types per role,
    required fields) and build the stored item (a fresh id unless one is given)."""
    raw = f.require_object(value, path)
    kind = raw.get("type")
    if kind is None:
        raise ClientEventError.missing(f"{path}.type")
    if kind not in _KEYS:
        raise ClientEventError.invalid_value(f"{path}.type", kind, f"one of {_ITEM_TYPES}")
    f.check_keys(raw, path, _KEYS[kind])
    item_id = raw.get("id")
    if item_id is None:
        item_id = generate_id("item_")
    elif not isinstance(item_id, str) or not 0 < len(item_id) <= 32:
        raise ClientEventError.invalid_value(f"{path}.id", item_id, "a string of 1-32 characters")
    item: dict[str, Any] = {"id": item_id, "object": "realtime.item", "type": kind}
    stored = StoredItem(item)
    if kind == "message":
        role = raw.get("role")
        if role is None:
            raise ClientEventError.missing(f"{path}.role")
        if role not in _ROLE_PARTS:
            raise ClientEventError.invalid_value(f"{path}.role", role, "user, assistant or system")
        content = raw.get("content")
        if not isinstance(content, list):
            raise ClientEventError.invalid_type(f"{path}.content", "a list", content)
        if not content:
            raise ClientEventError.invalid_value(f"{path}.content", content, "at least one part")
        parts = []
        for index, part_value in enumerate(content):
            part, audio = _parse_part(
                part_value, f"{path}.content[{index}]", role, dialect, decode_audio
            )
            parts.append(part)
            if audio is not None:
                stored.audio[index] = audio
        item.update(status="completed", role=role, content=parts)
    elif kind == "function_call":
        if "name" not in raw:
            raise ClientEventError.missing(f"{path}.name")
        call_id = raw.get("call_id", generate_id("call_"))
        item.update(
            status="completed",
            name=f.validate_string(raw["name"], f"{path}.name", allow_empty=False),
            call_id=f.validate_string(call_id, f"{path}.call_id", allow_empty=False),
            arguments=f.validate_string(raw.get("arguments", "{}"), f"{path}.arguments"),
        )
    elif kind.startswith("mcp_"):
        del item["object"]  # the MCP item types have none
        _parse_mcp_item(raw, path, item)
    else:
        for key in ("call_id", "output"):
            if key not in raw:
                raise ClientEventError.missing(f"{path}.{key}")
        item.update(
            call_id=f.validate_string(raw["call_id"], f"{path}.call_id", allow_empty=False),
            output=f.validate_string(raw["output"], f"{path}.output"),
        )
    return stored


def _parse_mcp_item(raw: dict[str, Any], path: str, item: dict[str, Any]) -> None:
    """Check an MCP item's fields (each required one present, strings, ``approve`` a bool)
    and copy them into ``item``."""
    kind = raw["type"]
    required = {
        "mcp_approval_response": ("approval_request_id", "approve"),
        "mcp_list_tools": ("server_label", "tools"),
    }.get(kind, ("server_label", "name", "arguments"))
    for key in required:
        if key not in raw:
            raise ClientEventError.missing(f"{path}.{key}")
    for key in _KEYS[kind] - {"id", "type"}:
        value = raw.get(key)
        if value is None:
            continue
        if key == "approve":
            if not isinstance(value, bool):
                raise ClientEventError.invalid_type(f"{path}.approve", "a boolean", value)
        elif key == "tools":
            if not isinstance(value, list):
                raise ClientEventError.invalid_type(f"{path}.tools", "a list", value)
        elif key == "error":
            f.require_object(value, f"{path}.error")
        else:
            f.validate_string(value, f"{path}.{key}")
        item[key] = copy.deepcopy(value)


def _not_found(item_id: Any, param: str) -> ClientEventError:
    return ClientEventError(
        f"item with id {item_id!r} not found", code="item_not_found", param=param
    )


class Conversation:
    """The ordered items of one connection, by unique id (a client may choose one, at most
    32 characters)."""

    def __init__(self) -> None:
        self.id = generate_id("conv_")
        self._items: list[StoredItem] = []
        self._by_id: dict[str, StoredItem] = {}

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[StoredItem]:
        """The stored items in conversation order (a new list)."""
        return list(self._items)

    def get(self, item_id: Any, param: str = "item_id") -> StoredItem:
        """The item ``item_id``; raises ``item_not_found`` naming ``param``."""
        found = self._by_id.get(item_id) if isinstance(item_id, str) else None
        if found is None:
            raise _not_found(item_id, param)
        return found

    def last_id(self) -> str | None:
        return self._items[-1].id if self._items else None

    def check_insert(self, stored: StoredItem, previous_item_id: Any) -> None:
        """Raise when ``stored`` could not be inserted after ``previous_item_id``."""
        if stored.id in self._by_id:
            raise ClientEventError.invalid_value("item.id", stored.id, "an id not in use")
        if previous_item_id is not None and previous_item_id != "root":
            self.get(previous_item_id, "previous_item_id")

    def insert(self, stored: StoredItem, previous_item_id: Any = None) -> str | None:
        """Insert ``stored`` after ``previous_item_id`` (``None``: last, ``"root"``: first;
        an unknown id is refused); returns the id of the item now before it (``None`` if
        first)."""
        self.check_insert(stored, previous_item_id)
        if previous_item_id is None:
            position = len(self._items)
        elif previous_item_id == "root":
            position = 0
        else:
            position = self._items.index(self._by_id[previous_item_id]) + 1
        self._items.insert(position, stored)
        self._by_id[stored.id] = stored
        return self._items[position - 1].id if position else None

    def delete(self, item_id: Any) -> StoredItem:
        """Remove and return the item ``item_id``; raises ``item_not_found``."""
        stored = self.get(item_id)
        self._items.remove(stored)
        del self._by_id[stored.id]
        return stored

    def truncate(self, item_id: Any, content_index: Any, audio_end_ms: Any) -> StoredItem:
        """Cut an assistant audio item to what the user heard (``audio_end_ms``).

        The audio is cut to ``audio_end_ms`` and the transcript keeps the words that started
        before it. Raises when the item is unknown, not assistant audio, or ``audio_end_ms``
        is past the audio sent for it.
        """
        stored = self.get(item_id)
        item = stored.item
        content = item.get("content") or []
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise ClientEventError(
                "only assistant messages can be truncated", code="invalid_value", param="item_id"
            )
        if not is_int(content_index):
            raise ClientEventError.invalid_type("content_index", "an integer", content_index)
        if not 0 <= content_index < len(content) or content[content_index]["type"] != (
            "output_audio"
        ):
            raise ClientEventError(
                f"content index {content_index} is not an audio part",
                code="invalid_value",
                param="content_index",
            )
        if not is_int(audio_end_ms) or audio_end_ms < 0:
            raise ClientEventError.invalid_value(
                "audio_end_ms", audio_end_ms, "a non-negative integer"
            )
        sent_ms = stored.audio_sent * 1000 // SAMPLE_RATE
        if audio_end_ms > sent_ms:
            raise ClientEventError(
                f"audio content of {sent_ms} ms is already shorter than {audio_end_ms} ms",
                code="invalid_value",
                param="audio_end_ms",
            )
        cut = audio_end_ms * SAMPLE_RATE // 1000
        heard = [w for w in stored.words if w.start < cut and w.end > w.start]
        stored.words = tuple(heard)
        stored.audio_sent = cut
        stored.truncated = True
        content[content_index]["transcript"] = " ".join(w.word for w in heard)
        return stored
