"""RealtimeConversation driven directly by server event streams (no event loop)."""

from __future__ import annotations

import base64
import copy
import math
from typing import Any

import numpy as np
import pytest
from conversation_streams import (
    RATE,
    apply,
    audio_response,
    b64,
    check_items,
    function_call,
    snapshot,
    text_response,
    to_beta,
    tone,
    vad_turn,
)

from realtime_widget.audio.buffers import AudioBuffer, InputAudioBuffer
from realtime_widget.audio.formats import OutputAudioDecoder, decode_clip, encode_clip
from realtime_widget.core.conversation import MAX_RESPONSES, RealtimeConversation
from realtime_widget.core.errors import (
    InvalidEventError,
    ProtocolError,
    RealtimeError,
    UnknownItemError,
    UsageError,
)


def run(steps: list[Any], conversation: RealtimeConversation | None = None) -> Any:
    conversation = RealtimeConversation() if conversation is None else conversation
    results = apply(conversation, steps, InputAudioBuffer())
    return conversation, results


def user_text(iid: str, text: str = "hi") -> dict[str, Any]:
    return {
        "type": "conversation.item.created",
        "previous_item_id": None,
        "item": {
            "id": iid,
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


# -- responses ---------------------------------------------------------------------------------


def test_text_response_builds_the_item_and_returns_text_deltas() -> None:
    stream = text_response("t", ["Hel", "lo", ", world"])
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    deltas = []
    for step in stream.steps:
        item, delta = conversation.process_event(step, buffer)
        if step["type"] == "response.output_text.delta":
            deltas.append(delta)
            assert item is conversation.get_item("item_t")
            assert item["status"] == "in_progress"
        if step["type"] == "response.content_part.added":
            assert item["content"] == [{"type": "output_text", "text": ""}]
    assert deltas == [{"text": "Hel"}, {"text": "lo"}, {"text": ", world"}]
    check_items(conversation, stream.expected)
    assert len(conversation) == 1 and "item_t" in conversation and "nope" not in conversation
    response = conversation.get_response("resp_t")
    assert response is not None
    assert response["status"] == "completed"
    assert response["output"] == ["item_t"]
    assert response["usage"] == {"total_tokens": 42}


def test_audio_response_in_ga_order() -> None:
    chunks = [tone(i, 2400) for i in range(5)]
    words = ["One ", "two ", "three ", "four ", "five."]
    stream = audio_response("a", chunks, words)
    conversation = RealtimeConversation()
    audio_deltas, transcript_deltas = [], []
    for step in stream.steps:
        item, delta = conversation.process_event(step)
        if step["type"] == "response.output_audio.delta":
            assert set(delta) == {"audio"}
            audio_deltas.append(delta["audio"])
            assert item["status"] == "in_progress"
        elif step["type"] == "response.output_audio_transcript.delta":
            transcript_deltas.append(delta["transcript"])
        elif step["type"].endswith(".done"):
            assert delta is None
    for got, want in zip(audio_deltas, chunks, strict=True):
        assert got.dtype == np.int16
        np.testing.assert_array_equal(got, want)
    assert transcript_deltas == words
    check_items(conversation, stream.expected)
    item = conversation.get_item("item_a")
    assert item is not None
    assert len(item["formatted"]["audio"]) == 5 * 2400


def test_function_call_streams_arguments_into_the_tool() -> None:
    stream = function_call("f", "get_weather", ['{"city"', ': "Par', 'is"}'])
    conversation, results = run(stream.steps)
    deltas = [d for _, d in results if d is not None]
    assert deltas == [{"arguments": '{"city"'}, {"arguments": ': "Par'}, {"arguments": 'is"}'}]
    check_items(conversation, stream.expected)


def test_arguments_done_replaces_what_was_streamed() -> None:
    stream = function_call("f", "tool", ['{"a"', ": 1}"])
    steps = [s for s in stream.steps if s["type"] != "conversation.item.done"]
    conversation = RealtimeConversation()
    for step in steps:
        if step["type"] == "response.function_call_arguments.done":
            step = {**step, "arguments": '{"a": 2}'}
        if step["type"] == "response.output_item.done":
            break
        conversation.process_event(step)
    item = conversation.get_item("item_f")
    assert item is not None
    assert item["arguments"] == '{"a": 2}' == item["formatted"]["tool"]["arguments"]
    assert item["status"] == "in_progress"


def test_function_call_output_item() -> None:
    event = {
        "type": "conversation.item.created",
        "item": {"id": "out", "type": "function_call_output", "call_id": "c", "output": '{"ok":1}'},
    }
    item, delta = RealtimeConversation().process_event(event)
    assert delta is None
    assert item["status"] == "completed"
    assert item["formatted"]["output"] == '{"ok":1}'


def test_two_responses_keep_order_and_responses() -> None:
    stream = text_response("1", ["a"]) + audio_response("2", [tone(1, 480)], ["b"])
    conversation, _ = run(stream.steps)
    assert [i["id"] for i in conversation.get_items()] == ["item_1", "item_2"]
    check_items(conversation, stream.expected)
    assert conversation.get_response("resp_2") == {
        "id": "resp_2",
        "object": "realtime.response",
        "status": "completed",
        "output": ["item_2"],
        "usage": {"total_tokens": 42},
    }


def test_cancelled_response_done_syncs_item_status() -> None:
    stream = audio_response("c", [tone(2, 480)], ["cut"])
    steps = [s for s in stream.steps if "done" not in s["type"]]
    conversation, _ = run(steps)
    done = {
        "type": "response.done",
        "response": {
            "id": "resp_c",
            "status": "cancelled",
            "output": [
                {
                    "id": "item_c",
                    "type": "message",
                    "role": "assistant",
                    "status": "incomplete",
                    "content": [{"type": "audio", "transcript": "cut"}],
                }
            ],
        },
    }
    assert conversation.process_event(done) == (None, None)
    item = conversation.get_item("item_c")
    assert item is not None
    assert item["status"] == "incomplete"
    assert item["content"] == [{"type": "output_audio", "transcript": "cut"}]
    response = conversation.get_response("resp_c")
    assert response is not None and response["status"] == "cancelled"


def test_response_done_for_unknown_response_is_stored() -> None:
    conversation = RealtimeConversation()
    event = {"type": "response.done", "response": {"id": "r9", "status": "failed", "output": []}}
    assert conversation.process_event(event) == (None, None)
    assert conversation.get_response("r9") == {"id": "r9", "status": "failed", "output": []}


def test_output_item_added_for_unknown_response_still_creates_the_item() -> None:
    conversation = RealtimeConversation()
    event = {
        "type": "response.output_item.added",
        "response_id": "unseen",
        "output_index": 0,
        "item": {"id": "x", "type": "message", "role": "assistant", "content": []},
    }
    item, _ = conversation.process_event(event)
    assert item is conversation.get_item("x")
    assert item["status"] == "in_progress"
    assert conversation.get_response("unseen") is None


def test_duplicate_response_created_merges() -> None:
    conversation = RealtimeConversation()
    created = {"type": "response.created", "response": {"id": "r", "status": "in_progress"}}
    conversation.process_event(created)
    conversation.process_event(
        {
            "type": "response.output_item.added",
            "response_id": "r",
            "item": {"id": "i", "type": "message", "role": "assistant"},
        }
    )
    conversation.process_event(created)
    assert conversation.get_response("r") == {"id": "r", "status": "in_progress", "output": ["i"]}


# -- creation, duplicates, order ----------------------------------------------------------------


def test_item_added_then_created_is_one_item_and_keeps_streamed_data() -> None:
    stream = audio_response("d", [tone(3, 480), tone(4, 480)], ["Hi ", "there"])
    late_created = {
        "type": "conversation.item.created",
        "previous_item_id": None,
        "item": {
            "id": "item_d",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [{"type": "output_audio", "transcript": ""}],
        },
    }
    steps = list(stream.steps)
    done_at = next(i for i, s in enumerate(steps) if s["type"] == "response.output_audio.done")
    steps.insert(done_at, late_created)
    steps.append(copy.deepcopy(late_created))  # after the item is done: must not regress
    conversation, _ = run(steps)
    assert len(conversation) == 1
    check_items(conversation, stream.expected)


def test_duplicate_creation_fills_missing_fields() -> None:
    conversation = RealtimeConversation()
    conversation.process_event(
        {"type": "conversation.item.added", "item": {"id": "u", "type": "message"}}
    )
    item, _ = conversation.process_event(user_text("u", "hello"))
    assert item["role"] == "user"
    assert item["content"] == [{"type": "input_text", "text": "hello"}]
    assert item["formatted"]["text"] == "hello"
    assert len(conversation) == 1


def test_previous_item_id_inserts_after_that_item() -> None:
    conversation = RealtimeConversation()
    for iid in ("a", "b"):
        conversation.process_event(user_text(iid))
    conversation.process_event({**user_text("c"), "previous_item_id": "a"})
    conversation.process_event({**user_text("d"), "previous_item_id": "b"})
    conversation.process_event({**user_text("e"), "previous_item_id": "gone"})
    assert [i["id"] for i in conversation.get_items()] == ["a", "c", "b", "d", "e"]


def test_user_text_item_is_completed_and_formatted() -> None:
    item, delta = RealtimeConversation().process_event(user_text("u", "What time is it?"))
    assert delta is None
    assert item["status"] == "completed"
    assert item["formatted"]["text"] == "What time is it?"
    assert item["formatted"]["transcript"] == ""
    assert len(item["formatted"]["audio"]) == 0


def test_server_status_is_kept() -> None:
    event = user_text("u")
    event["item"]["status"] = "incomplete"
    item, _ = RealtimeConversation().process_event(event)
    assert item["status"] == "incomplete"


def test_item_with_input_audio_content_is_decoded() -> None:
    samples = tone(5, 960)
    event = {
        "type": "conversation.item.created",
        "item": {
            "id": "u",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": b64(samples), "transcript": None}],
        },
    }
    item, _ = RealtimeConversation().process_event(event)
    np.testing.assert_array_equal(np.asarray(item["formatted"]["audio"]), samples)


def test_items_are_copies_of_the_events() -> None:
    event = user_text("u", "x")
    item, _ = RealtimeConversation().process_event(event)
    item["content"][0]["text"] = "changed"
    assert event["item"]["content"][0]["text"] == "x"
    assert "formatted" not in event["item"]


def test_retrieved_merges_final_state_or_creates() -> None:
    conversation = RealtimeConversation()
    conversation.process_event(user_text("u", "draft"))
    retrieved = {"type": "conversation.item.retrieved", "item": user_text("u", "final")["item"]}
    item, _ = conversation.process_event(retrieved)
    assert item["content"][0]["text"] == "final" == item["formatted"]["text"]
    other, _ = conversation.process_event(
        {"type": "conversation.item.retrieved", "item": user_text("v", "new")["item"]}
    )
    assert other is conversation.get_item("v")
    assert len(conversation) == 2


def test_content_part_added_twice_merges() -> None:
    stream = text_response("p", ["abc"])
    steps = list(stream.steps)
    added = next(s for s in steps if s["type"] == "response.content_part.added")
    delta_at = next(i for i, s in enumerate(steps) if s["type"] == "response.output_text.delta")
    steps.insert(delta_at + 1, copy.deepcopy(added))
    conversation, _ = run(steps)
    check_items(conversation, stream.expected)


@pytest.mark.parametrize("spelling", ["service", "item"])
def test_content_part_events_take_either_spelling_of_the_part(spelling: str) -> None:
    # the service names the part "text" / "audio" in these two events (the streams here do);
    # items name it "output_text" / "output_audio", and that spelling is taken there too
    stream = text_response("1", ["a", "b"]) + audio_response("2", [tone(1, 480)], ["w"])
    steps = copy.deepcopy(stream.steps)
    for step in steps:
        if isinstance(step, dict) and step["type"].startswith("response.content_part."):
            assert step["part"]["type"] in ("text", "audio")
            if spelling == "item":
                step["part"]["type"] = "output_" + step["part"]["type"]
    conversation, _ = run(steps)
    check_items(conversation, stream.expected)
    assert [i["content"][0]["type"] for i in conversation.get_items()] == [
        "output_text",
        "output_audio",
    ]


# -- input audio --------------------------------------------------------------------------------


def test_vad_turn_slices_the_utterance_from_the_input_buffer() -> None:
    speech = tone(6, 24 * 700)
    stream, _ = vad_turn("u", 0, speech, ["Hel", "lo"])
    conversation, results = run(stream.steps)
    check_items(conversation, stream.expected)
    assert len(conversation) == 1
    deltas = [d for _, d in results if d is not None]
    assert deltas == [{"transcript": "Hel"}, {"transcript": "lo"}]


def test_vad_slicing_uses_session_absolute_offsets_after_discards() -> None:
    conversation = RealtimeConversation(keep_input_ms=0)
    buffer = InputAudioBuffer()
    offset = 0
    expected = {}
    for turn in range(4):
        buffer.append(np.ones(24 * 250, np.int16))  # unrelated audio, later discarded
        offset += 24 * 250
        stream, offset = vad_turn(f"u{turn}", offset, tone(turn, 24 * (300 + turn * 40)), ["x"])
        apply(conversation, stream.steps, buffer)
        expected.update(stream.expected)
        # everything before the end of this utterance is gone, offsets stay absolute
        assert buffer.start == offset - 2_400
        assert buffer.end == offset
    buffer.discard_before(buffer.end)
    check_items(conversation, expected)


def test_open_speech_keeps_its_audio_in_the_buffer() -> None:
    conversation = RealtimeConversation(keep_input_ms=0)
    buffer = InputAudioBuffer()
    buffer.append(tone(1, 24 * 3000))
    started = {"type": "input_audio_buffer.speech_started", "item_id": "b", "audio_start_ms": 500}
    conversation.process_event(started, buffer)
    stopped = {"type": "input_audio_buffer.speech_stopped", "item_id": "a", "audio_end_ms": 2000}
    conversation.process_event(stopped, buffer)
    assert buffer.start == 24 * 500


def test_keep_input_ms_none_keeps_the_buffer() -> None:
    conversation = RealtimeConversation(keep_input_ms=None)
    stream, _ = vad_turn("u", 0, tone(7, 2400), ["x"])
    buffer = InputAudioBuffer()
    apply(conversation, stream.steps, buffer)
    assert buffer.start == 0
    check_items(conversation, stream.expected)


def test_speech_stopped_after_its_item_attaches_directly() -> None:
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    samples = tone(8, 24 * 100)
    buffer.append(samples)
    start = {"type": "input_audio_buffer.speech_started", "item_id": "u", "audio_start_ms": 0}
    conversation.process_event(start, buffer)
    conversation.process_event(
        {
            "type": "conversation.item.added",
            "item": {
                "id": "u",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio"}],
            },
        }
    )
    stop = {"type": "input_audio_buffer.speech_stopped", "item_id": "u", "audio_end_ms": 100}
    item, delta = conversation.process_event(stop, buffer)
    assert delta is None
    np.testing.assert_array_equal(np.asarray(item["formatted"]["audio"]), samples)


def test_speech_stopped_without_started_or_buffer_gives_no_audio() -> None:
    conversation = RealtimeConversation()
    stop = {"type": "input_audio_buffer.speech_stopped", "item_id": "u", "audio_end_ms": 100}
    assert conversation.process_event(stop) == (None, None)
    item, _ = conversation.process_event(
        {
            "type": "conversation.item.added",
            "item": {"id": "u", "type": "message", "role": "user", "content": []},
        }
    )
    assert len(item["formatted"]["audio"]) == 0


def test_manual_turn_queued_audio_goes_to_the_committed_item() -> None:
    conversation = RealtimeConversation()
    samples = tone(9, 4800)
    conversation.queue_input_audio(samples)
    samples[:] = 0  # the conversation kept a copy
    conversation.process_event(user_text("typed"))  # a text item does not take it
    conversation.process_event({"type": "input_audio_buffer.committed", "item_id": "spoken"})
    item, _ = conversation.process_event(
        {
            "type": "conversation.item.added",
            "item": {
                "id": "spoken",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        }
    )
    np.testing.assert_array_equal(np.asarray(item["formatted"]["audio"]), tone(9, 4800))
    typed = conversation.get_item("typed")
    assert typed is not None and len(typed["formatted"]["audio"]) == 0


def test_manual_turn_without_commit_goes_to_the_next_user_audio_item() -> None:
    conversation = RealtimeConversation()
    conversation.queue_input_audio(AudioBuffer(tone(10, 480)))
    event = {
        "type": "conversation.item.created",
        "item": {
            "id": "u",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio"}],
        },
    }
    item, _ = conversation.process_event(event)
    np.testing.assert_array_equal(np.asarray(item["formatted"]["audio"]), tone(10, 480))
    second, _ = conversation.process_event({**event, "item": {**event["item"], "id": "v"}})
    assert len(second["formatted"]["audio"]) == 0


@pytest.mark.parametrize(
    "samples",
    [np.zeros(4, np.float32), np.zeros((2, 2), np.int16), [1, 2, 3], "audio", [[1], [1, 2]]],
)
def test_queue_input_audio_rejects_other_than_int16_vectors(samples: Any) -> None:
    with pytest.raises(UsageError, match="int16"):
        RealtimeConversation().queue_input_audio(samples)


# -- transcription ------------------------------------------------------------------------------


def test_transcript_completed_before_its_item_is_applied_when_it_appears() -> None:
    stream, _ = vad_turn("u", 0, tone(11, 2400), ["ignored"])
    steps = [s for s in stream.steps if not isinstance(s, dict) or "transcription" not in s["type"]]
    completed = {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "item_u",
        "content_index": 0,
        "transcript": "early bird",
    }
    added_at = next(
        i for i, s in enumerate(steps) if isinstance(s, dict) and s["type"].endswith("item.added")
    )
    steps.insert(added_at, completed)
    conversation, results = run(steps)
    assert (None, None) in results
    item = conversation.get_item("item_u")
    assert item is not None
    assert item["formatted"]["transcript"] == "early bird"
    assert item["content"][0]["transcript"] == "early bird"


def test_transcript_deltas_before_their_item_are_kept() -> None:
    conversation = RealtimeConversation()
    for piece in ("a", "b"):
        event = {
            "type": "conversation.item.input_audio_transcription.delta",
            "item_id": "u",
            "content_index": 0,
            "delta": piece,
        }
        assert conversation.process_event(event) == (None, None)
    item, _ = conversation.process_event(
        {
            "type": "conversation.item.added",
            "item": {
                "id": "u",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio"}],
            },
        }
    )
    assert item["formatted"]["transcript"] == "ab"
    assert item["content"][0]["transcript"] == "ab"


def test_transcription_failed_is_recorded_early_or_late() -> None:
    conversation = RealtimeConversation()
    error = {"type": "transcription_error", "code": "audio_unintelligible", "message": "?"}
    failed = {
        "type": "conversation.item.input_audio_transcription.failed",
        "item_id": "u",
        "content_index": 0,
        "error": error,
    }
    assert conversation.process_event(failed) == (None, None)
    item, _ = conversation.process_event(user_text("u"))
    assert item["formatted"]["transcription_error"] == error
    conversation.process_event(user_text("v"))
    item, delta = conversation.process_event({**failed, "item_id": "v", "content_index": None})
    assert delta is None and item["formatted"]["transcription_error"] == error


def test_pending_records_are_bounded() -> None:
    conversation = RealtimeConversation()
    for n in range(1000):
        conversation.process_event(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": f"ghost{n}",
                "transcript": "boo",
            }
        )
        conversation.process_event(
            {
                "type": "input_audio_buffer.speech_started",
                "item_id": f"ghost{n}",
                "audio_start_ms": n,
            }
        )
    state = snapshot(conversation)["state"]
    assert len(state["_transcripts"]["records"]) == len(state["_speech"]["records"]) == 256
    item, _ = conversation.process_event(user_text("ghost999"))
    assert item["formatted"]["transcript"] == "boo"


# -- truncation and deletion --------------------------------------------------------------------


def test_truncation_cuts_audio_and_clears_the_transcript() -> None:
    stream = audio_response("t", [tone(12, 2400), tone(13, 2400)], ["Once ", "upon"])
    conversation, _ = run(stream.steps)
    event = {
        "type": "conversation.item.truncated",
        "item_id": "item_t",
        "content_index": 0,
        "audio_end_ms": 150,
    }
    item, delta = conversation.process_event(event)
    assert delta is None
    np.testing.assert_array_equal(
        np.asarray(item["formatted"]["audio"]),
        np.concatenate([tone(12, 2400), tone(13, 2400)])[: 150 * RATE // 1000],
    )
    assert item["formatted"]["transcript"] == ""
    assert item["content"][0]["transcript"] == ""
    conversation.process_event({**event, "audio_end_ms": 10_000})  # longer: audio unchanged
    assert len(item["formatted"]["audio"]) == 3600


def test_deletion_removes_the_item_and_later_events_fail() -> None:
    stream = text_response("x", ["a"]) + text_response("y", ["b"])
    conversation, _ = run(stream.steps)
    item, delta = conversation.process_event(
        {"type": "conversation.item.deleted", "item_id": "item_x"}
    )
    assert item is not None and item["id"] == "item_x" and delta is None
    assert conversation.get_item("item_x") is None
    assert [i["id"] for i in conversation.get_items()] == ["item_y"]
    with pytest.raises(UnknownItemError, match="item_x"):
        conversation.process_event({"type": "conversation.item.deleted", "item_id": "item_x"})


def test_clear_forgets_everything() -> None:
    conversation = RealtimeConversation()
    conversation.queue_input_audio(tone(1, 24))
    stream = text_response("c", ["a"])
    run(stream.steps, conversation)
    conversation.process_event(
        {"type": "input_audio_buffer.speech_started", "item_id": "s", "audio_start_ms": 0}
    )
    conversation.clear()
    assert len(conversation) == 0 and conversation.get_items() == []
    assert conversation.get_response("resp_c") is None
    assert snapshot(conversation) == snapshot(RealtimeConversation())
    run(stream.steps, conversation)  # still usable
    check_items(conversation, stream.expected)


# -- dialects -----------------------------------------------------------------------------------


def test_ga_and_beta_streams_give_identical_items() -> None:
    stream = text_response("1", ["Hi", "!"])
    stream = stream + audio_response("2", [tone(1, 2400), tone(2, 1200)], ["Hel", "lo"])
    stream = stream + function_call("3", "lookup", ['{"q":', '"x"}'])
    turn, _ = vad_turn("4", 0, tone(3, 24 * 400), ["a", "b"])
    stream = stream + turn
    ga, _ = run(stream.steps)
    beta_steps = to_beta(stream.steps)
    assert any(s["type"] == "response.audio.delta" for s in beta_steps if isinstance(s, dict))
    beta, _ = run(beta_steps)
    check_items(ga, stream.expected)
    assert ga.get_items() == beta.get_items()
    assert [i["id"] for i in ga.get_items()] == [i["id"] for i in beta.get_items()]
    assert snapshot(ga) == snapshot(beta)


def test_beta_part_types_are_canonicalised() -> None:
    event = {
        "type": "conversation.item.created",
        "item": {
            "id": "a",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "x"}, {"type": "audio", "transcript": "y"}],
        },
    }
    item, _ = RealtimeConversation().process_event(event)
    assert [p["type"] for p in item["content"]] == ["output_text", "output_audio"]
    assert item["formatted"]["text"] == "x" and item["formatted"]["transcript"] == "y"


def test_unknown_event_types_are_ignored() -> None:
    conversation = RealtimeConversation()
    for kind in ("session.created", "rate_limits.updated", "error", "brand.new.event", ""):
        assert conversation.process_event({"type": kind}) == (None, None)
    assert conversation.process_event({"type": "input_audio_buffer.cleared"}) == (None, None)


# -- errors ------------------------------------------------------------------------------------


def populated() -> tuple[RealtimeConversation, InputAudioBuffer]:
    """A conversation holding a text item, an audio item, a function call and a user turn."""
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    stream = text_response("t", ["text"]) + audio_response("a", [tone(1, 480)], ["w"])
    stream = stream + function_call("f", "fn", ["{}"])
    turn, _ = vad_turn("u", 0, tone(2, 480), ["hey"])
    apply(conversation, (stream + turn).steps, buffer)
    conversation.process_event(
        {"type": "input_audio_buffer.speech_started", "item_id": "open", "audio_start_ms": 10}
    )
    conversation.queue_input_audio(tone(3, 48))
    return conversation, buffer


ITEM_EVENTS = [
    {"type": "response.output_text.delta", "content_index": 0, "delta": "x"},
    {"type": "response.output_text.done", "content_index": 0, "text": "x"},
    {"type": "response.output_audio.delta", "content_index": 0, "delta": ""},
    {"type": "response.audio.delta", "content_index": 0, "delta": ""},
    {"type": "response.output_audio.done", "content_index": 0},
    {"type": "response.output_audio_transcript.delta", "content_index": 0, "delta": "x"},
    {"type": "response.output_audio_transcript.done", "content_index": 0, "transcript": "x"},
    {"type": "response.function_call_arguments.delta", "delta": "x"},
    {"type": "response.function_call_arguments.done", "arguments": "x"},
    {"type": "response.content_part.added", "content_index": 0, "part": {"type": "output_text"}},
    {"type": "response.content_part.done", "content_index": 0, "part": {"type": "output_text"}},
    {"type": "conversation.item.truncated", "content_index": 0, "audio_end_ms": 0},
    {"type": "conversation.item.deleted"},
]


@pytest.mark.parametrize("event", ITEM_EVENTS, ids=lambda e: e["type"])
def test_events_naming_unknown_items_raise_and_change_nothing(event: dict[str, Any]) -> None:
    conversation, buffer = populated()
    before = snapshot(conversation)
    with pytest.raises(UnknownItemError, match="'ghost'") as caught:
        conversation.process_event({**event, "item_id": "ghost"}, buffer)
    assert caught.value.item_id == "ghost"
    assert snapshot(conversation) == before


@pytest.mark.parametrize("kind", ["response.output_item.done", "conversation.item.done"])
def test_done_for_unknown_item_raises(kind: str) -> None:
    conversation, _ = populated()
    before = snapshot(conversation)
    with pytest.raises(UnknownItemError, match="'ghost'"):
        conversation.process_event({"type": kind, "item": {"id": "ghost", "type": "message"}})
    assert snapshot(conversation) == before


BAD_BASE64 = "@@@@"
ODD_BYTES = "AAAA"  # three bytes
AUDIO = {"type": "response.output_audio.delta", "item_id": "item_a", "content_index": 0}
TEXT = {"type": "response.output_text.delta", "item_id": "item_t", "content_index": 0}
CREATED = {"type": "conversation.item.created"}
USER = {"id": "n", "type": "message", "role": "user"}

MALFORMED: list[tuple[Any, str | None, str]] = [
    ([], None, "event"),
    ("response.output_text.delta", None, "event"),
    (None, None, "event"),
    ({}, None, "type"),
    ({"type": 7}, None, "type"),
    ({**AUDIO, "delta": BAD_BASE64}, "response.output_audio.delta", "delta"),
    ({**AUDIO, "delta": "QUJD\n"}, "response.output_audio.delta", "delta"),
    ({**AUDIO, "delta": "é"}, "response.output_audio.delta", "delta"),
    ({**AUDIO, "delta": ODD_BYTES}, "response.output_audio.delta", "delta"),
    ({**AUDIO, "delta": None}, "response.output_audio.delta", "delta"),
    ({k: v for k, v in AUDIO.items() if k != "item_id"}, "response.output_audio.delta", "item_id"),
    ({**AUDIO, "item_id": ["item_a"], "delta": ""}, "response.output_audio.delta", "item_id"),
    ({**AUDIO, "content_index": 1, "delta": ""}, "response.output_audio.delta", "content_index"),
    ({**AUDIO, "content_index": "0", "delta": ""}, "response.output_audio.delta", "content_index"),
    ({**AUDIO, "content_index": True, "delta": ""}, "response.output_audio.delta", "content_index"),
    ({**TEXT, "delta": 5}, "response.output_text.delta", "delta"),
    ({**TEXT}, "response.output_text.delta", "delta"),
    ({**TEXT, "content_index": -1, "delta": "x"}, "response.output_text.delta", "content_index"),
    ({**TEXT, "type": "response.output_text.done"}, "response.output_text.done", "text"),
    (
        {**TEXT, "type": "response.output_audio_transcript.delta", "content_index": 3, "delta": ""},
        "response.output_audio_transcript.delta",
        "content_index",
    ),
    (
        {"type": "response.function_call_arguments.delta", "item_id": "item_t", "delta": "{"},
        "response.function_call_arguments.delta",
        "item_id",
    ),
    (
        {"type": "response.function_call_arguments.done", "item_id": "item_f"},
        "response.function_call_arguments.done",
        "arguments",
    ),
    ({**CREATED}, "conversation.item.created", "item"),
    ({**CREATED, "item": "x"}, "conversation.item.created", "item"),
    ({**CREATED, "item": {"type": "message"}}, "conversation.item.created", "item.id"),
    ({**CREATED, "item": {"id": ""}}, "conversation.item.created", "item.id"),
    ({**CREATED, "item": {"id": 4}}, "conversation.item.created", "item.id"),
    ({**CREATED, "item": {**USER, "status": 1}}, "conversation.item.created", "item.status"),
    ({**CREATED, "item": {**USER, "content": "x"}}, "conversation.item.created", "item.content"),
    ({**CREATED, "item": {**USER, "content": [3]}}, "conversation.item.created", "item.content[0]"),
    (
        {**CREATED, "item": {**USER, "content": [{"type": ["input_text"]}]}},
        "conversation.item.created",
        "item.content[0].type",
    ),
    (
        {**CREATED, "item": {**USER, "content": [{"type": "input_text"}, {"text": 1}]}},
        "conversation.item.created",
        "item.content[1].text",
    ),
    (
        {**CREATED, "item": {**USER, "content": [{"type": "input_audio", "audio": "@"}]}},
        "conversation.item.created",
        "item.content[0].audio",
    ),
    (
        {"type": "conversation.item.added", "item": {"id": "item_t", "content": {"a": 1}}},
        "conversation.item.added",
        "item.content",
    ),
    (
        {"type": "response.output_item.added", "response_id": 3, "item": USER},
        "response.output_item.added",
        "response_id",
    ),
    ({"type": "response.output_item.done"}, "response.output_item.done", "item"),
    ({"type": "response.created"}, "response.created", "response"),
    ({"type": "response.created", "response": {"id": 5}}, "response.created", "response.id"),
    (
        {"type": "response.done", "response": {"id": "resp_t", "output": "x"}},
        "response.done",
        "response.output",
    ),
    (
        {"type": "response.done", "response": {"id": "resp_t", "output": [{"id": "item_t"}, 5]}},
        "response.done",
        "response.output[1]",
    ),
    (
        {
            "type": "response.done",
            "response": {"id": "resp_t", "output": [{"id": "item_t", "status": 9}]},
        },
        "response.done",
        "response.output[0].status",
    ),
    (
        {"type": "response.content_part.added", "item_id": "item_t", "content_index": 0},
        "response.content_part.added",
        "part",
    ),
    (
        {
            "type": "response.content_part.added",
            "item_id": "item_t",
            "content_index": 0,
            "part": {"type": 1},
        },
        "response.content_part.added",
        "part.type",
    ),
    (
        {
            "type": "response.content_part.added",
            "item_id": "item_t",
            "content_index": 2,
            "part": {"type": "output_text"},
        },
        "response.content_part.added",
        "content_index",
    ),
    (
        {"type": "conversation.item.truncated", "item_id": "item_a", "content_index": 0},
        "conversation.item.truncated",
        "audio_end_ms",
    ),
    (
        {
            "type": "conversation.item.truncated",
            "item_id": "item_a",
            "content_index": 0,
            "audio_end_ms": -1,
        },
        "conversation.item.truncated",
        "audio_end_ms",
    ),
    (
        {
            "type": "conversation.item.truncated",
            "item_id": "item_a",
            "content_index": 0,
            "audio_end_ms": math.nan,
        },
        "conversation.item.truncated",
        "audio_end_ms",
    ),
    (
        {
            "type": "conversation.item.truncated",
            "item_id": "item_a",
            "content_index": 4,
            "audio_end_ms": 5,
        },
        "conversation.item.truncated",
        "content_index",
    ),
    (
        {"type": "input_audio_buffer.speech_started", "item_id": "s"},
        "input_audio_buffer.speech_started",
        "audio_start_ms",
    ),
    (
        {"type": "input_audio_buffer.speech_started", "item_id": "s", "audio_start_ms": "0"},
        "input_audio_buffer.speech_started",
        "audio_start_ms",
    ),
    (
        {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 5},
        "input_audio_buffer.speech_stopped",
        "item_id",
    ),
    (
        {"type": "input_audio_buffer.speech_stopped", "item_id": "open", "audio_end_ms": 5},
        "input_audio_buffer.speech_stopped",
        "audio_end_ms",
    ),
    ({"type": "input_audio_buffer.committed"}, "input_audio_buffer.committed", "item_id"),
    (
        {"type": "conversation.item.input_audio_transcription.completed", "item_id": "item_u"},
        "conversation.item.input_audio_transcription.completed",
        "transcript",
    ),
    (
        {
            "type": "conversation.item.input_audio_transcription.delta",
            "item_id": "item_u",
            "content_index": 1,
            "delta": "x",
        },
        "conversation.item.input_audio_transcription.delta",
        "content_index",
    ),
    (
        {
            "type": "conversation.item.input_audio_transcription.delta",
            "item_id": "later",
            "content_index": "0",
            "delta": "x",
        },
        "conversation.item.input_audio_transcription.delta",
        "content_index",
    ),
    (
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "item_id": "item_u",
            "error": "bad",
        },
        "conversation.item.input_audio_transcription.failed",
        "error",
    ),
]


@pytest.mark.parametrize(("event", "event_type", "field"), MALFORMED)
def test_malformed_events_name_the_field_and_change_nothing(
    event: Any, event_type: str | None, field: str
) -> None:
    conversation, buffer = populated()
    before = snapshot(conversation)
    before_buffer = (buffer.start, buffer.end)
    with pytest.raises(InvalidEventError) as caught:
        conversation.process_event(copy.deepcopy(event), buffer)
    error = caught.value
    assert error.field == field
    assert error.event_type == event_type
    assert repr(field) in str(error)
    assert isinstance(error, ProtocolError) and isinstance(error, RealtimeError)
    assert snapshot(conversation) == before
    assert (buffer.start, buffer.end) == before_buffer
    # still usable afterwards
    stream = text_response("after", ["ok"])
    apply(conversation, stream.steps, buffer)
    check_items(conversation, stream.expected)


def test_error_messages_are_short_and_name_the_value() -> None:
    conversation, _ = populated()
    with pytest.raises(InvalidEventError) as caught:
        conversation.process_event({**TEXT, "delta": "x", "content_index": 9})
    message = str(caught.value)
    assert message == (
        "response.output_text.delta: field 'content_index' is out of range: 9 (item has 1 parts)"
    )
    with pytest.raises(InvalidEventError) as caught:
        conversation.process_event({**TEXT, "delta": list(range(100))})
    assert len(str(caught.value)) < 120 and "must be a string" in str(caught.value)
    with pytest.raises(InvalidEventError, match="is missing"):
        conversation.process_event({"type": "response.output_text.delta"})


def test_buffer_argument_must_be_an_input_buffer() -> None:
    conversation, _ = populated()
    before = snapshot(conversation)
    stop = {"type": "input_audio_buffer.speech_stopped", "item_id": "open", "audio_end_ms": 50}
    for event in (stop, {"type": "response.created", "response": {"id": "r"}}):
        with pytest.raises(UsageError, match="InputAudioBuffer"):
            conversation.process_event(event, np.zeros(10, np.int16))
    assert snapshot(conversation) == before
    assert conversation.process_event(stop, None) == (None, None)


@pytest.mark.parametrize(
    "value",
    [10**5000, 1e308, -(10**400), math.inf, -math.inf],
    ids=["huge-int", "huge-float", "huge-negative", "inf", "-inf"],
)
def test_out_of_range_milliseconds_are_refused(value: Any) -> None:
    conversation, buffer = populated()
    before = snapshot(conversation)
    for event in (
        {"type": "input_audio_buffer.speech_started", "item_id": "s", "audio_start_ms": value},
        {"type": "input_audio_buffer.speech_stopped", "item_id": "open", "audio_end_ms": value},
        {
            "type": "conversation.item.truncated",
            "item_id": "item_a",
            "content_index": 0,
            "audio_end_ms": value,
        },
    ):
        with pytest.raises(InvalidEventError, match="milliseconds") as caught:
            conversation.process_event(event, buffer)
        assert len(str(caught.value)) < 160
    assert snapshot(conversation) == before


TRANSCRIPTION = "conversation.item.input_audio_transcription"
INDEXED_EVENTS: list[dict[str, Any]] = [
    {**TEXT, "delta": "x"},
    {**AUDIO, "delta": ""},
    {**TEXT, "type": "response.output_text.done", "text": "x"},
    {**TEXT, "type": "response.content_part.added", "part": {"type": "output_text"}},
    {**AUDIO, "type": "conversation.item.truncated", "audio_end_ms": 0},
    {**AUDIO, "type": "response.output_audio_transcript.delta", "delta": "x"},
    {"type": f"{TRANSCRIPTION}.delta", "item_id": "item_u", "delta": "x"},
    {"type": f"{TRANSCRIPTION}.delta", "item_id": "later", "delta": "x"},
    {"type": f"{TRANSCRIPTION}.completed", "item_id": "item_u", "transcript": "x"},
    {"type": f"{TRANSCRIPTION}.completed", "item_id": "later", "transcript": "x"},
]


@pytest.mark.parametrize("value", [10**5000, 2**31, 2**63], ids=["5000-digits", "2**31", "2**63"])
@pytest.mark.parametrize("event", INDEXED_EVENTS, ids=lambda e: f"{e['type']}-{e['item_id']}")
def test_huge_content_indexes_are_refused_with_a_short_message(
    event: dict[str, Any], value: int
) -> None:
    conversation, buffer = populated()
    before = snapshot(conversation)
    with pytest.raises(InvalidEventError) as caught:
        conversation.process_event({**event, "content_index": value}, buffer)
    assert caught.value.field == "content_index"
    assert len(str(caught.value)) < 160
    assert snapshot(conversation) == before


def test_values_whose_repr_fails_are_still_reported() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    with pytest.raises(InvalidEventError, match="<Broken>"):
        RealtimeConversation().process_event(
            {"type": "response.output_text.delta", "item_id": Broken()}
        )


@pytest.mark.parametrize("rate", [0, -1, 1.5, True, "24000"])
def test_sample_rate_must_be_a_positive_int(rate: Any) -> None:
    with pytest.raises(UsageError, match="sample_rate"):
        RealtimeConversation(rate)


@pytest.mark.parametrize("keep", [-1, 1.5, True])
def test_keep_input_ms_must_be_a_non_negative_int(keep: Any) -> None:
    with pytest.raises(UsageError, match="keep_input_ms"):
        RealtimeConversation(keep_input_ms=keep)


def test_other_sample_rates_scale_truncation_and_slicing() -> None:
    conversation = RealtimeConversation(8_000)
    buffer = InputAudioBuffer()
    buffer.append(np.arange(16_000, dtype=np.int16))
    start = {"type": "input_audio_buffer.speech_started", "item_id": "u", "audio_start_ms": 500}
    stop = {"type": "input_audio_buffer.speech_stopped", "item_id": "u", "audio_end_ms": 1_000}
    conversation.process_event(start, buffer)
    conversation.process_event(stop, buffer)
    item, _ = conversation.process_event(
        {
            "type": "conversation.item.added",
            "item": {
                "id": "u",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio"}],
            },
        }
    )
    np.testing.assert_array_equal(
        np.asarray(item["formatted"]["audio"]), np.arange(4_000, 8_000, dtype=np.int16)
    )
    truncated = {
        "type": "conversation.item.truncated",
        "item_id": "u",
        "content_index": 0,
        "audio_end_ms": 250,
    }
    conversation.process_event(truncated)
    assert len(item["formatted"]["audio"]) == 2_000


def test_an_expected_item_gets_the_audio_its_echo_lacks() -> None:
    conversation = RealtimeConversation()
    samples = (np.arange(4_800) % 200 - 100).astype(np.int16)
    sent = base64.b64encode(samples.astype("<i2").tobytes()).decode("ascii")
    conversation.expect_item(
        {
            "id": "item_sent",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": sent}],
        }
    )
    echo = {
        "id": "item_sent",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    item, _ = conversation.process_event(
        {"event_id": "e1", "type": "conversation.item.added", "item": echo}
    )
    assert item is not None
    assert np.array_equal(np.asarray(item["formatted"]["audio"]), samples)
    with pytest.raises(InvalidEventError):
        conversation.expect_item({"type": "message", "content": "not parts"})


def test_an_expected_item_is_read_in_the_format_it_was_sent_in() -> None:
    # the session still says pcm16 while the client already sends G.711 (its update is on
    # the way): the item's audio is read as what was sent, not as the session's format
    conversation = RealtimeConversation(audio_decoder=OutputAudioDecoder())
    samples = (1_000 * np.sin(np.arange(2_403) / 20)).astype(np.int16)
    item = {
        "id": "item_ulaw",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": encode_clip(samples, "g711_ulaw")}],
    }
    conversation.expect_item(item, "g711_ulaw")
    echo = {**item, "content": [{"type": "input_audio", "transcript": None}]}
    added, _ = conversation.process_event(
        {"event_id": "e1", "type": "conversation.item.added", "item": echo}
    )
    assert added is not None
    heard = np.asarray(added["formatted"]["audio"])
    assert np.array_equal(heard, decode_clip(item["content"][0]["audio"], "g711_ulaw"))
    assert abs(len(heard) - len(samples)) <= 3
    assert np.corrcoef(heard[100:-100], samples[100:-100])[0, 1] > 0.99


def test_only_the_latest_responses_are_remembered() -> None:
    conversation = RealtimeConversation()
    for n in range(MAX_RESPONSES + 10):
        conversation.process_event(
            {"event_id": f"e{n}", "type": "response.created", "response": {"id": f"resp_{n}"}}
        )
    assert conversation.get_response("resp_9") is None
    assert conversation.get_response("resp_10") is not None
    last = f"resp_{MAX_RESPONSES + 9}"
    conversation.process_event(
        {
            "event_id": "done",
            "type": "response.done",
            "response": {"id": last, "status": "completed", "output": []},
        }
    )
    assert conversation.get_response(last)["status"] == "completed"
    assert "1024 responses" in repr(conversation)
