"""The client's decisions without an event loop: server events in, replies and events out."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from realtime_widget.audio.buffers import AudioRetention
from realtime_widget.client.decisions import Decisions, Reply
from realtime_widget.core.errors import InvalidEventError, ServerError, UsageError
from realtime_widget.core.session import SessionConfig

CREATE = {"type": "response.create"}


def pcm(samples: int) -> str:
    return base64.b64encode(np.zeros(samples, dtype=np.int16).tobytes()).decode()


def created(response_id: str) -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}}


def done(response_id: str, output: list[Any] | None = None) -> dict[str, Any]:
    return {
        "type": "response.done",
        "response": {"id": response_id, "status": "completed", "output": output or []},
    }


def call_item(call_id: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": f"item_{call_id}",
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": "add",
        "arguments": "{}",
    }


def server_error(code: str, event_id: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": "invalid_request_error", "code": code, "message": code}
    if event_id is not None:
        error["event_id"] = event_id
    return {"type": "error", "error": error}


def answer(decisions: Decisions, item_id: str = "item_a", samples: int = 2400) -> None:
    """An assistant answer with ``samples`` of audio, streamed and done."""
    item = {"id": item_id, "type": "message", "role": "assistant", "content": []}
    part = {"type": "output_audio", "transcript": ""}
    for event in (
        created("resp_a"),
        {"type": "response.output_item.added", "response_id": "resp_a", "item": item},
        {"type": "response.content_part.added", "item_id": item_id, "content_index": 0,
         "part": part},
        {"type": "response.output_audio.delta", "item_id": item_id, "content_index": 0,
         "delta": pcm(samples)},
        {"type": "response.output_audio_transcript.delta", "item_id": item_id,
         "content_index": 0, "delta": "one two three four"},
    ):  # fmt: skip
        decisions.server_event(event, ready=True)


# -- responses and function calls ----------------------------------------------------------


def test_one_response_create_once_the_calls_of_a_finished_response_are_answered() -> None:
    decisions = Decisions()
    decisions.server_event(created("resp_1"), ready=True)
    for call_id in ("a", "b"):
        decisions.calls.expect("resp_1", call_id)
    decisions.calls.claim("a")
    decisions.calls.settle("a")
    assert decisions.server_event(done("resp_1"), ready=True).send == ()  # b is still owed
    decisions.calls.claim("b")
    assert decisions.calls.settle("b")  # the tool runner sends that one itself


def test_response_done_after_every_answer_sends_response_create() -> None:
    decisions = Decisions()
    decisions.server_event(created("resp_1"), ready=True)
    decisions.calls.expect("resp_1", "a")
    decisions.calls.claim("a")
    decisions.calls.settle("a")
    assert decisions.server_event(done("resp_1"), ready=True).send == (CREATE,)
    assert decisions.server_event(done("resp_1"), ready=True).send == ()  # only once


def test_nothing_is_sent_before_the_session_is_ready() -> None:
    decisions = Decisions()
    decisions.server_event(created("resp_1"), ready=True)
    decisions.calls.expect("resp_1", "a")
    decisions.calls.claim("a")
    decisions.calls.settle("a")
    assert decisions.server_event(done("resp_1"), ready=False).send == ()


def test_a_refused_response_create_is_asked_again_once_the_response_is_done() -> None:
    decisions = Decisions()
    decisions.server_event(created("resp_1"), ready=True)
    decisions.requests.sent("automatic")  # the client's own, after its function calls
    refused = decisions.server_event(
        server_error("conversation_already_has_active_response"), ready=True
    )
    assert refused == Reply()  # expected: not reported
    assert decisions.active.deferred
    assert decisions.server_event(done("resp_1"), ready=True).send == (CREATE,)
    assert not decisions.active.deferred


def test_a_cancel_crossing_the_end_of_the_response_is_no_error() -> None:
    decisions = Decisions()
    answer(decisions)
    _, sent = decisions.cancel(None, 0, ready=True)
    assert sent == ({"type": "response.cancel"},)
    late = server_error("response_cancel_not_active")
    assert decisions.server_event(late, ready=True).error is None
    again = decisions.server_event(late, ready=True).error  # not ours this time
    assert isinstance(again, ServerError) and again.code == "response_cancel_not_active"


def test_other_server_errors_are_reported() -> None:
    decisions = Decisions()
    reply = decisions.server_event(server_error("invalid_value"), ready=True)
    assert isinstance(reply.error, ServerError) and reply.send == ()


def test_done_items_complete_and_name_their_response() -> None:
    decisions = Decisions()
    decisions.server_event(created("resp_1"), ready=True)
    added = {"type": "response.output_item.added", "response_id": "resp_1"}
    reply = decisions.server_event({**added, "item": call_item("a", "in_progress")}, ready=True)
    assert reply.appended and not reply.completed and reply.done_in is None
    item_done = {"type": "response.output_item.done", "item": call_item("a")}
    reply = decisions.server_event(item_done, ready=True)  # no response_id: the newest
    assert reply.completed and reply.done_in == "resp_1" and not reply.appended


def test_a_user_message_arriving_complete_completes_at_once() -> None:
    decisions = Decisions()
    message = {
        "id": "item_u",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    reply = decisions.server_event(
        {"type": "conversation.item.created", "item": message}, ready=True
    )
    assert (
        reply.appended
        and reply.completed
        and reply.item is decisions.conversation.get_item("item_u")
    )
    again = decisions.server_event({"type": "conversation.item.added", "item": message}, ready=True)
    assert not again.appended


# -- the user's audio ---------------------------------------------------------------------------


def test_speech_started_interrupts_and_clears_the_responses_the_server_cancels() -> None:
    decisions = Decisions()
    decisions.server_event(created("resp_1"), ready=True)
    started = {
        "type": "input_audio_buffer.speech_started",
        "item_id": "item_u",
        "audio_start_ms": 0,
    }
    reply = decisions.server_event(started, ready=True)
    assert reply.interrupted and not decisions.active


def test_speech_started_keeps_the_responses_when_the_server_does_not_interrupt() -> None:
    config = SessionConfig()
    config.update_session(turn_detection={"type": "server_vad", "interrupt_response": False})
    decisions = Decisions(config=lambda: config)
    decisions.server_event(created("resp_1"), ready=True)
    started = {
        "type": "input_audio_buffer.speech_started",
        "item_id": "item_u",
        "audio_start_ms": 0,
    }
    assert decisions.server_event(started, ready=True).interrupted
    assert "resp_1" in decisions.active


def test_a_confirmed_manual_commit_gives_its_audio_to_the_item_it_makes() -> None:
    decisions = Decisions()
    sent: list[tuple[str, Any]] = []
    decisions.input.append(np.ones(4800, dtype=np.int16), "pcm16", lambda *e: sent.append(e))
    decisions.input.commit(lambda *e: sent.append(e))
    assert [kind for kind, _ in sent] == ["input_audio_buffer.append", "input_audio_buffer.commit"]
    committed = {"type": "input_audio_buffer.committed", "item_id": "item_u"}
    assert decisions.server_event(committed, ready=True) == Reply()
    user = {
        "id": "item_u",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    reply = decisions.server_event({"type": "conversation.item.added", "item": user}, ready=True)
    assert reply.item is not None and len(reply.item["formatted"]["audio"]) == 4800
    assert decisions.input.buffer.start == 4800  # the committed audio left the buffer


def test_a_refused_commit_leaves_its_audio_to_the_next_one() -> None:
    decisions = Decisions()
    sent: list[tuple[str, Any]] = []
    decisions.input.append(np.ones(240, dtype=np.int16), "pcm16", lambda *e: sent.append(e))
    decisions.input.commit(lambda *e: sent.append(e))
    event_id = sent[-1][1]["event_id"]
    refused = server_error("input_audio_buffer_commit_empty", event_id)
    assert isinstance(decisions.server_event(refused, ready=True).error, ServerError)
    decisions.input.append(np.ones(240, dtype=np.int16), "pcm16", lambda *e: sent.append(e))
    decisions.input.commit(lambda *e: sent.append(e))
    committed = {"type": "input_audio_buffer.committed", "item_id": "item_u"}
    decisions.server_event(committed, ready=True)
    assert decisions.input.buffer.start == 480  # both chunks went with the second commit


# -- cancel, truncation, deletion, replays ------------------------------------------------------


def test_cancel_sends_the_cancel_and_the_truncate_at_the_played_position() -> None:
    decisions = Decisions()
    answer(decisions, samples=4800)
    item, sent = decisions.cancel("item_a", 2400, ready=True)
    assert item is decisions.conversation.get_item("item_a")
    assert sent == (
        {"type": "response.cancel"},
        {
            "type": "conversation.item.truncate",
            "item_id": "item_a",
            "content_index": 0,
            "audio_end_ms": 100,
        },
    )
    assert decisions.active.cancel_sent


def test_cancel_before_the_session_is_ready_sends_nothing_and_keeps_what_was_heard() -> None:
    decisions = Decisions()
    answer(decisions, samples=4800)
    assert decisions.cancel("item_a", 2400, ready=False)[1] == ()
    replayed = decisions.resume.replay(decisions.conversation.get_items(), "ga", "pcm16")
    assert replayed == []  # still in progress: not replayed, but the cut is kept
    with pytest.raises(UsageError, match="no item 'nope'"):
        decisions.cancel("nope", 10, ready=True)


def test_a_truncation_keeps_what_was_heard_for_a_replay() -> None:
    decisions = Decisions()
    answer(decisions, samples=4800)
    truncated = {
        "type": "conversation.item.truncated",
        "item_id": "item_a",
        "content_index": 0,
        "audio_end_ms": 100,
    }
    reply = decisions.server_event(truncated, ready=True)
    assert reply.item is not None and reply.item["formatted"]["transcript"] == ""
    decisions.server_event(
        {"type": "response.output_item.done", "item": {"id": "item_a", "type": "message",
         "role": "assistant", "status": "incomplete"}},
        ready=True,
    )  # fmt: skip
    replayed = decisions.resume.replay(decisions.conversation.get_items(), "ga", "pcm16")
    assert replayed[0]["content"][0]["text"] == "one two…"


def test_deleted_items_are_forgotten_by_the_retention() -> None:
    retention = AudioRetention(24_000)
    decisions = Decisions(retention=retention)
    answer(decisions, samples=4800)
    assert retention.total == 4800
    reply = decisions.server_event(
        {"type": "conversation.item.deleted", "item_id": "item_a"}, ready=True
    )
    assert reply.item is not None and "item_a" not in decisions.conversation
    assert retention.total == 0


def test_echoes_of_a_replayed_item_change_nothing() -> None:
    decisions = Decisions()
    decisions.resume.replayed("item_r")
    echo = {
        "type": "conversation.item.added",
        "item": {"id": "item_r", "type": "message", "role": "user", "content": []},
    }
    assert decisions.server_event(echo, ready=True) == Reply()
    assert "item_r" not in decisions.conversation


def test_a_malformed_event_raises_and_changes_nothing() -> None:
    decisions = Decisions()
    answer(decisions)
    item = decisions.conversation.get_item("item_a")
    assert item is not None
    before = len(item["formatted"]["audio"])
    bad = {"type": "response.output_audio.delta", "item_id": "item_a", "content_index": 0}
    with pytest.raises(InvalidEventError, match="delta"):
        decisions.server_event(bad, ready=True)
    assert len(item["formatted"]["audio"]) == before


# -- the responses the client asked for ------------------------------------------------------


def test_a_refused_request_reaches_whoever_asked() -> None:
    decisions = Decisions()
    decisions.server_event(created("resp_1"), ready=True)
    busy = "conversation_already_has_active_response"
    asked = decisions.requests.sent("asked")
    reply = decisions.server_event(server_error(busy, asked), ready=True)
    assert isinstance(reply.error, ServerError) and reply.answered is None  # reported
    awaited = decisions.requests.sent("awaited", out_of_band=True)
    reply = decisions.server_event(server_error(busy, awaited), ready=True)
    assert isinstance(reply.error, ServerError) and reply.answered == awaited  # its wait fails
    assert not decisions.active.deferred
    assert decisions.server_event(done("resp_1"), ready=True).send == ()  # never asked again


def test_an_awaited_out_of_band_response_is_answered_when_done() -> None:
    decisions = Decisions()
    awaited = decisions.requests.sent("awaited", out_of_band=True, metadata={"k": "v"})
    response = {"id": "resp_o", "status": "in_progress", "conversation_id": None}
    decisions.server_event({"type": "response.created", "response": response}, ready=True)
    item = {"id": "item_o", "type": "message", "role": "assistant", "content": []}
    added = {"type": "response.output_item.added", "response_id": "resp_o", "item": item}
    assert decisions.server_event(added, ready=True).item is None  # kept apart
    assert decisions.conversation.get_out_of_band_item("item_o") is not None
    assert len(decisions.conversation) == 0
    assert decisions.server_event(done("resp_o"), ready=True).answered == awaited
