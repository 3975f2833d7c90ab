"""MCP servers in the client's config: add_mcp_server, its checks, and the redactor."""

from __future__ import annotations

import pytest

from realtime_widget.client.client import RealtimeClient
from realtime_widget.client.replay import replay_items
from realtime_widget.core.errors import UsageError


def client() -> RealtimeClient:
    return RealtimeClient(url="ws://127.0.0.1:9/v1/realtime")


def test_add_mcp_server_puts_an_entry_in_the_session() -> None:
    rt = client()
    entry = rt.add_mcp_server(
        "docs",
        "https://example.test/mcp",
        allowed_tools=["search"],
        require_approval="never",
        headers={"X-Api-Key": "key-1234"},
        authorization="token-5678",
        server_description="the docs",
    )
    tools = rt.get_session_payload()["session"]["tools"]
    assert tools == [entry]
    assert entry["require_approval"] == "never" and entry["server_description"] == "the docs"
    assert rt.redactor("key-1234 token-5678") == "<redacted> <redacted>"
    rt.add_mcp_server("docs", "https://example.test/other")  # the same label: replaced
    assert [t["server_url"] for t in rt.get_tools()] == ["https://example.test/other"]
    rt.remove_mcp_server("docs")
    assert rt.get_tools() == []
    with pytest.raises(UsageError, match="'docs'"):
        rt.remove_mcp_server("docs")


def test_a_require_approval_function_answers_and_sends_always() -> None:
    rt = client()
    approve = lambda request: True  # noqa: E731
    entry = rt.add_mcp_server("docs", "https://example.test/mcp", require_approval=approve)
    assert entry["require_approval"] == "always"
    assert rt.mcp_approvers == {"docs": approve}
    rt.add_mcp_server("docs", "https://example.test/mcp", require_approval="never")
    assert rt.mcp_approvers == {}


def test_bad_fields_are_refused_naming_them_and_change_nothing() -> None:
    rt = client()
    with pytest.raises(UsageError, match=r"mcp server.server_url must be an http"):
        rt.add_mcp_server("docs", "ws://example.test")
    with pytest.raises(UsageError, match=r"mcp server.headers must be a dict"):
        rt.add_mcp_server("docs", "https://example.test/mcp", headers={"a": 1})  # type: ignore[dict-item]
    with pytest.raises(UsageError, match=r"mcp server.server_label must be a label"):
        rt.add_mcp_server("two words", "https://example.test/mcp")
    with pytest.raises(UsageError, match="callable"):
        rt.on_mcp_approval("yes")  # type: ignore[arg-type]
    assert rt.get_tools() == []


def test_credentials_in_the_config_given_are_known_at_once() -> None:
    entry = {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://example.test/mcp",
        "authorization": "token-abcd",
    }
    rt = RealtimeClient(url="ws://127.0.0.1:9/v1/realtime", config={"model": {"tools": [entry]}})
    assert rt.redactor("token-abcd") == "<redacted>"
    rt.update_session(tools=[{**entry, "headers": {"X-Key": "later-key"}}])
    assert rt.redactor("later-key") == "<redacted>"


def test_mcp_items_are_replayed_in_ga_only_and_tool_lists_never() -> None:
    items = [
        {
            "id": "l",
            "type": "mcp_list_tools",
            "server_label": "d",
            "tools": [],
            "status": "completed",
        },
        {
            "id": "q",
            "type": "mcp_approval_request",
            "server_label": "d",
            "name": "add",
            "arguments": "{}",
        },
        {
            "id": "a",
            "type": "mcp_approval_response",
            "approval_request_id": "q",
            "approve": True,
            "reason": None,
        },
        {
            "id": "c",
            "type": "mcp_call",
            "server_label": "d",
            "name": "add",
            "arguments": "{}",
            "output": "5",
            "approval_request_id": "q",
            "error": None,
            "status": "completed",
        },
        {
            "id": "r",
            "type": "mcp_call",
            "server_label": "d",
            "name": "add",
            "arguments": "",
            "status": "in_progress",
        },
    ]
    replayed = replay_items(items)
    assert [i["id"] for i in replayed] == ["q", "a", "c"]
    assert replayed[1] == {
        "id": "a",
        "type": "mcp_approval_response",
        "approval_request_id": "q",
        "approve": True,
    }
    assert (
        replayed[2]["output"] == "5" and "error" not in replayed[2] and "status" not in replayed[2]
    )
    assert replay_items(items, "beta") == []
