"""Items as the conversation keeps them: a checked copy of the server's item plus ``formatted``.

The building blocks of :mod:`realtime_widget.core.conversation`, whose rules they follow: a new
item (:func:`new_item`), a later copy merged into it (:func:`merge_item`), the status the
server leaves out (:func:`settle_status`), and an input transcription that came early
(:func:`apply_transcript`). No I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from realtime_widget.audio.buffers import AudioBuffer
from realtime_widget.core.early import TranscriptRecord
from realtime_widget.core.eventfields import (
    copy_item,
    decode_pcm16,
    is_empty,
    item_audio,
    merge_parts,
    sync_formatted,
)
from realtime_widget.core.protocol import ConversationItem, Formatted

if TYPE_CHECKING:
    from realtime_widget.audio.formats import AudioDecoder

__all__ = [
    "FINAL_STATUSES",
    "apply_transcript",
    "merge_item",
    "new_item",
    "set_status",
    "settle_status",
]

FINAL_STATUSES: Final = frozenset({"completed", "incomplete", "cancelled", "failed"})


def new_item(
    etype: str, value: object, field: str = "item", decoder: AudioDecoder | None = None
) -> ConversationItem:
    """A checked copy of ``value`` with a fresh ``formatted``; its audio parts read by
    ``decoder`` (``None``: base64 PCM16). Raises :class:`InvalidEventError` naming ``field``."""
    item = copy_item(etype, value, field)
    decode = decode_pcm16 if decoder is None else decoder.decode_clip
    audio = item_audio(etype, item, field, decode)
    formatted: Formatted = {"audio": AudioBuffer(audio), "text": "", "transcript": ""}
    item["formatted"] = formatted
    sync_formatted(item, final=False)
    return item


def settle_status(item: ConversationItem) -> None:
    """Give a new ``item`` without a status the one the server means: assistant messages and
    function calls stream (``in_progress``), the rest arrive ``completed``."""
    if item.get("status") is not None:
        return
    kind, role = item.get("type"), item.get("role")
    if kind == "message":
        item["status"] = "in_progress" if role == "assistant" else "completed"
    elif kind == "function_call":
        item["status"] = "in_progress"
    elif kind == "function_call_output":
        item["status"] = "completed"


def merge_item(stored: ConversationItem, incoming: ConversationItem, *, final: bool) -> None:
    """Merge a checked ``incoming`` copy into ``stored`` (cannot fail); ``final``: the copy
    carries the item's final state (see the conversation's rules)."""
    for key, value in incoming.items():
        if key in ("formatted", "content") or value is None:
            continue
        current = stored.get(key)
        if key == "status":
            if final or not (current in FINAL_STATUSES and value == "in_progress"):
                stored[key] = value
        elif final or is_empty(current):
            stored[key] = value
    parts = incoming.get("content")
    if parts is not None:
        content = stored.get("content")
        if content is None:
            stored["content"] = parts
        else:
            merge_parts(content, parts, final)
    formatted = stored["formatted"]
    audio = incoming["formatted"]["audio"]
    if len(audio) and not len(formatted["audio"]):
        formatted["audio"] = audio
    sync_formatted(stored, final=final)


def set_status(item: ConversationItem, status: str) -> None:
    """Set ``status``, except that ``in_progress`` never replaces a final status."""
    if status != "in_progress" or item.get("status") not in FINAL_STATUSES:
        item["status"] = status


def apply_transcript(item: ConversationItem, pending: TranscriptRecord) -> None:
    """Put an input transcription kept for ``item`` before it arrived into it."""
    formatted = item["formatted"]
    text = pending.text
    if text is not None:
        formatted["transcript"] = text
        content = item.get("content") or ()
        if pending.content_index is not None and pending.content_index < len(content):
            content[pending.content_index]["transcript"] = text
    if pending.error is not None:
        formatted["transcription_error"] = pending.error
