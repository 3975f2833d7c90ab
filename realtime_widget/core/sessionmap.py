"""The GA and beta session shapes side by side: one table, read both ways.

The beta session is flat (``voice``, ``input_audio_format``, ...); the GA session nests the
audio fields under ``audio.input`` / ``audio.output`` and renames a few. :data:`BETA_TO_GA`
says which beta field is which GA one: the client renders its config with it, and the local
server reads and renders either shape with it. Values are the same in both shapes but for
audio formats (a name in beta, an object in GA: :func:`audio_format_name`,
:func:`audio_format_to_ga`) and modalities (:func:`ga_modalities`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from realtime_widget.core.errors import AudioFormatError
from realtime_widget.core.protocol import AUDIO_FORMAT_RATES, AUDIO_FORMATS, AudioFormat

__all__ = [
    "BETA_ONLY",
    "BETA_TO_GA",
    "GA_NULLABLE",
    "GA_ONLY",
    "GA_TO_BETA",
    "GaPath",
    "audio_format_name",
    "audio_format_to_ga",
    "ga_get",
    "ga_modalities",
    "ga_set",
]

GaPath = tuple[str, ...]
"""Where a field sits in the GA session: ``("audio", "output", "voice")``."""

BETA_TO_GA: Final[Mapping[str, GaPath]] = MappingProxyType(
    {
        "model": ("model",),
        "instructions": ("instructions",),
        "modalities": ("output_modalities",),
        "voice": ("audio", "output", "voice"),
        "speed": ("audio", "output", "speed"),
        "output_audio_format": ("audio", "output", "format"),
        "input_audio_format": ("audio", "input", "format"),
        "input_audio_transcription": ("audio", "input", "transcription"),
        "input_audio_noise_reduction": ("audio", "input", "noise_reduction"),
        "turn_detection": ("audio", "input", "turn_detection"),
        "tools": ("tools",),
        "tool_choice": ("tool_choice",),
        "max_response_output_tokens": ("max_output_tokens",),
        "tracing": ("tracing",),
    }
)
"""Each beta session field and where the GA session holds it."""

GA_TO_BETA: Final[Mapping[GaPath, str]] = MappingProxyType(
    {path: name for name, path in BETA_TO_GA.items()}
)
"""The same table the other way."""

BETA_ONLY: Final = frozenset({"temperature"})
"""Beta session fields the GA session has no place for."""

GA_ONLY: Final = frozenset({"truncation", "prompt", "include", "parallel_tool_calls", "reasoning"})
"""GA session fields the beta session has no place for (each at the top of the GA session,
under its own name)."""

GA_NULLABLE: Final = frozenset({"tracing", "prompt"})
"""Top-level GA fields that take ``null`` (tracing off, no prompt); ``audio.input``'s
``transcription``, ``noise_reduction`` and ``turn_detection`` take it too."""

_GA_FORMAT_NAMES: dict[str, AudioFormat] = {
    str(spec["type"]): name for name, spec in AUDIO_FORMATS.items()
}


def ga_get(session: Mapping[str, Any], path: GaPath, default: Any = None) -> Any:
    """The value at ``path`` of a GA session, or ``default`` where a level is missing."""
    value: Any = session
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return value


def ga_set(session: dict[str, Any], path: GaPath, value: Any) -> None:
    """Put ``value`` at ``path`` of a GA session, making the levels on the way."""
    target = session
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def ga_modalities(modalities: Sequence[str]) -> list[str]:
    """The GA ``output_modalities`` of beta ``modalities``: audio (with its transcript) when
    they hold audio, else text."""
    return ["audio"] if "audio" in modalities else ["text"]


def audio_format_name(value: object, where: str = "") -> AudioFormat:
    """The beta name of an audio format given as a beta name or a GA format object.

    A GA object holds ``type`` (``audio/pcm``, ``audio/pcmu`` or ``audio/pcma``) and
    optionally ``rate``, which must be the format's own (24000 for PCM, 8000 for G.711).
    Raises :class:`AudioFormatError` naming the part that is wrong, after ``where`` (the
    field holding the value) when given.
    """

    def fail(field: str, part: object, expected: str) -> AudioFormatError:
        if not field:
            problem = f"unknown audio format {value!r}: expected {expected}"
        elif field in (".type", ".rate"):
            name = field[1:]
            problem = (
                f"invalid audio format {value!r}: expected {name} {expected}, got {name} {part!r}"
            )
        else:
            problem = f"invalid audio format {value!r}: unknown key {field[1:]!r}"
        prefix = f"{where}: " if where else ""
        return AudioFormatError(prefix + problem, field=field, value=part, expected=expected)

    if isinstance(value, str):
        if value in AUDIO_FORMATS:
            return value  # type: ignore[return-value]
        raise fail("", value, "'pcm16', 'g711_ulaw' or 'g711_alaw'")
    if not isinstance(value, Mapping):
        raise fail("", value, "a format name or a format object with a 'type'")
    for key in value:
        if key not in ("type", "rate"):
            raise fail(f".{key}", value[key], "only 'type' and 'rate' keys")
    kind = value.get("type")
    name = _GA_FORMAT_NAMES.get(kind) if isinstance(kind, str) else None
    if name is None:
        raise fail(".type", kind, "'audio/pcm', 'audio/pcmu' or 'audio/pcma'")
    rate = value.get("rate", AUDIO_FORMAT_RATES[name])
    if isinstance(rate, bool) or rate != AUDIO_FORMAT_RATES[name]:
        raise fail(".rate", rate, str(AUDIO_FORMAT_RATES[name]))
    return name


def audio_format_to_ga(value: object) -> dict[str, Any]:
    """The GA ``format`` object for a beta format name or a GA format object; raises as
    :func:`audio_format_name` does."""
    return dict(AUDIO_FORMATS[audio_format_name(value)])
