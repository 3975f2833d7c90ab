"""Validators for the fields of ``session.update`` and ``response.create``.

Every validator takes the client's value and its dotted path (``session.audio.output.voice``)
and returns the value in the server's internal GA shape, or raises
:class:`~realtime_widget.server.wire.ClientEventError` naming the path. Beta spellings
(``pcm16``, ``["text", "audio"]``) are converted here, so the rest of the server sees one
shape. Nothing here holds state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from realtime_widget.core import sessionfields as checks
from realtime_widget.core.checks import is_number, is_tool_name, number_problem
from realtime_widget.core.errors import AudioFormatError
from realtime_widget.core.mcptools import is_mcp_choice, mcp_choice_problem, mcp_tool_problem
from realtime_widget.core.sessionmap import audio_format_to_ga
from realtime_widget.server.wire import ClientEventError

__all__ = [
    "BETA_TRANSCRIPTION_MODELS",
    "BETA_TURN_DETECTION_KEYS",
    "LOCAL_VOICES",
    "SEMANTIC_VAD_DEFAULTS",
    "SERVER_VAD_DEFAULTS",
    "VOICES",
    "check_keys",
    "check_mcp_choice_label",
    "require_object",
    "validate_beta_client_secret",
    "validate_beta_format",
    "validate_beta_modalities",
    "validate_beta_noise_reduction",
    "validate_beta_transcription",
    "validate_bool",
    "validate_config_format",
    "validate_ga_format",
    "validate_ga_modalities",
    "validate_ga_tool_choice",
    "validate_include",
    "validate_instructions",
    "validate_max_tokens",
    "validate_metadata",
    "validate_noise_reduction",
    "validate_number",
    "validate_parallel_tool_calls",
    "validate_prompt",
    "validate_reasoning",
    "validate_session_voice",
    "validate_speed",
    "validate_string",
    "validate_tool_choice",
    "validate_tools",
    "validate_tracing",
    "validate_transcription",
    "validate_truncation",
    "validate_turn_detection",
    "validate_voice",
]

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
# this server's own: tone speech that decodes back to its text exactly (see .speech)
LOCAL_VOICES = ("tones",)
_EAGERNESS = ("low", "medium", "high", "auto")

SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}


def require_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ClientEventError.invalid_type(path, "an object", value)
    return value


def check_keys(value: dict[str, Any], path: str, allowed: set[str] | frozenset[str]) -> None:
    """Raise ``unknown_parameter`` for the first key of ``value`` not in ``allowed``."""
    for key in value:
        if key not in allowed:
            raise ClientEventError.unknown_parameter(f"{path}.{key}")


def validate_string(value: Any, path: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ClientEventError.invalid_type(path, "a string", value)
    if not allow_empty and not value:
        raise ClientEventError.invalid_value(path, value, "a non-empty string")
    return value


def validate_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ClientEventError.invalid_type(path, "a boolean", value)
    return value


def validate_number(
    value: Any, path: str, *, low: float, high: float, integer: bool = False
) -> float:
    problem = number_problem(value, low=low, high=high, whole=integer)
    if problem == "type":
        raise ClientEventError.invalid_type(path, "an integer" if integer else "a number", value)
    if problem == "range":
        raise ClientEventError.invalid_value(path, value, f"a value within {low:g} and {high:g}")
    assert is_number(value)
    return value


def validate_instructions(value: Any, path: str) -> str:
    return validate_string(value, path)


def validate_voice(value: Any, path: str) -> str:
    voice = validate_string(value, path)
    if voice not in VOICES and voice not in LOCAL_VOICES:
        choices = ", ".join(VOICES + LOCAL_VOICES)
        raise ClientEventError.invalid_value(path, value, "one of " + choices)
    return voice


def validate_session_voice(value: Any, path: str) -> str | dict[str, str]:
    """A voice by name, or a custom voice ``{"id": ...}`` (this server speaks those with
    its default voice)."""
    if isinstance(value, dict):
        return _checked(checks.check_voice, value, path)  # type: ignore[no-any-return]
    return validate_voice(value, path)


def validate_speed(value: Any, path: str) -> float:
    return float(validate_number(value, path, low=0.25, high=1.5))


def validate_ga_modalities(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise ClientEventError.invalid_type(path, "a list", value)
    if value not in (["audio"], ["text"]):
        raise ClientEventError.invalid_value(path, value, "['audio'] or ['text']")
    return list(value)


def validate_beta_modalities(value: Any, path: str) -> list[str]:
    """Beta ``modalities`` as GA ``output_modalities``: any list holding audio means audio."""
    if not isinstance(value, list):
        raise ClientEventError.invalid_type(path, "a list", value)
    if not value or any(m not in ("text", "audio") for m in value) or len(set(value)) != len(value):
        raise ClientEventError.invalid_value(path, value, "['text'] or ['text', 'audio']")
    return ["audio"] if "audio" in value else ["text"]


def _format(value: Any, path: str) -> dict[str, Any]:
    """The GA format object of a format name or object."""
    try:
        return audio_format_to_ga(value)
    except AudioFormatError as exc:
        raise ClientEventError.invalid_value(
            f"{path}{exc.field}", exc.value, exc.expected
        ) from None


def validate_ga_format(value: Any, path: str) -> dict[str, Any]:
    """A GA format object (``{"type": "audio/pcmu"}``)."""
    spec = require_object(value, path)
    check_keys(spec, path, {"type", "rate"})
    if spec.get("type") is None:
        raise ClientEventError.missing(f"{path}.type")
    return _format(spec, path)


def validate_beta_format(value: Any, path: str) -> dict[str, Any]:
    """A beta format name (``pcm16``, ``g711_ulaw``, ``g711_alaw``)."""
    if not isinstance(value, str):
        raise ClientEventError.invalid_type(path, "a string", value)
    return _format(value, path)


def validate_config_format(value: Any, path: str) -> dict[str, Any]:
    """A format in the seed's grouped config: a beta name or a GA format object."""
    return (
        validate_beta_format(value, path)
        if isinstance(value, str)
        else validate_ga_format(value, path)
    )


def _checked(check: Callable[[str, Any], Any], value: Any, path: str) -> Any:
    """``check(path, value)`` (one of :mod:`realtime_widget.core.sessionfields`), its
    refusal as the error event's."""
    try:
        return check(path, value)
    except checks.SessionFieldError as exc:
        raise ClientEventError(str(exc), code=exc.code, param=exc.field) from None


def validate_transcription(value: Any, path: str) -> dict[str, Any] | None:
    """``{model, language, languages, prompt, keywords, delay}``; ``model`` defaults to
    ``gpt-4o-mini-transcribe`` (this server's recognizer does the work whatever it names)."""
    if value is None:
        return None
    spec = _checked(checks.check_transcription, require_object(value, path), path)
    result: dict[str, Any] = {"model": "gpt-4o-mini-transcribe"}
    result.update({key: given for key, given in spec.items() if given is not None})
    return result


BETA_TRANSCRIPTION_MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper-1")
BETA_TURN_DETECTION_KEYS = frozenset(
    {
        "type",
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "create_response",
        "interrupt_response",
        "eagerness",
    }
)
"""The turn detection keys of a beta transcription session (no ``idle_timeout_ms``)."""


def validate_beta_transcription(value: Any, path: str) -> dict[str, Any] | None:
    """A beta transcription session's ``{model, language, prompt}``, ``model`` one of
    :data:`BETA_TRANSCRIPTION_MODELS`."""
    if value is not None:
        check_keys(require_object(value, path), path, {"model", "language", "prompt"})
        model = value.get("model")
        if model is not None and model not in BETA_TRANSCRIPTION_MODELS:
            expected = "one of " + ", ".join(BETA_TRANSCRIPTION_MODELS)
            raise ClientEventError.invalid_value(f"{path}.model", model, expected)
    return validate_transcription(value, path)


def validate_beta_noise_reduction(value: Any, path: str) -> dict[str, Any] | None:
    """A beta transcription session's ``{type}``; no local effect."""
    if value is None:
        return None
    check_keys(require_object(value, path), path, {"type"})
    return _checked(checks.check_noise_reduction, value, path)  # type: ignore[no-any-return]


def validate_beta_client_secret(value: Any, path: str) -> dict[str, Any]:
    """``{expires_at: {anchor: "created_at", seconds: 10..7200}}``: how long a secret made
    over HTTP lasts; no effect on a session opened over the socket."""
    spec = require_object(value, path)
    check_keys(spec, path, {"expires_at"})
    if "expires_at" in spec:
        expires = require_object(spec["expires_at"], f"{path}.expires_at")
        check_keys(expires, f"{path}.expires_at", {"anchor", "seconds"})
        if "anchor" in expires and expires["anchor"] != "created_at":
            where = f"{path}.expires_at.anchor"
            raise ClientEventError.invalid_value(where, expires["anchor"], "'created_at'")
        if "seconds" in expires:
            where = f"{path}.expires_at.seconds"
            validate_number(expires["seconds"], where, low=10, high=7200, integer=True)
    return copy.deepcopy(spec)


def validate_noise_reduction(value: Any, path: str) -> dict[str, Any] | None:
    """``{type, strength}``; no local effect (the recognizer hears the audio as sent)."""
    if value is None:
        return None
    spec = _checked(checks.check_noise_reduction, require_object(value, path), path)
    if "type" not in spec:
        raise ClientEventError.missing(f"{path}.type")
    return spec  # type: ignore[no-any-return]


def validate_tracing(value: Any, path: str) -> str | dict[str, Any] | None:
    """``null``, ``"auto"`` or a tracing configuration; no local effect."""
    return None if value is None else _checked(checks.check_tracing, value, path)


def validate_truncation(value: Any, path: str) -> str | dict[str, Any]:
    """``"auto"``, ``"disabled"`` or a retention ratio; no local effect."""
    return _checked(checks.check_truncation, value, path)  # type: ignore[no-any-return]


def validate_prompt(value: Any, path: str) -> dict[str, Any] | None:
    """``null`` or ``{id, version, variables}``; no local effect (there are no stored
    prompts here)."""
    return None if value is None else _checked(checks.check_prompt, value, path)


def validate_include(value: Any, path: str) -> list[str]:
    """Extra outputs asked for; transcription logprobs have no local effect."""
    return _checked(checks.check_include, value, path)  # type: ignore[no-any-return]


def validate_reasoning(value: Any, path: str) -> dict[str, str]:
    """``{effort}``; no local effect."""
    return _checked(checks.check_reasoning, value, path)  # type: ignore[no-any-return]


def validate_parallel_tool_calls(value: Any, path: str) -> bool:
    """Whether several tools may be called at once; no local effect."""
    return validate_bool(value, path)


def validate_turn_detection(
    value: Any, path: str, current: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The new turn detection; fields not given keep their current value when the type stays,
    else take the type's defaults. A missing ``type`` keeps the current type (or server_vad)."""
    if value is None:
        return None
    spec = require_object(value, path)
    current_type = current["type"] if current else None
    kind = spec.get("type", current_type or "server_vad")
    if kind not in ("server_vad", "semantic_vad"):
        raise ClientEventError.invalid_value(f"{path}.type", kind, "'server_vad' or 'semantic_vad'")
    defaults = SERVER_VAD_DEFAULTS if kind == "server_vad" else SEMANTIC_VAD_DEFAULTS
    check_keys(spec, path, set(defaults))
    result = dict(current) if current and current_type == kind else dict(defaults)
    for key, given in spec.items():
        where = f"{path}.{key}"
        if key == "type":
            continue
        if key in ("create_response", "interrupt_response"):
            result[key] = validate_bool(given, where)
        elif key == "threshold":
            result[key] = float(validate_number(given, where, low=0.0, high=1.0))
        elif key in ("prefix_padding_ms", "silence_duration_ms"):
            result[key] = int(validate_number(given, where, low=0, high=60_000, integer=True))
        elif key == "idle_timeout_ms":
            result[key] = (
                None
                if given is None
                else int(validate_number(given, where, low=0, high=3_600_000, integer=True))
            )
        elif key == "eagerness":
            if given not in _EAGERNESS:
                raise ClientEventError.invalid_value(where, given, "low, medium, high or auto")
            result[key] = given
    return result


def _validate_tool(value: Any, path: str) -> dict[str, Any]:
    tool = require_object(value, path)
    if tool.get("type") == "mcp":
        problem = mcp_tool_problem(tool)
        if problem is not None:
            where = f"{path}.{problem.field}" if problem.field else path
            raise ClientEventError.invalid_value(where, problem.value, problem.expected)
        return copy.deepcopy(dict(tool))
    check_keys(tool, path, {"type", "name", "description", "parameters"})
    kind = tool.get("type", "function")
    if kind != "function":
        raise ClientEventError.invalid_value(f"{path}.type", kind, "'function'")
    if "name" not in tool:
        raise ClientEventError.missing(f"{path}.name")
    name = validate_string(tool["name"], f"{path}.name")
    if not is_tool_name(name):
        raise ClientEventError.invalid_value(f"{path}.name", name, "letters, digits, _ or -")
    result: dict[str, Any] = {"type": "function", "name": name}
    if tool.get("description") is not None:
        result["description"] = validate_string(tool["description"], f"{path}.description")
    parameters = tool.get("parameters")
    if parameters is not None:
        schema = require_object(parameters, f"{path}.parameters")
        if schema.get("type", "object") != "object":
            raise ClientEventError.invalid_value(
                f"{path}.parameters.type", schema.get("type"), "'object'"
            )
        result["parameters"] = schema
    return result


def validate_tools(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ClientEventError.invalid_type(path, "a list", value)
    tools = [_validate_tool(tool, f"{path}[{index}]") for index, tool in enumerate(value)]
    # a function by its name, an MCP server by its label
    keys = [(t["type"], t.get("name", t.get("server_label"))) for t in tools]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            field = "name" if key[0] == "function" else "server_label"
            raise ClientEventError.invalid_value(
                f"{path}[{index}].{field}", key[1], f"a unique {field}"
            )
    return tools


def validate_tool_choice(value: Any, path: str) -> str | dict[str, Any]:
    """``auto``, ``none``, ``required`` or ``{type: function, name}`` (beta has no MCP)."""
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise ClientEventError.invalid_value(path, value, "auto, none, required or a function")
        return value
    choice = require_object(value, path)
    if choice.get("type") != "function":
        raise ClientEventError.invalid_value(f"{path}.type", choice.get("type"), "'function'")
    check_keys(choice, path, {"type", "name"})
    if "name" not in choice:
        raise ClientEventError.missing(f"{path}.name")
    return {"type": "function", "name": validate_string(choice["name"], f"{path}.name")}


def validate_ga_tool_choice(value: Any, path: str) -> str | dict[str, Any]:
    """A beta tool choice, or ``{type: mcp, server_label, name}`` forcing an MCP server's
    tool (``name`` a string or null), as the SDK's ``ToolChoiceMcp`` states it."""
    if not is_mcp_choice(value):
        return validate_tool_choice(value, path)
    problem = mcp_choice_problem(value)
    if problem is not None and problem.expected.startswith("absent"):
        raise ClientEventError.unknown_parameter(f"{path}.{problem.field}")
    if problem is not None and problem.value is None:
        raise ClientEventError.missing(f"{path}.{problem.field}")
    if problem is not None:
        raise ClientEventError.invalid_type(
            f"{path}.{problem.field}", problem.expected, problem.value
        )
    return {k: v for k, v in value.items() if v is not None}


def check_mcp_choice_label(choice: Any, labels: list[str], path: str) -> None:
    """An MCP tool ``choice`` must name one of the MCP servers ``labels`` (else an error
    naming ``path.server_label``); any other choice passes."""
    if is_mcp_choice(choice) and choice["server_label"] not in labels:
        raise ClientEventError.invalid_value(
            f"{path}.server_label", choice["server_label"], f"one of the MCP servers {labels}"
        )


def validate_max_tokens(value: Any, path: str) -> int | str:
    if value == "inf":
        return "inf"
    return int(validate_number(value, path, low=1, high=4096, integer=True))


def validate_metadata(value: Any, path: str) -> dict[str, str] | None:
    if value is None:
        return None
    metadata = require_object(value, path)
    if len(metadata) > 16:
        raise ClientEventError.invalid_value(path, value, "at most 16 keys")
    for key, entry in metadata.items():
        validate_string(entry, f"{path}.{key}")
    return dict(metadata)
