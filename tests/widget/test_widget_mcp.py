"""MCP calls and approvals on the widget's cards: the approve and deny buttons' messages,
and what the cards show (server label, tool, arguments, output, duration)."""

from __future__ import annotations

from typing import Any

from mcp_servers import running_mcp_server
from widget_wire import Wire, make_widget, recording_comm, server, until

__all__ = ["make_widget", "recording_comm", "server"]

SECRET = "mcp-header-secret-1"


def of_type(widget: Any, kind: str) -> list[dict[str, Any]]:
    return [i for i in widget.items if i["type"] == kind]


async def test_the_approve_button_runs_the_call_and_the_card_shows_it(make_widget: Any) -> None:
    widget = make_widget()
    wire = Wire(widget)
    with running_mcp_server() as mcp:
        widget.client.add_mcp_server("docs", mcp.url, headers={"X-Api-Key": SECRET})
        await widget.connect()
        await until(
            lambda: any(i["status"] == "completed" for i in of_type(widget, "mcp_list_tools")), 15
        )
        widget.send_text("add 2 and 3")
        await until(
            lambda: [i["approval"] for i in of_type(widget, "mcp_approval_request")] == ["pending"],
            15,
        )
        (request,) = of_type(widget, "mcp_approval_request")
        assert (request["server_label"], request["name"]) == ("docs", "add")
        assert request["arguments"] == '{"a": 2, "b": 3}'
        wire.browser({"type": "mcp_approval", "request_id": request["id"], "approve": True})
        await until(
            lambda: [i["approval"] for i in of_type(widget, "mcp_approval_request")] == ["approved"]
        )
        await until(lambda: [i["tool_state"] for i in of_type(widget, "mcp_call")] == ["done"], 15)
        (call,) = of_type(widget, "mcp_call")
        assert (call["server_label"], call["name"], call["output"]) == ("docs", "add", "5")
        assert isinstance(call["tool_ms"], int)
    assert SECRET not in str(wire.comm.published)


async def test_the_deny_button_declines_and_a_bad_answer_is_ignored(make_widget: Any) -> None:
    widget = make_widget()
    wire = Wire(widget)
    with running_mcp_server() as mcp:
        widget.client.add_mcp_server("docs", mcp.url)
        await widget.connect()
        await until(
            lambda: any(i["status"] == "completed" for i in of_type(widget, "mcp_list_tools")), 15
        )
        widget.send_text("search for rain")
        await until(lambda: bool(widget.client.mcp_approvals.pending), 15)
        (request_id,) = widget.client.mcp_approvals.pending
        wire.browser({"type": "mcp_approval", "request_id": "nope", "approve": True})
        wire.browser({"type": "mcp_approval", "request_id": request_id, "approve": "yes"})
        assert widget.client.mcp_approvals.pending
        wire.browser({"type": "mcp_approval", "request_id": request_id, "approve": False})
        said = widget.client.conversation.get_items
        await until(
            lambda: any(i["formatted"]["transcript"] == "search was not approved." for i in said()),
            15,
        )
        await until(
            lambda: [i["approval"] for i in of_type(widget, "mcp_approval_request")] == ["denied"]
        )
        assert of_type(widget, "mcp_call") == []
