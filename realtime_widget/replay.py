"""Replaying a conversation into a new session, so the model keeps its context.

:func:`replay_items` turns the items of a conversation into the ``item`` payloads of
``conversation.item.create`` events for a fresh session:

- every item keeps its id, so the server's echoes of it name items the conversation already
  holds (nothing is duplicated);
- user and system messages keep their text; a user audio part becomes its transcript when
  there is one, else the audio itself (``input_audio``, in the session's ``audio_format``)
  when ``include_audio`` is true, else it is left out;
- assistant messages become text (``output_text``, beta ``text``) holding what was said:
  the transcript of spoken answers (already cut at what was heard after a truncation);
- function calls and their outputs are replayed as they are;
- items with nothing left to say, and items still in progress, are skipped.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .protocol import AudioFormat, Dialect
from .wireaudio import encode_clip

__all__ = ["replay_items"]


def _user_parts(
    item: Mapping[str, Any], include_audio: bool, audio_format: AudioFormat
) -> list[dict[str, Any]]:
    formatted = item.get("formatted") or {}
    parts: list[dict[str, Any]] = []
    for part in item.get("content") or []:
        kind = part.get("type")
        if kind in ("input_text", "text") and isinstance(part.get("text"), str):
            parts.append({"type": "input_text", "text": part["text"]})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            parts.append({"type": "input_image", "image_url": part["image_url"]})
        elif kind in ("input_audio", "audio"):
            transcript = part.get("transcript") or formatted.get("transcript")
            audio = formatted.get("audio")
            if transcript:
                parts.append({"type": "input_text", "text": transcript})
            elif include_audio and audio is not None and len(audio):
                parts.append({"type": "input_audio", "audio": encode_clip(audio, audio_format)})
    return parts


def _assistant_text(item: Mapping[str, Any]) -> str:
    formatted = item.get("formatted") or {}
    return str(formatted.get("transcript") or formatted.get("text") or "")


def replay_items(
    items: Iterable[Mapping[str, Any]],
    dialect: Dialect = "ga",
    *,
    include_audio: bool = True,
    audio_format: AudioFormat = "pcm16",
) -> list[dict[str, Any]]:
    """The ``conversation.item.create`` payload items that rebuild ``items`` (see above)."""
    replayed: list[dict[str, Any]] = []
    for item in items:
        if item.get("status") == "in_progress" or not isinstance(item.get("id"), str):
            continue
        kind = item.get("type")
        base: dict[str, Any] = {"id": item["id"], "type": kind}
        if kind == "message":
            role = item.get("role")
            if role == "assistant":
                text = _assistant_text(item)
                if not text:
                    continue
                part_type = "output_text" if dialect == "ga" else "text"
                content = [{"type": part_type, "text": text}]
            else:
                content = _user_parts(item, include_audio, audio_format)
                if not content:
                    continue
            replayed.append({**base, "role": role, "content": content})
        elif kind == "function_call":
            replayed.append(
                {
                    **base,
                    "call_id": item.get("call_id"),
                    "name": item.get("name"),
                    "arguments": item.get("arguments") or "",
                }
            )
        elif kind == "function_call_output":
            replayed.append({**base, "call_id": item.get("call_id"), "output": item.get("output")})
    return replayed
