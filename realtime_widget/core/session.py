"""Session configuration: the grouped config a client holds and the ``session`` it sends.

:class:`SessionConfig` holds the seed's groups (``model``, ``speech``, ``hearing``,
``vision``, ``knowledge``) and checks every update: :class:`UsageError` names the bad
group, key or value, and a refused update changes nothing. :func:`session_payload` renders
it as a GA, beta or nested ``session`` object, placing fields by
:mod:`~realtime_widget.core.sessionmap`. Pure: no I/O.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from realtime_widget.core.checks import need_number, need_tool_name
from realtime_widget.core.errors import UsageError
from realtime_widget.core.knowledge import merge_knowledge_instructions, validate_knowledge
from realtime_widget.core.mcptools import (
    check_mcp_tool,
    is_mcp_choice,
    is_mcp_tool,
    mcp_choice_problem,
    mcp_labels,
)
from realtime_widget.core.protocol import DEFAULT_MODEL
from realtime_widget.core.sessionfields import SESSION_FIELD_CHECKS
from realtime_widget.core.sessionmap import (
    BETA_ONLY,
    BETA_TO_GA,
    GA_NULLABLE,
    GA_ONLY,
    audio_format_name,
    audio_format_to_ga,
    ga_get,
    ga_modalities,
    ga_set,
)

__all__ = [
    "AUDIO_KEY_OWNERS",
    "BETA_MCP_CHOICE",
    "CONFIG_GROUP_KEYS",
    "FLAT_FIELDS",
    "SessionConfig",
    "SessionShape",
    "beta_transcription_payload",
    "check_mcp_choice",
    "session_payload",
    "session_tools",
    "transcription_payload",
]

SessionShape = Literal["ga", "beta", "nested"]

logger = logging.getLogger("realtime_widget.session")

_UNSET: Any = object()

_GROUP_KEYS: dict[str, frozenset[str]] = {
    "model": frozenset(
        {
            "provider",
            "name",
            "modalities",
            "instructions",
            "tools",
            "tool_choice",
            "temperature",
            "max_response_output_tokens",
            *GA_ONLY,
            "tracing",
        }
    ),
    "speech": frozenset(),  # filled below: the audio keys
    "hearing": frozenset(),
    "vision": frozenset(
        {
            "enable_face_detection",
            "enable_object_detection",
            "enable_face_identification",
            "object_detection_target_classes",
        }
    ),
    "knowledge": frozenset({"scripts"}),
}
AUDIO_KEY_OWNERS: Mapping[str, str] = {
    "voice": "speech",
    "speed": "speech",
    "output_audio_format": "speech",
    "input_audio_format": "hearing",
    "input_audio_transcription": "hearing",
    "input_audio_noise_reduction": "hearing",
    "turn_detection": "hearing",
}
"""Each audio key and the group that owns it: ``speech`` what the model says, ``hearing``
what it hears (shared with the local server)."""
_AUDIO_KEYS = frozenset(AUDIO_KEY_OWNERS)
_GROUP_KEYS["speech"] = _AUDIO_KEYS
_GROUP_KEYS["hearing"] = _AUDIO_KEYS
CONFIG_GROUP_KEYS: Mapping[str, frozenset[str]] = _GROUP_KEYS
"""The seed's config groups and the keys each accepts (shared with the local server)."""

# flat field of update_session -> (group, key)
FLAT_FIELDS: dict[str, tuple[str, str]] = {
    "model": ("model", "name"),
    "modalities": ("model", "modalities"),
    "output_modalities": ("model", "modalities"),
    "instructions": ("model", "instructions"),
    "tools": ("model", "tools"),
    "tool_choice": ("model", "tool_choice"),
    "temperature": ("model", "temperature"),
    "max_response_output_tokens": ("model", "max_response_output_tokens"),
    "max_output_tokens": ("model", "max_response_output_tokens"),
    **{name: ("model", name) for name in (*sorted(GA_ONLY), "tracing")},
    "voice": ("speech", "voice"),
    "speed": ("speech", "speed"),
    "output_audio_format": ("speech", "output_audio_format"),
    "input_audio_format": ("hearing", "input_audio_format"),
    "input_audio_transcription": ("hearing", "input_audio_transcription"),
    "transcription": ("hearing", "input_audio_transcription"),
    "input_audio_noise_reduction": ("hearing", "input_audio_noise_reduction"),
    "noise_reduction": ("hearing", "input_audio_noise_reduction"),
    "turn_detection": ("hearing", "turn_detection"),
}

BETA_MCP_CHOICE = (
    "tool_choice {'type': 'mcp'} is not in the beta dialect (its sessions have no MCP "
    "servers): use dialect='ga'"
)
"""Why a beta session or response cannot force an MCP server's tool."""

_VOICE_DEFAULT = "marin"
_MODALITIES = ("text", "audio")
_TOOL_CHOICES = ("auto", "none", "required")


def _one_of(value: Any, options: Sequence[str]) -> bool:
    """``value in options`` for any value (a dict or a list is simply not one of them)."""
    return isinstance(value, str) and value in options


def _default_config() -> dict[str, dict[str, Any]]:
    return {
        "model": {
            "provider": "openai",
            "name": DEFAULT_MODEL,
            "modalities": ["audio"],
            "instructions": "",
            "tools": [],
            "tool_choice": "auto",
        },
        "speech": {"voice": _VOICE_DEFAULT, "output_audio_format": "pcm16"},
        "hearing": {
            "input_audio_format": "pcm16",
            "turn_detection": {"type": "server_vad"},
        },
        "vision": {},
        "knowledge": {"scripts": []},
    }


def _tool_choice(where: str, value: Any) -> str | dict[str, str]:
    """``value`` as the wire's tool choice; raises UsageError naming what is wrong."""
    if _one_of(value, _TOOL_CHOICES):
        return str(value)
    if not isinstance(value, Mapping):
        raise UsageError(
            f"{where} must be 'auto', 'none', 'required', {{'type': 'function', 'name': ...}} "
            f"or {{'type': 'mcp', 'server_label': ...}}, got {value!r}"
        )
    if is_mcp_choice(value):
        problem = mcp_choice_problem(value)
        if problem is not None:
            raise UsageError(problem.message(where))
        return {k: v for k, v in value.items() if v is not None}
    if value.get("type") != "function":
        raise UsageError(f"{where}.type must be 'function' or 'mcp', got {value.get('type')!r}")
    for key in value:
        if key not in ("type", "name", "function"):
            raise UsageError(f"unknown key {key!r} in {where}: expected 'type' and 'name'")
    name = value.get("name")
    if "function" in value:  # the Chat Completions spelling: {"function": {"name": ...}}
        function = value["function"]
        if not isinstance(function, Mapping):
            raise UsageError(f"{where}.function must be a dict with a 'name', got {function!r}")
        name = function.get("name", name)
    if name is None:
        raise UsageError(f"{where} needs a 'name': {{'type': 'function', 'name': ...}}")
    try:
        return {"type": "function", "name": need_tool_name(name)}
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def check_mcp_choice(where: str, choice: Any, *tools: Any) -> None:
    """UsageError unless an MCP tool ``choice`` names a server that one of the lists of
    ``tools`` declares (any other choice passes)."""
    if not is_mcp_choice(choice):
        return
    labels = [label for given in tools for label in mcp_labels(given)]
    if choice.get("server_label") not in labels:
        raise UsageError(
            f"{where} names MCP server {choice.get('server_label')!r}, which the tools do not "
            f"declare (MCP servers: {sorted(labels)}): add it first (add_mcp_server)"
        )


# what a session cannot do without: None is refused for these
_NOT_NONE = frozenset(
    {"voice", "name", "modalities", "tools", "input_audio_format", "output_audio_format"}
)


def _checked(group: str, key: str, value: Any) -> Any:
    """``value`` as ``group.key`` stores it (formats by name, a tool choice in its wire form,
    a plain copy otherwise); raises UsageError when it cannot be right there."""
    where = f"{group}.{key}"
    if value is None:
        if key in _NOT_NONE:
            raise UsageError(f"{where} cannot be None")
        return None
    if key in SESSION_FIELD_CHECKS:
        return SESSION_FIELD_CHECKS[key](where, value)
    if key in {"instructions", "name", "provider"} and not isinstance(value, str):
        raise UsageError(f"{where} must be a string, got {value!r}")
    if key == "modalities":
        if not isinstance(value, list | tuple) or not value:
            raise UsageError(f"{where} must be a non-empty list, got {value!r}")
        if not all(_one_of(m, _MODALITIES) for m in value):
            raise UsageError(f"{where} may hold only 'text' and 'audio', got {value!r}")
    elif key in {"input_audio_format", "output_audio_format"}:
        return audio_format_name(value, where)
    elif key == "tools":
        if not isinstance(value, list | tuple) or not all(isinstance(t, Mapping) for t in value):
            raise UsageError(f"{where} must be a list of tool definitions, got {value!r}")
        # an MCP server entry keeps every field its type declares, checked
        return [
            check_mcp_tool(t, f"{where}[{i}]") if is_mcp_tool(t) else copy.deepcopy(_as_plain(t))
            for i, t in enumerate(value)
        ]
    elif key == "tool_choice":
        return _tool_choice(where, value)
    elif key == "temperature":
        need_number(where, value, "a number")
    elif key == "speed":
        need_number(where, value, "a positive number", above=0)
    elif key == "scripts":
        validate_knowledge({"scripts": value})
    return copy.deepcopy(_as_plain(value))


class SessionConfig:
    """The grouped session configuration of a client.

    ``speech`` owns what the model says (``voice``, ``speed``, ``output_audio_format``),
    ``hearing`` what it hears (the other audio keys: :data:`AUDIO_KEY_OWNERS`); either group
    accepts every audio key, held once, in its owner group. ``tool_choice`` is ``"auto"``,
    ``"none"``, ``"required"``, ``{"type": "function", "name": ...}`` (the Chat Completions
    ``{"type": "function", "function": {"name": ...}}`` is read too) or ``{"type": "mcp",
    "server_label": ..., "name": ...}`` (``name`` optional; the label must be one of the MCP
    servers among the tools: a GA session only). Audio formats are a
    beta name or a GA format object, held by name. ``None`` sets a value to null:
    ``turn_detection: None`` means manual turns, ``input_audio_transcription: None`` no
    transcription. ``shape``, when given, is the dialect its session is sent in: ``"beta"``
    refuses an MCP tool choice.
    """

    def __init__(
        self, config: Mapping[str, Any] | None = None, *, shape: SessionShape | None = None
    ) -> None:
        self.shape = shape  # the shape its session is sent in, when known
        self._config = _default_config()
        self._temperature_warned = False  # the GA payload warned that it drops temperature
        self._dropped_warned: set[str] = set()  # GA-only fields a beta payload warned of
        if config:
            self.update_config(config)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """A deep copy of the grouped configuration (each audio key in its owner group)."""
        return copy.deepcopy(self._config)

    def get(self, group: str, key: str, default: Any = None) -> Any:
        """The value of ``group.key``; an audio key is read from its owner group."""
        return self._config[AUDIO_KEY_OWNERS.get(key, group)].get(key, default)

    def audio(self, key: str, default: Any = None) -> Any:
        """The value of an audio key (``voice``, ``turn_detection``, ...)."""
        return self._config[AUDIO_KEY_OWNERS[key]].get(key, default)

    def update_config(self, updates: Mapping[str, Any]) -> None:
        """Merge grouped ``updates`` (``{"model": {...}, "hearing": {...}}``) deeply.

        A dict given for a dict value updates the keys it names and keeps the others; a
        ``turn_detection`` of another ``type`` replaces the old one whole. Lists and other
        values replace; ``None`` sets a value to null (``turn_detection: None`` means manual
        turns). An audio key goes to its owner group whichever group names it; when one
        update names it in both, the owner's value wins.

        Raises UsageError for an unknown group, key or invalid value; nothing changes then.
        """
        self._apply(updates, merge=True)

    def update_session(self, **fields: Any) -> None:
        """Set flat session fields (the reference client's names, and GA aliases).

        Each field given replaces its whole value (no merge), as in the reference client.
        Raises UsageError for an unknown field or invalid value; nothing changes then.
        """
        grouped: dict[str, dict[str, Any]] = {}
        for name, value in fields.items():
            if name not in FLAT_FIELDS:
                known = ", ".join(sorted(FLAT_FIELDS))
                raise UsageError(f"unknown session field {name!r}: expected one of {known}")
            group, key = FLAT_FIELDS[name]
            grouped.setdefault(group, {})[key] = value
        self._apply(grouped, merge=False)

    def _apply(self, updates: Mapping[str, Any], *, merge: bool) -> None:
        if not isinstance(updates, Mapping):
            raise UsageError(f"config updates must be a dict of groups, got {updates!r}")
        # (group stored in, key) -> (group named in, value); an owner's value wins over
        # the same key named in the other audio group
        placed: dict[tuple[str, str], tuple[str, Any]] = {}
        for group, values in updates.items():
            if group not in _GROUP_KEYS:
                known = ", ".join(sorted(_GROUP_KEYS))
                raise UsageError(f"unknown config group {group!r}: expected one of {known}")
            if not isinstance(values, Mapping):
                raise UsageError(f"config group {group!r} must be a dict, got {values!r}")
            for key, value in values.items():
                if key not in _GROUP_KEYS[group]:
                    raise UsageError(f"unknown key {key!r} in config group {group!r}")
                home = AUDIO_KEY_OWNERS.get(key, group)
                previous = placed.get((home, key))
                if previous is None or previous[0] != home:
                    placed[(home, key)] = (group, value)
        staged = copy.deepcopy(self._config)
        for (home, key), (group, value) in placed.items():
            current = staged[home].get(key)
            if merge:
                value = _merged(key, current, value)
            staged[home][key] = _checked(group, key, value)
        model = staged["model"]
        if self.shape == "beta" and is_mcp_choice(model.get("tool_choice")):
            raise UsageError(BETA_MCP_CHOICE)
        check_mcp_choice("model.tool_choice", model.get("tool_choice"), model.get("tools"))
        self._config = staged

    def turn_detection(self) -> dict[str, Any] | None:
        """The turn detection config, or ``None`` for manual turns."""
        value = self.audio("turn_detection")
        return dict(value) if isinstance(value, Mapping) else None

    def turn_detection_type(self) -> str | None:
        """``"server_vad"``, ``"semantic_vad"`` or ``None`` (manual turns)."""
        detection = self.turn_detection()
        return str(detection["type"]) if detection else None


def _merged(key: str, current: Any, update: Any) -> Any:
    """``update`` merged into ``current``: dicts key by key, anything else replaced."""
    if not isinstance(update, Mapping) or not isinstance(current, Mapping):
        return update
    if key == "tool_choice":
        return update  # a choice is whole: a forced tool's fields mean nothing to another
    if key == "turn_detection" and "type" in update and update["type"] != current.get("type"):
        return update  # the fields of one detection type mean nothing to the other
    merged = dict(current)
    for name, value in update.items():
        merged[name] = _merged(name, current.get(name), value)
    return merged


def _as_plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_as_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _as_plain(v) for k, v in value.items()}
    return value


def _instructions(config: SessionConfig) -> str:
    text = str(config.get("model", "instructions") or "")
    scripts = config.get("knowledge", "scripts") or []
    return merge_knowledge_instructions(text, {"scripts": scripts} if scripts else None)


_WIRE_TOOL_KEYS = ("type", "name", "description", "parameters")


def session_tools(
    config: SessionConfig, tools: Sequence[Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The wire definitions of the config's tools and ``tools`` (the later wins by name; an
    MCP server entry, whole, by its ``server_label``)."""
    merged: dict[str, dict[str, Any]] = {}
    for tool in [*(config.get("model", "tools") or []), *(tools or [])]:
        if is_mcp_tool(tool):
            merged[f"mcp:{tool.get('server_label')}"] = copy.deepcopy(dict(tool))
            continue
        merged[str(tool.get("name"))] = {k: v for k, v in tool.items() if k in _WIRE_TOOL_KEYS}
    return list(merged.values())


def _warn_dropped(config: SessionConfig, names: Sequence[str]) -> None:
    """Warn once per config of each GA-only field a beta session leaves out."""
    for name in sorted(set(names) - config._dropped_warned):
        config._dropped_warned.add(name)
        logger.warning("%s is not sent: beta sessions have no %s (GA ones do)", name, name)


def transcription_payload(config: SessionConfig) -> dict[str, Any]:
    """The GA ``session`` of a transcription session: the input audio's format,
    transcription, noise reduction and turn detection (which creates no responses), and
    ``include``. The model, voice, instructions and tools of the config are not sent."""
    audio_input: dict[str, Any] = {
        "format": audio_format_to_ga(config.audio("input_audio_format", "pcm16"))
    }
    for key, name in (
        ("input_audio_transcription", "transcription"),
        ("input_audio_noise_reduction", "noise_reduction"),
    ):
        value = config.audio(key, _UNSET)
        if value is not _UNSET:
            audio_input[name] = copy.deepcopy(value)
    detection = config.turn_detection()
    if detection is not None:
        detection.pop("interrupt_response", None)
        detection["create_response"] = False
    audio_input["turn_detection"] = detection
    session: dict[str, Any] = {"type": "transcription", "audio": {"input": audio_input}}
    include = config.get("model", "include")
    if include is not None:
        session["include"] = list(include)
    return session


# the keys the beta SDK's TranscriptionSessionUpdate takes in each object of its session
_BETA_TRANSCRIPTION_KEYS: dict[str, frozenset[str]] = {
    "input_audio_transcription": frozenset({"model", "language", "prompt"}),
    "input_audio_noise_reduction": frozenset({"type"}),
    "turn_detection": frozenset(
        {"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "eagerness"}
    ),
}
_NOT_FOR_TRANSCRIPTION = frozenset({"create_response", "interrupt_response"})


def beta_transcription_payload(config: SessionConfig) -> dict[str, Any]:
    """The beta ``session`` of a ``transcription_session.update``: the fields of
    :func:`transcription_payload` under their beta names (the session map), each object
    holding only the keys the beta type takes (the others, GA's only, are left out with a
    warning once per config; turn detection's ``create_response`` and
    ``interrupt_response``, which beta transcription sessions do not take, silently)."""
    ga = transcription_payload(config)
    session: dict[str, Any] = {}
    for name in ("input_audio_format", *_BETA_TRANSCRIPTION_KEYS):
        value = ga_get(ga, BETA_TO_GA[name], _UNSET)
        if value is _UNSET:
            continue
        if name == "input_audio_format":
            value = audio_format_name(value)
        elif isinstance(value, Mapping):
            keys = _BETA_TRANSCRIPTION_KEYS[name]
            dropped = set(value) - keys - _NOT_FOR_TRANSCRIPTION
            _warn_dropped(config, [f"{name}.{key}" for key in dropped])
            value = {key: given for key, given in value.items() if key in keys}
        session[name] = value
    if "include" in ga:
        session["include"] = ga["include"]
    return session


def session_payload(
    config: SessionConfig,
    shape: SessionShape = "ga",
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``session`` object of a ``session.update`` in ``shape``.

    ``"ga"`` is the current API (``type: "realtime"``, ``output_modalities``,
    ``audio.input`` / ``audio.output``, format objects), ``"beta"`` the flat shape with
    format names, ``"nested"`` the grouped config as held. Every value the config holds is
    sent, the reference client's defaults included; ``speed``, ``temperature``,
    ``max_response_output_tokens``, ``input_audio_transcription`` and
    ``input_audio_noise_reduction`` are left out until set (set to ``None``, the last two go
    as null). GA has no ``temperature``: it is left out, with a warning once per config.
    ``tracing`` and the GA-only fields (``truncation``, ``prompt``, ``include``,
    ``parallel_tool_calls``, ``reasoning``) are sent once set (``tracing`` and ``prompt`` set
    to ``None`` go as null); beta has ``tracing`` only, and leaves the others out with a
    warning once per config and field.
    Knowledge scripts travel inside the instructions for GA and beta (see
    :mod:`realtime_widget.core.knowledge`). ``tools`` are definitions of registered tools,
    merged with the config's own (a registered tool wins over a config tool of its name).
    """
    all_tools = session_tools(config, tools)
    if shape == "nested":
        nested = config.as_dict()
        nested["model"]["tools"] = all_tools
        return nested
    modalities = list(config.get("model", "modalities") or ["audio"])
    # set to None these mean "off" and are sent as null; unset, they are left out
    switches = {
        key: config.audio(key, _UNSET)
        for key in ("input_audio_transcription", "input_audio_noise_reduction", "turn_detection")
    }
    numbers = {
        "temperature": config.get("model", "temperature"),
        "max_response_output_tokens": config.get("model", "max_response_output_tokens"),
        "speed": config.audio("speed"),
    }
    flat: dict[str, Any] = {
        "instructions": _instructions(config),
        "voice": config.audio("voice"),
        "input_audio_format": config.audio("input_audio_format", "pcm16"),
        "output_audio_format": config.audio("output_audio_format", "pcm16"),
        "tools": all_tools,
        "tool_choice": config.get("model", "tool_choice"),
        **{k: v for k, v in switches.items() if v is not _UNSET},
        **{k: v for k, v in numbers.items() if v is not None},
    }
    tracing = config.get("model", "tracing", _UNSET)
    if tracing is not _UNSET:
        flat["tracing"] = tracing
    if shape == "beta":
        if is_mcp_choice(flat["tool_choice"]):
            raise UsageError(BETA_MCP_CHOICE)
        _warn_dropped(config, [name for name in GA_ONLY if config.get("model", name) is not None])
        return {"modalities": ["text", "audio"] if "audio" in modalities else ["text"], **flat}

    ga: dict[str, Any] = {
        "type": "realtime",
        "model": config.get("model", "name") or DEFAULT_MODEL,
        # GA takes one output modality: "audio" streams audio with its transcript
        "output_modalities": ga_modalities(modalities),
    }
    for name, value in flat.items():
        if name in BETA_ONLY or (value is None and name not in switches.keys() | GA_NULLABLE):
            continue
        if name.endswith("_audio_format"):
            value = audio_format_to_ga(value)
        ga_set(ga, BETA_TO_GA[name], value)
    for name in sorted(GA_ONLY):
        value = config.get("model", name, _UNSET)
        if value is not _UNSET and (value is not None or name in GA_NULLABLE):
            ga[name] = value
    if "temperature" in flat and not config._temperature_warned:
        config._temperature_warned = True
        logger.warning(
            "temperature %r is not sent: GA sessions have no temperature (beta ones do)",
            flat["temperature"],
        )
    return ga
