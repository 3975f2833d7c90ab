"""What a user keeps of a conversation: its transcript (Markdown or JSON), an item's audio
(PCM16 at 24 kHz, or a WAV file's bytes) and an item's images (data URLs).

Pure: conversation items come in, text and bytes go out; no traitlets, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypedDict

import numpy as np

from realtime_widget.audio.utils import pcm16_to_wav_bytes
from realtime_widget.core.errors import UsageError
from realtime_widget.core.protocol import SAMPLE_RATE
from realtime_widget.widget.messages import TranscriptFormat, summarize_item

__all__ = [
    "TRANSCRIPT_FORMATS",
    "TranscriptEntry",
    "TranscriptFormat",
    "item_images",
    "item_pcm",
    "item_wav",
    "transcript",
]

TRANSCRIPT_FORMATS: Final[tuple[TranscriptFormat, ...]] = ("markdown", "json")
_WHO: Final = {"user": "You", "assistant": "Assistant", "system": "System"}


class TranscriptEntry(TypedDict):
    """One item of the JSON transcript."""

    id: str
    type: str  # message | function_call | function_call_output
    role: str  # user | assistant | system | "" for a tool call or output
    text: str  # the text, else the transcript of the speech
    audio_ms: int
    images: int
    name: str  # function_call: the tool
    arguments: str  # function_call: its JSON arguments
    output: str  # the tool's output (on the call, and on its output item)


def _entries(items: Iterable[Mapping[str, Any]]) -> list[TranscriptEntry]:
    entries: list[TranscriptEntry] = []
    for item in items:
        s = summarize_item(item)
        if s["type"] not in ("message", "function_call", "function_call_output"):
            continue
        text = "\n".join(part for part in (s["text"], s["transcript"]) if part)
        entries.append(
            {
                "id": s["id"],
                "type": s["type"],
                "role": s["role"],
                "text": text,
                "audio_ms": s["audio_ms"],
                "images": s["images"],
                "name": s["name"],
                "arguments": s["arguments"],
                "output": s["output"],
            }
        )
    return entries


def _markdown(entries: list[TranscriptEntry]) -> str:
    lines = ["# Conversation", ""]
    for e in entries:
        if e["type"] == "function_call":
            lines += [f"**Tool** `{e['name']}`", "", "```json", e["arguments"] or "{}", "```", ""]
        elif e["type"] == "function_call_output":
            lines += ["**Tool output**", "", "```json", e["output"], "```", ""]
        else:
            who = _WHO.get(e["role"], e["role"] or "Item")
            notes = []
            if e["images"]:
                notes.append("image" if e["images"] == 1 else f"{e['images']} images")
            if e["audio_ms"]:
                notes.append(f"audio {e['audio_ms'] / 1000:.1f} s")
            head = f"**{who}**" + (f" ({', '.join(notes)})" if notes else "")
            lines += [head, "", e["text"] or "(speech)", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def transcript(items: Iterable[Mapping[str, Any]], format: str = "markdown") -> str:
    """The conversation's messages and tool calls, in order: Markdown (a heading, then each
    speaker in bold and what was said or typed) or JSON (a list of :class:`TranscriptEntry`).

    Raises :class:`UsageError` for a format other than ``"markdown"`` or ``"json"``.
    """
    if format not in TRANSCRIPT_FORMATS:
        raise UsageError(f"format must be 'markdown' or 'json', got {format!r}")
    entries = _entries(items)
    if format == "json":
        return json.dumps(entries, ensure_ascii=False, indent=2)
    return _markdown(entries)


def item_pcm(item: Mapping[str, Any] | None, item_id: str) -> np.ndarray[Any, Any]:
    """The item's audio: PCM16 samples at 24 kHz. Raises :class:`UsageError` when the
    conversation has no item ``item_id`` (``item`` is ``None``) or it holds no audio."""
    if item is None:
        raise UsageError(f"no item {item_id!r} in the conversation")
    formatted = item.get("formatted")
    audio = formatted.get("audio") if isinstance(formatted, Mapping) else None
    samples = np.asarray(audio if audio is not None else (), dtype=np.int16)
    if samples.size == 0:
        raise UsageError(f"item {item_id!r} holds no audio")
    return samples


def item_wav(item: Mapping[str, Any] | None, item_id: str) -> bytes:
    """The item's audio as a mono 16-bit 24 kHz WAV file (raises as :func:`item_pcm`)."""
    return pcm16_to_wav_bytes(item_pcm(item, item_id), SAMPLE_RATE)


def item_images(item: Mapping[str, Any] | None) -> list[str]:
    """The ``data:image/...`` URLs of the item's input images, in order (others left out)."""
    if item is None:
        return []
    urls: list[str] = []
    for part in item.get("content") or ():
        if isinstance(part, Mapping) and part.get("type") == "input_image":
            url = part.get("image_url")
            if isinstance(url, str) and url.startswith("data:image/"):
                urls.append(url)
    return urls
