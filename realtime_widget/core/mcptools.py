"""MCP tools: the ``{"type": "mcp", ...}`` entries of a session's tools, and their rules.

:func:`mcp_tool_problem` checks one entry field by field, as the GA session's tool type
declares it (``server_label``; one of ``server_url``, ``connector_id`` or ``tunnel_id``;
``allowed_tools``, ``allowed_callers``, ``require_approval``, ``headers``,
``authorization``, ``server_description``, ``defer_loading``); :func:`check_mcp_tool`
raises it as a :class:`UsageError`. :func:`tool_allowed` and :func:`needs_approval` apply
``allowed_tools`` and ``require_approval`` to one tool of the server (left out,
``require_approval`` means ``"always"``). :func:`mcp_secrets` gives the credentials an
entry carries (header values, ``authorization``). :func:`mcp_choice_problem` checks a
``tool_choice`` that forces an MCP server's tool (``{"type": "mcp", "server_label", "name"}``,
the SDK's ``ToolChoiceMcp``) and :func:`mcp_labels` gives the servers a list of tools
declares, which such a choice must name. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from realtime_widget.core.checks import is_tool_name
from realtime_widget.core.errors import UsageError

__all__ = [
    "CONNECTORS",
    "MCP_CHOICE_KEYS",
    "MCP_TOOL_KEYS",
    "McpProblem",
    "check_mcp_tool",
    "is_mcp_choice",
    "is_mcp_tool",
    "mcp_choice_problem",
    "mcp_labels",
    "mcp_secrets",
    "mcp_tool_problem",
    "needs_approval",
    "tool_allowed",
]

MCP_TOOL_KEYS: Final = frozenset(
    {
        "type",
        "server_label",
        "server_url",
        "connector_id",
        "tunnel_id",
        "allowed_tools",
        "allowed_callers",
        "authorization",
        "defer_loading",
        "headers",
        "require_approval",
        "server_description",
    }
)
CONNECTORS: Final = frozenset(
    {
        "connector_dropbox",
        "connector_gmail",
        "connector_googlecalendar",
        "connector_googledrive",
        "connector_microsoftteams",
        "connector_outlookcalendar",
        "connector_outlookemail",
        "connector_sharepoint",
    }
)
_CALLERS: Final = ("direct", "programmatic")
_FILTER_KEYS: Final = frozenset({"read_only", "tool_names"})


@dataclass(frozen=True)
class McpProblem:
    """What is wrong with an entry: the field (``""`` the entry itself, else a dotted path
    below it), what it must be, and the value given."""

    field: str
    expected: str
    value: Any

    def message(self, where: str) -> str:
        path = f"{where}.{self.field}" if self.field else where
        return f"{path} must be {self.expected}, got {self.value!r}"


def is_mcp_tool(value: Any) -> bool:
    """Whether ``value`` is a tool entry of type ``mcp``."""
    return isinstance(value, Mapping) and value.get("type") == "mcp"


def _string_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _filter_problem(value: Any, field: str) -> McpProblem | None:
    if not isinstance(value, Mapping):
        return McpProblem(field, "a dict with 'tool_names' and/or 'read_only'", value)
    for key in value:
        if key not in _FILTER_KEYS:
            return McpProblem(f"{field}.{key}", "absent (a filter has tool_names, read_only)", key)
    if "read_only" in value and not isinstance(value["read_only"], bool):
        return McpProblem(f"{field}.read_only", "true or false", value["read_only"])
    if "tool_names" in value and not _string_list(value["tool_names"]):
        return McpProblem(f"{field}.tool_names", "a list of tool names", value["tool_names"])
    return None


def _approval_problem(value: Any) -> McpProblem | None:
    if value is None or value in ("always", "never"):
        return None
    if not isinstance(value, Mapping):
        return McpProblem(
            "require_approval", "'always', 'never' or a dict with 'always'/'never' filters", value
        )
    for key, entry in value.items():
        if key not in ("always", "never"):
            return McpProblem(f"require_approval.{key}", "absent (expected always, never)", key)
        problem = _filter_problem(entry, f"require_approval.{key}")
        if problem is not None:
            return problem
    return None


def mcp_tool_problem(value: Any) -> McpProblem | None:
    """The first thing wrong with the MCP tool entry ``value``, or ``None``."""
    if not isinstance(value, Mapping):
        return McpProblem("", "a dict", value)
    for key in value:
        if key not in MCP_TOOL_KEYS:
            known = ", ".join(sorted(MCP_TOOL_KEYS))
            return McpProblem(str(key), f"absent (an mcp tool has {known})", value[key])
    if value.get("type") != "mcp":
        return McpProblem("type", "'mcp'", value.get("type"))
    label = value.get("server_label")
    if not isinstance(label, str) or not is_tool_name(label):
        return McpProblem("server_label", "a label of letters, digits, _ or - (1-64)", label)
    places = [key for key in ("server_url", "connector_id", "tunnel_id") if key in value]
    if len(places) != 1:
        return McpProblem(
            "server_url", "given (or connector_id, or tunnel_id: exactly one)", places
        )
    url = value.get("server_url")
    if "server_url" in value and not (
        isinstance(url, str) and url.startswith(("http://", "https://"))
    ):
        return McpProblem("server_url", "an http:// or https:// URL", url)
    if "connector_id" in value and value["connector_id"] not in CONNECTORS:
        return McpProblem(
            "connector_id", f"one of {', '.join(sorted(CONNECTORS))}", value["connector_id"]
        )
    for key in ("tunnel_id", "authorization", "server_description"):
        if key in value and not isinstance(value[key], str):
            return McpProblem(key, "a string", value[key])
    if "defer_loading" in value and not isinstance(value["defer_loading"], bool):
        return McpProblem("defer_loading", "true or false", value["defer_loading"])
    headers = value.get("headers")
    if headers is not None and not (
        isinstance(headers, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        return McpProblem("headers", "a dict of header names to string values", headers)
    callers = value.get("allowed_callers")
    if callers is not None and not (
        isinstance(callers, list | tuple) and all(c in _CALLERS for c in callers)
    ):
        return McpProblem("allowed_callers", "a list of 'direct' and 'programmatic'", callers)
    allowed = value.get("allowed_tools")
    if allowed is not None and not _string_list(allowed):
        problem = _filter_problem(allowed, "allowed_tools")
        if problem is not None:
            return McpProblem(problem.field, "a list of tool names or a filter", allowed)
    return _approval_problem(value.get("require_approval"))


def check_mcp_tool(value: Any, where: str = "tool") -> dict[str, Any]:
    """A plain copy of the MCP tool entry ``value``; UsageError naming the bad field."""
    problem = mcp_tool_problem(value)
    if problem is not None:
        raise UsageError(problem.message(where))
    checked: dict[str, Any] = _plain(copy.deepcopy(dict(value)))
    return checked


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _matches(tool_filter: Mapping[str, Any], name: str, read_only: bool | None) -> bool:
    """Whether a tool matches a filter: every criterion it gives holds."""
    if not tool_filter:
        return False
    if "tool_names" in tool_filter and name not in tool_filter["tool_names"]:
        return False
    return not ("read_only" in tool_filter and tool_filter["read_only"] != bool(read_only))


def tool_allowed(entry: Mapping[str, Any], name: str, read_only: bool | None = None) -> bool:
    """Whether the entry's ``allowed_tools`` lets the model use tool ``name``."""
    allowed = entry.get("allowed_tools")
    if allowed is None:
        return True
    if isinstance(allowed, Mapping):
        return _matches(allowed, name, read_only)
    return name in allowed


def needs_approval(entry: Mapping[str, Any], name: str, read_only: bool | None = None) -> bool:
    """Whether a call of tool ``name`` waits for an approval (``require_approval``; a tool
    no filter names needs one)."""
    rule = entry.get("require_approval")
    if rule is None or rule == "always":
        return True
    if rule == "never":
        return False
    if _matches(rule.get("always") or {}, name, read_only):
        return True
    return not _matches(rule.get("never") or {}, name, read_only)


def mcp_secrets(entry: Mapping[str, Any]) -> list[str]:
    """The credentials ``entry`` carries: its header values and its ``authorization``."""
    found = [str(v) for v in (entry.get("headers") or {}).values()]
    if isinstance(entry.get("authorization"), str):
        found.append(entry["authorization"])
    return found


MCP_CHOICE_KEYS: Final = frozenset({"type", "server_label", "name"})


def is_mcp_choice(value: Any) -> bool:
    """Whether ``value`` is a tool choice forcing an MCP server's tool (``type: "mcp"``)."""
    return isinstance(value, Mapping) and value.get("type") == "mcp"


def mcp_choice_problem(value: Mapping[str, Any]) -> McpProblem | None:
    """What is wrong with an MCP tool choice, as the SDK's ``ToolChoiceMcp`` states it:
    ``server_label`` a string, ``name`` a string or null, no other key."""
    for key in value:
        if key not in MCP_CHOICE_KEYS:
            return McpProblem(key, "absent (known: name, server_label, type)", value[key])
    if not isinstance(value.get("server_label"), str):
        return McpProblem("server_label", "a string", value.get("server_label"))
    if value.get("name") is not None and not isinstance(value["name"], str):
        return McpProblem("name", "a string or None", value["name"])
    return None


def mcp_labels(tools: Any) -> list[str]:
    """The ``server_label`` of each MCP server among ``tools`` (any other value: none)."""
    if not isinstance(tools, list | tuple):
        return []
    return [str(t.get("server_label")) for t in tools if is_mcp_tool(t)]
