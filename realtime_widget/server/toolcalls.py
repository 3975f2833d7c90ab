"""How the deterministic model decides to call tools, and with which arguments.

The rule, applied to the user's text:

1. A tool is *mentioned* when its name appears as whole words (not joined to others by
   ``-``), case-insensitively, with ``_`` or ``-`` in the name matching a space, ``_`` or
   ``-`` (``get_weather``, ``get weather``, ``Get-Weather``). Every mentioned tool is
   called once, in the order of first mention; two mentioned tools give two calls in one
   response.
2. A tool's arguments come from its *segment*: the text after its mention, up to the next
   mention of another tool. From the segment, the first rule that yields something wins:
   a. a JSON object written in the text (``{"city": "Paris"}``);
   b. ``key=value`` or ``key: value`` pairs whose key is a parameter of the tool (a value may
      be quoted);
   c. numbers (spoken ones too: "two plus three" reads ``2 + 3``, see
      :func:`~realtime_widget.server.numbers.digits`), given in order to the tool's
      number/integer parameters (required ones first);
   d. when the tool has exactly one string parameter (or one required string parameter),
      the rest of the segment, without leading filler words ("for", "with", "about", ...)
      and trailing punctuation.
   When the segment yields nothing and the tool has parameters, the segment of the last
   mentioned tool is used (so "use add and multiply with 2 and 3" gives both the numbers).
3. Values are coerced to the types of the schema (integer, number, boolean, string, and
   JSON for arrays and objects); a value that does not fit is kept as a string.

Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from realtime_widget.server.numbers import digits

__all__ = ["ToolCall", "extract_arguments", "find_tool_calls"]

_FILLERS = frozenset(
    {"for", "with", "about", "on", "of", "to", "in", "at", "the", "a", "an", "and"}
    | {"please", "using", "by", "from", "is", "are", "me", "my", "as"}
)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_PAIR = re.compile(r"""([A-Za-z_]\w*)\s*[=:]\s*("[^"]*"|'[^']*'|[^\s,;]+)""")


@dataclass(frozen=True)
class ToolCall:
    """A call the model decided to make: the tool's name and the JSON arguments."""

    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


def _name_pattern(name: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in re.split(r"[_\-\s]+", name) if w]
    return re.compile(r"(?<![\w-])" + r"[\s_\-]+".join(words) + r"(?![\w-])", re.IGNORECASE)


def _properties(tool: dict[str, Any]) -> dict[str, dict[str, Any]]:
    props = (tool.get("parameters") or {}).get("properties") or {}
    return {k: v if isinstance(v, dict) else {} for k, v in props.items()}


def _required(tool: dict[str, Any]) -> list[str]:
    required = (tool.get("parameters") or {}).get("required") or []
    return [r for r in required if isinstance(r, str)]


def _coerce(value: Any, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    text = value if isinstance(value, str) else None
    try:
        if kind == "integer" and text is not None:
            number = float(text)
            return int(number) if number.is_integer() else number
        if kind == "number" and text is not None:
            number = float(text)
            return int(number) if number.is_integer() else number
        if kind == "boolean" and text is not None:
            lowered = text.lower()
            if lowered in ("true", "yes", "on", "1"):
                return True
            if lowered in ("false", "no", "off", "0"):
                return False
        if kind in ("array", "object") and text is not None:
            return json.loads(text)
        if kind == "string" and not isinstance(value, str):
            return value if value is None else str(value)
    except ValueError:
        return value
    return value


def _json_object(segment: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    for start in (i for i, c in enumerate(segment) if c == "{"):
        try:
            value, _ = decoder.raw_decode(segment, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value.rstrip(".!?")


def extract_arguments(tool: dict[str, Any], segment: str) -> dict[str, Any]:
    """The arguments for ``tool`` found in ``segment`` (rule 2 of the module), maybe ``{}``."""
    props = _properties(tool)
    required = _required(tool)
    found = _json_object(segment)
    if found is not None:
        return {k: _coerce(v, props.get(k, {})) for k, v in found.items()}
    pairs = {
        key: _unquote(value)
        for key, value in _PAIR.findall(segment)
        if key in props or (not props and key)
    }
    if pairs:
        return {k: _coerce(v, props.get(k, {})) for k, v in pairs.items()}
    segment = digits(segment)
    numeric = [k for k, v in props.items() if v.get("type") in ("integer", "number")]
    numbers = _NUMBER.findall(segment)
    if numeric and numbers:
        ordered = [k for k in required if k in numeric] + [k for k in numeric if k not in required]
        return {k: _coerce(n, props[k]) for k, n in zip(ordered, numbers, strict=False)}
    strings = [k for k, v in props.items() if v.get("type", "string") == "string"]
    required_strings = [k for k in required if k in strings]
    target = strings[0] if len(strings) == 1 else None
    if target is None and len(required_strings) == 1:
        target = required_strings[0]
    if target is not None:
        words = segment.split()
        while words and words[0].lower().strip(",:;") in _FILLERS | {""}:
            words.pop(0)
        rest = " ".join(words).strip().rstrip(".!?,;:").strip("\"'")
        if rest:
            return {target: rest}
    return {}


def find_tool_calls(tools: list[dict[str, Any]], text: str) -> list[ToolCall]:
    """The calls for the tools mentioned in ``text`` (rule 1), in order of first mention."""
    mentions: list[tuple[int, int, dict[str, Any]]] = []
    for tool in tools:
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            continue
        hit = _name_pattern(name).search(text)
        if hit:
            mentions.append((hit.start(), hit.end(), tool))
    mentions.sort(key=lambda m: m[0])
    segments: list[str] = []
    for index, (_, end, _tool) in enumerate(mentions):
        stop = mentions[index + 1][0] if index + 1 < len(mentions) else len(text)
        segments.append(text[end:stop])
    calls: list[ToolCall] = []
    for (_, _, tool), segment in zip(mentions, segments, strict=True):
        arguments = extract_arguments(tool, segment)
        if not arguments and _properties(tool):
            arguments = extract_arguments(tool, segments[-1])
        calls.append(ToolCall(str(tool["name"]), arguments))
    return calls
