"""Parameter descriptions from Google, NumPy and Sphinx docstrings, for a tool's schema.

:func:`parse_docstring` returns the summary (every line before the first section header)
and each parameter's text; other sections are skipped, and ``Note: prose`` stays in the
summary.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

__all__ = ["parse_docstring"]

_SECTIONS = frozenset(
    {
        "args", "arguments", "parameters", "params", "keyword args", "keyword arguments",
        "other parameters", "attributes", "returns", "return", "yields", "yield", "raises",
        "examples", "example", "notes", "note", "see also", "warnings", "warning",
        "references", "todo", "methods",
    }
)  # fmt: skip
_PARAM_SECTIONS = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments",
     "other parameters", "attributes"}
)  # fmt: skip
_GOOGLE_HEADER = re.compile(r"\s*([A-Za-z][A-Za-z ]*?)\s*:\s*")
_NUMPY_RULE = re.compile(r"\s*-{3,}\s*")
_SPHINX_FIELD = re.compile(
    r"\s*:(param|parameter|arg|argument|key|keyword|type|returns?|rtype|raises?|except"
    r"|exception|var|ivar|cvar|vartype|yields?|meta)\b([^:]*):\s*(.*)"
)
_SPHINX_PARAM_FIELDS = frozenset({"param", "parameter", "arg", "argument", "key", "keyword"})
_GOOGLE_ENTRY = re.compile(r"\*{0,2}(\w+)\s*(?:\((?:[^()]|\([^()]*\))*\))?\s*:\s*(.*)")
_NUMPY_ENTRY = re.compile(r"(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into its summary and its parameter descriptions.

    The summary is the text before the first section. Parameters are read from Google
    (``Args:``, ``Arguments:``, ``Attributes:`` ...: ``name (type): text`` or ``name: text``
    with indented continuation lines), NumPy (``Parameters`` over a ``----`` rule) and Sphinx
    (``:param name: text``) sections. Returns ``(summary, {name: description})``.
    """
    lines = inspect.cleandoc(doc).splitlines() if doc else []
    summary: list[str] = []
    found: dict[str, list[str]] = {}
    in_sections = False
    i = 0
    while i < len(lines):
        kind = _section_kind(lines, i)
        if kind is None:
            if not in_sections:
                summary.append(lines[i])
            i += 1
        else:
            in_sections = True
            i = _SECTION_PARSERS[kind](lines, i, found)
    params = {name: " ".join(parts).strip() for name, parts in found.items()}
    return "\n".join(summary).strip(), {name: text for name, text in params.items() if text}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _section_kind(lines: list[str], i: int) -> str | None:
    line = lines[i]
    if _SPHINX_FIELD.fullmatch(line):
        return "sphinx"
    is_rule = i + 1 < len(lines) and _NUMPY_RULE.fullmatch(lines[i + 1])
    if is_rule and line.strip().lower() in _SECTIONS:
        return "numpy"
    header = _GOOGLE_HEADER.fullmatch(line)
    if header and header.group(1).lower() in _SECTIONS:
        return "google"
    return None


def _parse_google(lines: list[str], i: int, found: dict[str, list[str]]) -> int:
    header = lines[i]
    base = _indent(header)
    is_params = header.strip()[:-1].strip().lower() in _PARAM_SECTIONS
    entry_indent: int | None = None
    current: list[str] | None = None
    i += 1
    while i < len(lines):
        line = lines[i]
        if line.strip():
            indent = _indent(line)
            if indent <= base:
                break
            if entry_indent is None:
                entry_indent = indent
            if indent <= entry_indent:
                match = _GOOGLE_ENTRY.fullmatch(line.strip())
                current = None
                if match and is_params:
                    current = found[match.group(1)] = [match.group(2)]
            elif current is not None:
                current.append(line.strip())
        i += 1
    return i


def _parse_numpy(lines: list[str], i: int, found: dict[str, list[str]]) -> int:
    base = _indent(lines[i])
    is_params = lines[i].strip().lower() in _PARAM_SECTIONS
    current: list[list[str]] = []
    i += 2
    while i < len(lines) and _section_kind(lines, i) is None:
        line = lines[i]
        if line.strip():
            if _indent(line) <= base:
                match = _NUMPY_ENTRY.fullmatch(line.strip())
                current = []
                if match and is_params:
                    for name in match.group(1).split(","):
                        current.append(found.setdefault(name.strip().lstrip("*"), []))
            else:
                for parts in current:
                    parts.append(line.strip())
        i += 1
    return i


def _parse_sphinx(lines: list[str], i: int, found: dict[str, list[str]]) -> int:
    line = lines[i]
    match = _SPHINX_FIELD.fullmatch(line)
    assert match is not None
    field_name, argument, text = match.groups()
    parts = [text]
    i += 1
    while (
        i < len(lines)
        and lines[i].strip()
        and _indent(lines[i]) > _indent(line)
        and _section_kind(lines, i) is None
    ):
        parts.append(lines[i].strip())
        i += 1
    words = argument.split()
    if field_name in _SPHINX_PARAM_FIELDS and words:
        found[words[-1].lstrip("*")] = parts
    return i


_SECTION_PARSERS: dict[str, Callable[[list[str], int, dict[str, list[str]]], int]] = {
    "google": _parse_google,
    "numpy": _parse_numpy,
    "sphinx": _parse_sphinx,
}
