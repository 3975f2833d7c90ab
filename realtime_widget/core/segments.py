"""Input transcription segments kept on their item (``...input_audio_transcription.segment``).

A segment is ``{id, start, end, text, speaker}`` (seconds within the item's audio); an item
held keeps them, in arrival order, in ``formatted["segments"]`` (for an item not held they are
ignored). A segment whose ``id`` is already held replaces it. An item holds at most
:data:`MAX_SEGMENTS`. Every check comes before any change; a failed one raises
:class:`InvalidEventError` naming the field.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Final

from realtime_widget.core.checks import number_problem
from realtime_widget.core.errors import InvalidEventError
from realtime_widget.core.eventfields import MAX_ITEM_TEXT, MISSING, bad, content_index, need_str
from realtime_widget.core.protocol import ConversationItem, TranscriptSegment

__all__ = ["MAX_SEGMENTS", "add_segment"]

MAX_SEGMENTS: Final = 10_000
"""How many segments one item keeps; a segment past them is refused."""


def _seconds(etype: str, event: dict[str, Any], key: str) -> float:
    value = event.get(key, MISSING)
    if number_problem(value, low=0, high=10**9) is None:
        return float(value)
    raise bad(etype, key, value, "a number of seconds, at least 0")


def add_segment(etype: str, event: dict[str, Any], item: ConversationItem) -> ConversationItem:
    """Keep the segment ``event`` carries on ``item`` (see the module doc); returns ``item``."""
    content_index(etype, event)
    segment: TranscriptSegment = {
        "id": need_str(etype, event, "id"),
        "start": _seconds(etype, event, "start"),
        "end": _seconds(etype, event, "end"),
        "text": need_str(etype, event, "text"),
        "speaker": need_str(etype, event, "speaker"),
    }
    if segment["end"] < segment["start"]:
        raise InvalidEventError(etype, "end", f"is before start ({segment['end']} < start)")
    if len(segment["text"]) > MAX_ITEM_TEXT:
        raise InvalidEventError(etype, "text", f"is longer than {MAX_ITEM_TEXT} characters")
    segments: list[TranscriptSegment] = item["formatted"].setdefault("segments", [])
    for index, held in enumerate(segments):
        if held["id"] == segment["id"]:
            segments[index] = segment
            return item
    if len(segments) >= MAX_SEGMENTS:
        raise InvalidEventError(etype, "id", f"would take the item past {MAX_SEGMENTS} segments")
    segments.append(segment)
    return item
