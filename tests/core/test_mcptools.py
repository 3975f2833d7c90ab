"""The MCP tool entries of a session: checked field by field, and their rules."""

from __future__ import annotations

import re
from typing import Any

import pytest

from realtime_widget.core.errors import UsageError
from realtime_widget.core.mcptools import (
    check_mcp_tool,
    mcp_secrets,
    mcp_tool_problem,
    needs_approval,
    tool_allowed,
)
from realtime_widget.core.session import SessionConfig, session_payload

FULL = {
    "type": "mcp",
    "server_label": "docs",
    "server_url": "https://example.test/mcp",
    "allowed_tools": {"tool_names": ["search"], "read_only": True},
    "allowed_callers": ["direct"],
    "require_approval": {"always": {"tool_names": ["add"]}, "never": {"read_only": True}},
    "headers": {"X-Api-Key": "key-1234"},
    "authorization": "token-5678",
    "server_description": "the docs",
    "defer_loading": False,
}


def test_every_field_of_the_sdk_type_is_kept_and_sent() -> None:
    config = SessionConfig({"model": {"tools": [FULL]}})
    assert session_payload(config)["tools"] == [FULL]
    assert check_mcp_tool(FULL) == FULL
    assert check_mcp_tool({**FULL, "allowed_tools": ("a", "b")})["allowed_tools"] == ["a", "b"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"server_label": "no spaces"}, "tool.server_label must be a label"),
        ({"server_url": "ftp://x"}, "tool.server_url must be an http:// or https:// URL"),
        ({"connector_id": "connector_gmail"}, "tool.server_url must be given"),
        ({"headers": {"X": 1}}, "tool.headers must be a dict of header names"),
        ({"authorization": 5}, "tool.authorization must be a string"),
        ({"allowed_callers": ["anyone"]}, "tool.allowed_callers must be a list"),
        ({"allowed_tools": "search"}, "tool.allowed_tools must be a list of tool names"),
        ({"require_approval": "sometimes"}, "tool.require_approval must be 'always'"),
        ({"require_approval": {"never": {"names": []}}}, "tool.require_approval.never.names"),
        ({"require_approval": {"never": {"read_only": 1}}}, "read_only must be true or false"),
        ({"defer_loading": "no"}, "tool.defer_loading must be true or false"),
        ({"strict": True}, "tool.strict must be absent"),
    ],
)
def test_a_bad_field_is_a_usage_error_naming_it(change: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        check_mcp_tool({**FULL, **change})
    config = SessionConfig()
    with pytest.raises(UsageError, match=re.escape(message.replace("tool.", ""))):
        config.update_config({"model": {"tools": [{**FULL, **change}]}})
    assert config.get("model", "tools") == []


def test_a_connector_or_a_tunnel_stands_for_the_url() -> None:
    entry = {"type": "mcp", "server_label": "mail", "connector_id": "connector_gmail"}
    assert mcp_tool_problem(entry) is None
    assert mcp_tool_problem({**entry, "connector_id": "connector_fax"}) is not None
    tunnel = {"type": "mcp", "server_label": "t", "tunnel_id": "tun_1"}
    assert mcp_tool_problem(tunnel) is None


def test_approval_rules() -> None:
    assert needs_approval({}, "x")  # left out: always
    assert not needs_approval({"require_approval": "never"}, "x")
    rule = FULL
    assert needs_approval(rule, "add", read_only=True)  # always wins
    assert not needs_approval(rule, "search", read_only=True)
    assert needs_approval(rule, "search", read_only=False)  # named by no filter


def test_allowed_tools() -> None:
    assert tool_allowed({}, "anything")
    assert tool_allowed({"allowed_tools": ["a"]}, "a")
    assert not tool_allowed({"allowed_tools": ["a"]}, "b")
    assert tool_allowed(FULL, "search", read_only=True)
    assert not tool_allowed(FULL, "search", read_only=False)


def test_the_secrets_of_an_entry() -> None:
    assert mcp_secrets(FULL) == ["key-1234", "token-5678"]
    assert mcp_secrets({"type": "mcp"}) == []
