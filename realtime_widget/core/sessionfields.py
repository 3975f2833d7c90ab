"""Checks of the GA session fields a client may set, as the service's session types state them.

Each check takes the field's path in the grouped config (``hearing.turn_detection``) and the
value, and returns it as a plain copy or raises :class:`SessionFieldError` (a
:class:`UsageError`) naming the field and the bad value. :data:`SESSION_FIELD_CHECKS`
holds the checks by config key. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from realtime_widget.core.checks import is_int, is_number
from realtime_widget.core.errors import UsageError

__all__ = [
    "EAGERNESS",
    "INCLUDE_VALUES",
    "REASONING_EFFORTS",
    "SESSION_FIELD_CHECKS",
    "TRANSCRIPTION_DELAYS",
    "TURN_DETECTION_KEYS",
    "SessionFieldError",
    "check_include",
    "check_max_output_tokens",
    "check_noise_reduction",
    "check_prompt",
    "check_reasoning",
    "check_tracing",
    "check_transcription",
    "check_truncation",
    "check_turn_detection",
    "check_voice",
]

EAGERNESS: Final = ("low", "medium", "high", "auto")
INCLUDE_VALUES: Final = ("item.input_audio_transcription.logprobs",)
REASONING_EFFORTS: Final = ("minimal", "low", "medium", "high", "xhigh")
TRANSCRIPTION_DELAYS: Final = ("minimal", "low", "medium", "high", "xhigh")
_VAD_COMMON = frozenset({"type", "create_response", "interrupt_response"})
TURN_DETECTION_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "server_vad": _VAD_COMMON
    | {"threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"},
    "semantic_vad": _VAD_COMMON | {"eagerness"},
}
"""The keys each turn detection type takes (``idle_timeout_ms`` is server_vad's only,
``eagerness`` semantic_vad's)."""


class SessionFieldError(UsageError):
    """A bad session field: ``field`` is the dotted path of the bad part, ``code``
    ``invalid_value``, ``unknown_parameter`` or ``missing_required_parameter``."""

    def __init__(self, message: str, *, field: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


def _fail(where: str, value: Any, expected: str) -> SessionFieldError:
    return SessionFieldError(f"{where} must be {expected}, got {value!r}", field=where)


def _unknown(where: str, key: str, expected: str) -> SessionFieldError:
    return SessionFieldError(
        f"unknown key {key!r} in {where}: expected {expected}",
        field=f"{where}.{key}",
        code="unknown_parameter",
    )


def _missing(where: str, key: str, example: str) -> SessionFieldError:
    return SessionFieldError(
        f"{where} needs {key!r}: {example}",
        field=f"{where}.{key}",
        code="missing_required_parameter",
    )


def _mapping(where: str, value: Any, keys: Sequence[str] | frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, value, "a dict")
    for key in value:
        if key not in keys:
            raise _unknown(where, key, ", ".join(repr(k) for k in sorted(keys)))
    return value


def _string(where: str, value: Any, *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise _fail(where, value, "a string" if empty else "a non-empty string")
    return value


def _strings(where: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _fail(where, value, "a list of strings")
    return list(value)


def _choice(where: str, value: Any, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise _fail(where, value, "one of " + ", ".join(repr(o) for o in options))
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, value, "True or False")
    return value


def _int(where: str, value: Any, low: int, high: int | None = None) -> int:
    if not is_int(value) or value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise _fail(where, value, f"an integer {span}")
    return int(value)


def _ratio(where: str, value: Any) -> float:
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise _fail(where, value, "a number from 0 to 1")
    return float(value)


def check_voice(where: str, value: Any) -> str | dict[str, str]:
    """A voice by name (``"marin"``) or a custom voice ``{"id": ...}``."""
    if isinstance(value, str):
        return _string(where, value, empty=False)
    if isinstance(value, Mapping):
        voice = _mapping(where, value, ("id",))
        if "id" not in voice:
            raise _missing(where, "id", "{'id': 'voice_...'}")
        return {"id": _string(f"{where}.id", voice["id"], empty=False)}
    raise _fail(where, value, "a string")  # a name (or a custom voice: {'id': ...})


def check_transcription(where: str, value: Any) -> dict[str, Any]:
    """``{model, language, languages, prompt, keywords, delay}``, each optional."""
    spec = _mapping(where, value, ("model", "language", "languages", "prompt", "keywords", "delay"))
    for key in ("model", "language", "prompt"):
        if key in spec and spec[key] is not None:
            _string(f"{where}.{key}", spec[key])
    for key in ("languages", "keywords"):
        if key in spec:
            _strings(f"{where}.{key}", spec[key])
    if "delay" in spec:
        _choice(f"{where}.delay", spec["delay"], TRANSCRIPTION_DELAYS)
    return _plain_dict(spec)


def check_noise_reduction(where: str, value: Any) -> dict[str, Any]:
    """``{type: "near_field" | "far_field", strength}`` (strength a non-negative number)."""
    spec = _mapping(where, value, ("type", "strength"))
    if "type" in spec:
        _choice(f"{where}.type", spec["type"], ("near_field", "far_field"))
    if "strength" in spec and (not is_number(spec["strength"]) or spec["strength"] < 0):
        raise _fail(f"{where}.strength", spec["strength"], "a non-negative number")
    return _plain_dict(spec)


def check_turn_detection(where: str, value: Any) -> dict[str, Any]:
    """A ``server_vad`` or ``semantic_vad`` config holding only its type's keys."""
    kind = value.get("type") if isinstance(value, Mapping) else None
    if not isinstance(kind, str) or kind not in TURN_DETECTION_KEYS:
        raise _fail(where, value, "None or a dict with type 'server_vad' or 'semantic_vad'")
    for key in value:
        if key not in TURN_DETECTION_KEYS[kind]:
            other = [k for k, keys in TURN_DETECTION_KEYS.items() if key in keys]
            if other:
                raise SessionFieldError(
                    f"{where}.{key} is only for {other[0]}, not {kind}",
                    field=f"{where}.{key}",
                    code="unknown_parameter",
                )
            raise _unknown(where, key, ", ".join(sorted(TURN_DETECTION_KEYS[kind])))
    for key in ("create_response", "interrupt_response"):
        if key in value:
            _bool(f"{where}.{key}", value[key])
    if "threshold" in value:
        _ratio(f"{where}.threshold", value["threshold"])
    for key in ("prefix_padding_ms", "silence_duration_ms"):
        if key in value:
            _int(f"{where}.{key}", value[key], 0)
    if value.get("idle_timeout_ms") is not None:
        _int(f"{where}.idle_timeout_ms", value["idle_timeout_ms"], 0)
    if "eagerness" in value:
        _choice(f"{where}.eagerness", value["eagerness"], EAGERNESS)
    return _plain_dict(value)


def check_max_output_tokens(where: str, value: Any) -> int | str:
    """An integer from 1 to 4096, or ``"inf"``."""
    if value == "inf":
        return "inf"
    if not is_int(value) or not 1 <= value <= 4096:
        raise _fail(where, value, "a positive integer or 'inf' (at most 4096)")
    return int(value)


def check_tracing(where: str, value: Any) -> str | dict[str, Any]:
    """``"auto"`` or ``{workflow_name, group_id, metadata}`` (each optional)."""
    if value == "auto":
        return "auto"
    if not isinstance(value, Mapping):
        raise _fail(where, value, "None, 'auto' or {'workflow_name', 'group_id', 'metadata'}")
    spec = _mapping(where, value, ("workflow_name", "group_id", "metadata"))
    for key in ("workflow_name", "group_id"):
        if key in spec:
            _string(f"{where}.{key}", spec[key])
    if "metadata" in spec and not isinstance(spec["metadata"], Mapping):
        raise _fail(f"{where}.metadata", spec["metadata"], "a dict")
    return _plain_dict(spec)


def check_truncation(where: str, value: Any) -> str | dict[str, Any]:
    """``"auto"``, ``"disabled"`` or ``{type: "retention_ratio", retention_ratio,
    token_limits: {post_instructions}}``."""
    if isinstance(value, str):
        return _choice(where, value, ("auto", "disabled"))
    spec = _mapping(where, value, ("type", "retention_ratio", "token_limits"))
    if spec.get("type") != "retention_ratio":
        raise _fail(f"{where}.type", spec.get("type"), "'retention_ratio'")
    if "retention_ratio" not in spec:
        raise _missing(where, "retention_ratio", "a number from 0 to 1")
    _ratio(f"{where}.retention_ratio", spec["retention_ratio"])
    if "token_limits" in spec:
        limits = _mapping(f"{where}.token_limits", spec["token_limits"], ("post_instructions",))
        if "post_instructions" in limits:
            _int(f"{where}.token_limits.post_instructions", limits["post_instructions"], 0)
    return _plain_dict(spec)


_PROMPT_INPUTS = ("input_text", "input_image", "input_file")


def check_prompt(where: str, value: Any) -> dict[str, Any]:
    """``{id, version, variables}``: a prompt template's id, and optionally its version and
    variables (a string or an ``input_text`` / ``input_image`` / ``input_file`` part each)."""
    spec = _mapping(where, value, ("id", "version", "variables"))
    if "id" not in spec:
        raise _missing(where, "id", "{'id': 'pmpt_...'}")
    _string(f"{where}.id", spec["id"], empty=False)
    if spec.get("version") is not None:
        _string(f"{where}.version", spec["version"])
    variables = spec.get("variables")
    if variables is not None:
        if not isinstance(variables, Mapping):
            raise _fail(f"{where}.variables", variables, "a dict")
        for name, given in variables.items():
            if isinstance(given, str):
                continue
            kind = given.get("type") if isinstance(given, Mapping) else None
            if kind not in _PROMPT_INPUTS:
                raise _fail(
                    f"{where}.variables.{name}",
                    given,
                    "a string or an input_text, input_image or input_file part",
                )
    return _plain_dict(spec)


def check_include(where: str, value: Any) -> list[str]:
    """A list of extra outputs: only ``"item.input_audio_transcription.logprobs"``."""
    if not isinstance(value, list | tuple):
        raise _fail(where, value, "a list")
    return [_choice(f"{where}[{i}]", v, INCLUDE_VALUES) for i, v in enumerate(value)]


def check_reasoning(where: str, value: Any) -> dict[str, str]:
    """``{effort: "minimal" | "low" | "medium" | "high" | "xhigh"}``."""
    spec = _mapping(where, value, ("effort",))
    if "effort" in spec:
        _choice(f"{where}.effort", spec["effort"], REASONING_EFFORTS)
    return dict(spec)


def _plain_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in value.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return copy.deepcopy(value)


SESSION_FIELD_CHECKS: Final[Mapping[str, Callable[[str, Any], Any]]] = {
    "voice": check_voice,
    "input_audio_transcription": check_transcription,
    "input_audio_noise_reduction": check_noise_reduction,
    "turn_detection": check_turn_detection,
    "max_response_output_tokens": check_max_output_tokens,
    "tracing": check_tracing,
    "truncation": check_truncation,
    "prompt": check_prompt,
    "include": check_include,
    "reasoning": check_reasoning,
    "parallel_tool_calls": _bool,
}
"""The check of each config key that has one here (``None``, where allowed, is not checked:
the config takes it as null)."""
