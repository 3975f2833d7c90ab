"""MCP tool calls and tool lists, and the transcription segments, in both dialects."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conversation_streams import Step, apply, check_items, mcp_call, snapshot, to_beta

from realtime_widget.audio.buffers import InputAudioBuffer
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.errors import InvalidEventError, UnknownItemError

DIALECTS = ["ga", "beta"]


def in_dialect(steps: list[Step], dialect: str) -> list[Step]:
    return to_beta(steps) if dialect == "beta" else copy.deepcopy(steps)


def run(steps: list[Step], dialect: str) -> RealtimeConversation:
    conversation = RealtimeConversation()
    apply(conversation, in_dialect(steps, dialect), InputAudioBuffer())
    return conversation


def mcp_call_stream(pieces: list[str], outcome: str = "completed") -> list[Step]:
    return mcp_call("m", "search", pieces, outcome).steps


@pytest.mark.parametrize("dialect", DIALECTS)
def test_mcp_call_arguments_stream_like_a_function_call(dialect: str) -> None:
    conversation = RealtimeConversation()
    results = apply(
        conversation,
        in_dialect(mcp_call_stream(['{"q":', ' "realtime"}']), dialect),
        InputAudioBuffer(),
    )
    deltas = [delta for _, delta in results if delta is not None]
    assert deltas == [{"arguments": '{"q":'}, {"arguments": ' "realtime"}'}]
    check_items(conversation, mcp_call("m", "search", ['{"q":', ' "realtime"}']).expected)
    item = conversation.get_item("item_m")
    assert item is not None
    assert item["formatted"]["output"] == item["output"] == '{"hits": 3}'


def test_mcp_call_is_the_same_in_both_dialects() -> None:
    steps = mcp_call_stream(["{", "}"], outcome="failed")
    ga, beta = run(steps, "ga"), run(steps, "beta")
    assert ga.get_item("item_m")["status"] == "failed"  # type: ignore[index]
    assert snapshot(ga) == snapshot(beta)


def test_mcp_arguments_done_replaces_what_was_streamed() -> None:
    steps = mcp_call_stream(["{", "garbled"])
    end = next(i for i, s in enumerate(steps) if s["type"] == "response.mcp_call_arguments.done")
    steps = [*steps[:end], {**steps[end], "arguments": "{}"}]
    conversation = run(steps, "ga")
    item = conversation.get_item("item_m")
    assert item is not None
    assert item["arguments"] == item["formatted"]["tool"]["arguments"] == "{}"
    assert item["status"] == "in_progress"


def test_mcp_call_in_progress_never_replaces_a_final_status() -> None:
    conversation = run(mcp_call_stream(["{}"]), "ga")
    item, delta = conversation.process_event(
        {"type": "response.mcp_call.in_progress", "item_id": "item_m", "output_index": 0}
    )
    assert delta is None and item["status"] == "completed"
    item, _ = conversation.process_event(
        {"type": "response.mcp_call.failed", "item_id": "item_m", "output_index": 0}
    )
    assert item["status"] == "failed"


def test_mcp_call_streamed_into_an_mcp_call_that_was_not_created_in_progress() -> None:
    # the server's mcp_call item has no status: only the mcp_call events set it
    conversation = RealtimeConversation()
    conversation.process_event(
        {
            "type": "conversation.item.added",
            "item": {"id": "m", "type": "mcp_call", "name": "n", "server_label": "s"},
        }
    )
    assert conversation.get_item("m").get("status") is None  # type: ignore[union-attr]
    conversation.process_event({"type": "response.mcp_call.in_progress", "item_id": "m"})
    assert conversation.get_item("m")["status"] == "in_progress"  # type: ignore[index]


MCP_EVENTS = [
    {"type": "response.mcp_call_arguments.delta", "delta": "{"},
    {"type": "response.mcp_call_arguments.done", "arguments": "{}"},
    {"type": "response.mcp_call.in_progress"},
    {"type": "response.mcp_call.completed"},
    {"type": "response.mcp_call.failed"},
]


def populated() -> RealtimeConversation:
    conversation = run(mcp_call_stream(["{}"]), "ga")
    for item in (
        {"id": "fn", "type": "function_call", "name": "f", "call_id": "c", "arguments": ""},
        {"id": "msg", "type": "message", "role": "assistant", "content": []},
        {"id": "tools", "type": "mcp_list_tools", "server_label": "docs", "tools": []},
    ):
        conversation.process_event({"type": "conversation.item.added", "item": item})
    return conversation


@pytest.mark.parametrize("event", MCP_EVENTS, ids=lambda e: e["type"])
def test_mcp_call_events_for_unknown_items_raise_and_change_nothing(event: dict[str, Any]) -> None:
    conversation = populated()
    before = snapshot(conversation)
    with pytest.raises(UnknownItemError, match="'ghost'"):
        conversation.process_event({**event, "item_id": "ghost"})
    assert snapshot(conversation) == before


@pytest.mark.parametrize("event", MCP_EVENTS, ids=lambda e: e["type"])
@pytest.mark.parametrize("target", ["fn", "msg", "tools"])
def test_mcp_call_events_for_other_items_are_refused(event: dict[str, Any], target: str) -> None:
    conversation = populated()
    before = snapshot(conversation)
    with pytest.raises(InvalidEventError, match="not an MCP tool call") as caught:
        conversation.process_event({**event, "item_id": target})
    assert caught.value.field == "item_id"
    assert snapshot(conversation) == before


def test_function_call_arguments_for_an_mcp_call_are_refused() -> None:
    conversation = populated()
    with pytest.raises(InvalidEventError, match="'mcp_call' item, not a function call"):
        conversation.process_event(
            {"type": "response.function_call_arguments.delta", "item_id": "item_m", "delta": "x"}
        )


@pytest.mark.parametrize(
    "event",
    [
        {"type": "response.mcp_call_arguments.delta", "item_id": "item_m"},
        {"type": "response.mcp_call_arguments.delta", "item_id": "item_m", "delta": 5},
        {"type": "response.mcp_call_arguments.done", "item_id": "item_m"},
        {"type": "response.mcp_call.completed"},
        {"type": "response.mcp_call.completed", "item_id": ["item_m"]},
        {"type": "mcp_list_tools.completed"},
        {"type": "mcp_list_tools.failed", "item_id": 3},
    ],
    ids=lambda e: e["type"],
)
def test_malformed_mcp_events_name_the_field_and_change_nothing(event: dict[str, Any]) -> None:
    conversation = populated()
    before = snapshot(conversation)
    with pytest.raises(InvalidEventError) as caught:
        conversation.process_event(event)
    assert caught.value.field in ("delta", "arguments", "item_id")
    assert snapshot(conversation) == before


@pytest.mark.parametrize("dialect", DIALECTS)
def test_mcp_list_tools_events_set_the_status_of_the_list(dialect: str) -> None:
    listing = {"id": "tools", "type": "mcp_list_tools", "server_label": "docs", "tools": []}
    steps: list[Step] = [
        {"type": "mcp_list_tools.in_progress", "event_id": "e1", "item_id": "tools"},
        {"type": "conversation.item.added", "previous_item_id": None, "item": listing},
        {"type": "mcp_list_tools.in_progress", "event_id": "e2", "item_id": "tools"},
        {"type": "mcp_list_tools.completed", "event_id": "e3", "item_id": "tools"},
        {"type": "mcp_list_tools.in_progress", "event_id": "e4", "item_id": "tools"},
    ]
    conversation = RealtimeConversation()
    results = apply(conversation, in_dialect(steps, dialect), InputAudioBuffer())
    # before its item: ignored; afterwards the item, and no delta
    assert results[0] == (None, None)
    assert [r[0]["id"] for r in results[1:]] == ["tools"] * 4  # type: ignore[index]
    assert all(delta is None for _, delta in results)
    assert conversation.get_item("tools")["status"] == "completed"  # type: ignore[index]
    conversation.process_event({"type": "mcp_list_tools.failed", "item_id": "tools"})
    assert conversation.get_item("tools")["status"] == "failed"  # type: ignore[index]


def test_mcp_list_tools_events_for_other_items_are_refused() -> None:
    conversation = populated()
    before = snapshot(conversation)
    with pytest.raises(InvalidEventError, match="not an MCP tool list"):
        conversation.process_event({"type": "mcp_list_tools.completed", "item_id": "item_m"})
    assert snapshot(conversation) == before


# -- transcription segments ----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_transcription_segments_are_kept_on_their_item(dialect: str) -> None:
    user = {
        "id": "user",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    conversation = run([{"type": "conversation.item.added", "item": user}], dialect)
    segment = {
        "type": "conversation.item.input_audio_transcription.segment",
        "event_id": "event_s",
        "item_id": "user",
        "content_index": 0,
        "id": "seg_1",
        "speaker": "A",
        "start": 0.0,
        "end": 1.5,
        "text": "hello there",
    }
    second = {**segment, "id": "seg_2", "speaker": "B", "start": 1.5, "end": 2, "text": "hi"}
    for event in in_dialect([segment, second, {**segment, "text": "hello there!"}], dialect):
        item, delta = conversation.process_event(event)  # type: ignore[arg-type]
        assert item is conversation.get_item("user") and delta is None
    assert conversation.get_item("user")["formatted"]["segments"] == [  # type: ignore[index]
        {"id": "seg_1", "start": 0.0, "end": 1.5, "text": "hello there!", "speaker": "A"},
        {"id": "seg_2", "start": 1.5, "end": 2.0, "text": "hi", "speaker": "B"},
    ]
    before = snapshot(conversation)
    for bad, field in (
        ({"text": 5}, "text"),
        ({"start": "x"}, "start"),
        ({"start": 2.0, "end": 1.0}, "end"),
        ({"speaker": None}, "speaker"),
        ({"content_index": -1}, "content_index"),
    ):
        with pytest.raises(InvalidEventError, match=field):
            conversation.process_event({**segment, **bad})
    assert snapshot(conversation) == before
    # a segment of an item not held changes nothing
    ghost = {**segment, "item_id": "ghost"}
    assert conversation.process_event(ghost) == (None, None)
    assert snapshot(conversation) == before
