"""The session of one connection: its configuration, updates and the two wire shapes.

Rules:

- The session is held in the GA shape (``output_modalities``, ``audio.input`` /
  ``audio.output``); :meth:`SessionState.to_wire` renders it for the connection's dialect
  (beta: the flat ``modalities`` / ``voice`` / ``input_audio_format`` shape, whose
  ``turn_detection`` shows ``idle_timeout_ms`` only when it is set).
- ``session.update`` is all or nothing: every field is validated first, the first problem
  raises :class:`~realtime_widget.server.wire.ClientEventError` (``unknown_parameter``,
  ``invalid_type``, ``invalid_value`` or ``missing_required_parameter`` with a dotted
  ``param``), and only a fully valid update is applied.
- A GA update must carry ``type: "realtime"``; its fields are the GA ones, so a beta-shaped
  field (``session.modalities``) is an unknown parameter. A beta connection takes the flat
  fields only.
- Either dialect also accepts the seed library's nested shape: ``session.model`` is an object
  (``name``, ``modalities``, ``instructions``, ``tools``, ``tool_choice``, ``temperature``,
  ``max_response_output_tokens``), next to ``speech`` / ``hearing`` (flat audio fields),
  ``vision`` (accepted, unused) and ``knowledge`` (validated scripts for the model). Both
  audio groups take every audio key; a key named in both takes the value of the group that
  owns it (``speech``: voice, speed, output format; ``hearing``: the rest), as the client's
  config does.
- Read-only fields a client may echo back (``id``, ``object``, ``expires_at``) are ignored.
- The voice cannot change once the assistant has spoken (as on the service).
- ``turn_detection`` fields not given keep their value while the type stays the same.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from realtime_widget.core.protocol import DEFAULT_MODEL, Dialect, audio_format_name
from realtime_widget.core.session import AUDIO_KEY_OWNERS, CONFIG_GROUP_KEYS
from realtime_widget.server import fields as f
from realtime_widget.server.knowledge import validate_knowledge
from realtime_widget.server.wire import ClientEventError, new_id

__all__ = ["SessionState"]

_READ_ONLY = frozenset({"id", "object", "expires_at", "client_secret"})
_GA_KEYS = frozenset(
    {
        "type",
        "model",
        "instructions",
        "output_modalities",
        "audio",
        "tools",
        "tool_choice",
        "max_output_tokens",
        "tracing",
        "truncation",
        "prompt",
        "include",
    }
)
_NESTED_KEYS = frozenset({"type", "model", "speech", "hearing", "vision", "knowledge"})
_NESTED_MODEL_KEYS = CONFIG_GROUP_KEYS["model"]
_AUDIO_GROUP_KEYS = CONFIG_GROUP_KEYS["hearing"]
_VISION_KEYS = CONFIG_GROUP_KEYS["vision"]

Path = tuple[str, ...]
_Change = tuple[Path, Any]


def _loose(value: Any, path: str) -> Any:
    """Fields kept as given (tracing, truncation, prompt, include): only json types matter."""
    if value is not None and not isinstance(value, str | dict | list):
        raise ClientEventError.invalid_type(path, "a string, an object or null", value)
    return copy.deepcopy(value)


def _temperature(value: Any, path: str) -> float:
    return float(f.validate_number(value, path, low=0.0, high=2.0))


def _model(value: Any, path: str) -> str:
    return f.validate_string(value, path, allow_empty=False)


# beta flat field -> (internal GA path, validator)
_BETA_FIELDS: dict[str, tuple[Path, Callable[[Any, str], Any]]] = {
    "model": (("model",), _model),
    "instructions": (("instructions",), f.validate_instructions),
    "modalities": (("output_modalities",), f.validate_beta_modalities),
    "voice": (("audio", "output", "voice"), f.validate_voice),
    "speed": (("audio", "output", "speed"), f.validate_speed),
    "input_audio_format": (("audio", "input", "format"), f.validate_beta_format),
    "output_audio_format": (("audio", "output", "format"), f.validate_beta_format),
    "input_audio_transcription": (("audio", "input", "transcription"), f.validate_transcription),
    "input_audio_noise_reduction": (
        ("audio", "input", "noise_reduction"),
        f.validate_noise_reduction,
    ),
    "tools": (("tools",), f.validate_tools),
    "tool_choice": (("tool_choice",), f.validate_tool_choice),
    "temperature": (("temperature",), _temperature),
    "max_response_output_tokens": (("max_output_tokens",), f.validate_max_tokens),
    "tracing": (("tracing",), _loose),
}
# the seed's speech / hearing groups: beta fields, formats also as GA objects
_CONFIG_FIELDS = {
    **_BETA_FIELDS,
    "input_audio_format": (("audio", "input", "format"), f.validate_config_format),
    "output_audio_format": (("audio", "output", "format"), f.validate_config_format),
}
_GA_FIELDS: dict[str, tuple[Path, Callable[[Any, str], Any]]] = {
    "model": (("model",), _model),
    "instructions": (("instructions",), f.validate_instructions),
    "output_modalities": (("output_modalities",), f.validate_ga_modalities),
    "tools": (("tools",), f.validate_tools),
    "tool_choice": (("tool_choice",), f.validate_tool_choice),
    "max_output_tokens": (("max_output_tokens",), f.validate_max_tokens),
    "tracing": (("tracing",), _loose),
    "truncation": (("truncation",), _loose),
    "prompt": (("prompt",), _loose),
    "include": (("include",), _loose),
}
_GA_AUDIO_FIELDS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "input": {
        "format": f.validate_ga_format,
        "transcription": f.validate_transcription,
        "noise_reduction": f.validate_noise_reduction,
    },
    "output": {
        "format": f.validate_ga_format,
        "voice": f.validate_voice,
        "speed": f.validate_speed,
    },
}
_VOICE_PARAM = {"ga": "session.audio.output.voice", "beta": "session.voice"}


def _beta_turn_detection(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """``turn_detection`` in the beta shape: without ``idle_timeout_ms`` when unset."""
    if value is None or value.get("idle_timeout_ms") is not None:
        return value
    return {key: v for key, v in value.items() if key != "idle_timeout_ms"}


class SessionState:
    """One connection's session configuration (see the module rules)."""

    def __init__(self, dialect: Dialect, *, model: str = DEFAULT_MODEL) -> None:
        self.dialect: Dialect = dialect
        self.id = new_id("sess")
        self.expires_at = int(time.time()) + 3600
        self.knowledge: dict[str, Any] | None = None
        self.vision: dict[str, Any] = {}
        self.voice_locked = False
        self.data: dict[str, Any] = {
            "model": model,
            "instructions": "",
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": dict(f.SERVER_VAD_DEFAULTS),
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "voice": "marin" if dialect == "ga" else "alloy",
                    "speed": 1.0,
                },
            },
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "temperature": 0.8,
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
        }

    # -- accessors -------------------------------------------------------------------

    @property
    def instructions(self) -> str:
        return str(self.data["instructions"])

    @property
    def output_modalities(self) -> list[str]:
        return list(self.data["output_modalities"])

    @property
    def input_format(self) -> str:
        """``audio/pcm``, ``audio/pcmu`` or ``audio/pcma``."""
        return str(self.data["audio"]["input"]["format"]["type"])

    @property
    def output_format(self) -> str:
        return str(self.data["audio"]["output"]["format"]["type"])

    @property
    def voice(self) -> str:
        return str(self.data["audio"]["output"]["voice"])

    @property
    def speed(self) -> float:
        return float(self.data["audio"]["output"]["speed"])

    @property
    def transcription(self) -> dict[str, Any] | None:
        value = self.data["audio"]["input"]["transcription"]
        return dict(value) if value else None

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        value = self.data["audio"]["input"]["turn_detection"]
        return dict(value) if value else None

    @property
    def tools(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.data["tools"])

    @property
    def tool_choice(self) -> str | dict[str, Any]:
        return copy.deepcopy(self.data["tool_choice"])  # type: ignore[no-any-return]

    @property
    def max_output_tokens(self) -> int | str:
        return self.data["max_output_tokens"]  # type: ignore[no-any-return]

    # -- updates ---------------------------------------------------------------------

    def apply_update(self, session: Any) -> None:
        """Validate ``session`` (the ``session`` field of ``session.update``) and apply it.

        Raises :class:`ClientEventError` and leaves the session untouched when invalid.
        """
        if not isinstance(session, dict):
            raise ClientEventError.invalid_type("session", "an object", session)
        knowledge: dict[str, Any] | None = None
        vision: dict[str, Any] | None = None
        if isinstance(session.get("model"), dict) or _NESTED_KEYS.intersection(
            set(session) - {"type", "model"}
        ):
            changes, knowledge, vision = self._parse_nested(session)
        elif self.dialect == "ga":
            changes = self._parse_ga(session)
        else:
            changes = self._parse_beta(session, "session")
        self._check_voice(changes)
        for path, value in changes:
            target = self.data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        if knowledge is not None:
            self.knowledge = knowledge
        if vision is not None:
            self.vision = vision

    def _check_voice(self, changes: list[_Change]) -> None:
        for path, value in changes:
            if path == ("audio", "output", "voice") and self.voice_locked and value != self.voice:
                raise ClientEventError(
                    "cannot change the voice once the assistant has spoken",
                    code="cannot_update_voice",
                    param=_VOICE_PARAM[self.dialect],
                )

    def _turn_detection_change(self, value: Any, path: str) -> _Change:
        current = self.data["audio"]["input"]["turn_detection"]
        result = f.validate_turn_detection(value, path, current)
        return ("audio", "input", "turn_detection"), result

    def _parse_ga(self, session: dict[str, Any]) -> list[_Change]:
        if "type" not in session:
            raise ClientEventError.missing("session.type")
        if session["type"] != "realtime":
            raise ClientEventError.invalid_value("session.type", session["type"], "'realtime'")
        changes: list[_Change] = []
        for key, value in session.items():
            if key in _READ_ONLY or key == "type":
                continue
            if key == "audio":
                changes.extend(self._parse_ga_audio(value))
                continue
            if key not in _GA_FIELDS:
                raise ClientEventError.unknown_parameter(f"session.{key}")
            path, validator = _GA_FIELDS[key]
            changes.append((path, validator(value, f"session.{key}")))
        return changes

    def _parse_ga_audio(self, value: Any) -> list[_Change]:
        audio = f.require_object(value, "session.audio")
        f.check_keys(audio, "session.audio", {"input", "output"})
        changes: list[_Change] = []
        for side, validators in _GA_AUDIO_FIELDS.items():
            if side not in audio:
                continue
            where = f"session.audio.{side}"
            group = f.require_object(audio[side], where)
            allowed = set(validators) | ({"turn_detection"} if side == "input" else set())
            f.check_keys(group, where, allowed)
            for key, given in group.items():
                if key == "turn_detection":
                    changes.append(self._turn_detection_change(given, f"{where}.{key}"))
                else:
                    changes.append((("audio", side, key), validators[key](given, f"{where}.{key}")))
        return changes

    def _parse_beta(
        self,
        session: dict[str, Any],
        where: str,
        fields: dict[str, tuple[Path, Callable[[Any, str], Any]]] = _BETA_FIELDS,
    ) -> list[_Change]:
        changes: list[_Change] = []
        for key, value in session.items():
            if key in _READ_ONLY:
                continue
            if key == "turn_detection":
                changes.append(self._turn_detection_change(value, f"{where}.{key}"))
                continue
            if key not in fields:
                raise ClientEventError.unknown_parameter(f"{where}.{key}")
            path, validator = fields[key]
            changes.append((path, validator(value, f"{where}.{key}")))
        return changes

    def _parse_nested(
        self, session: dict[str, Any]
    ) -> tuple[list[_Change], dict[str, Any] | None, dict[str, Any] | None]:
        f.check_keys(session, "session", _NESTED_KEYS)
        if "type" in session and session["type"] != "realtime":
            raise ClientEventError.invalid_value("session.type", session["type"], "'realtime'")
        changes: list[_Change] = []
        model = session.get("model")
        if model is not None:
            group = f.require_object(model, "session.model")
            f.check_keys(group, "session.model", _NESTED_MODEL_KEYS)
            flat = {k: v for k, v in group.items() if k not in ("provider", "name")}
            if "provider" in group:
                f.validate_string(group["provider"], "session.model.provider")
            if "name" in group:
                changes.append((("model",), _model(group["name"], "session.model.name")))
            changes.extend(self._parse_beta(flat, "session.model"))
        # a key named in both audio groups takes its owner group's value (applied last)
        borrowed: list[_Change] = []
        owned: list[_Change] = []
        for group_name in ("hearing", "speech"):
            if group_name in session:
                where = f"session.{group_name}"
                group = f.require_object(session[group_name], where)
                f.check_keys(group, where, _AUDIO_GROUP_KEYS)
                for key, value in group.items():
                    parsed = self._parse_beta({key: value}, where, _CONFIG_FIELDS)
                    (owned if AUDIO_KEY_OWNERS[key] == group_name else borrowed).extend(parsed)
        changes.extend(borrowed + owned)
        vision: dict[str, Any] | None = None
        if "vision" in session:
            group = f.require_object(session["vision"], "session.vision")
            f.check_keys(group, "session.vision", _VISION_KEYS)
            for key, value in group.items():
                where = f"session.vision.{key}"
                if key == "object_detection_target_classes":
                    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                        raise ClientEventError.invalid_type(where, "a list of strings", value)
                else:
                    f.validate_bool(value, where)
            vision = copy.deepcopy(group)
        knowledge: dict[str, Any] | None = None
        if "knowledge" in session:
            try:
                knowledge = validate_knowledge(session["knowledge"])
            except ValueError as exc:
                raise ClientEventError(
                    str(exc), code="invalid_value", param="session.knowledge"
                ) from None
        return changes, knowledge, vision

    # -- rendering -------------------------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """The full session object in this connection's dialect."""
        data = copy.deepcopy(self.data)
        if self.dialect == "ga":
            return {
                "type": "realtime",
                "object": "realtime.session",
                "id": self.id,
                "model": data["model"],
                "output_modalities": data["output_modalities"],
                "instructions": data["instructions"],
                "audio": data["audio"],
                "tools": data["tools"],
                "tool_choice": data["tool_choice"],
                "max_output_tokens": data["max_output_tokens"],
                "tracing": data["tracing"],
                "truncation": data["truncation"],
                "prompt": data["prompt"],
                "include": data["include"],
                "expires_at": self.expires_at,
            }
        audio_in, audio_out = data["audio"]["input"], data["audio"]["output"]
        return {
            "object": "realtime.session",
            "id": self.id,
            "model": data["model"],
            "modalities": ["audio", "text"] if data["output_modalities"] == ["audio"] else ["text"],
            "instructions": data["instructions"],
            "voice": audio_out["voice"],
            "speed": audio_out["speed"],
            "input_audio_format": audio_format_name(audio_in["format"]),
            "output_audio_format": audio_format_name(audio_out["format"]),
            "input_audio_transcription": audio_in["transcription"],
            "input_audio_noise_reduction": audio_in["noise_reduction"],
            "turn_detection": _beta_turn_detection(audio_in["turn_detection"]),
            "tools": data["tools"],
            "tool_choice": data["tool_choice"],
            "temperature": data["temperature"],
            "max_response_output_tokens": data["max_output_tokens"],
            "tracing": data["tracing"],
            "expires_at": self.expires_at,
        }
