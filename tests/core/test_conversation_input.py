"""The user's input: speeches, the input buffer they keep back, and what waits for its item.

Whatever the server sends, the input audio kept and the records waiting for items not held
yet stay bounded, in count and in bytes.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import numpy as np
import pytest
from conversation_streams import RATE, apply, check_items, snapshot, tone, vad_turn

from realtime_widget.audio.buffers import InputAudioBuffer
from realtime_widget.core.conversation import MAX_PENDING_AUDIO_SECONDS, RealtimeConversation
from realtime_widget.core.early import MAX_EARLY_RECORDS, MAX_EARLY_TEXT, MAX_EARLY_TEXT_TOTAL
from realtime_widget.core.errors import InvalidEventError

CHUNK = RATE // 10  # 100 ms


def started(item_id: str, ms: float) -> dict[str, Any]:
    return {"type": "input_audio_buffer.speech_started", "item_id": item_id, "audio_start_ms": ms}


def stopped(item_id: str, ms: float) -> dict[str, Any]:
    return {"type": "input_audio_buffer.speech_stopped", "item_id": item_id, "audio_end_ms": ms}


CLEARED = {"type": "input_audio_buffer.cleared", "event_id": "event_1"}


def user_audio_item(item_id: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.added",
        "previous_item_id": None,
        "item": {
            "id": item_id,
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        },
    }


def transcription(item_id: str, delta: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.input_audio_transcription.delta",
        "item_id": item_id,
        "content_index": 0,
        "delta": delta,
    }


def vad_session(
    conversation: RealtimeConversation, buffer: InputAudioBuffer, turns: int, first_ms: int = 0
) -> None:
    """``turns`` server-VAD turns of 10 s each from ``first_ms``: speech from 2 s to 6 s."""
    ms = first_ms
    for turn in range(turns):
        for tick in range(100):
            buffer.append(np.full(CHUNK, turn, np.int16))
            ms += 100
            if tick == 20:
                conversation.process_event(started(f"turn{turn}", ms - 100), buffer)
            if tick == 60:
                conversation.process_event(stopped(f"turn{turn}", ms - 100), buffer)
                conversation.process_event(user_audio_item(f"turn{turn}"), buffer)


# -- input_audio_buffer.cleared -----------------------------------------------------------------


def test_a_cleared_speech_no_longer_keeps_input_audio_back() -> None:
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    buffer.append(np.zeros(CHUNK, np.int16))
    conversation.process_event(started("abandoned", 0), buffer)
    assert conversation.process_event(CLEARED, buffer) == (None, None)
    vad_session(conversation, buffer, turns=60, first_ms=100)  # ten minutes
    assert buffer.end == 6_001 * CHUNK
    # what is kept: the second before the last utterance's end, and what came after it
    assert len(buffer) / RATE <= 6.0
    item = conversation.get_item("turn59")
    assert item is not None
    np.testing.assert_array_equal(np.asarray(item["formatted"]["audio"]), np.full(4 * RATE, 59))


def test_cleared_drops_the_uncommitted_audio_but_the_last_keep_input_ms() -> None:
    conversation = RealtimeConversation(keep_input_ms=500)
    buffer = InputAudioBuffer()
    buffer.append(tone(1, 10 * RATE))
    conversation.process_event(CLEARED, buffer)
    assert (buffer.start, buffer.end) == (10 * RATE - RATE // 2, 10 * RATE)
    kept = RealtimeConversation(keep_input_ms=None)
    buffer = InputAudioBuffer()
    buffer.append(tone(1, RATE))
    kept.process_event(CLEARED, buffer)
    assert buffer.start == 0


def test_cleared_keeps_an_utterance_that_waits_for_its_item() -> None:
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    speech = tone(2, RATE)
    buffer.append(speech)
    conversation.process_event(started("u", 0), buffer)
    conversation.process_event(stopped("u", 1_000), buffer)
    conversation.process_event(started("open", 900), buffer)
    conversation.process_event(CLEARED, buffer)
    item, _ = conversation.process_event(user_audio_item("u"), buffer)
    np.testing.assert_array_equal(np.asarray(item["formatted"]["audio"]), speech)
    # the open speech is gone: its late speech_stopped finds no start, so no audio
    conversation.process_event(stopped("open", 1_000), buffer)
    item, _ = conversation.process_event(user_audio_item("open"), buffer)
    assert len(item["formatted"]["audio"]) == 0


def test_an_open_speech_whose_start_is_gone_keeps_nothing_back() -> None:
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer(max_samples=30 * RATE)  # the client bounds its input buffer
    buffer.append(np.zeros(CHUNK, np.int16))
    conversation.process_event(started("lost", 0), buffer)  # its speech_stopped never comes
    vad_session(conversation, buffer, turns=12, first_ms=100)  # two minutes
    assert buffer.start > 0  # the bound dropped the start of the lost speech
    assert len(buffer) / RATE <= 6.0


def test_an_open_speech_still_in_the_buffer_keeps_its_audio() -> None:
    conversation = RealtimeConversation(keep_input_ms=0)
    buffer = InputAudioBuffer()
    buffer.append(tone(3, 5 * RATE))
    conversation.process_event(started("long", 1_000), buffer)
    conversation.process_event(started("short", 2_000), buffer)
    conversation.process_event(stopped("short", 3_000), buffer)
    assert buffer.start == RATE
    conversation.process_event(stopped("long", 5_000), buffer)
    assert buffer.start == 5 * RATE


# -- reset_input --------------------------------------------------------------------------------


def test_reset_input_forgets_pending_input_and_keeps_items_and_responses() -> None:
    conversation = RealtimeConversation()
    buffer = InputAudioBuffer()
    turn, offset = vad_turn("kept", 0, tone(4, 24 * 400), ["hi"])
    apply(conversation, turn.steps, buffer)
    conversation.process_event(
        {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}}
    )
    buffer.append(tone(5, RATE))
    conversation.process_event(started("open", offset * 1000 // RATE), buffer)
    conversation.process_event(started("stopped", offset * 1000 // RATE), buffer)
    conversation.process_event(stopped("stopped", offset * 1000 // RATE + 500), buffer)
    conversation.process_event(transcription("early", "words"), buffer)
    conversation.queue_input_audio(tone(6, 480))
    items, responses = snapshot(conversation)["items"], conversation.get_response("resp_1")

    conversation.reset_input()

    assert snapshot(conversation)["items"] == items
    assert conversation.get_response("resp_1") == responses
    check_items(conversation, turn.expected)
    pending = {k: v for k, v in snapshot(conversation)["state"].items() if k != "_responses"}
    nothing = {k: v for k, v in snapshot(RealtimeConversation())["state"].items()}
    assert pending == {k: v for k, v in nothing.items() if k != "_responses"}
    # a new session: the old records meet nothing
    for item_id in ("open", "stopped", "early"):
        item, _ = conversation.process_event(user_audio_item(item_id), InputAudioBuffer())
        assert len(item["formatted"]["audio"]) == 0 and item["formatted"]["transcript"] == ""
    # a new session starts its offsets at zero: nothing of the old one keeps its buffer back
    fresh = InputAudioBuffer()
    fresh.append(tone(7, 3 * RATE))
    conversation.process_event(stopped("other", 3_000), fresh)
    assert fresh.start == 2 * RATE


# -- speech audio waiting for its item -----------------------------------------------------------


def test_speech_audio_for_items_that_never_come_stays_bounded_in_bytes() -> None:
    buffer = InputAudioBuffer(max_samples=300 * RATE)
    buffer.append(np.ones(30 * RATE, np.int16))  # the user has spoken 30 s so far
    conversation = RealtimeConversation()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(MAX_EARLY_RECORDS):
            conversation.process_event(started(f"ghost{n}", 0), buffer)
        for n in range(MAX_EARLY_RECORDS):
            conversation.process_event(stopped(f"ghost{n}", 30_000), buffer)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    bound = (MAX_PENDING_AUDIO_SECONDS + 30) * RATE * 2  # bytes of int16 samples
    assert held < bound + 2_000_000, held
    # the newest utterances still meet their items, the oldest were let go
    item, _ = conversation.process_event(user_audio_item(f"ghost{MAX_EARLY_RECORDS - 1}"), buffer)
    assert len(item["formatted"]["audio"]) == 30 * RATE
    item, _ = conversation.process_event(user_audio_item("ghost0"), buffer)
    assert len(item["formatted"]["audio"]) == 0


def test_one_long_utterance_waits_whole_for_its_item() -> None:
    seconds = MAX_PENDING_AUDIO_SECONDS + 10
    buffer = InputAudioBuffer()
    speech = np.arange(seconds * RATE, dtype=np.int64).astype(np.int16)
    buffer.append(speech)
    conversation = RealtimeConversation()
    conversation.process_event(started("long", 0), buffer)
    conversation.process_event(stopped("long", seconds * 1000), buffer)
    item, _ = conversation.process_event(user_audio_item("long"), buffer)
    np.testing.assert_array_equal(np.asarray(item["formatted"]["audio"]), speech)


# -- transcriptions waiting for their item ---------------------------------------------------


def test_pending_transcript_of_one_item_is_bounded_and_refusal_changes_nothing() -> None:
    conversation = RealtimeConversation()
    piece = "y" * 4096
    accepted = 0
    for _ in range(6_000):
        before = snapshot(conversation)
        try:
            conversation.process_event(transcription("item_one", piece))
        except InvalidEventError as exc:
            assert exc.field == "delta"
            assert "'item_one'" in str(exc) and str(MAX_EARLY_TEXT) in str(exc)
            assert snapshot(conversation) == before
            continue
        accepted += 1
    assert 0 < accepted * 4096 <= MAX_EARLY_TEXT
    assert accepted > (MAX_EARLY_TEXT // (4096 + 64)) - 1
    item, _ = conversation.process_event(user_audio_item("item_one"))
    assert item["formatted"]["transcript"] == piece * accepted
    completed = {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "item_two",
        "content_index": 0,
        "transcript": "z" * (MAX_EARLY_TEXT + 1),
    }
    with pytest.raises(InvalidEventError, match="item_two"):
        conversation.process_event(completed)


def test_pending_transcripts_are_bounded_in_all() -> None:
    conversation = RealtimeConversation()
    piece = "w" * 65_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(100):
            for _ in range(10):
                conversation.process_event(transcription(f"item_{n}", piece))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < MAX_EARLY_TEXT_TOTAL + 500_000, held  # 65 MB were sent
    item, _ = conversation.process_event(user_audio_item("item_99"))
    assert item["formatted"]["transcript"] == piece * 10
    item, _ = conversation.process_event(user_audio_item("item_0"))
    assert item["formatted"]["transcript"] == ""


def _per_delta(conversation: RealtimeConversation, events: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for event in events:
        conversation.process_event(event)
    return (time.perf_counter() - start) / len(events)


def test_a_pending_transcript_delta_costs_the_same_however_long_the_text() -> None:
    deltas = [transcription("late", "v" * 1_000) for _ in range(900)]  # close to the limit
    firsts, lasts = [], []
    for _ in range(7):
        conversation = RealtimeConversation()
        firsts.append(_per_delta(conversation, deltas[:50]))
        _per_delta(conversation, deltas[50:800])
        lasts.append(_per_delta(conversation, deltas[800:]))
    assert min(lasts) / min(firsts) < 3, (firsts, lasts)
