"""Sessions over a real socket: the created shape per dialect and update validation."""

from __future__ import annotations

from typing import Any

import pytest
from server_peer import Peer, PeerFactory

from realtime_widget.core.errors import UsageError
from realtime_widget.core.session import SessionConfig
from realtime_widget.server import LocalRealtimeServer


async def test_ga_session_created_shape(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server, query="?model=gpt-realtime-mini")
    event = peer.first
    assert event["type"] == "session.created"
    session = event["session"]
    assert session["type"] == "realtime"
    assert session["object"] == "realtime.session"
    assert session["id"].startswith("sess_")
    assert session["model"] == "gpt-realtime-mini"
    assert session["output_modalities"] == ["audio"]
    assert session["tools"] == [] and session["tool_choice"] == "auto"
    assert session["max_output_tokens"] == "inf"
    audio = session["audio"]
    assert audio["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio["input"]["transcription"] is None
    assert audio["input"]["noise_reduction"] is None
    assert audio["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    assert audio["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
        "speed": 1.0,
    }
    assert "modalities" not in session and "voice" not in session
    assert await peer.quiet(0.1) == []  # GA sends no conversation.created


async def test_beta_session_created_shape(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server, beta=True)
    session = peer.first["session"]
    assert peer.first["type"] == "session.created"
    assert peer.seen[1]["type"] == "conversation.created"
    assert peer.seen[1]["conversation"]["object"] == "realtime.conversation"
    assert session["modalities"] == ["audio", "text"]
    assert session["input_audio_format"] == "pcm16"
    assert session["output_audio_format"] == "pcm16"
    assert session["voice"] == "alloy"
    assert session["turn_detection"]["type"] == "server_vad"
    assert "idle_timeout_ms" not in session["turn_detection"]  # unset: beta has no such field
    assert session["max_response_output_tokens"] == "inf"
    assert "type" not in session and "audio" not in session and "output_modalities" not in session


async def update(peer: Peer, session: dict[str, Any], event_id: str = "evt_1") -> dict[str, Any]:
    await peer.send(type="session.update", event_id=event_id, session=session)
    event = await peer.recv()
    assert event["type"] in ("session.updated", "error")
    return event


async def test_valid_ga_update_merges_and_reports_the_full_session(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server)
    event = await update(
        peer,
        {
            "type": "realtime",
            "instructions": "Be brief.",
            "output_modalities": ["text"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en"},
                    "noise_reduction": {"type": "near_field"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 800},
                },
                "output": {"voice": "cedar", "speed": 1.2},
            },
            "tools": [{"type": "function", "name": "add", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "add"},
            "max_output_tokens": 200,
        },
    )
    assert event["type"] == "session.updated"
    session = event["session"]
    assert session["instructions"] == "Be brief."
    assert session["output_modalities"] == ["text"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["input"]["transcription"]["language"] == "en"
    detection = session["audio"]["input"]["turn_detection"]
    assert detection["silence_duration_ms"] == 800 and detection["threshold"] == 0.5
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "cedar",
        "speed": 1.2,
    }
    assert session["tools"][0]["name"] == "add"
    assert session["tool_choice"] == {"type": "function", "name": "add"}
    assert session["max_output_tokens"] == 200
    # a second update keeps what it does not mention
    event = await update(peer, {"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    assert event["session"]["instructions"] == "Be brief."
    assert event["session"]["audio"]["input"]["turn_detection"] is None


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"type": "realtime", "foo": 1}, "unknown_parameter", "session.foo"),
        ({"type": "realtime", "modalities": ["text"]}, "unknown_parameter", "session.modalities"),
        ({"type": "realtime", "voice": "marin"}, "unknown_parameter", "session.voice"),
        ({"instructions": "x"}, "missing_required_parameter", "session.type"),
        ({"type": "conversation"}, "invalid_value", "session.type"),
        (
            {"type": "realtime", "audio": {"output": {"voice": 3}}},
            "invalid_type",
            "session.audio.output.voice",
        ),
        (
            {"type": "realtime", "audio": {"output": {"voice": "robot"}}},
            "invalid_value",
            "session.audio.output.voice",
        ),
        (
            {"type": "realtime", "output_modalities": ["audio", "text"]},
            "invalid_value",
            "session.output_modalities",
        ),
        (
            {"type": "realtime", "output_modalities": "audio"},
            "invalid_type",
            "session.output_modalities",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
            },
            "invalid_value",
            "session.audio.input.format.rate",
        ),
        (
            {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "push_to_talk"}}}},
            "invalid_value",
            "session.audio.input.turn_detection.type",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}},
            },
            "invalid_value",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "semantic_vad", "threshold": 0.5}}},
            },
            "unknown_parameter",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {"type": "realtime", "tools": [{"type": "function"}]},
            "missing_required_parameter",
            "session.tools[0].name",
        ),
        (
            {"type": "realtime", "tools": [{"type": "function", "name": "a b"}]},
            "invalid_value",
            "session.tools[0].name",
        ),
        ({"type": "realtime", "tool_choice": "sometimes"}, "invalid_value", "session.tool_choice"),
        (
            {"type": "realtime", "max_output_tokens": 0},
            "invalid_value",
            "session.max_output_tokens",
        ),
        (
            {"type": "realtime", "audio": {"output": {"speed": 3}}},
            "invalid_value",
            "session.audio.output.speed",
        ),
    ],
)
async def test_invalid_ga_updates_are_refused_whole(
    server: LocalRealtimeServer,
    open_peer: PeerFactory,
    session: dict[str, Any],
    code: str,
    param: str,
) -> None:
    peer = await open_peer(server)
    before = peer.first["session"]
    event = await update(
        peer, {**session, "instructions": "changed"} if "type" in session else session, "evt_bad"
    )
    assert event["type"] == "error"
    assert event["error"]["type"] == "invalid_request_error"
    assert event["error"]["code"] == code
    assert event["error"]["param"] == param
    assert event["error"]["event_id"] == "evt_bad"
    # nothing was applied, and the connection still works
    event = await update(peer, {"type": "realtime"})
    assert event["type"] == "session.updated"
    assert event["session"] == {**before, "expires_at": event["session"]["expires_at"]}


async def test_beta_updates(server: LocalRealtimeServer, open_peer: PeerFactory) -> None:
    peer = await open_peer(server, beta=True)
    event = await update(
        peer,
        {
            "modalities": ["text"],
            "voice": "echo",
            "input_audio_format": "g711_alaw",
            "output_audio_format": "g711_ulaw",
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": None,
            "temperature": 0.7,
            "max_response_output_tokens": 100,
        },
    )
    session = event["session"]
    assert event["type"] == "session.updated"
    assert session["modalities"] == ["text"]
    assert session["voice"] == "echo"
    assert session["input_audio_format"] == "g711_alaw"
    assert session["output_audio_format"] == "g711_ulaw"
    assert session["input_audio_transcription"] == {"model": "whisper-1"}
    assert session["turn_detection"] is None
    assert session["temperature"] == 0.7
    assert session["max_response_output_tokens"] == 100
    for bad, code, param in [
        ({"type": "realtime"}, "unknown_parameter", "session.type"),
        ({"output_modalities": ["text"]}, "unknown_parameter", "session.output_modalities"),
        ({"input_audio_format": "mp3"}, "invalid_value", "session.input_audio_format"),
        ({"modalities": ["video"]}, "invalid_value", "session.modalities"),
    ]:
        error = await update(peer, bad)
        assert (error["type"], error["error"]["code"], error["error"]["param"]) == (
            "error",
            code,
            param,
        )


async def test_nested_seed_shape_maps_onto_the_session(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server)
    knowledge = {
        "scripts": [
            {
                "id": "s",
                "dialogues": [
                    {"prompts": ["ping"], "responses": [{"type": "message", "message": "pong"}]}
                ],
            }
        ]
    }
    event = await update(
        peer,
        {
            "model": {
                "provider": "openai",
                "name": "gpt-realtime",
                "modalities": ["text"],
                "instructions": "nested",
                "tools": [{"type": "function", "name": "lookup"}],
                "tool_choice": "auto",
                "temperature": 0.6,
                "max_response_output_tokens": "inf",
            },
            "speech": {"voice": "sage", "output_audio_format": "pcm16"},
            "hearing": {
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": None,
            },
            "vision": {"enable_face_detection": False},
            "knowledge": knowledge,
        },
    )
    assert event["type"] == "session.updated"
    session = event["session"]
    assert session["instructions"] == "nested"
    assert session["output_modalities"] == ["text"]
    assert session["audio"]["output"]["voice"] == "sage"
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["tools"][0]["name"] == "lookup"
    await peer.say("ping")
    await peer.send(type="response.create")
    done = await peer.next("response.done")
    assert done["response"]["output"][0]["content"][0]["text"] == "pong"
    error = await update(peer, {"model": {"name": "x"}, "speech": {"voice": 1}})
    assert error["error"]["param"] == "session.speech.voice"
    error = await update(peer, {"model": {"name": "x"}, "knowledge": {"scripts": 1}})
    assert error["error"]["param"] == "session.knowledge"


async def test_voice_is_locked_once_the_assistant_spoke(
    server: LocalRealtimeServer, peer: Peer
) -> None:
    assert (await update(peer, {"type": "realtime", "audio": {"output": {"voice": "ash"}}}))[
        "type"
    ] == "session.updated"
    await peer.say("hi")
    await peer.send(type="response.create")
    await peer.next("response.done")
    error = await update(peer, {"type": "realtime", "audio": {"output": {"voice": "verse"}}})
    assert error["error"]["code"] == "cannot_update_voice"
    same = await update(peer, {"type": "realtime", "audio": {"output": {"voice": "ash"}}})
    assert same["type"] == "session.updated"


@pytest.mark.parametrize(
    ("speech", "expected"),
    [
        ({"output_audio_format": "g711_alaw"}, {"type": "audio/pcma"}),
        ({"output_audio_format": {"type": "audio/pcma"}}, {"type": "audio/pcma"}),
        ({"output_audio_format": {"type": "audio/pcmu", "rate": 8000}}, {"type": "audio/pcmu"}),
        ({"output_audio_format": {"type": "audio/pcm"}}, {"type": "audio/pcm", "rate": 24000}),
    ],
)
async def test_nested_formats_take_names_and_ga_objects(
    server: LocalRealtimeServer, peer: Peer, speech: dict[str, Any], expected: dict[str, Any]
) -> None:
    event = await update(peer, {"model": {"name": "gpt-realtime"}, "speech": speech})
    assert event["type"] == "session.updated", event
    assert event["session"]["audio"]["output"]["format"] == expected


@pytest.mark.parametrize(
    ("speech", "param"),
    [
        ({"output_audio_format": {"type": "audio/pcmu", "rate": 16000}}, "format.rate"),
        ({"output_audio_format": {"type": "audio/mp3"}}, "format.type"),
        ({"output_audio_format": "mp3"}, "format"),
    ],
)
async def test_nested_formats_refuse_what_the_client_refuses(
    server: LocalRealtimeServer, peer: Peer, speech: dict[str, Any], param: str
) -> None:
    with pytest.raises(UsageError):
        SessionConfig({"speech": speech})
    error = await update(peer, {"model": {"name": "gpt-realtime"}, "speech": speech})
    assert error["type"] == "error"
    assert error["error"]["param"] == f"session.speech.output_audio_{param}"


async def test_nested_audio_key_in_both_groups_takes_its_owners_value(
    server: LocalRealtimeServer, peer: Peer
) -> None:
    event = await update(
        peer,
        {
            "model": {"name": "gpt-realtime"},
            "speech": {"voice": "sage", "turn_detection": None},
            "hearing": {"voice": "ash", "turn_detection": {"type": "semantic_vad"}},
        },
    )
    assert event["type"] == "session.updated", event
    assert event["session"]["audio"]["output"]["voice"] == "sage"
    assert event["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
