"""A tool choice forcing an MCP server's tool: the client's checks and what it sends."""

from __future__ import annotations

import json
from typing import Any

import pytest

from realtime_widget.client.client import RealtimeClient
from realtime_widget.client.responsefields import response_fields
from realtime_widget.core.errors import UsageError

URL = "https://example.test/mcp"
DOCS = {"type": "mcp", "server_label": "docs", "name": "search"}


def client(**options: Any) -> RealtimeClient:
    return RealtimeClient(url="ws://127.0.0.1:9/v1/realtime", **options)


def judged(event: dict[str, Any]) -> None:
    """The SDK's GA client event types take ``event``, with no undeclared field."""
    judge = pytest.importorskip("sdk_judge")
    assert judge.judge_frame("client", "ga", json.dumps(event)) == []


def test_a_session_forces_a_tool_of_one_of_its_mcp_servers() -> None:
    rt = client()
    rt.add_mcp_server("docs", URL, require_approval="never")
    rt.update_session(tool_choice=DOCS)
    session = rt.get_session_payload()["session"]
    assert session["tool_choice"] == DOCS
    judged({"type": "session.update", "session": session})
    rt.update_config({"model": {"tool_choice": {"type": "mcp", "server_label": "docs"}}})
    assert rt.get_session_payload()["session"]["tool_choice"] == {
        "type": "mcp",
        "server_label": "docs",
    }
    both = client(
        config={
            "model": {
                "tools": [{"type": "mcp", "server_label": "kb", "server_url": URL}],
                "tool_choice": {"type": "mcp", "server_label": "kb", "name": None},
            }
        }
    )
    assert both.get_session_payload()["session"]["tool_choice"] == {
        "type": "mcp",
        "server_label": "kb",
    }


@pytest.mark.parametrize(
    ("choice", "named"),
    [
        ({"type": "mcp", "server_label": "nope"}, "MCP server 'nope'"),
        ({"type": "mcp"}, r"tool_choice.server_label must be a string, got None"),
        ({"type": "mcp", "server_label": "docs", "name": 5}, r"tool_choice.name must be"),
        ({"type": "mcp", "server_label": "docs", "tool": "x"}, r"tool_choice.tool must be absent"),
        ({"type": "web"}, r"tool_choice.type must be 'function' or 'mcp', got 'web'"),
    ],
)
def test_a_bad_mcp_choice_is_refused_naming_it_and_changes_nothing(
    choice: dict[str, Any], named: str
) -> None:
    rt = client()
    rt.add_mcp_server("docs", URL)
    with pytest.raises(UsageError, match=named):
        rt.update_session(tool_choice=choice)
    assert rt.get_session_payload()["session"]["tool_choice"] == "auto"


def test_the_mcp_server_a_choice_names_cannot_be_removed_under_it() -> None:
    rt = client()
    rt.add_mcp_server("docs", URL)
    rt.update_session(tool_choice=DOCS)
    with pytest.raises(UsageError, match="MCP server 'docs'"):
        rt.remove_mcp_server("docs")
    assert [t["server_label"] for t in rt.get_tools()] == ["docs"]
    rt.update_session(tool_choice="auto")
    rt.remove_mcp_server("docs")


def test_a_response_forces_a_tool_of_the_sessions_or_its_own_mcp_servers() -> None:
    session_tools = [{"type": "mcp", "server_label": "docs", "server_url": URL}]
    checked = response_fields({"tool_choice": DOCS}, "ga", session_tools)
    assert checked == {"tool_choice": DOCS}
    judged({"type": "response.create", "response": checked})
    own = {"type": "mcp", "server_label": "kb", "server_url": URL}
    checked = response_fields(
        {"tools": [own], "tool_choice": {"type": "mcp", "server_label": "kb"}}
    )
    judged({"type": "response.create", "response": checked})
    with pytest.raises(UsageError, match="response tool_choice names MCP server 'kb'"):
        response_fields({"tool_choice": {"type": "mcp", "server_label": "kb"}}, "ga", session_tools)
    with pytest.raises(UsageError, match=r"response tool_choice.name must be a string"):
        response_fields({"tool_choice": {"type": "mcp", "server_label": "docs", "name": 1}})


def test_create_response_checks_the_choice_against_the_session() -> None:
    rt = client()
    rt.add_mcp_server("docs", URL)
    with pytest.raises(UsageError, match="MCP server 'other'"):
        rt.create_response(tool_choice={"type": "mcp", "server_label": "other"})


def test_beta_has_no_mcp_tool_choice() -> None:
    with pytest.raises(UsageError, match="not in the beta dialect"):
        response_fields({"tool_choice": DOCS}, "beta", [{"type": "mcp", "server_label": "docs"}])
    entry = {"type": "mcp", "server_label": "docs", "server_url": URL}
    with pytest.raises(UsageError, match="dialect='ga'"):
        client(dialect="beta", config={"model": {"tools": [entry], "tool_choice": DOCS}})
    rt = client(dialect="beta")
    rt.add_mcp_server("docs", URL)
    with pytest.raises(UsageError, match="not in the beta dialect"):
        rt.update_session(tool_choice=DOCS)
    assert rt.config.get("model", "tool_choice") == "auto"
    with pytest.raises(UsageError, match="not in the beta dialect"):
        rt.create_response(tool_choice=DOCS)
