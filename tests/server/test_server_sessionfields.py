"""The local server checks the GA-only session fields as the service's types state them."""

from __future__ import annotations

from typing import Any

import pytest
from server_peer import PeerFactory

from realtime_widget.server import LocalRealtimeServer

SEMANTIC_IDLE = {"type": "semantic_vad", "idle_timeout_ms": 5000}


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        (
            {
                "audio": {
                    "input": {"turn_detection": {"type": "semantic_vad", "idle_timeout_ms": 5}}
                }
            },
            "unknown_parameter",
            "session.audio.input.turn_detection.idle_timeout_ms",
        ),
        (
            {"audio": {"output": {"voice": {"name": "x"}}}},
            "unknown_parameter",
            "session.audio.output.voice.name",
        ),
        ({"truncation": "sometimes"}, "invalid_value", "session.truncation"),
        (
            {"truncation": {"type": "retention_ratio", "retention_ratio": 1.5}},
            "invalid_value",
            "session.truncation.retention_ratio",
        ),
        ({"tracing": "on"}, "invalid_value", "session.tracing"),
        ({"prompt": {"version": "1"}}, "missing_required_parameter", "session.prompt.id"),
        ({"include": ["logprobs"]}, "invalid_value", "session.include[0]"),
        ({"reasoning": {"effort": "max"}}, "invalid_value", "session.reasoning.effort"),
        ({"parallel_tool_calls": 1}, "invalid_type", "session.parallel_tool_calls"),
        (
            {"audio": {"input": {"transcription": {"delay": "never"}}}},
            "invalid_value",
            "session.audio.input.transcription.delay",
        ),
        (
            {"audio": {"input": {"noise_reduction": {"strength": 1}}}},
            "missing_required_parameter",
            "session.audio.input.noise_reduction.type",
        ),
    ],
)
async def test_a_wrong_ga_field_is_refused_naming_it(
    server: LocalRealtimeServer,
    open_peer: PeerFactory,
    session: dict[str, Any],
    code: str,
    param: str,
) -> None:
    peer = await open_peer(server)
    await peer.send(
        type="session.update", event_id="evt_1", session={"type": "realtime", **session}
    )
    event = await peer.recv()
    assert event["type"] == "error"
    assert (event["error"]["code"], event["error"]["param"]) == (code, param)
    assert event["error"]["event_id"] == "evt_1"


async def test_the_ga_only_fields_are_echoed_and_kept(
    server: LocalRealtimeServer, open_peer: PeerFactory
) -> None:
    peer = await open_peer(server)
    fields = {
        "tracing": "auto",
        "truncation": "disabled",
        "prompt": {"id": "pmpt_1", "variables": {"x": {"type": "input_text", "text": "y"}}},
        "include": ["item.input_audio_transcription.logprobs"],
        "parallel_tool_calls": False,
        "reasoning": {"effort": "minimal"},
    }
    await peer.send(type="session.update", session={"type": "realtime", **fields})
    session = (await peer.next("session.updated"))["session"]
    assert {name: session[name] for name in fields} == fields
    await peer.send(type="session.update", session={"type": "realtime", "instructions": "x"})
    session = (await peer.next("session.updated"))["session"]
    assert {name: session[name] for name in fields} == fields
