"""The parameters of one ``response.create`` of the local server, checked.

:func:`parse_response_params` validates the ``response`` field (GA or beta names; an unknown
field is an ``unknown_parameter`` error, a bad value an error naming its path) and falls back
to the session's values for what it leaves out. A ``tool_choice`` forcing an MCP server's
tool (``{"type": "mcp", "server_label", "name"}``, GA only) must name an MCP server of the
response's tools or of the session's. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import realtime_widget.server.fields as f
from realtime_widget.core.mcptools import mcp_labels
from realtime_widget.core.protocol import AudioFormat, Dialect
from realtime_widget.core.sessionmap import audio_format_name
from realtime_widget.server.sessionstate import SessionState
from realtime_widget.server.store import ClipDecoder, Conversation, StoredItem, parse_client_item
from realtime_widget.server.wire import ClientEventError

__all__ = ["ResponseParams", "parse_response_params"]

_GA_KEYS = frozenset(
    {
        "output_modalities",
        "instructions",
        "tools",
        "tool_choice",
        "conversation",
        "input",
        "metadata",
        "max_output_tokens",
        "audio",
        "prompt",
        "tracing",
        "parallel_tool_calls",
        "reasoning",
    }
)
_BETA_KEYS = frozenset(
    {
        "modalities",
        "instructions",
        "voice",
        "output_audio_format",
        "tools",
        "tool_choice",
        "temperature",
        "max_response_output_tokens",
        "conversation",
        "input",
        "metadata",
    }
)


@dataclass
class ResponseParams:
    """The effective parameters of one response."""

    output_modalities: list[str]
    instructions: str
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    voice: str
    speed: float
    output_format: AudioFormat
    max_output_tokens: int | str
    temperature: float
    conversation: Literal["auto", "none"] = "auto"
    input: list[StoredItem] | None = None
    metadata: dict[str, str] | None = None


def _parse_input(
    value: Any, conversation: Conversation, dialect: Dialect, decode_audio: ClipDecoder
) -> list[StoredItem]:
    if not isinstance(value, list):
        raise ClientEventError.invalid_type("response.input", "a list", value)
    items: list[StoredItem] = []
    for index, raw in enumerate(value):
        path = f"response.input[{index}]"
        if isinstance(raw, dict) and raw.get("type") == "item_reference":
            f.check_keys(raw, path, {"type", "id"})
            items.append(conversation.get(raw.get("id"), f"{path}.id"))
        else:
            items.append(parse_client_item(raw, path, dialect, decode_audio))
    return items


def parse_response_params(
    raw: Any,
    session: SessionState,
    conversation: Conversation,
    decode_audio: ClipDecoder,
) -> ResponseParams:
    """The parameters of ``response.create`` (its ``response`` field, maybe ``None``)."""
    params = ResponseParams(
        output_modalities=session.output_modalities,
        instructions=session.instructions,
        tools=session.tools,
        tool_choice=session.tool_choice,
        voice=session.voice,
        speed=session.speed,
        output_format=session.output_audio_format,
        max_output_tokens=session.max_output_tokens,
        temperature=float(session.data["temperature"]),
    )
    if raw is None:
        return params
    spec = f.require_object(raw, "response")
    dialect = session.dialect
    f.check_keys(spec, "response", _GA_KEYS if dialect == "ga" else _BETA_KEYS)
    for key, value in spec.items():
        path = f"response.{key}"
        if key == "output_modalities":
            params.output_modalities = f.validate_ga_modalities(value, path)
        elif key == "modalities":
            params.output_modalities = f.validate_beta_modalities(value, path)
        elif key == "instructions":
            params.instructions = f.validate_instructions(value, path)
        elif key == "tools":
            params.tools = f.validate_tools(value, path)
        elif key == "tool_choice" and dialect == "ga":
            params.tool_choice = f.validate_ga_tool_choice(value, path)
        elif key == "tool_choice":
            params.tool_choice = f.validate_tool_choice(value, path)
        elif key == "voice":
            params.voice = f.validate_voice(value, path)
        elif key == "output_audio_format":
            params.output_format = audio_format_name(f.validate_beta_format(value, path))
        elif key == "temperature":
            params.temperature = float(f.validate_number(value, path, low=0.0, high=2.0))
        elif key in ("max_output_tokens", "max_response_output_tokens"):
            params.max_output_tokens = f.validate_max_tokens(value, path)
        elif key == "conversation":
            if value not in ("auto", "none"):
                raise ClientEventError.invalid_value(path, value, "'auto' or 'none'")
            params.conversation = value
        elif key == "input":
            params.input = _parse_input(value, conversation, dialect, decode_audio)
        elif key == "metadata":
            params.metadata = f.validate_metadata(value, path)
        elif key == "parallel_tool_calls" and not isinstance(value, bool):
            raise ClientEventError.invalid_type(path, "a boolean", value)
        elif key == "reasoning":  # accepted; the local model does not reason
            reasoning = f.require_object(value, path)
            f.check_keys(reasoning, path, {"effort"})
            efforts = ("minimal", "low", "medium", "high", "xhigh")
            if "effort" in reasoning and reasoning["effort"] not in efforts:
                raise ClientEventError.invalid_value(
                    f"{path}.effort", reasoning["effort"], "an effort"
                )
        elif key == "audio":
            audio = f.require_object(value, path)
            f.check_keys(audio, path, {"output"})
            output = f.require_object(audio.get("output", {}), f"{path}.output")
            f.check_keys(output, f"{path}.output", {"voice", "format"})
            if "voice" in output:
                params.voice = f.validate_voice(output["voice"], f"{path}.output.voice")
            if "format" in output:
                given = f.validate_ga_format(output["format"], f"{path}.output.format")
                params.output_format = audio_format_name(given)
    labels = mcp_labels(params.tools) + mcp_labels(session.tools)
    f.check_mcp_choice_label(params.tool_choice, labels, "response.tool_choice")
    return params
