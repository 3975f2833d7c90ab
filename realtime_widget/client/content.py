"""User message content: the parts a person gives, in the form the protocol takes.

``{"type": "input_text", "text": ...}`` stays as it is. ``{"type": "input_audio", "audio":
samples}`` takes 24 kHz arrays, bytes, memoryviews (see
:func:`realtime_widget.audio.pcm.to_int16`),
sent in the session's audio format (G.711 resampled to 8 kHz and coded), or a base64 string,
sent as it is (so already in that format). ``{"type": "input_image", "image": ...}`` takes a
path, bytes, a PIL image, a matplotlib figure, an array or a data URL (see
:func:`realtime_widget.client.images.image_to_data_url`), and an optional ``detail``
(``"auto"``, ``"low"`` or ``"high"``), kept. The short names ``text``, ``audio`` and
``image`` are accepted too. Anything else is a :class:`UsageError` naming it, raised before
anything is sent.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from realtime_widget.audio.formats import encode_clip
from realtime_widget.client.images import image_to_data_url
from realtime_widget.core.errors import UsageError
from realtime_widget.core.protocol import AudioFormat

__all__ = ["content_part", "user_message"]


def user_message(
    content: Sequence[Mapping[str, Any]] | str, audio_format: AudioFormat = "pcm16"
) -> dict[str, Any]:
    """The ``item`` of a ``conversation.item.create`` for a user message.

    ``content`` is a string (one text part) or a non-empty list of parts; audio parts are
    sent in ``audio_format``, the session's input format.
    """
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
    if not isinstance(parts, Sequence) or not parts:
        raise UsageError(f"content must be a string or a non-empty list of parts: {content!r}")
    return {
        "type": "message",
        "role": "user",
        "content": [content_part(p, audio_format) for p in parts],
    }


def content_part(part: Mapping[str, Any], audio_format: AudioFormat = "pcm16") -> dict[str, Any]:
    """The wire form of one user content part (see :func:`user_message`)."""
    if not isinstance(part, Mapping):
        raise UsageError(f"content part must be a dict, got {part!r}")
    kind = part.get("type")
    if kind in ("input_text", "text"):
        text = part.get("text")
        if not isinstance(text, str):
            raise UsageError(f"input_text part needs a string 'text', got {text!r}")
        return {"type": "input_text", "text": text}
    if kind in ("input_audio", "audio"):
        audio = part.get("audio")
        if isinstance(audio, str):
            encoded = audio
        elif audio is None:
            raise UsageError("input_audio part needs 'audio'")
        else:
            encoded = encode_clip(audio, audio_format)
        wire: dict[str, Any] = {"type": "input_audio", "audio": encoded}
        if part.get("transcript"):
            wire["transcript"] = part["transcript"]
        return wire
    if kind in ("input_image", "image"):
        source = part.get("image", part.get("image_url"))
        if source is None:
            raise UsageError("input_image part needs 'image' or 'image_url'")
        image: dict[str, Any] = {"type": "input_image", "image_url": image_to_data_url(source)}
        detail = part.get("detail")
        if detail is not None:
            if detail not in ("auto", "low", "high"):
                raise UsageError(
                    f"input_image detail must be 'auto', 'low' or 'high', got {detail!r}"
                )
            image["detail"] = detail
        return image
    raise UsageError(
        f"unknown content part type {kind!r}: use input_text, input_audio or input_image"
    )
