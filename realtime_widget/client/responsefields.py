"""The parameters of one response, checked: the ``response`` of a ``response.create``.

:func:`response_fields` takes the GA fields of the SDK's ``RealtimeResponseCreateParams``
(``audio``, ``conversation``, ``input``, ``instructions``, ``max_output_tokens``,
``metadata``, ``output_modalities``, ``parallel_tool_calls``, ``prompt``, ``reasoning``,
``tool_choice``, ``tools``) and returns them as the wire takes them in the client's dialect;
a field it does not know, or a value of the wrong type or range, is a :class:`UsageError`
naming the field. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from realtime_widget.core.checks import need_int
from realtime_widget.core.errors import AudioFormatError, UsageError
from realtime_widget.core.mcptools import is_mcp_choice, mcp_choice_problem
from realtime_widget.core.protocol import Dialect
from realtime_widget.core.session import BETA_MCP_CHOICE, check_mcp_choice
from realtime_widget.core.sessionmap import audio_format_name, audio_format_to_ga
from realtime_widget.tools.schema import wire_definition

__all__ = ["RESPONSE_FIELDS", "response_fields"]

_ITEM_TYPES: Final = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "mcp_approval_response",
        "mcp_approval_request",
        "mcp_list_tools",
        "mcp_call",
        "item_reference",
    }
)
_EFFORTS: Final = ("minimal", "low", "medium", "high", "xhigh")
_BETA_LACKS: Final = frozenset({"prompt", "parallel_tool_calls", "reasoning"})


def _fail(field: str, value: Any, expected: str) -> UsageError:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return UsageError(f"response {field} must be {expected}, got {shown}")


def _string(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(field, value, "a string")
    return value


def _object(field: str, value: Any, keys: frozenset[str] | set[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(field, value, "a dict")
    for key in value:
        if key not in keys:
            raise UsageError(f"response {field} has no field {key!r} (known: {sorted(keys)})")
    return dict(value)


def _conversation(value: Any) -> str:
    if value not in ("auto", "none"):
        raise _fail("conversation", value, "'auto' or 'none'")
    return str(value)


def _input(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise _fail("input", value, "a list of items")
    items = []
    for index, item in enumerate(value):
        field = f"input[{index}]"
        if not isinstance(item, Mapping):
            raise _fail(field, item, "an item dict")
        kind = item.get("type")
        if kind not in _ITEM_TYPES:
            raise _fail(f"{field}.type", kind, f"one of {sorted(_ITEM_TYPES)}")
        if kind == "item_reference":
            _object(field, item, {"type", "id"})
            _string(f"{field}.id", item.get("id"))
        items.append(dict(item))
    return items


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _fail("metadata", value, "a dict of strings")
    if len(value) > 16:
        raise _fail("metadata", f"{len(value)} keys", "at most 16 keys")
    for key, text in value.items():
        if not isinstance(key, str) or len(key) > 64:
            raise _fail("metadata key", key, "a string of at most 64 characters")
        if not isinstance(text, str) or len(text) > 512:
            raise _fail(f"metadata[{key!r}]", text, "a string of at most 512 characters")
    return dict(value)


def _modalities(value: Any) -> list[str]:
    if value not in (["text"], ["audio"], ("text",), ("audio",)):
        raise _fail("output_modalities", value, "['text'] or ['audio']")
    return list(value)


def _voice(field: str, value: Any) -> str | dict[str, str]:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and set(value) == {"id"} and isinstance(value["id"], str):
        return {"id": value["id"]}
    raise _fail(field, value, "a voice name or {'id': custom voice id}")


def _audio(value: Any) -> dict[str, Any]:
    audio = _object("audio", value, {"output"})
    output = _object("audio.output", audio.get("output", {}), {"format", "voice"})
    checked: dict[str, Any] = {}
    if "format" in output:
        try:
            checked["format"] = audio_format_to_ga(output["format"])
        except AudioFormatError as exc:
            raise _fail("audio.output.format", output["format"], str(exc)) from None
    if "voice" in output:
        checked["voice"] = _voice("audio.output.voice", output["voice"])
    return {"output": checked}


def _tools(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise _fail("tools", value, "a list of tool definitions")
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(value):
        if isinstance(tool, Mapping) and tool.get("type") == "mcp":
            label = tool.get("server_label")
            if not isinstance(label, str) or not label:
                raise _fail(f"tools[{index}].server_label", label, "a non-empty string")
            tools.append(dict(tool))
            continue
        try:
            tools.append(dict(wire_definition(tool)))
        except UsageError as exc:
            raise UsageError(f"response tools[{index}]: {exc}") from None
    return tools


def _tool_choice(value: Any) -> str | dict[str, Any]:
    if value in ("auto", "none", "required"):
        return str(value)
    if isinstance(value, Mapping) and value.get("type") == "function":
        choice = _object("tool_choice", value, {"type", "name"})
        _string("tool_choice.name", choice.get("name"))
        return choice
    if is_mcp_choice(value):
        problem = mcp_choice_problem(value)
        if problem is not None:
            raise UsageError(f"response {problem.message('tool_choice')}")
        return {k: v for k, v in value.items() if v is not None}
    raise _fail(
        "tool_choice",
        value,
        "'auto', 'none', 'required', {'type': 'function', 'name': ...} "
        "or {'type': 'mcp', 'server_label': ...}",
    )


def _max_output_tokens(value: Any) -> int | str:
    if value == "inf":
        return "inf"
    expected = "an int from 1 to 4096 or 'inf'"
    return need_int("response max_output_tokens", value, expected, low=1, high=4096)


def _prompt(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    prompt = _object("prompt", value, {"id", "variables", "version"})
    _string("prompt.id", prompt.get("id"))
    if prompt.get("variables") is not None and not isinstance(prompt["variables"], Mapping):
        raise _fail("prompt.variables", prompt["variables"], "a dict")
    if prompt.get("version") is not None:
        _string("prompt.version", prompt["version"])
    return prompt


def _parallel_tool_calls(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail("parallel_tool_calls", value, "True or False")
    return value


def _reasoning(value: Any) -> dict[str, str]:
    reasoning = _object("reasoning", value, {"effort"})
    if "effort" in reasoning and reasoning["effort"] not in _EFFORTS:
        raise _fail("reasoning.effort", reasoning["effort"], f"one of {list(_EFFORTS)}")
    return reasoning


RESPONSE_FIELDS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "audio": _audio,
    "conversation": _conversation,
    "input": _input,
    "instructions": lambda value: _string("instructions", value),
    "max_output_tokens": _max_output_tokens,
    "metadata": _metadata,
    "output_modalities": _modalities,
    "parallel_tool_calls": _parallel_tool_calls,
    "prompt": _prompt,
    "reasoning": _reasoning,
    "tool_choice": _tool_choice,
    "tools": _tools,
}
"""Each GA field of ``response.create``'s ``response`` and its check."""


def response_fields(
    fields: Mapping[str, Any],
    dialect: Dialect = "ga",
    session_tools: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The checked ``response`` of a ``response.create`` in ``dialect``.

    ``fields`` are GA fields (see the module docstring); in beta they are sent with beta
    names (``modalities``, ``voice``, ``output_audio_format``,
    ``max_response_output_tokens``), and the GA-only ones raise, an MCP ``tool_choice``
    too. An MCP ``tool_choice`` (``{"type": "mcp", "server_label", "name"}``) must name an
    MCP server of the response's ``tools`` or of ``session_tools`` (the session's). Raises
    :class:`UsageError` naming the first bad field.
    """
    checked: dict[str, Any] = {}
    for name, value in fields.items():
        check = RESPONSE_FIELDS.get(name)
        if check is None:
            raise UsageError(f"unknown response field {name!r} (known: {sorted(RESPONSE_FIELDS)})")
        checked[name] = check(value)
    if dialect != "ga" and is_mcp_choice(checked.get("tool_choice")):
        raise UsageError(f"response {BETA_MCP_CHOICE}")
    tools = (checked.get("tools", ()), list(session_tools))
    check_mcp_choice("response tool_choice", checked.get("tool_choice"), *tools)
    return checked if dialect == "ga" else _beta(checked)


def _beta(fields: dict[str, Any]) -> dict[str, Any]:
    beta: dict[str, Any] = {}
    for name, value in fields.items():
        if name in _BETA_LACKS:
            raise UsageError(f"response {name} is not in the beta dialect: use dialect='ga'")
        if name == "output_modalities":
            beta["modalities"] = ["audio", "text"] if value == ["audio"] else ["text"]
        elif name == "max_output_tokens":
            beta["max_response_output_tokens"] = value
        elif name == "audio":
            output = value["output"]
            if "voice" in output:
                if not isinstance(output["voice"], str):
                    raise _fail("audio.output.voice", output["voice"], "a voice name in beta")
                beta["voice"] = output["voice"]
            if "format" in output:
                beta["output_audio_format"] = audio_format_name(output["format"])
        else:
            beta[name] = value
    return beta
