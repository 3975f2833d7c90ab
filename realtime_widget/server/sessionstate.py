"""One connection's session: its configuration, ``session.update`` and the two wire shapes.

The session is held in the GA shape (the beta fields placed as
:mod:`~realtime_widget.core.sessionmap` says) and rendered for the connection's dialect by
:meth:`SessionState.to_wire` (a beta ``turn_detection`` shows ``idle_timeout_ms`` only when
set). An update is all or nothing (see
:meth:`SessionState.apply_update`). No I/O.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import realtime_widget.server.fields as f
from realtime_widget.core.ids import generate_id
from realtime_widget.core.mcptools import mcp_labels
from realtime_widget.core.protocol import DEFAULT_MODEL, AudioFormat, Dialect
from realtime_widget.core.session import AUDIO_KEY_OWNERS, CONFIG_GROUP_KEYS
from realtime_widget.core.sessionmap import (
    BETA_TO_GA,
    GA_ONLY,
    GA_TO_BETA,
    GaPath,
    audio_format_name,
    ga_get,
)
from realtime_widget.server.knowledge import validate_knowledge
from realtime_widget.server.wire import ClientEventError

__all__ = ["SessionState"]

_READ_ONLY = frozenset({"id", "object", "expires_at", "client_secret"})
_NESTED_KEYS = frozenset({"type", "model", "speech", "hearing", "vision", "knowledge"})
_NESTED_MODEL_KEYS = CONFIG_GROUP_KEYS["model"]
_AUDIO_GROUP_KEYS = CONFIG_GROUP_KEYS["hearing"]
_VISION_KEYS = CONFIG_GROUP_KEYS["vision"]

_Change = tuple[GaPath, Any]


def _temperature(value: Any, path: str) -> float:
    return float(f.validate_number(value, path, low=0.0, high=2.0))


def _model(value: Any, path: str) -> str:
    return f.validate_string(value, path, allow_empty=False)


Validator = Callable[[Any, str], Any]

# how each beta field is checked; where the session holds it comes from the session map
_BETA_FIELDS: dict[str, Validator] = {
    "model": _model,
    "instructions": f.validate_instructions,
    "modalities": f.validate_beta_modalities,
    "voice": f.validate_voice,
    "speed": f.validate_speed,
    "input_audio_format": f.validate_beta_format,
    "output_audio_format": f.validate_beta_format,
    "input_audio_transcription": f.validate_transcription,
    "input_audio_noise_reduction": f.validate_noise_reduction,
    "tools": f.validate_tools,
    "tool_choice": f.validate_tool_choice,
    "temperature": _temperature,
    "max_response_output_tokens": f.validate_max_tokens,
    "tracing": f.validate_tracing,
}
# the seed's speech / hearing groups: beta fields, formats also as GA objects
_CONFIG_FIELDS = {
    **_BETA_FIELDS,
    "input_audio_format": f.validate_config_format,
    "output_audio_format": f.validate_config_format,
}
# GA fields by their beta names, where the GA spelling of the value differs
_GA_FIELDS = {
    **_BETA_FIELDS,
    "modalities": f.validate_ga_modalities,
    "voice": f.validate_session_voice,
    "tool_choice": f.validate_ga_tool_choice,
    "input_audio_format": f.validate_ga_format,
    "output_audio_format": f.validate_ga_format,
}
# a beta transcription session's fields (turn_detection is checked on its own)
_BETA_TRANSCRIPTION_FIELDS: dict[str, Validator] = {
    "input_audio_format": f.validate_beta_format,
    "input_audio_transcription": f.validate_beta_transcription,
    "input_audio_noise_reduction": f.validate_beta_noise_reduction,
    "include": f.validate_include,
    "modalities": f.validate_beta_modalities,
    "client_secret": f.validate_beta_client_secret,
}
_GA_ONLY: dict[str, Validator] = {
    "truncation": f.validate_truncation,
    "prompt": f.validate_prompt,
    "include": f.validate_include,
    "parallel_tool_calls": f.validate_parallel_tool_calls,
    "reasoning": f.validate_reasoning,
}


_BETA_TRANSCRIPTION_EVENTS = (
    "transcription_session.update",
    "transcription_session.created",
    "transcription_session.updated",
)
# the fields of the beta SDK's TranscriptionSession, and the keys each object of it holds
_BETA_TRANSCRIPTION_SHOWN: dict[str, frozenset[str]] = {
    "input_audio_format": frozenset(),
    "input_audio_transcription": frozenset({"model", "language", "prompt"}),
    "turn_detection": frozenset({"type", "threshold", "prefix_padding_ms", "silence_duration_ms"}),
}


def _path(name: str) -> GaPath:
    """Where the session holds beta field ``name`` (GA's place; ``temperature`` on its own)."""
    return BETA_TO_GA.get(name, (name,))


_VOICE_PARAM = {"ga": "session.audio.output.voice", "beta": "session.voice"}


def _beta_turn_detection(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """``turn_detection`` in the beta shape: without ``idle_timeout_ms`` when unset."""
    if value is None or value.get("idle_timeout_ms") is not None:
        return value
    return {key: v for key, v in value.items() if key != "idle_timeout_ms"}


class SessionState:
    """One connection's session configuration. The voice cannot change once the assistant
    has spoken (``voice_locked``), as on the service."""

    def __init__(
        self, dialect: Dialect, *, model: str = DEFAULT_MODEL, transcription: bool = False
    ) -> None:
        self.dialect: Dialect = dialect
        self.id = generate_id("sess_")
        self.expires_at = int(time.time()) + 3600
        self.knowledge: dict[str, Any] | None = None
        self.vision: dict[str, Any] = {}
        self.voice_locked = False
        self.data: dict[str, Any] = {
            "type": "realtime",
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
        if transcription:  # a beta transcription session, asked for on connect
            self._apply(self._transcribing([(("type",), "transcription")]))

    # -- accessors -------------------------------------------------------------------

    @property
    def transcribing_only(self) -> bool:
        """A transcription session: it hears and transcribes, and never answers."""
        return bool(self.data["type"] == "transcription")

    @property
    def event_names(self) -> tuple[str, str, str]:
        """This session's update, created and updated events: a beta transcription
        session's ``transcription_session.*``, else ``session.*``."""
        if self.dialect == "beta" and self.transcribing_only:
            return _BETA_TRANSCRIPTION_EVENTS
        return ("session.update", "session.created", "session.updated")

    @property
    def instructions(self) -> str:
        return str(self.data["instructions"])

    @property
    def output_modalities(self) -> list[str]:
        return list(self.data["output_modalities"])

    @property
    def input_audio_format(self) -> AudioFormat:
        return audio_format_name(self.data["audio"]["input"]["format"])

    @property
    def output_audio_format(self) -> AudioFormat:
        return audio_format_name(self.data["audio"]["output"]["format"])

    @property
    def voice(self) -> str:
        """The voice's name; a custom voice (``{"id": ...}``) speaks as ``marin`` here."""
        voice = self.data["audio"]["output"]["voice"]
        return voice if isinstance(voice, str) else "marin"

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

        A GA update carries ``type: "realtime"`` and GA fields (a beta-shaped field is an
        unknown parameter); a beta connection takes the flat fields. Either also takes the
        seed's nested shape: ``model`` an object of the model group's keys, ``speech`` /
        ``hearing`` the audio keys (a key named in both takes its owner group's value),
        ``vision`` (kept, unused) and ``knowledge`` (scripts for the model). Read-only fields
        a client echoes back (``id``, ``object``, ``expires_at``) are ignored;
        ``turn_detection`` fields not given keep their value while the type stays.

        Raises :class:`ClientEventError` with a dotted ``param`` for the first problem and
        then leaves the session untouched.
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
        elif self.transcribing_only:
            changes = self._parse_beta_transcription(session)
        else:
            changes = self._parse_beta(session, "session")
        self._check_voice(changes)
        named = dict(changes)
        choice = named.get(("tool_choice",), self.data["tool_choice"])
        tools = mcp_labels(named.get(("tools",), self.data["tools"]))
        f.check_mcp_choice_label(choice, tools, "session.tool_choice")
        self._apply(changes)
        if knowledge is not None:
            self.knowledge = knowledge
        if vision is not None:
            self.vision = vision

    def _apply(self, changes: list[_Change]) -> None:
        for path, value in changes:
            target = self.data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value

    def _check_voice(self, changes: list[_Change]) -> None:
        for path, value in changes:
            changed = value != ga_get(self.data, path)
            if path == ("audio", "output", "voice") and self.voice_locked and changed:
                raise ClientEventError(
                    "cannot change the voice once the assistant has spoken",
                    code="cannot_update_voice",
                    param=_VOICE_PARAM[self.dialect],
                )

    def _turn_detection_change(self, value: Any, path: str) -> _Change:
        where = BETA_TO_GA["turn_detection"]
        return where, f.validate_turn_detection(value, path, ga_get(self.data, where))

    def _parse_ga(self, session: dict[str, Any]) -> list[_Change]:
        if "type" not in session:
            raise ClientEventError.missing("session.type")
        if session["type"] not in ("realtime", "transcription"):
            raise ClientEventError.invalid_value(
                "session.type", session["type"], "'realtime' or 'transcription'"
            )
        if session["type"] == "transcription":
            return self._parse_transcription(session)
        changes: list[_Change] = [(("type",), "realtime")]
        for key, value in session.items():
            where = f"session.{key}"
            name = GA_TO_BETA.get((key,))
            if key in _READ_ONLY or key == "type":
                continue
            if key == "audio":
                changes.extend(self._parse_ga_audio(value))
            elif name is not None:
                changes.append(((key,), _GA_FIELDS[name](value, where)))
            elif key in GA_ONLY:
                changes.append(((key,), _GA_ONLY[key](value, where)))
            else:
                raise ClientEventError.unknown_parameter(where)
        return changes

    def _parse_transcription(self, session: dict[str, Any]) -> list[_Change]:
        """A transcription session: input audio and ``include`` only; its turn detection
        creates no responses, and it transcribes (``gpt-4o-mini-transcribe`` unless told)."""
        f.check_keys(session, "session", {"type", "audio", "include", *_READ_ONLY})
        audio = f.require_object(session.get("audio", {}), "session.audio")
        f.check_keys(audio, "session.audio", {"input"})
        changes: list[_Change] = [(("type",), "transcription")]
        if "audio" in session:
            changes.extend(self._parse_ga_audio(audio))
        if "include" in session:
            changes.append(
                (("include",), f.validate_include(session["include"], "session.include"))
            )
        return self._transcribing(changes)

    def _parse_beta_transcription(self, session: dict[str, Any]) -> list[_Change]:
        """A beta ``transcription_session.update``: the flat fields its SDK type declares,
        placed by the session map, then as :meth:`_parse_transcription` leaves them
        (``modalities`` and ``client_secret`` are checked and have no local effect)."""
        f.check_keys(session, "session", set(_BETA_TRANSCRIPTION_FIELDS) | {"turn_detection"})
        detection = session.get("turn_detection")
        if isinstance(detection, dict):
            f.check_keys(detection, "session.turn_detection", f.BETA_TURN_DETECTION_KEYS)
        if "client_secret" in session:
            f.validate_beta_client_secret(session["client_secret"], "session.client_secret")
        fields = {k: v for k, v in session.items() if k != "client_secret"}
        changes = self._parse_beta(fields, "session", _BETA_TRANSCRIPTION_FIELDS)
        return self._transcribing([(("type",), "transcription"), *changes])

    def _transcribing(self, changes: list[_Change]) -> list[_Change]:
        """``changes`` to a transcription session, with what such a session holds: a
        transcription model (``gpt-4o-mini-transcribe`` unless told) and turn detection that
        creates no responses (nor interrupts any)."""
        where = BETA_TO_GA["input_audio_transcription"]
        named = dict(changes)
        if named.get(where, ga_get(self.data, where)) is None:
            changes.append((where, {"model": "gpt-4o-mini-transcribe"}))
        detection_at = BETA_TO_GA["turn_detection"]
        detection = named.get(detection_at, ga_get(self.data, detection_at))
        if detection is not None:
            detection = {k: v for k, v in detection.items() if k != "interrupt_response"}
            changes.append((detection_at, {**detection, "create_response": False}))
        return changes

    def _parse_ga_audio(self, value: Any) -> list[_Change]:
        audio = f.require_object(value, "session.audio")
        f.check_keys(audio, "session.audio", {"input", "output"})
        changes: list[_Change] = []
        for side in ("input", "output"):
            if side not in audio:
                continue
            where = f"session.audio.{side}"
            group = f.require_object(audio[side], where)
            names = {
                path[-1]: name for path, name in GA_TO_BETA.items() if path[:-1] == ("audio", side)
            }
            f.check_keys(group, where, set(names))
            for key, given in group.items():
                if names[key] == "turn_detection":
                    changes.append(self._turn_detection_change(given, f"{where}.{key}"))
                else:
                    validate = _GA_FIELDS[names[key]]
                    changes.append((("audio", side, key), validate(given, f"{where}.{key}")))
        return changes

    def _parse_beta(
        self,
        session: dict[str, Any],
        where: str,
        fields: dict[str, Validator] = _BETA_FIELDS,
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
            changes.append((_path(key), fields[key](value, f"{where}.{key}")))
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
        if data["type"] == "transcription" and self.dialect == "beta":
            return self._beta_transcription(data)
        if data["type"] == "transcription":
            audio_input = data["audio"]["input"]
            return {
                "type": "transcription",
                "object": "realtime.transcription_session",
                "id": self.id,
                "audio": {"input": audio_input},
                "include": data["include"],
                "expires_at": self.expires_at,
            }
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
                # set only when a client sets them
                **{k: data[k] for k in ("parallel_tool_calls", "reasoning") if k in data},
                "expires_at": self.expires_at,
            }
        beta: dict[str, Any] = {"object": "realtime.session", "id": self.id}
        beta.update({name: ga_get(data, path) for name, path in BETA_TO_GA.items()})
        beta.update(
            modalities=["audio", "text"] if data["output_modalities"] == ["audio"] else ["text"],
            input_audio_format=self.input_audio_format,
            output_audio_format=self.output_audio_format,
            temperature=data["temperature"],
            expires_at=self.expires_at,
        )
        beta["turn_detection"] = _beta_turn_detection(beta.get("turn_detection"))
        return beta

    def _beta_transcription(self, data: dict[str, Any]) -> dict[str, Any]:
        """A beta transcription session as the beta SDK's ``TranscriptionSession`` declares
        it: the session map's fields, each cut to the keys that type has (no
        ``client_secret``: the service sends it over HTTP only)."""
        beta = {name: ga_get(data, BETA_TO_GA[name]) for name in _BETA_TRANSCRIPTION_SHOWN}
        beta["input_audio_format"] = self.input_audio_format
        for name, keys in _BETA_TRANSCRIPTION_SHOWN.items():
            if isinstance(beta[name], dict):
                beta[name] = {k: v for k, v in beta[name].items() if k in keys}
        return beta
