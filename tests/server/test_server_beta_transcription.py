"""Beta transcription sessions of the local server (``?intent=transcription``), over a socket.

Every frame both ways is judged by the beta SDK's types (the suite's wire judge).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from server_peer import Peer, PeerFactory

from realtime_widget.server import LocalRealtimeServer, synthesize

INTENT = "?intent=transcription"
TRANSCRIPTION = "conversation.item.input_audio_transcription."


async def transcribing(server: LocalRealtimeServer, open_peer: PeerFactory) -> Peer:
    return await open_peer(server, beta=True, query=INTENT)


async def test_the_session_opens_as_a_transcription_session(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await transcribing(server, open_peer)
    assert peer.first["type"] == "transcription_session.created"
    session = peer.first["session"]
    assert session == {
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"model": "gpt-4o-mini-transcribe"},
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
        },
    }
    assert await peer.quiet(0.2) == []  # no conversation.created
    connection = server.connections[-1]
    assert connection.session.transcribing_only
    assert connection.session.turn_detection["create_response"] is False


async def test_an_update_takes_the_beta_fields_and_answers_with_the_session(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await transcribing(server, open_peer)
    await peer.send(
        type="transcription_session.update",
        session={
            "input_audio_format": "g711_ulaw",
            "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": "hi"},
            "input_audio_noise_reduction": {"type": "far_field"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
            "include": ["item.input_audio_transcription.logprobs"],
            "modalities": ["text"],
            "client_secret": {"expires_at": {"anchor": "created_at", "seconds": 600}},
        },
    )
    updated = await peer.next("transcription_session.updated")
    assert updated["session"] == {
        "input_audio_format": "g711_ulaw",
        "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": "hi"},
        "turn_detection": {"type": "semantic_vad"},
    }
    session = server.connections[-1].session
    assert session.input_audio_format == "g711_ulaw"
    assert session.data["include"] == ["item.input_audio_transcription.logprobs"]
    assert session.data["audio"]["input"]["noise_reduction"] == {"type": "far_field"}
    assert session.turn_detection == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": False,
    }
    await peer.send(type="transcription_session.update", session={"turn_detection": None})
    assert (await peer.next("transcription_session.updated"))["session"]["turn_detection"] is None


@pytest.mark.parametrize(
    ("session", "param", "code"),
    [
        ({"voice": "alloy"}, "session.voice", "unknown_parameter"),
        ({"input_audio_transcription": {"model": "gpt-4o-transcribe-diarize"}},
         "session.input_audio_transcription.model", "invalid_value"),
        ({"input_audio_transcription": {"delay": "low"}},
         "session.input_audio_transcription.delay", "unknown_parameter"),
        ({"input_audio_noise_reduction": {"type": "near_field", "strength": 1}},
         "session.input_audio_noise_reduction.strength", "unknown_parameter"),
        ({"turn_detection": {"type": "server_vad", "idle_timeout_ms": 100}},
         "session.turn_detection.idle_timeout_ms", "unknown_parameter"),
        ({"turn_detection": {"type": "server_vad", "threshold": 2}},
         "session.turn_detection.threshold", "invalid_value"),
        ({"input_audio_format": "pcm8"}, "session.input_audio_format", "invalid_value"),
        ({"include": ["everything"]}, "session.include[0]", "invalid_value"),
        ({"client_secret": {"expires_at": {"seconds": 5}}},
         "session.client_secret.expires_at.seconds", "invalid_value"),
    ],
)  # fmt: skip
async def test_bad_fields_are_refused_naming_them(
    server: LocalRealtimeServer,
    open_peer: PeerFactory,
    session: dict[str, Any],
    param: str,
    code: str,
) -> None:
    peer = await transcribing(server, open_peer)
    before = dict(server.connections[-1].session.data)
    await peer.send(type="transcription_session.update", session=session, event_id="evt_1")
    error = await peer.next("error")
    assert (error["error"]["param"], error["error"]["code"]) == (param, code)
    assert error["error"]["event_id"] == "evt_1"
    assert server.connections[-1].session.data == before


async def test_each_kind_of_session_takes_only_its_own_update(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await transcribing(server, open_peer)
    await peer.send(type="session.update", session={"instructions": "hi"})
    error = await peer.next("error")
    assert error["error"]["param"] == "type"
    assert "transcription_session.update" in error["error"]["message"]
    await peer.send(type="response.create")
    error = await peer.next("error")
    assert error["error"]["message"] == "a transcription session creates no responses"
    realtime = await open_peer(server, beta=True)
    assert realtime.first["type"] == "session.created"
    await realtime.send(type="transcription_session.update", session={})
    assert "takes session.update" in (await realtime.next("error"))["error"]["message"]


async def test_speech_becomes_a_transcribed_user_item_and_no_response(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await transcribing(server, open_peer)
    audio = np.asarray(synthesize("hello there").samples, dtype=np.int16)
    silence = np.zeros(24_000, dtype=np.int16)
    await peer.append(np.concatenate([silence[:4800], audio, silence]))
    events = await peer.until(TRANSCRIPTION + "completed", timeout=15)
    kinds = [e["type"] for e in events]
    assert kinds[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    created = next(e for e in events if e["type"] == "conversation.item.created")
    assert created["item"]["role"] == "user"
    assert events[-1]["transcript"] == "hello there"
    assert events[-1]["item_id"] == created["item"]["id"]
    assert TRANSCRIPTION + "delta" in kinds
    assert [e for e in await peer.quiet(0.5) if e["type"].startswith("response.")] == []


async def test_a_ga_connection_ignores_the_intent(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server, query=INTENT)
    assert peer.first["type"] == "session.created"
    assert peer.first["session"]["type"] == "realtime"
