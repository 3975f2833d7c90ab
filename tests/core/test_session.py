"""SessionConfig and the session payloads in the GA, beta and nested shapes."""

from __future__ import annotations

import json
import re

import pytest

from realtime_widget.core.errors import UsageError
from realtime_widget.core.knowledge import (
    extract_knowledge_instructions,
    render_knowledge_instructions,
    validate_knowledge,
)
from realtime_widget.core.session import (
    SessionConfig,
    session_payload,
    session_tools,
)
from realtime_widget.core.sessionmap import audio_format_to_ga

TOOL = {
    "type": "function",
    "name": "add",
    "description": "Add two numbers.",
    "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
}

KNOWLEDGE = {
    "scripts": [
        {
            "id": "hours",
            "name": "Opening hours",
            "priority": 2,
            "dialogues": [
                {
                    "id": "d1",
                    "prompts": ["when are you open"],
                    "responses": [{"id": "r1", "type": "message", "message": "From 9 to 5."}],
                },
                {
                    "id": "d2",
                    "prompts": ["what time is it"],
                    "responses": [
                        {
                            "id": "r2",
                            "type": "function",
                            "function": {"name": "clock", "arguments": {"tz": "UTC"}},
                        }
                    ],
                },
            ],
        }
    ]
}


def test_default_ga_payload_is_valid_ga_shape() -> None:
    payload = session_payload(SessionConfig())
    assert payload == {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "turn_detection": {"type": "server_vad"},
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
        },
        "tools": [],
        "tool_choice": "auto",
    }
    json.dumps(payload)


def test_flat_update_session_lands_in_groups_and_ga_payload() -> None:
    config = SessionConfig()
    config.update_session(
        instructions="Be brief.",
        voice="cedar",
        turn_detection={"type": "semantic_vad", "eagerness": "high"},
        input_audio_transcription={"model": "gpt-4o-mini-transcribe"},
        noise_reduction={"type": "near_field"},
        temperature=0.7,
        max_response_output_tokens=500,
        tools=[TOOL],
        modalities=["text", "audio"],
        speed=1.2,
    )
    ga = session_payload(config, "ga")
    assert ga["instructions"] == "Be brief."
    assert ga["output_modalities"] == ["audio"]
    assert ga["audio"]["input"]["turn_detection"] == {"type": "semantic_vad", "eagerness": "high"}
    assert ga["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert ga["audio"]["input"]["noise_reduction"] == {"type": "near_field"}
    assert ga["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "cedar",
        "speed": 1.2,
    }
    assert ga["max_output_tokens"] == 500
    assert ga["tools"] == [TOOL]
    assert "temperature" not in ga  # GA sessions take no temperature


def test_beta_payload_is_flat() -> None:
    config = SessionConfig()
    config.update_session(
        voice="alloy",
        turn_detection=None,
        temperature=0.8,
        input_audio_format="g711_ulaw",
        output_audio_format={"type": "audio/pcma"},
    )
    beta = session_payload(config, "beta", tools=[TOOL])
    assert beta == {
        "modalities": ["text", "audio"],
        "instructions": "",
        "voice": "alloy",
        "input_audio_format": "g711_ulaw",
        "output_audio_format": "g711_alaw",
        "tools": [TOOL],
        "tool_choice": "auto",
        "turn_detection": None,
        "temperature": 0.8,
    }


def test_manual_turns_send_null_turn_detection_in_ga() -> None:
    config = SessionConfig()
    config.update_session(turn_detection=None)
    assert session_payload(config)["audio"]["input"]["turn_detection"] is None
    assert config.turn_detection_type() is None


def test_text_only_modality() -> None:
    config = SessionConfig({"model": {"modalities": ["text"]}})
    assert session_payload(config)["output_modalities"] == ["text"]
    assert session_payload(config, "beta")["modalities"] == ["text"]


def test_nested_shape_is_the_grouped_config_with_tools() -> None:
    config = SessionConfig({"knowledge": KNOWLEDGE, "vision": {"enable_face_detection": True}})
    nested = session_payload(config, "nested", tools=[TOOL])
    assert nested["model"]["tools"] == [TOOL]
    assert nested["knowledge"] == KNOWLEDGE
    assert nested["vision"] == {"enable_face_detection": True}
    assert nested["hearing"]["turn_detection"] == {"type": "server_vad"}


def test_update_config_deep_merges_groups() -> None:
    config = SessionConfig()
    config.update_config({"model": {"instructions": "Hi"}})
    config.update_config({"model": {"temperature": 0.6}, "speech": {"voice": "verse"}})
    data = config.as_dict()
    assert data["model"]["instructions"] == "Hi"
    assert data["model"]["temperature"] == 0.6
    assert data["model"]["name"] == "gpt-realtime"
    assert data["speech"]["voice"] == "verse"


def test_registered_tools_win_over_config_tools_of_same_name() -> None:
    config = SessionConfig({"model": {"tools": [TOOL, {**TOOL, "name": "other"}]}})
    newer = {**TOOL, "description": "Newer.", "handler": "not sent"}
    tools = session_payload(config, tools=[newer])["tools"]
    assert [t["name"] for t in tools] == ["add", "other"]
    assert tools[0]["description"] == "Newer."
    assert "handler" not in tools[0]


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"modle": {}}, "unknown config group 'modle'"),
        ({"model": {"voice": "x"}}, "unknown key 'voice' in config group 'model'"),
        ({"model": "x"}, "config group 'model' must be a dict"),
        ({"speech": {"voice": 3}}, "speech.voice must be a string, got 3"),
        ({"model": {"modalities": ["video"]}}, "may hold only 'text' and 'audio'"),
        ({"hearing": {"turn_detection": {"type": "push"}}}, "'server_vad' or 'semantic_vad'"),
        ({"hearing": {"input_audio_format": "mp3"}}, "unknown audio format 'mp3'"),
        ({"hearing": {"input_audio_format": None}}, "hearing.input_audio_format cannot be None"),
        ({"speech": {"output_audio_format": None}}, "speech.output_audio_format cannot be None"),
        ({"model": {"tool_choice": "sometimes"}}, "tool_choice must be"),
        ({"model": {"temperature": "hot"}}, "temperature must be a number"),
        ({"model": {"max_response_output_tokens": 0}}, "positive integer or 'inf'"),
        ({"knowledge": {"scripts": [{"dialogues": "x"}]}}, "dialogues must be a list"),
    ],
)
def test_invalid_updates_are_rejected_and_change_nothing(updates: dict, message: str) -> None:
    config = SessionConfig()
    before = config.as_dict()
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("[", r"\[")):
        config.update_config(updates)
    assert config.as_dict() == before


def test_unknown_flat_field_is_rejected() -> None:
    config = SessionConfig()
    with pytest.raises(UsageError, match="unknown session field 'vioce'"):
        config.update_session(vioce="x")


def test_flat_audio_key_overrides_both_groups() -> None:
    config = SessionConfig({"speech": {"turn_detection": None}})
    config.update_session(turn_detection={"type": "server_vad", "threshold": 0.3})
    assert config.turn_detection() == {"type": "server_vad", "threshold": 0.3}


def test_audio_formats() -> None:
    assert audio_format_to_ga("pcm16") == {"type": "audio/pcm", "rate": 24000}
    assert audio_format_to_ga({"type": "audio/pcmu"}) == {"type": "audio/pcmu"}
    with pytest.raises(UsageError, match="rate 16000"):
        audio_format_to_ga({"type": "audio/pcm", "rate": 16000})


def test_knowledge_travels_in_instructions_and_round_trips() -> None:
    config = SessionConfig({"model": {"instructions": "Be kind."}, "knowledge": KNOWLEDGE})
    instructions = session_payload(config)["instructions"]
    assert instructions.startswith("Be kind.\n\nKnowledge scripts:")
    assert extract_knowledge_instructions(instructions) == validate_knowledge(KNOWLEDGE)
    assert session_payload(config, "beta")["instructions"] == instructions


def test_knowledge_rendering_and_errors() -> None:
    text = render_knowledge_instructions(KNOWLEDGE)
    assert "when are you open" in text
    assert extract_knowledge_instructions("plain instructions") is None
    # a block that does not parse is ignored, not applied halfway
    broken = "Knowledge scripts:\n```json\n{not json\n```"
    assert extract_knowledge_instructions(broken) is None
    with pytest.raises(UsageError, match=r"responses\[0\].type must be"):
        validate_knowledge(
            {"scripts": [{"dialogues": [{"prompts": ["x"], "responses": [{"type": "sing"}]}]}]}
        )
    bad_call = {"type": "function", "function": {"name": "f", "arguments": "{"}}
    with pytest.raises(UsageError, match=r"function\.arguments"):
        dialogue = {"prompts": ["x"], "responses": [bad_call]}
        validate_knowledge({"scripts": [{"dialogues": [dialogue]}]})


# -- tool_choice ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["ga", "beta", "nested"])
def test_function_tool_choice_is_sent_in_every_shape(shape: str) -> None:
    config = SessionConfig()
    config.update_session(tool_choice={"type": "function", "name": "add"})
    payload = session_payload(config, shape, tools=[TOOL])  # type: ignore[arg-type]
    choice = payload["model"]["tool_choice"] if shape == "nested" else payload["tool_choice"]
    assert choice == {"type": "function", "name": "add"}
    json.dumps(payload)


def test_function_tool_choice_in_grouped_config() -> None:
    config = SessionConfig({"model": {"tool_choice": {"type": "function", "name": "add"}}})
    assert session_payload(config)["tool_choice"] == {"type": "function", "name": "add"}
    config.update_config({"model": {"tool_choice": "required"}})
    assert session_payload(config)["tool_choice"] == "required"


def test_chat_completions_spelling_of_a_function_choice_is_normalised() -> None:
    config = SessionConfig()
    config.update_session(tool_choice={"type": "function", "function": {"name": "add"}})
    assert session_payload(config, "beta")["tool_choice"] == {"type": "function", "name": "add"}


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"type": "function"}, "needs a 'name'"),
        ({"type": "mcp", "name": "add"}, "tool_choice.server_label must be a string, got None"),
        ({"type": "mcp", "server_label": "docs"}, "names MCP server 'docs', which the tools"),
        ({"type": "web"}, "type must be 'function' or 'mcp', got 'web'"),
        ({"type": "function", "name": 5}, "invalid tool name 5"),
        ({"type": "function", "name": "no spaces"}, "invalid tool name 'no spaces'"),
        ({"type": "function", "name": "add", "strict": True}, "unknown key 'strict'"),
        ({"type": "function", "function": "add"}, "function must be a dict"),
        ({"type": {"a": 1}, "name": "add"}, "type must be 'function'"),
        (["auto"], "tool_choice must be 'auto', 'none', 'required', {"),
        ({"auto"}, "tool_choice must be 'auto', 'none', 'required', {"),
        ("sometimes", "tool_choice must be 'auto', 'none', 'required', {"),
    ],
)
def test_bad_tool_choices_are_usage_errors(choice: object, message: str) -> None:
    config = SessionConfig()
    before = config.as_dict()
    with pytest.raises(UsageError, match=re.escape(message)):
        config.update_session(tool_choice=choice)
    with pytest.raises(UsageError, match=re.escape(message)):
        config.update_config({"model": {"tool_choice": choice}})
    assert config.as_dict() == before


@pytest.mark.parametrize(
    "updates",
    [
        {"model": {"modalities": [{"audio": 1}]}},
        {"hearing": {"turn_detection": {"type": ["server_vad"]}}},
        {"hearing": {"input_audio_format": {"type": {"x": 1}}}},
        {"speech": {"output_audio_format": ["pcm16"]}},
        {"hearing": {"input_audio_format": {"type": "audio/pcmu", "rate": 16000}}},
        {"hearing": {"input_audio_format": {"type": "audio/pcm", "bits": 16}}},
    ],
)
def test_unhashable_or_odd_values_are_usage_errors_not_type_errors(updates: dict) -> None:
    with pytest.raises(UsageError):
        SessionConfig().update_config(updates)


# -- merging updates ----------------------------------------------------------------------------


def test_update_config_merges_nested_dicts() -> None:
    config = SessionConfig()
    config.update_config({"hearing": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}})
    config.update_config({"hearing": {"turn_detection": {"silence_duration_ms": 800}}})
    assert config.turn_detection() == {
        "type": "server_vad",
        "threshold": 0.7,
        "silence_duration_ms": 800,
    }
    config.update_config({"hearing": {"input_audio_transcription": {"model": "whisper-1"}}})
    config.update_config({"hearing": {"input_audio_transcription": {"language": "fr"}}})
    transcription = session_payload(config)["audio"]["input"]["transcription"]
    assert transcription == {"model": "whisper-1", "language": "fr"}


def test_a_turn_detection_of_another_type_starts_afresh() -> None:
    config = SessionConfig()
    config.update_config({"hearing": {"turn_detection": {"threshold": 0.7}}})
    config.update_config({"hearing": {"turn_detection": {"type": "semantic_vad"}}})
    assert config.turn_detection() == {"type": "semantic_vad"}
    config.update_config({"hearing": {"turn_detection": {"eagerness": "high"}}})
    assert config.turn_detection() == {"type": "semantic_vad", "eagerness": "high"}


def test_none_still_turns_things_off_and_a_partial_dict_cannot_turn_them_on() -> None:
    config = SessionConfig({"hearing": {"input_audio_transcription": {"model": "whisper-1"}}})
    config.update_config({"hearing": {"turn_detection": None, "input_audio_transcription": None}})
    assert config.turn_detection() is None
    assert session_payload(config)["audio"]["input"]["transcription"] is None
    with pytest.raises(UsageError, match="turn_detection must be None or a dict with type"):
        config.update_config({"hearing": {"turn_detection": {"threshold": 0.5}}})
    config.update_config({"hearing": {"input_audio_transcription": {"model": "whisper-1"}}})
    assert session_payload(config)["audio"]["input"]["transcription"] == {"model": "whisper-1"}


def test_a_null_inside_a_nested_dict_is_kept_as_null() -> None:
    config = SessionConfig()
    config.update_config({"hearing": {"turn_detection": {"idle_timeout_ms": None}}})
    assert config.turn_detection() == {"type": "server_vad", "idle_timeout_ms": None}


def test_lists_replace_and_update_session_replaces_whole_fields() -> None:
    config = SessionConfig({"model": {"tools": [TOOL], "modalities": ["text", "audio"]}})
    config.update_config({"model": {"tools": [{**TOOL, "name": "other"}], "modalities": ["text"]}})
    assert [t["name"] for t in session_payload(config)["tools"]] == ["other"]
    assert session_payload(config)["output_modalities"] == ["text"]
    config.update_session(turn_detection={"type": "server_vad", "threshold": 0.2})
    config.update_session(turn_detection={"type": "server_vad", "prefix_padding_ms": 100})
    assert config.turn_detection() == {"type": "server_vad", "prefix_padding_ms": 100}


def test_a_merge_that_fails_changes_nothing() -> None:
    config = SessionConfig({"hearing": {"turn_detection": {"type": "server_vad"}}})
    before = config.as_dict()
    with pytest.raises(UsageError, match="turn_detection"):
        config.update_config(
            {"model": {"instructions": "x"}, "hearing": {"turn_detection": {"type": "push"}}}
        )
    assert config.as_dict() == before


# -- speech and hearing ---------------------------------------------------------------------------


def test_the_latest_update_of_an_audio_key_wins_whichever_group_named_it() -> None:
    config = SessionConfig()
    config.update_config({"hearing": {"voice": "ash"}})
    config.update_config({"speech": {"voice": "verse"}})
    assert session_payload(config)["audio"]["output"]["voice"] == "verse"
    config.update_config({"hearing": {"voice": "sage"}})
    assert session_payload(config)["audio"]["output"]["voice"] == "sage"
    config.update_config({"speech": {"turn_detection": None}})
    assert config.turn_detection_type() is None
    config.update_config({"hearing": {"turn_detection": {"type": "semantic_vad"}}})
    assert config.turn_detection_type() == "semantic_vad"


def test_the_owner_group_wins_within_one_update() -> None:
    config = SessionConfig()
    config.update_config({"hearing": {"voice": "ash"}, "speech": {"voice": "verse"}})
    assert session_payload(config)["audio"]["output"]["voice"] == "verse"
    config.update_config({"speech": {"voice": "ash"}, "hearing": {"voice": "coral"}})
    assert session_payload(config)["audio"]["output"]["voice"] == "ash"
    config.update_config(
        {"hearing": {"turn_detection": None}, "speech": {"turn_detection": {"type": "server_vad"}}}
    )
    assert config.turn_detection() is None


def test_each_audio_key_is_held_once_in_its_owner_group() -> None:
    config = SessionConfig({"hearing": {"voice": "ash", "output_audio_format": "g711_ulaw"}})
    config.update_config({"speech": {"input_audio_format": "g711_alaw", "turn_detection": None}})
    data = config.as_dict()
    assert data["speech"] == {"voice": "ash", "output_audio_format": "g711_ulaw"}
    assert data["hearing"] == {"input_audio_format": "g711_alaw", "turn_detection": None}
    nested = session_payload(config, "nested")
    assert nested["speech"] == data["speech"] and nested["hearing"] == data["hearing"]
    assert config.get("hearing", "voice") == config.get("speech", "voice") == "ash"


def test_temperature_is_left_out_of_ga_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    config = SessionConfig({"model": {"temperature": 0.7}})
    with caplog.at_level("WARNING", logger="realtime_widget.session"):
        assert "temperature" not in session_payload(config, "ga")
        session_payload(config, "ga")
        assert session_payload(config, "beta")["temperature"] == 0.7
        assert session_payload(config, "nested")["model"]["temperature"] == 0.7
        session_tools(config)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "GA sessions have no temperature" in warnings[0]


def test_fields_without_a_default_are_left_out_until_set() -> None:
    ga = session_payload(SessionConfig())
    assert "transcription" not in ga["audio"]["input"]
    assert "noise_reduction" not in ga["audio"]["input"]
    assert "speed" not in ga["audio"]["output"] and "max_output_tokens" not in ga
    beta = session_payload(SessionConfig(), "beta")
    assert not {"temperature", "speed", "input_audio_transcription"} & set(beta)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mp3", "hearing.input_audio_format: unknown audio format 'mp3'"),
        ({"type": "audio/pcmu", "rate": 16000}, "expected rate 8000, got rate 16000"),
        ({"type": "audio/pcm", "bits": 16}, "unknown key 'bits'"),
        ({"rate": 8000}, "expected type 'audio/pcm', 'audio/pcmu' or 'audio/pcma', got type None"),
    ],
)
def test_audio_format_errors_say_where_and_what(value: object, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        SessionConfig({"hearing": {"input_audio_format": value}})
