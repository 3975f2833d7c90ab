"""A session setting every GA field, and a finder of fields the SDK's types do not declare."""

from __future__ import annotations

from typing import Any

EVERY_FIELD: dict[str, Any] = {
    "instructions": "Be brief.",
    "output_modalities": ["text"],
    "voice": {"id": "voice_1234"},
    "speed": 1.2,
    "input_audio_format": {"type": "audio/pcmu"},
    "output_audio_format": "g711_alaw",
    "transcription": {
        "model": "gpt-4o-transcribe",
        "language": "en",
        "languages": ["en", "fr"],
        "prompt": "names of birds",
        "keywords": ["wren", "kestrel"],
        "delay": "low",
    },
    "noise_reduction": {"type": "far_field", "strength": 0.5},
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.6,
        "prefix_padding_ms": 200,
        "silence_duration_ms": 700,
        "idle_timeout_ms": 6000,
        "create_response": True,
        "interrupt_response": False,
    },
    "tools": [{"type": "function", "name": "add", "parameters": {"type": "object"}}],
    "tool_choice": {"type": "function", "name": "add"},
    "max_output_tokens": 4096,
    "tracing": {"workflow_name": "w", "group_id": "g", "metadata": {"k": "v"}},
    "truncation": {
        "type": "retention_ratio",
        "retention_ratio": 0.8,
        "token_limits": {"post_instructions": 5000},
    },
    "prompt": {"id": "pmpt_1", "version": "2", "variables": {"city": "Paris"}},
    "include": ["item.input_audio_transcription.logprobs"],
    "parallel_tool_calls": True,
    "reasoning": {"effort": "low"},
}


def undeclared(model: Any, path: str = "") -> list[str]:
    """The fields of a parsed SDK model that its type does not declare."""
    from pydantic import BaseModel  # with the SDK, which the tests may lack

    found: list[str] = []
    if isinstance(model, BaseModel):
        found += [f"{path}.{key}" for key in model.model_extra or {}]
        for key, value in model:
            found += undeclared(value, f"{path}.{key}")
    elif isinstance(model, list):
        for index, value in enumerate(model):
            found += undeclared(value, f"{path}[{index}]")
    return found
