"""Property tests: any event sequence, valid or not, leaves the conversation consistent.

Generated sequences are valid streams (text, audio, function call, VAD user turn), then
reordered, duplicated, cut short, salted with malformed or made-up events. Processing may
only raise :class:`UnknownItemError` or :class:`InvalidEventError`; after each error the
conversation (and the input buffer) is exactly as before, and at the end a fresh valid
stream still gives exactly the items it should.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from conversation_streams import (
    Step,
    Stream,
    apply,
    audio_response,
    b64,
    check_items,
    full_stream,
    function_call,
    mcp_call,
    snapshot,
    text_response,
    to_beta,
    tone,
    vad_turn,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_widget.audio.buffers import InputAudioBuffer
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.errors import InvalidEventError, UnknownItemError

EVENT_TYPES = [
    "conversation.item.added",
    "conversation.item.created",
    "conversation.item.retrieved",
    "conversation.item.done",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.failed",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "response.created",
    "response.done",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.text.delta",
    "response.output_audio.delta",
    "response.audio.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.delta",
    "response.output_audio_transcript.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "input_audio_buffer.cleared",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    "response.mcp_call.failed",
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    "conversation.item.input_audio_transcription.segment",
    "session.updated",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["", "item_0", "resp_0", "output_audio", "text", "in_progress", "AAAA"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "type", "role", "status", "content", "text", "transcript", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=8,
)

texts = st.lists(st.text(max_size=4), max_size=4)


@st.composite
def streams(draw: st.DrawFn, prefix: str = "") -> Stream:
    """One to four valid segments, each with its own ids."""
    stream = Stream()
    offset = 0
    for n in range(draw(st.integers(1, 4))):
        tag = f"{prefix}{n}"
        kind = draw(st.sampled_from(["text", "audio", "call", "mcp", "vad"]))
        if kind == "text":
            stream = stream + text_response(tag, draw(texts))
        elif kind == "audio":
            sizes = draw(st.lists(st.integers(0, 600), max_size=4))
            chunks = [tone(n * 10 + i, size) for i, size in enumerate(sizes)]
            stream = stream + audio_response(tag, chunks, draw(texts))
        elif kind == "call":
            stream = stream + function_call(tag, draw(st.text(max_size=5)), draw(texts))
        elif kind == "mcp":
            outcome = draw(st.sampled_from(["completed", "failed"]))
            stream = stream + mcp_call(tag, draw(st.text(max_size=5)), draw(texts), outcome)
        else:
            speech = tone(n, 24 * draw(st.integers(0, 40)))
            turn, offset = vad_turn(tag, offset, speech, draw(texts), silence=240)
            stream = stream + turn
    return stream


def fresh_stream(offset: int) -> Stream:
    """A valid stream with ids no generated event uses, its VAD turn at ``offset``."""
    stream = text_response("fresh·t", ["fine", ", thanks"])
    stream = stream + audio_response("fresh·a", [tone(1, 480), tone(2, 240)], ["so", "und"])
    stream = stream + function_call("fresh·f", "tool", ['{"k":', " 1}"])
    turn, _ = vad_turn("fresh·u", offset, tone(3, 24 * 30), ["again"], silence=240)
    return stream + turn


TARGETED: dict[str, list[Any]] = {
    "delta": ["@@@@", "AAAA", "QQ", "é", " AAAA", "A====", None, 3],
    "content_index": [-1, 7, 10**9, math.nan, 0.5, True, "0", None],
    "audio_start_ms": [-1, math.nan, math.inf, "5", None, True],
    "audio_end_ms": [-1, math.nan, math.inf, "5", None, 0, 1e308, 10**400],
    "id": ["", 5, None, ["x"]],
    "content": ["x", [3], [{"type": 5}], [{"text": 1}], [{"type": "input_audio", "audio": "@"}]],
    "output": ["x", [5], [{"id": 3}], [{"id": "item_0", "status": 1}]],
}


@st.composite
def malformed(draw: st.DrawFn, event: dict[str, Any]) -> Any:
    """``event`` with one field removed or replaced by something else, or not an event."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values.filter(lambda v: not isinstance(v, dict)))
    bad = copy.deepcopy(event)
    holders: list[dict[str, Any]] = [bad]
    for key in ("item", "part", "response"):
        if isinstance(bad.get(key), dict):
            holders.append(bad[key])
            content = bad[key].get("content") or bad[key].get("output")
            if isinstance(content, list):
                holders += [p for p in content if isinstance(p, dict)]
    holder = draw(st.sampled_from(holders))
    if not holder:
        return bad
    # Half the time, one of the fields that decide validity.
    targeted = [k for k in sorted(holder) if k in TARGETED]
    key = draw(st.sampled_from(targeted if targeted and draw(st.booleans()) else sorted(holder)))
    how = draw(st.sampled_from(["delete", "junk", "targeted", "targeted"]))
    if how == "delete":
        del holder[key]
    elif how == "targeted" and key in TARGETED:
        holder[key] = draw(st.sampled_from(TARGETED[key]))
    else:
        holder[key] = draw(json_values)
    return bad


@st.composite
def made_up_events(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    """An event of a known type with made-up fields, often naming items that exist."""
    names = st.sampled_from(ids) if ids else st.text(max_size=6)
    plausible_item = st.fixed_dictionaries(
        {"id": names | st.text(max_size=4)},
        optional={
            "type": st.sampled_from(
                ["message", "function_call", "function_call_output", "mcp_call", "x"]
            ),
            "role": st.sampled_from(["user", "assistant", "system"]),
            "status": st.sampled_from(["in_progress", "completed", "incomplete"]),
            "content": st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["input_text", "input_audio", "text", "audio"])},
                    optional={"text": st.text(max_size=3), "transcript": st.none() | st.text()},
                ),
                max_size=2,
            ),
        },
    )
    return draw(
        st.fixed_dictionaries(
            {"type": st.sampled_from(EVENT_TYPES)},
            optional={
                "item_id": names | json_values,
                "content_index": st.integers(-1, 3) | json_values,
                "delta": st.text(max_size=4)
                | st.sampled_from(TARGETED["delta"])
                | st.just(b64(np.arange(6, dtype=np.int16))),
                "item": plausible_item | json_values,
                "part": json_values,
                "response": st.fixed_dictionaries({"id": st.sampled_from(["resp_0", "r"])})
                | json_values,
                "response_id": st.sampled_from(["resp_0", "r"]) | json_values,
                "audio_start_ms": st.integers(0, 3000) | json_values,
                "audio_end_ms": st.integers(0, 3000) | json_values,
                "transcript": st.text(max_size=4) | json_values,
                "text": st.text(max_size=4),
                "arguments": st.text(max_size=4),
                "error": json_values,
                "previous_item_id": names | st.none(),
            },
        )
    )


@st.composite
def mangled(draw: st.DrawFn) -> list[Step]:
    """A valid stream, then reordered, duplicated, cut, malformed and salted."""
    steps: list[Step] = list(draw(streams()).steps)
    ids = sorted(
        {
            s["item"]["id"] if isinstance(s.get("item"), dict) else s.get("item_id", "")
            for s in steps
            if isinstance(s, dict)
        }
        - {""}
    )
    for _ in range(draw(st.integers(0, 10))):
        if not steps:
            break
        operation = draw(st.sampled_from(["swap", "dup", "cut", "drop", "bad", "bad", "junk"]))
        i = draw(st.integers(0, len(steps) - 1))
        j = draw(st.integers(0, len(steps) - 1))
        if operation == "swap":
            steps[i], steps[j] = steps[j], steps[i]
        elif operation == "dup":
            steps.insert(j, copy.deepcopy(steps[i]))
        elif operation == "cut":
            steps = steps[: max(i, 1)]
        elif operation == "drop":
            del steps[i]
        elif operation == "bad" and isinstance(steps[i], dict):
            steps[i] = draw(malformed(steps[i]))
        elif operation == "junk":
            steps.insert(i, draw(made_up_events(ids)))
    return steps


def process_checked(
    conversation: RealtimeConversation, steps: list[Step], buffer: InputAudioBuffer
) -> int:
    """Process every step; errors may only be protocol errors and must change nothing."""
    errors = 0
    for step in steps:
        if isinstance(step, np.ndarray):
            buffer.append(step)
            continue
        before = snapshot(conversation), buffer.start, buffer.end
        try:
            conversation.process_event(step, buffer)
        except (UnknownItemError, InvalidEventError):
            errors += 1
            assert (snapshot(conversation), buffer.start, buffer.end) == before
    return errors


@given(streams())
def test_valid_streams_never_raise_and_give_the_expected_items(stream: Stream) -> None:
    conversation = RealtimeConversation()
    assert process_checked(conversation, stream.steps, InputAudioBuffer()) == 0
    check_items(conversation, stream.expected)
    assert [i["id"] for i in conversation.get_items()] == list(stream.expected)


@given(streams())
def test_ga_and_beta_renderings_give_identical_items(stream: Stream) -> None:
    ga, beta = RealtimeConversation(), RealtimeConversation()
    apply(ga, stream.steps, InputAudioBuffer())
    apply(beta, to_beta(stream.steps), InputAudioBuffer())
    assert ga.get_items() == beta.get_items()
    assert snapshot(ga) == snapshot(beta)


def outcomes(conversation: RealtimeConversation, steps: list[Step]) -> list[tuple[str, str] | None]:
    """Apply ``steps``; what each event did: ``None``, or the error class and the field or
    item it names (not its message: that names the event type, which differs by dialect)."""
    buffer = InputAudioBuffer()
    seen: list[tuple[str, str] | None] = []
    for step in steps:
        if isinstance(step, np.ndarray):
            buffer.append(step)
            continue
        try:
            conversation.process_event(step, buffer)
        except InvalidEventError as exc:
            seen.append(("invalid", exc.field))
        except UnknownItemError as exc:
            seen.append(("unknown", exc.item_id))
        else:
            seen.append(None)
    return seen


def without_item_done(steps: list[Step]) -> list[Step]:
    """``steps`` without ``conversation.item.done``, which beta does not send: in a reordered
    stream its final state may land where beta has nothing."""
    return [s for s in steps if not (isinstance(s, dict) and s["type"] == "conversation.item.done")]


def test_fault_stream_gives_identical_items_in_both_dialects() -> None:
    steps = full_stream()
    kinds = {s["type"] for s in steps if isinstance(s, dict)}
    assert {"conversation.item.truncated", "conversation.item.deleted"} <= kinds
    ga, beta = RealtimeConversation(), RealtimeConversation()
    done = [s["type"] == "conversation.item.done" for s in steps if isinstance(s, dict)]
    seen = outcomes(ga, steps)
    assert all(o is None for o, d in zip(seen, done, strict=True) if d)
    assert [o for o, d in zip(seen, done, strict=True) if not d] == outcomes(beta, to_beta(steps))
    assert snapshot(ga) == snapshot(beta)
    assert [i["id"] for i in ga.get_items()] == ["item_a", "item_f", "item_m", "item_u"]


def check_reordered(steps: list[Step], moves: list[tuple[int, int]]) -> None:
    """``steps`` with the ``moves`` swapped in: both dialects give the same outcomes and items."""
    for i, j in moves:
        i, j = i % len(steps), j % len(steps)
        steps[i], steps[j] = steps[j], steps[i]
    ga, beta = RealtimeConversation(), RealtimeConversation()
    assert outcomes(ga, steps) == outcomes(beta, to_beta(steps))
    assert snapshot(ga) == snapshot(beta)


swaps = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=6)


@settings(max_examples=max(settings().max_examples, 400))
@given(swaps)
def test_reordered_fault_streams_give_identical_items_in_both_dialects(
    moves: list[tuple[int, int]],
) -> None:
    check_reordered(without_item_done(full_stream()), moves)


@given(streams(), swaps)
def test_reordered_generated_streams_give_identical_items_in_both_dialects(
    stream: Stream, moves: list[tuple[int, int]]
) -> None:
    check_reordered(without_item_done(stream.steps), moves)


@given(mangled())
def test_mangled_streams_raise_only_protocol_errors_and_stay_usable(steps: list[Step]) -> None:
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    process_checked(conversation, steps, buffer)
    # Every item left behind is still well formed.
    for item in conversation.get_items():
        formatted = item["formatted"]
        assert isinstance(formatted["text"], str) and isinstance(formatted["transcript"], str)
        assert np.asarray(formatted["audio"]).dtype == np.int16
    fresh = fresh_stream(buffer.end)
    assert process_checked(conversation, fresh.steps, buffer) == 0
    check_items(conversation, fresh.expected)


@given(st.lists(st.builds(dict) | json_values, max_size=20), streams())
def test_arbitrary_values_as_events(values: list[Any], stream: Stream) -> None:
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    process_checked(conversation, values, buffer)
    process_checked(conversation, stream.steps, buffer)
    check_items(conversation, stream.expected)


@given(streams(), st.data())
def test_one_corrupted_event_in_a_valid_stream(stream: Stream, data: st.DataObject) -> None:
    steps = list(stream.steps)
    # Each event type present is as likely to be hit, however many events it has.
    by_type: dict[str, list[int]] = {}
    for i, step in enumerate(steps):
        if isinstance(step, dict):
            by_type.setdefault(step["type"], []).append(i)
    index = data.draw(st.sampled_from(by_type[data.draw(st.sampled_from(sorted(by_type)))]))
    steps[index] = data.draw(malformed(steps[index]))
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    process_checked(conversation, steps, buffer)
    fresh = fresh_stream(buffer.end)
    assert process_checked(conversation, fresh.steps, buffer) == 0
    check_items(conversation, fresh.expected)
