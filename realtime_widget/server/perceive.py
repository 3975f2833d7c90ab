"""What the deterministic model perceives in a user message: text, speech and images.

- ``input_text`` parts are read as they are.
- ``input_audio`` parts are read through their transcript when there is one, else through
  what the server recognized in them (``StoredItem.heard``; an empty recognition counts as
  speech *missed*), else decoded with :func:`~realtime_widget.server.synth.decode` (tone
  speech made by this package is understood); without a recognizer other audio is
  perceived only by its duration.
- ``input_image`` parts given as data URLs are perceived by their pixel size when the
  header can be read (PNG, GIF, JPEG); other images only as "an image".

Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass

from realtime_widget.core.protocol import SAMPLE_RATE
from realtime_widget.server.store import StoredItem
from realtime_widget.server.synth import decode

__all__ = ["Perception", "describe_audio", "image_size", "perceive"]

_DESCRIPTION = re.compile(r"^\[\d+\.\d s of audio\]$")


@dataclass(frozen=True)
class Perception:
    """The user's message as the model takes it in."""

    text: str  # every understood text and speech, space-separated
    unheard_audio_seconds: tuple[float, ...]  # audio parts no recognizer listened to
    images: tuple[tuple[int, int] | None, ...]  # pixel size per image (None: unknown)
    missed: int = 0  # audio parts recognized as saying nothing that could be made out
    spoken: bool = False  # some of ``text`` was heard in audio (it may be misheard)


def describe_audio(samples: int) -> str:
    """The transcript given to audio that cannot be understood: ``[2.3 s of audio]``."""
    return f"[{samples / SAMPLE_RATE:.1f} s of audio]"


def perceive(stored: StoredItem) -> Perception:
    """What a user (or system) message says; other items perceive as empty."""
    texts: list[str] = []
    unheard: list[float] = []
    images: list[tuple[int, int] | None] = []
    missed = 0
    spoken = False
    for index, part in enumerate(stored.item.get("content") or ()):
        kind = part.get("type")
        if kind in ("input_text", "output_text"):
            texts.append(str(part.get("text") or ""))
        elif kind == "input_audio":
            transcript = part.get("transcript")
            audio = stored.audio.get(index)
            if transcript and not _DESCRIPTION.match(transcript):
                texts.append(transcript)
                spoken = True
                continue
            recognized = stored.heard.get(index)
            if recognized is not None:
                if recognized.strip():
                    texts.append(recognized)
                    spoken = True
                else:
                    missed += 1
                continue
            heard = decode(audio) if audio is not None else None
            if heard:
                texts.append(heard)
            elif audio is not None:
                unheard.append(audio.size / SAMPLE_RATE)
        elif kind == "input_image":
            images.append(image_size(str(part.get("image_url") or "")))
    text = " ".join(t.strip() for t in texts if t.strip())
    return Perception(text, tuple(unheard), tuple(images), missed, spoken)


def _decode_data_url(url: str, limit: int) -> bytes | None:
    if not url.startswith("data:") or ";base64," not in url[:100]:
        return None
    payload = url.split(",", 1)[1]
    if len(payload) > limit:
        payload = payload[: limit - limit % 4]
    try:
        return base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError):
        return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 < len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


def image_size(url: str) -> tuple[int, int] | None:
    """``(width, height)`` of a PNG, GIF or JPEG data URL, else ``None``."""
    head = _decode_data_url(url, 64)
    if head is None:
        return None
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return width, height
    if head.startswith(b"\xff\xd8"):
        data = _decode_data_url(url, 4 * 1024 * 1024)
        return _jpeg_size(data) if data else None
    return None
