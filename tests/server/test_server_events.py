"""The idle timeout, transcription segments and failures, and rate limits, over a real socket.

Every event checked here is also validated against the official SDK's server event type.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from server_peer import Peer, PeerFactory

from realtime_widget.server import LocalRealtimeServer, synthesize
from realtime_widget.server.listener import Transcript
from realtime_widget.server.ratelimits import REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE, RateLimits
from realtime_widget.server.vocabulary import Vocabulary

try:  # the official SDK judges every event when installed (the dev extra has it)
    from openai.types.realtime import RealtimeServerEvent
    from pydantic import TypeAdapter

    SERVER_EVENT: Any = TypeAdapter(RealtimeServerEvent)
except ImportError:  # pragma: no cover
    SERVER_EVENT = None

TRANSCRIPTION = "conversation.item.input_audio_transcription."


def sdk_checked(event: dict[str, Any]) -> dict[str, Any]:
    """``event``, after the SDK's type took it with no field left over."""
    if SERVER_EVENT is None:
        return event
    model = SERVER_EVENT.validate_python(event)
    assert model.type == event["type"]
    assert not model.model_extra, model.model_extra
    assert set(event) <= set(type(model).model_fields), sorted(event)
    return event


def speech(text: str) -> np.ndarray:
    return np.asarray(synthesize(text).samples, dtype=np.int16)


async def idle_session(peer: Peer, idle_timeout_ms: int | None = 300) -> None:
    peer.skip.clear()
    detection = {"type": "server_vad", "idle_timeout_ms": idle_timeout_ms}
    await peer.send(
        type="session.update",
        session={
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": detection}},
        },
    )
    await peer.next("session.updated")


async def text_turn(peer: Peer, text: str) -> list[dict[str, Any]]:
    await peer.say(text)
    await peer.send(type="response.create")
    return await peer.until("response.done")


# -- rate limits ------------------------------------------------------------------------------


async def test_rate_limits_follow_each_response_done(peer: Peer) -> None:
    peer.skip.clear()
    for text in ("hello there", "and once more"):
        done = (await text_turn(peer, text))[-1]
        updated = sdk_checked(await peer.recv())
        assert updated["type"] == "rate_limits.updated"
        requests, tokens = updated["rate_limits"]
        assert requests["name"] == "requests" and tokens["name"] == "tokens"
        assert requests["limit"] == REQUESTS_PER_MINUTE and tokens["limit"] == TOKENS_PER_MINUTE
        assert tokens["remaining"] <= TOKENS_PER_MINUTE - done["response"]["usage"]["total_tokens"]
        assert requests["remaining"] <= REQUESTS_PER_MINUTE - 1
        assert requests["reset_seconds"] > 0 and tokens["reset_seconds"] > 0


def test_rate_limit_buckets_refill_over_a_minute() -> None:
    now = [100.0]
    limits = RateLimits(clock=lambda: now[0])
    first = limits.spend(40_000)["rate_limits"]
    assert first[0] == {
        "name": "requests",
        "limit": REQUESTS_PER_MINUTE,
        "remaining": REQUESTS_PER_MINUTE - 1,
        "reset_seconds": 0.012,
    }
    assert first[1]["remaining"] == TOKENS_PER_MINUTE - 40_000
    assert first[1]["reset_seconds"] == 6.0  # a tenth of the bucket: a tenth of a minute
    now[0] += 3.0  # half of it comes back
    second = limits.spend(0)["rate_limits"]
    assert second[1]["remaining"] == TOKENS_PER_MINUTE - 20_000
    now[0] += 600.0  # never above the limit, never below zero
    assert limits.spend(0)["rate_limits"][1]["remaining"] == TOKENS_PER_MINUTE
    assert limits.spend(10**9)["rate_limits"][1]["remaining"] == 0


# -- the idle timeout -------------------------------------------------------------------------


async def test_idle_timeout_commits_the_silence_and_the_model_answers(peer: Peer) -> None:
    await idle_session(peer, 300)
    await text_turn(peer, "hello there")
    await peer.next("rate_limits.updated")
    await peer.append(np.zeros(2400 * 2, dtype=np.int16))  # 200 ms of silence heard meanwhile
    events = await peer.until("response.done", timeout=5)
    kinds = [e["type"] for e in events]
    assert kinds[:4] == [
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert "response.created" in kinds
    timeout = sdk_checked(events[0])
    assert timeout["audio_end_ms"] - timeout["audio_start_ms"] == 200
    committed = sdk_checked(events[1])
    assert committed["item_id"] == timeout["item_id"]
    added = sdk_checked(events[2])
    assert added["item"]["id"] == timeout["item_id"] and added["item"]["role"] == "user"
    assert added["item"]["content"][0]["type"] == "input_audio"
    # the answer ended: the timeout is armed again, and fires again
    await peer.next("rate_limits.updated")
    assert (await peer.next("input_audio_buffer.timeout_triggered"))["item_id"]


async def test_speech_or_a_response_disarms_the_idle_timeout(peer: Peer) -> None:
    await idle_session(peer, 400)
    await text_turn(peer, "hello there")
    await peer.next("rate_limits.updated")
    await peer.append(speech("still here"))
    await peer.next("input_audio_buffer.speech_started")
    await peer.append(np.zeros(24_000, dtype=np.int16))
    events = await peer.until("response.done")
    assert "input_audio_buffer.timeout_triggered" not in [e["type"] for e in events]
    await peer.next("rate_limits.updated")
    await peer.say("a new question")
    await peer.send(type="response.create")  # within the timeout: it starts again after it
    events = await peer.until("rate_limits.updated")
    assert "input_audio_buffer.timeout_triggered" not in [e["type"] for e in events]


async def test_no_idle_timeout_without_one_configured(peer: Peer) -> None:
    await idle_session(peer, None)
    await text_turn(peer, "hello there")
    await peer.next("rate_limits.updated")
    assert await peer.quiet(0.5) == []


# -- transcription segments and failures ------------------------------------------------------


async def transcribing(peer: Peer, model: str, *, session_type: str = "realtime") -> None:
    session: dict[str, Any] = {
        "type": session_type,
        "audio": {"input": {"turn_detection": None, "transcription": {"model": model}}},
    }
    if session_type == "realtime":
        session["output_modalities"] = ["text"]
    await peer.send(type="session.update", session=session)
    await peer.next("session.updated")


async def test_the_diarizing_model_gives_one_segment_per_utterance(peer: Peer) -> None:
    await transcribing(peer, "gpt-4o-transcribe-diarize")
    audio = speech("hello there")
    await peer.append(audio)
    await peer.send(type="input_audio_buffer.commit")
    events = await peer.until(TRANSCRIPTION + "completed")
    segments = [sdk_checked(e) for e in events if e["type"] == TRANSCRIPTION + "segment"]
    assert len(segments) == 1
    segment = segments[0]
    committed = next(e for e in events if e["type"] == "input_audio_buffer.committed")
    assert segment["item_id"] == committed["item_id"] and segment["content_index"] == 0
    assert segment["text"] == "hello there" and segment["speaker"] == "A"
    assert segment["start"] == 0.0 and segment["end"] == round(audio.size / 24_000, 3)
    assert segment["id"].startswith("seg_")
    kinds = [e["type"] for e in events]
    assert kinds.index(TRANSCRIPTION + "segment") < kinds.index(TRANSCRIPTION + "completed")


async def test_other_models_give_no_segments(peer: Peer) -> None:
    await transcribing(peer, "gpt-4o-transcribe")
    await peer.append(speech("hello there"))
    await peer.send(type="input_audio_buffer.commit")
    events = await peer.until(TRANSCRIPTION + "completed")
    assert TRANSCRIPTION + "segment" not in [e["type"] for e in events]


async def test_silence_committed_in_a_transcription_session_fails_to_transcribe(
    peer: Peer,
) -> None:
    await transcribing(peer, "gpt-4o-transcribe", session_type="transcription")
    await peer.append(np.zeros(12_000, dtype=np.int16))
    await peer.send(type="input_audio_buffer.commit")
    events = await peer.until("conversation.item.done")
    failed = sdk_checked(next(e for e in events if e["type"] == TRANSCRIPTION + "failed"))
    assert failed["item_id"] == events[0]["item_id"] and failed["content_index"] == 0
    assert failed["error"]["code"] == "audio_unintelligible"
    assert "0.5 s of silence" in failed["error"]["message"]
    kinds = [e["type"] for e in events]
    assert TRANSCRIPTION + "completed" not in kinds and TRANSCRIPTION + "delta" not in kinds
    assert events[-1]["item"]["content"][0]["transcript"] is None


class _BrokenRecognizer:
    """A recognizer whose every recognition raises (the server's failure path)."""

    streaming = False

    def prepare(self, vocabulary: Vocabulary) -> None:
        pass

    async def recognize(self, vocabulary: Vocabulary, samples: Any) -> Transcript:
        raise RuntimeError("the model file is missing")

    def close(self) -> None:
        pass


async def test_a_recognizer_that_raises_gives_a_failed_transcription(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server, manual=True)
    server.connections[-1].hearing.listener = _BrokenRecognizer()  # type: ignore[assignment]
    await transcribing(peer, "gpt-4o-mini-transcribe")
    noise = np.random.default_rng(3).integers(-8000, 8000, 12_000).astype(np.int16)
    await peer.append(noise)
    await peer.send(type="input_audio_buffer.commit")
    events = await peer.until("conversation.item.done")
    failed = sdk_checked(next(e for e in events if e["type"] == TRANSCRIPTION + "failed"))
    assert failed["error"] == {
        "type": "server_error",
        "code": "transcription_failed",
        "message": "the recognizer failed: the model file is missing",
        "param": None,
    }
    # the connection goes on: a response is still possible
    await peer.send(type="response.create")
    assert (await peer.next("response.done"))["response"]["status"] == "completed"
