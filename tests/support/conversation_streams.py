"""Server event streams for the conversation tests, with the items they must produce.

A stream is a list of steps: an event dict (GA names) or an int16 array to append to the
session's input buffer before the next event. Each builder also returns what the items it
creates must look like once the stream has been applied.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from realtime_widget.audio.buffers import AudioBuffer, InputAudioBuffer
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.protocol import dialect_event_type, dialect_part_type

RATE = 24_000
Step = dict[str, Any] | np.ndarray


@dataclass
class Stream:
    steps: list[Step] = field(default_factory=list)
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __add__(self, other: Stream) -> Stream:
        return Stream(self.steps + other.steps, {**self.expected, **other.expected})


def b64(samples: np.ndarray) -> str:
    return base64.b64encode(np.asarray(samples, dtype="<i2").tobytes()).decode("ascii")


def tone(seed: int, size: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-30_000, 30_000, size, dtype=np.int16)


def _done_events(rid: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": item},
        {"type": "conversation.item.done", "item": copy.deepcopy(item)},
        {
            "type": "response.done",
            "response": {
                "id": rid,
                "object": "realtime.response",
                "status": "completed",
                "output": [copy.deepcopy(item)],
                "usage": {"total_tokens": 42},
            },
        },
    ]


def _start_events(rid: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "type": "response.created",
            "response": {"id": rid, "object": "realtime.response", "status": "in_progress"},
        },
        {"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item},
        {"type": "conversation.item.added", "previous_item_id": None, "item": copy.deepcopy(item)},
    ]


def _assistant(iid: str) -> dict[str, Any]:
    return {
        "id": iid,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }


def text_response(tag: str, pieces: list[str]) -> Stream:
    """A text-only assistant response streamed in ``pieces``."""
    rid, iid = f"resp_{tag}", f"item_{tag}"
    ids = {"response_id": rid, "item_id": iid, "output_index": 0, "content_index": 0}
    text = "".join(pieces)
    part = {"type": "output_text", "text": text}
    done = {**_assistant(iid), "status": "completed", "content": [part]}
    steps: list[Step] = [*_start_events(rid, _assistant(iid))]
    steps.append(
        {"type": "response.content_part.added", **ids, "part": {"type": "text", "text": ""}}
    )
    steps += [{"type": "response.output_text.delta", **ids, "delta": p} for p in pieces]
    steps.append({"type": "response.output_text.done", **ids, "text": text})
    steps.append({"type": "response.content_part.done", **ids, "part": {**part, "type": "text"}})
    steps += _done_events(rid, done)
    expected = {
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [part],
        "text": text,
        "transcript": "",
        "audio": np.zeros(0, np.int16),
    }
    return Stream(steps, {iid: expected})


def audio_response(tag: str, chunks: list[np.ndarray], words: list[str]) -> Stream:
    """An audio response in the GA order, one transcript delta after each audio delta."""
    rid, iid = f"resp_{tag}", f"item_{tag}"
    ids = {"response_id": rid, "item_id": iid, "output_index": 0, "content_index": 0}
    transcript = "".join(words)
    part = {"type": "output_audio", "transcript": transcript}
    done = {**_assistant(iid), "status": "completed", "content": [part]}
    steps: list[Step] = [*_start_events(rid, _assistant(iid))]
    steps.append(
        {
            "type": "response.content_part.added",
            **ids,
            "part": {"type": "audio", "transcript": ""},
        }
    )
    for index in range(max(len(chunks), len(words))):
        if index < len(chunks):
            steps.append(
                {"type": "response.output_audio.delta", **ids, "delta": b64(chunks[index])}
            )
        if index < len(words):
            steps.append(
                {"type": "response.output_audio_transcript.delta", **ids, "delta": words[index]}
            )
    steps.append({"type": "response.output_audio.done", **ids})
    steps.append({"type": "response.output_audio_transcript.done", **ids, "transcript": transcript})
    steps.append({"type": "response.content_part.done", **ids, "part": {**part, "type": "audio"}})
    steps += _done_events(rid, done)
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    expected = {
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [part],
        "text": "",
        "transcript": transcript,
        "audio": audio,
    }
    return Stream(steps, {iid: expected})


def function_call(tag: str, name: str, pieces: list[str]) -> Stream:
    """A response made of one function call whose arguments stream in ``pieces``."""
    rid, iid, call_id = f"resp_{tag}", f"item_{tag}", f"call_{tag}"
    arguments = "".join(pieces)
    item = {
        "id": iid,
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": name,
        "call_id": call_id,
        "arguments": "",
    }
    ids = {"response_id": rid, "item_id": iid, "output_index": 0, "call_id": call_id}
    steps: list[Step] = [*_start_events(rid, item)]
    steps += [{"type": "response.function_call_arguments.delta", **ids, "delta": p} for p in pieces]
    steps.append({"type": "response.function_call_arguments.done", **ids, "arguments": arguments})
    steps += _done_events(rid, {**item, "status": "completed", "arguments": arguments})
    expected = {
        "type": "function_call",
        "status": "completed",
        "arguments": arguments,
        "tool": {"type": "function", "name": name, "call_id": call_id, "arguments": arguments},
        "text": "",
        "transcript": "",
        "audio": np.zeros(0, np.int16),
    }
    return Stream(steps, {iid: expected})


def vad_turn(
    tag: str, offset: int, speech: np.ndarray, pieces: list[str], *, silence: int = 2_400
) -> tuple[Stream, int]:
    """A server-VAD user turn starting at absolute sample ``offset`` (a multiple of 24).

    The user sends ``silence`` samples, then ``speech`` (a multiple of 24 samples), then
    silence again; the server reports the speech, commits, creates the item (``added`` and
    then a duplicate ``created``) and transcribes it. Returns the stream and the new offset.
    """
    iid = f"item_{tag}"
    quiet = np.zeros(silence, np.int16)
    start_ms = (offset + silence) * 1000 // RATE
    end_ms = start_ms + speech.size * 1000 // RATE
    transcript = "".join(pieces)
    item = {
        "id": iid,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    ids = {"item_id": iid, "content_index": 0}
    steps: list[Step] = [
        quiet,
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": start_ms, "item_id": iid},
        speech,
        quiet,
        {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end_ms, "item_id": iid},
        {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": iid},
        {"type": "conversation.item.added", "previous_item_id": None, "item": item},
        {
            "type": "conversation.item.created",
            "previous_item_id": None,
            "item": copy.deepcopy(item),
        },
    ]
    steps += [
        {"type": "conversation.item.input_audio_transcription.delta", **ids, "delta": p}
        for p in pieces
    ]
    steps.append(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            **ids,
            "transcript": transcript,
        }
    )
    expected = {
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": transcript}],
        "text": "",
        "transcript": transcript,
        "audio": speech,
    }
    return Stream(steps, {iid: expected}), offset + 2 * silence + speech.size


def mcp_call(tag: str, name: str, pieces: list[str], outcome: str = "completed") -> Stream:
    """A response made of one call of an MCP server's tool (``outcome``: completed or failed)."""
    rid, iid = f"resp_{tag}", f"item_{tag}"
    arguments = "".join(pieces)
    item = {
        "id": iid,
        "object": "realtime.item",
        "type": "mcp_call",
        "name": name,
        "server_label": "docs",
        "arguments": "",
    }
    ids = {"item_id": iid, "output_index": 0}
    steps: list[Step] = [*_start_events(rid, item)]
    steps.append({"type": "response.mcp_call.in_progress", **ids})
    steps += [
        {"type": "response.mcp_call_arguments.delta", "response_id": rid, **ids, "delta": p}
        for p in pieces
    ]
    steps.append(
        {
            "type": "response.mcp_call_arguments.done",
            "response_id": rid,
            **ids,
            "arguments": arguments,
        }
    )
    steps.append({"type": f"response.mcp_call.{outcome}", **ids})
    output = '{"hits": 3}'
    steps += _done_events(rid, {**item, "arguments": arguments, "output": output})
    expected = {
        "type": "mcp_call",
        "status": outcome,
        "arguments": arguments,
        "tool": {"type": "mcp", "name": name, "server_label": "docs", "arguments": arguments},
        "text": "",
        "transcript": "",
        "audio": np.zeros(0, np.int16),
    }
    return Stream(steps, {iid: expected})


def full_stream() -> list[Step]:
    """A stream with every kind of item and the events that change items after the fact: a
    text response, an audio response, a function call, an MCP call, a VAD user turn, a speech
    the server clears, a truncation, a failed transcription, a retrieval and a deletion."""
    stream = text_response("t", ["a", "b"]) + audio_response("a", [tone(1, 480)], ["w"])
    stream = stream + function_call("f", "fn", ["{}"]) + mcp_call("m", "look", ['{"q"', ":1}"])
    turn, offset = vad_turn("u", 0, tone(2, 480), ["hey"], silence=240)
    extra: list[Step] = [
        np.zeros(240, np.int16),
        {
            "type": "input_audio_buffer.speech_started",
            "item_id": "item_gone",
            "audio_start_ms": offset * 1000 // RATE,
        },
        {"type": "input_audio_buffer.cleared"},
        {
            "type": "conversation.item.truncated",
            "item_id": "item_a",
            "content_index": 0,
            "audio_end_ms": 10,
        },
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "item_id": "item_u",
            "content_index": 0,
            "error": {"type": "transcription_error", "message": "no"},
        },
        {"type": "conversation.item.retrieved", "item": {"id": "item_t", "status": "completed"}},
        {"type": "conversation.item.deleted", "item_id": "item_t"},
    ]
    return (stream + turn).steps + extra


def to_beta(steps: list[Step]) -> list[Step]:
    """The same stream in the beta dialect: beta event and part names, no ``added``/``done``
    item events (beta sends ``conversation.item.created`` and no ``conversation.item.done``).
    """
    out: list[Step] = []
    for step in steps:
        if not isinstance(step, dict):
            out.append(step)
            continue
        event = copy.deepcopy(step)
        kind = event["type"]
        if kind == "conversation.item.done":
            continue
        if kind == "conversation.item.added":
            kind = "conversation.item.created"
        event["type"] = dialect_event_type(kind, "beta")
        for holder in _part_holders(event):
            holder["type"] = dialect_part_type(holder["type"], "beta")
        out.append(event)
    return out


def _part_holders(event: dict[str, Any]) -> list[dict[str, Any]]:
    parts = []
    if isinstance(event.get("part"), dict):
        parts.append(event["part"])
    items = [event["item"]] if isinstance(event.get("item"), dict) else []
    if isinstance(event.get("response"), dict):
        items += [i for i in event["response"].get("output") or () if isinstance(i, dict)]
    for item in items:
        parts += [p for p in item.get("content") or () if isinstance(p, dict)]
    return [p for p in parts if isinstance(p.get("type"), str)]


def apply(
    conversation: RealtimeConversation, steps: list[Step], buffer: InputAudioBuffer
) -> list[tuple[Any, Any]]:
    """Apply every step; returns the ``(item, delta)`` of each event."""
    results = []
    for step in steps:
        if isinstance(step, np.ndarray):
            buffer.append(step)
        else:
            results.append(conversation.process_event(step, buffer))
    return results


def check_items(conversation: RealtimeConversation, expected: dict[str, dict[str, Any]]) -> None:
    """Assert that every expected item is held and looks as expected."""
    for item_id, want in expected.items():
        item = conversation.get_item(item_id)
        assert item is not None, item_id
        formatted = item["formatted"]
        assert item["type"] == want["type"]
        assert item["status"] == want["status"], (item_id, item["status"])
        if "role" in want:
            assert item["role"] == want["role"]
        if "content" in want:
            assert item["content"] == want["content"], (item_id, item["content"])
        if "arguments" in want:
            assert item["arguments"] == want["arguments"]
        if "tool" in want:
            assert formatted["tool"] == want["tool"]
        assert formatted["text"] == want["text"]
        assert formatted["transcript"] == want["transcript"]
        assert isinstance(formatted["audio"], AudioBuffer)
        audio = np.asarray(formatted["audio"])
        assert audio.dtype == np.int16
        np.testing.assert_array_equal(audio, want["audio"])


def snapshot(conversation: RealtimeConversation) -> Any:
    """Everything the conversation holds, public and pending, as comparable plain data."""

    def plain(value: Any) -> Any:
        if isinstance(value, AudioBuffer):
            return ("audio", np.asarray(value).tobytes())
        if isinstance(value, np.ndarray):
            return ("array", value.dtype.str, value.tobytes())
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
        if isinstance(value, dict):
            return {key: plain(v) for key, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    state = conversation.__dict__ if hasattr(conversation, "__dict__") else {}
    return plain(
        {
            "order": [item["id"] for item in conversation.get_items()],
            "items": conversation.get_items(),
            "state": {key: value for key, value in state.items() if key != "_items"},
        }
    )
