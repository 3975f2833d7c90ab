"""Streamed strings: a delta costs the same however long the string, and a string is bounded."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conversation_streams import snapshot

from realtime_widget.core.conversation import MAX_ITEM_TEXT, RealtimeConversation
from realtime_widget.core.errors import InvalidEventError

ITEMS: dict[str, dict[str, Any]] = {
    "text": {
        "id": "a",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": ""}],
    },
    "transcript": {
        "id": "a",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": ""}],
    },
    "input": {
        "id": "a",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    },
    "arguments": {"id": "a", "type": "function_call", "name": "f", "call_id": "c"},
    "mcp": {"id": "a", "type": "mcp_call", "name": "f", "server_label": "s", "arguments": ""},
}
DELTAS: dict[str, dict[str, Any]] = {
    "text": {"type": "response.output_text.delta", "item_id": "a", "content_index": 0},
    "transcript": {
        "type": "response.output_audio_transcript.delta",
        "item_id": "a",
        "content_index": 0,
    },
    "input": {
        "type": "conversation.item.input_audio_transcription.delta",
        "item_id": "a",
        "content_index": 0,
    },
    "arguments": {"type": "response.function_call_arguments.delta", "item_id": "a"},
    "mcp": {"type": "response.mcp_call_arguments.delta", "item_id": "a"},
}
FIELD = {
    "text": "text",
    "transcript": "transcript",
    "input": "transcript",
    "arguments": "tool",
    "mcp": "tool",
}


def conversation_with(kind: str) -> RealtimeConversation:
    conversation = RealtimeConversation()
    conversation.process_event({"type": "conversation.item.added", "item": ITEMS[kind]})
    return conversation


def streamed(conversation: RealtimeConversation, kind: str) -> str:
    item = conversation.get_item("a")
    assert item is not None
    value = item["formatted"][FIELD[kind]]
    return str(value["arguments"] if isinstance(value, dict) else value)


@pytest.mark.parametrize("kind", list(ITEMS))
def test_a_streamed_string_is_bounded_and_the_refused_delta_changes_nothing(kind: str) -> None:
    conversation = conversation_with(kind)
    piece = "x" * (MAX_ITEM_TEXT // 4)
    for _ in range(4):
        conversation.process_event({**DELTAS[kind], "delta": piece})
    assert len(streamed(conversation, kind)) == MAX_ITEM_TEXT
    before = snapshot(conversation)
    with pytest.raises(InvalidEventError) as caught:
        conversation.process_event({**DELTAS[kind], "delta": "y"})
    assert caught.value.field == "delta"
    assert f"item 'a' past {MAX_ITEM_TEXT} characters" in str(caught.value)
    assert snapshot(conversation) == before
    conversation.process_event({**DELTAS[kind], "delta": ""})  # nothing more is fine


@pytest.mark.parametrize("kind", list(ITEMS))
def test_a_delta_costs_the_same_after_200_000_of_them(kind: str) -> None:
    """CPU time of this thread, best of five: other programs on a busy machine do not count."""
    events = [{**DELTAS[kind], "delta": "word "} for _ in range(200_000)]
    firsts, lasts = [], []
    for _ in range(5):
        conversation = conversation_with(kind)
        process = conversation.process_event
        start = time.thread_time()
        for event in events[:20_000]:
            process(event)
        firsts.append(time.thread_time() - start)
        for event in events[20_000:180_000]:
            process(event)
        start = time.thread_time()
        for event in events[180_000:]:
            process(event)
        lasts.append(time.thread_time() - start)
        assert len(streamed(conversation, kind)) == 1_000_000
    assert min(lasts) / min(firsts) < 1.5, (firsts, lasts)
