"""Replaying a conversation into a new session, so the model keeps its context.

:func:`replay_items` turns the items of a conversation into the ``item`` payloads of
``conversation.item.create`` events for a fresh session:

- every item keeps its id, so the server's echoes of it name items the conversation already
  holds (nothing is duplicated);
- user and system messages keep their text; a user audio part becomes its transcript when
  there is one, else the audio itself (``input_audio``, in the session's ``audio_format``)
  when ``include_audio`` is true, else it is left out;
- assistant messages become text (``output_text``, beta ``text``) holding what was said: the
  transcript of spoken answers, or their text. An answer the user cut short (``heard`` names
  it, see :class:`HeardAudio`) holds only the part that was heard: the server dropped its
  transcript on truncation and kept the audio up to the cut, which cannot be replayed as
  assistant text, so the transcript as it stood is cut in proportion to the audio heard
  (heard samples / samples received), back to the last whole word, and ends in "…". That is
  an estimate (speech is not spoken at an even rate), never longer than the transcript; an
  answer whose audio length is unknown keeps its whole transcript, one heard not at all is
  left out;
- function calls and their outputs are replayed as they are; so are MCP tool calls,
  approval requests and approval responses (GA only: the GA item types let a client create
  them), while MCP tool lists are not: the new session, sent the same MCP servers, lists
  their tools again;
- items with nothing left to say, and items still in progress, are skipped.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from realtime_widget.audio.formats import encode_clip
from realtime_widget.core.protocol import AudioFormat, Dialect

__all__ = ["CUT_MARK", "HeardAudio", "heard_text", "replay_items"]

CUT_MARK: Final = "…"


@dataclass(frozen=True)
class HeardAudio:
    """How much of an assistant item's audio the user heard.

    ``samples`` were heard. Once the server has truncated the item (and dropped its
    transcript), ``text`` and ``received`` are the transcript and the samples of audio it had
    just before; ``None`` until then.
    """

    samples: int
    text: str | None = None
    received: int | None = None


def heard_text(item: Mapping[str, Any], heard: HeardAudio) -> str:
    """What the user heard of assistant ``item`` (see the module docstring).

    The whole answer is the transcript before the truncation and what streamed in after it
    (a final transcript that repeats the first part replaces it); its audio, the samples
    received before and after. The part heard is ``heard.samples`` over that audio.
    """
    formatted = item.get("formatted") or {}
    current = answer_text(item)
    audio = formatted.get("audio")
    current_audio = len(audio) if audio is not None else 0
    if heard.text is None or heard.received is None:
        text, received = current, current_audio
    else:
        text = current if current.startswith(heard.text) else heard.text + current
        after = max(current_audio - min(heard.samples, heard.received), 0)
        received = heard.received + after
    if received <= 0 or heard.samples >= received:
        return text
    if heard.samples <= 0:
        return ""
    return _cut(text, heard.samples / received)


def _cut(text: str, fraction: float) -> str:
    """The first ``fraction`` of ``text``, back to a whole word, marked as cut."""
    end = round(len(text) * fraction)
    if end >= len(text):
        return text
    head = text[:end]
    if not text[end].isspace():  # inside a word: it was not heard to its end
        head = head[: max(head.rfind(" "), 0)]
    head = head.rstrip()
    return f"{head}{CUT_MARK}" if head else ""


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
            image = {"type": "input_image", "image_url": part["image_url"]}
            if part.get("detail") in ("auto", "low", "high"):
                image["detail"] = part["detail"]
            parts.append(image)
        elif kind in ("input_audio", "audio"):
            transcript = part.get("transcript") or formatted.get("transcript")
            audio = formatted.get("audio")
            if transcript:
                parts.append({"type": "input_text", "text": transcript})
            elif include_audio and audio is not None and len(audio):
                parts.append({"type": "input_audio", "audio": encode_clip(audio, audio_format)})
    return parts


def answer_text(item: Mapping[str, Any] | None) -> str:
    """What assistant ``item`` said: its transcript, else its text (``""`` for none)."""
    formatted = (item or {}).get("formatted") or {}
    return str(formatted.get("transcript") or formatted.get("text") or "")


def replay_items(
    items: Iterable[Mapping[str, Any]],
    dialect: Dialect = "ga",
    *,
    include_audio: bool = True,
    audio_format: AudioFormat = "pcm16",
    heard: Mapping[str, HeardAudio] | None = None,
) -> list[dict[str, Any]]:
    """The ``conversation.item.create`` payload items that rebuild ``items`` (see above).

    ``heard`` maps the ids of assistant answers the user cut short to how much was heard.
    """
    heard = heard or {}
    replayed: list[dict[str, Any]] = []
    for item in items:
        if item.get("status") == "in_progress" or not isinstance(item.get("id"), str):
            continue
        kind = item.get("type")
        base: dict[str, Any] = {"id": item["id"], "type": kind}
        if kind == "message":
            role = item.get("role")
            if role == "assistant":
                cut = heard.get(item["id"])
                text = answer_text(item) if cut is None else heard_text(item, cut)
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
        elif kind in _MCP_FIELDS and dialect == "ga":
            fields = _MCP_FIELDS[kind]
            replayed.append({**base, **{k: item[k] for k in fields if item.get(k) is not None}})
    return replayed


# the fields of the MCP items a client may create, as the GA item types declare them
_MCP_FIELDS: Final = {
    "mcp_call": (
        "server_label",
        "name",
        "arguments",
        "approval_request_id",
        "output",
        "error",
    ),
    "mcp_approval_request": ("server_label", "name", "arguments"),
    "mcp_approval_response": ("approval_request_id", "approve", "reason"),
}
