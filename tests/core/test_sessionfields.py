"""Every GA session field through the grouped config and update_session: checks and shapes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from session_samples import EVERY_FIELD, undeclared

from realtime_widget.core.errors import UsageError
from realtime_widget.core.session import SessionConfig, session_payload, transcription_payload
from realtime_widget.core.sessionfields import SessionFieldError


def every_field_config() -> SessionConfig:
    config = SessionConfig()
    config.update_session(**EVERY_FIELD)
    return config


def test_every_ga_field_is_sent_where_the_ga_session_holds_it() -> None:
    ga = session_payload(every_field_config())
    assert ga["audio"]["output"]["voice"] == {"id": "voice_1234"}
    assert ga["audio"]["output"]["format"] == {"type": "audio/pcma"}
    assert ga["audio"]["input"]["transcription"] == EVERY_FIELD["transcription"]
    assert ga["audio"]["input"]["noise_reduction"] == {"type": "far_field", "strength": 0.5}
    assert ga["audio"]["input"]["turn_detection"] == EVERY_FIELD["turn_detection"]
    assert ga["max_output_tokens"] == 4096
    for name in ("tracing", "truncation", "prompt", "include", "parallel_tool_calls", "reasoning"):
        assert ga[name] == EVERY_FIELD[name], name


def test_the_sdk_session_types_take_every_field_the_client_sends() -> None:
    pytest.importorskip("openai")
    from openai.types.realtime import RealtimeClientEvent
    from pydantic import TypeAdapter

    event = {"type": "session.update", "session": session_payload(every_field_config())}
    parsed = TypeAdapter(RealtimeClientEvent).validate_python(event)
    assert undeclared(parsed) == []
    transcription = {
        "type": "session.update",
        "session": transcription_payload(every_field_config()),
    }
    parsed = TypeAdapter(RealtimeClientEvent).validate_python(transcription)
    assert undeclared(parsed) == []


def test_beta_keeps_tracing_and_leaves_the_ga_only_fields_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = every_field_config()
    beta = session_payload(config, "beta")
    assert beta["tracing"] == EVERY_FIELD["tracing"]
    assert beta["max_response_output_tokens"] == 4096
    for name in ("truncation", "prompt", "include", "parallel_tool_calls", "reasoning"):
        assert name not in beta
    assert "truncation is not sent: beta sessions have no truncation" in caplog.text
    caplog.clear()
    session_payload(config, "beta")
    assert caplog.text == ""  # once per config


def test_tracing_and_prompt_set_to_none_go_as_null_and_unset_fields_stay_out() -> None:
    config = SessionConfig()
    ga = session_payload(config)
    for name in ("tracing", "truncation", "prompt", "include", "parallel_tool_calls", "reasoning"):
        assert name not in ga
    config.update_session(tracing="auto", truncation="disabled")
    assert session_payload(config)["tracing"] == "auto"
    assert session_payload(config)["truncation"] == "disabled"
    config.update_session(tracing=None, prompt=None)
    assert session_payload(config)["tracing"] is None
    assert session_payload(config)["prompt"] is None


def test_the_grouped_config_takes_the_same_fields() -> None:
    config = SessionConfig(
        {
            "model": {"reasoning": {"effort": "high"}, "truncation": "auto"},
            "speech": {"voice": {"id": "voice_9"}},
            "hearing": {"input_audio_noise_reduction": {"type": "near_field", "strength": 2}},
        }
    )
    ga = session_payload(config)
    assert ga["reasoning"] == {"effort": "high"} and ga["truncation"] == "auto"
    assert ga["audio"]["output"]["voice"] == {"id": "voice_9"}
    assert ga["audio"]["input"]["noise_reduction"]["strength"] == 2


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"turn_detection": {"type": "semantic_vad", "idle_timeout_ms": 5000}},
            "hearing.turn_detection.idle_timeout_ms",
            "hearing.turn_detection.idle_timeout_ms is only for server_vad, not semantic_vad",
        ),
        (
            {"turn_detection": {"type": "server_vad", "eagerness": "high"}},
            "hearing.turn_detection.eagerness",
            "hearing.turn_detection.eagerness is only for semantic_vad, not server_vad",
        ),
        (
            {"turn_detection": {"type": "semantic_vad", "eagerness": "eager"}},
            "hearing.turn_detection.eagerness",
            "must be one of 'low', 'medium', 'high', 'auto', got 'eager'",
        ),
        (
            {"turn_detection": {"type": "server_vad", "threshold": 1.5}},
            "hearing.turn_detection.threshold",
            "must be a number from 0 to 1, got 1.5",
        ),
        ({"voice": {"name": "x"}}, "speech.voice.name", "unknown key 'name' in speech.voice"),
        ({"voice": {}}, "speech.voice.id", "speech.voice needs 'id'"),
        ({"voice": 3}, "speech.voice", "speech.voice must be a string, got 3"),
        (
            {"include": ["logprobs"]},
            "model.include[0]",
            "model.include[0] must be one of 'item.input_audio_transcription.logprobs'",
        ),
        ({"truncation": "sometimes"}, "model.truncation", "one of 'auto', 'disabled'"),
        (
            {"truncation": {"type": "retention_ratio", "retention_ratio": 2}},
            "model.truncation.retention_ratio",
            "must be a number from 0 to 1, got 2",
        ),
        (
            {"truncation": {"type": "retention_ratio"}},
            "model.truncation.retention_ratio",
            "needs 'retention_ratio'",
        ),
        ({"tracing": "on"}, "model.tracing", "must be None, 'auto' or"),
        (
            {"tracing": {"workflow": "w"}},
            "model.tracing.workflow",
            "unknown key 'workflow' in model.tracing",
        ),
        ({"prompt": {"version": "1"}}, "model.prompt.id", "model.prompt needs 'id'"),
        (
            {"prompt": {"id": "pmpt_1", "variables": {"x": 3}}},
            "model.prompt.variables.x",
            "a string or an input_text, input_image or input_file part",
        ),
        ({"max_output_tokens": 4097}, "model.max_response_output_tokens", "at most 4096"),
        ({"max_output_tokens": 0}, "model.max_response_output_tokens", "positive integer"),
        ({"reasoning": {"effort": "max"}}, "model.reasoning.effort", "'minimal', 'low'"),
        ({"parallel_tool_calls": "yes"}, "model.parallel_tool_calls", "True or False"),
        (
            {"transcription": {"delay": "never"}},
            "hearing.input_audio_transcription.delay",
            "must be one of 'minimal'",
        ),
        (
            {"transcription": {"keywords": "wren"}},
            "hearing.input_audio_transcription.keywords",
            "a list of strings",
        ),
        (
            {"noise_reduction": {"type": "near_field", "strength": -1}},
            "hearing.input_audio_noise_reduction.strength",
            "a non-negative number",
        ),
    ],
)
def test_a_wrong_field_is_refused_naming_it_and_changes_nothing(
    fields: dict[str, Any], field: str, message: str
) -> None:
    config = SessionConfig()
    before = config.as_dict()
    with pytest.raises(UsageError, match=re.escape(message)) as raised:
        config.update_session(**fields)
    assert isinstance(raised.value, SessionFieldError) and raised.value.field == field
    assert config.as_dict() == before


def test_a_partial_turn_detection_update_is_checked_after_the_merge() -> None:
    config = SessionConfig({"hearing": {"turn_detection": {"type": "semantic_vad"}}})
    with pytest.raises(UsageError, match="idle_timeout_ms is only for server_vad"):
        config.update_config({"hearing": {"turn_detection": {"idle_timeout_ms": 5000}}})
    config.update_config({"hearing": {"turn_detection": {"type": "server_vad"}}})
    config.update_config({"hearing": {"turn_detection": {"idle_timeout_ms": 5000}}})
    assert config.turn_detection() == {"type": "server_vad", "idle_timeout_ms": 5000}


def test_a_transcription_session_sends_the_input_audio_and_creates_no_responses() -> None:
    config = SessionConfig()
    config.update_session(
        instructions="ignored",
        transcription={"model": "gpt-4o-transcribe"},
        turn_detection={"type": "server_vad", "silence_duration_ms": 400},
        include=["item.input_audio_transcription.logprobs"],
    )
    assert transcription_payload(config) == {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe"},
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": 400,
                    "create_response": False,
                },
            }
        },
        "include": ["item.input_audio_transcription.logprobs"],
    }
    config.update_session(turn_detection=None)
    assert transcription_payload(config)["audio"]["input"]["turn_detection"] is None
