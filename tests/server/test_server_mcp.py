"""MCP tools end to end: the client, the local server and a real MCP server on 127.0.0.1.

The local server lists the MCP server's tools, calls them when the user's words name them,
asks for approvals and reports failures (a server down, a tool too slow); the client
configures the server, answers the approvals and keeps the items. Every event both ways
is checked against the official SDK's types when it is installed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from mcp_servers import McpServerHandle, closed_port_url, running_mcp_server
from reliability import collect, eventually

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import UsageError
from realtime_widget.server import LocalRealtimeServer

SECRET = "sk-mcp-header-secret"
TOKEN = "oauth-token-secret"


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[McpServerHandle]:
    with running_mcp_server(slow_seconds=4.0) as handle:
        yield handle


@pytest.fixture
async def local() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as started:
        yield started


class Session:
    """A connected client and every event it saw, both ways."""

    def __init__(self, client: RealtimeClient) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        client.on("realtime.event", lambda e: self.events.append(e))

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [i for i in self.client.get_conversation_items() if i["type"] == kind]

    def said(self) -> list[str]:
        return [
            i["formatted"]["text"]
            for i in self.items("message")
            if i.get("role") == "assistant" and i.get("status") == "completed"
        ]

    def types(self, source: str) -> list[str]:
        return [e["event"]["type"] for e in self.events if e["source"] == source]

    async def listed(self, count: int = 1) -> None:
        await eventually(
            lambda: (
                len(
                    [
                        i
                        for i in self.items("mcp_list_tools")
                        if i.get("status") in ("completed", "failed")
                    ]
                )
                >= count
            ),
            timeout=15,
        )

    def judge(self) -> None:
        """Every event about MCP (and every MCP tool entry of a session) is one of the SDK's,
        with no field it does not declare."""
        realtime = pytest.importorskip("openai.types.realtime")
        from pydantic import BaseModel, TypeAdapter

        adapters = {
            "server": TypeAdapter(realtime.RealtimeServerEvent),
            "client": TypeAdapter(realtime.RealtimeClientEvent),
        }

        def undeclared(model: Any, path: str = "") -> list[str]:
            if isinstance(model, BaseModel):
                found = [f"{path}.{k}" for k in model.model_extra or {}]
                for key, value in model:
                    found += undeclared(value, f"{path}.{key}")
                return found
            if isinstance(model, list):
                return [p for i, v in enumerate(model) for p in undeclared(v, f"{path}[{i}]")]
            return []

        tool = TypeAdapter(realtime.RealtimeToolsConfigUnion)
        for entry in self.events:
            event = entry["event"]
            if event["type"].startswith("session."):  # the MCP entries among its tools
                for given in event["session"].get("tools") or ():
                    assert undeclared(tool.validate_python(given)) == [], given
            elif "mcp" in event["type"] or "mcp" in str((event.get("item") or {}).get("type")):
                model = adapters[entry["source"]].validate_python(event)
                assert undeclared(model) == [], event


@pytest.fixture
async def session(local: LocalRealtimeServer) -> AsyncIterator[Session]:
    client = RealtimeClient(url=local.url, config={"model": {"modalities": ["text"]}})
    opened = Session(client)
    yield opened
    await client.aclose()


async def connect(session: Session, url: str, **fields: Any) -> None:
    session.client.add_mcp_server("docs", url, **fields)
    await session.client.connect()


async def answered(session: Session, text: str, count: int = 1) -> None:
    before = len(session.said())
    session.client.send_user_message_content(text)
    await eventually(lambda: len(session.said()) >= before + count, timeout=15)


async def test_the_local_server_lists_the_mcp_servers_tools(
    session: Session, mcp_server: McpServerHandle
) -> None:
    await connect(session, mcp_server.url, require_approval="never")
    await session.listed()
    (listing,) = session.items("mcp_list_tools")
    assert listing["status"] == "completed" and listing["server_label"] == "docs"
    assert listing["formatted"]["tools"] == ["search", "add", "slow", "broken"]
    search = listing["tools"][0]
    assert search["input_schema"]["required"] == ["query"]
    assert search["annotations"] == {"readOnlyHint": True}
    assert session.types("server")[-3:] == [
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "conversation.item.done",
    ]
    session.judge()


async def test_a_call_named_by_the_user_runs_on_the_mcp_server(
    session: Session, mcp_server: McpServerHandle
) -> None:
    await connect(
        session,
        mcp_server.url,
        require_approval="never",
        headers={"X-Api-Key": SECRET},
        authorization=TOKEN,
    )
    await session.listed()
    await answered(session, "please use search for realtime widgets")
    (call,) = session.items("mcp_call")
    assert call["status"] == "completed"
    assert call["formatted"]["tool"] == {
        "type": "mcp",
        "name": "search",
        "server_label": "docs",
        "arguments": '{"query": "realtime widgets"}',
    }
    assert call["formatted"]["output"] == "16 hits for realtime widgets"
    assert session.said()[-1] == "search returned 16 hits for realtime widgets."
    calls = session.types("server")
    start = calls.index("response.mcp_call_arguments.delta")
    assert calls[start:].count("response.mcp_call.in_progress") == 1
    assert "response.mcp_call.completed" in calls[start:]
    assert {"x-api-key": SECRET, "authorization": f"Bearer {TOKEN}"} in mcp_server.seen
    session.judge()


async def test_mcp_credentials_never_reach_what_is_shown_or_logged(
    session: Session, mcp_server: McpServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="realtime_widget")
    session.client.debug = True
    await connect(
        session,
        mcp_server.url,
        require_approval="never",
        headers={"X-Api-Key": SECRET},
        authorization=TOKEN,
    )
    await session.listed()
    shown = session.client.redactor.value([e["event"] for e in session.events])
    assert SECRET not in json.dumps(shown) and TOKEN not in json.dumps(shown)
    assert SECRET not in caplog.text and TOKEN not in caplog.text
    tools = session.client.redactor.value(session.client.get_tools())
    assert tools[0]["headers"] == {"X-Api-Key": "<redacted>"}


async def test_an_approved_call_runs_after_the_approval(
    session: Session, mcp_server: McpServerHandle
) -> None:
    asked: list[dict[str, Any]] = []

    def approve(request: dict[str, Any]) -> bool:
        asked.append(request)
        return True

    await connect(session, mcp_server.url, require_approval=approve)
    await session.listed()
    await answered(session, "add 2 and 3")
    (request,) = session.items("mcp_approval_request")
    assert asked[0]["name"] == "add" and asked[0]["server_label"] == "docs"
    assert json.loads(asked[0]["arguments"]) == {"a": 2, "b": 3}
    assert request["formatted"]["tool"]["name"] == "add"
    (response,) = session.items("mcp_approval_response")
    assert response["formatted"]["approval"] == {
        "approval_request_id": request["id"],
        "approve": True,
        "reason": None,
    }
    (call,) = session.items("mcp_call")
    assert call["approval_request_id"] == request["id"]
    assert call["formatted"]["output"] == "5"
    assert session.said()[-1] == "add returned 5."
    session.judge()


async def test_a_denied_call_never_runs(session: Session, mcp_server: McpServerHandle) -> None:
    await connect(session, mcp_server.url, require_approval="always")
    session.client.on_mcp_approval(lambda request: (False, "not today"))
    await session.listed()
    await answered(session, "add 2 and 3")
    assert session.items("mcp_call") == []
    assert session.items("mcp_approval_response")[0]["approve"] is False
    assert session.said()[-1] == "add was not approved (not today)."
    session.judge()


async def test_an_approval_waits_for_an_answer_when_no_handler_decides(
    session: Session, mcp_server: McpServerHandle
) -> None:
    await connect(session, mcp_server.url)  # require_approval left out: always
    await session.listed()
    session.client.send_user_message_content("search for widgets")
    approvals = session.client.mcp_approvals
    await eventually(lambda: bool(approvals.pending))
    (request_id,) = approvals.pending
    assert session.items("mcp_call") == []
    with pytest.raises(UsageError, match="'nope'"):
        approvals.answer("nope", True)
    sent = approvals.answer(request_id, True)
    assert sent["type"] == "mcp_approval_response" and sent["approve"] is True
    await eventually(lambda: session.said()[-1:] == ["search returned 7 hits for widgets."])
    with pytest.raises(UsageError, match="is pending"):
        approvals.answer(request_id, False)


async def test_an_approval_filter_lets_read_only_tools_run(
    session: Session, mcp_server: McpServerHandle
) -> None:
    await connect(session, mcp_server.url, require_approval={"never": {"read_only": True}})
    session.client.on_mcp_approval(lambda request: False)
    await session.listed()
    await answered(session, "search for widgets")
    assert len(session.items("mcp_call")) == 1
    assert session.items("mcp_approval_request") == []
    await answered(session, "add 1 and 1")
    assert len(session.items("mcp_approval_request")) == 1


async def test_allowed_tools_hide_the_others(session: Session, mcp_server: McpServerHandle) -> None:
    await connect(session, mcp_server.url, require_approval="never", allowed_tools=["search"])
    await session.listed()
    await answered(session, "add 2 and 3")
    assert session.items("mcp_call") == []
    assert session.said()[-1] == "You said: add 2 and 3."


async def test_a_server_that_is_down_fails_its_listing(session: Session) -> None:
    await connect(session, closed_port_url(), require_approval="never")
    await session.listed()
    (listing,) = session.items("mcp_list_tools")
    assert listing["status"] == "failed" and listing["tools"] == []
    assert "mcp_list_tools.failed" in session.types("server")
    await answered(session, "search for widgets")
    assert session.said()[-1] == "You said: search for widgets."
    session.judge()


async def test_a_server_gone_after_its_listing_fails_the_call(
    local: LocalRealtimeServer, session: Session
) -> None:
    with running_mcp_server() as short_lived:
        await connect(session, short_lived.url, require_approval="never")
        await session.listed()
    await answered(session, "search for widgets")
    (call,) = session.items("mcp_call")
    assert call["status"] == "failed"
    assert call["error"]["type"] in ("protocol_error", "http_error")
    assert call["formatted"]["error"] == call["error"]["message"]
    assert session.said()[-1].startswith("search failed: the MCP server at http://127.0.0.1:")
    assert "response.mcp_call.failed" in session.types("server")
    session.judge()


async def test_a_slow_tool_times_out_and_fails(
    local: LocalRealtimeServer, session: Session, mcp_server: McpServerHandle
) -> None:
    local.mcp_timeout = 1.0
    await connect(session, mcp_server.url, require_approval="never")
    await session.listed()
    await answered(session, "slow news about rain")
    (call,) = session.items("mcp_call")
    assert call["status"] == "failed"
    assert call["error"] == {
        "type": "protocol_error",
        "code": -32001,
        "message": f"the MCP server at {mcp_server.url} did not answer within 1 seconds",
    }
    session.judge()


async def test_a_tool_error_is_a_failed_call(session: Session, mcp_server: McpServerHandle) -> None:
    await connect(session, mcp_server.url, require_approval="never")
    await session.listed()
    await answered(session, "broken for rain")
    (call,) = session.items("mcp_call")
    assert call["status"] == "failed"
    assert call["error"]["type"] == "tool_execution_error"
    assert "broken" in call["error"]["message"]


async def test_the_mcp_items_are_replayed_into_a_new_session(
    local: LocalRealtimeServer, mcp_server: McpServerHandle
) -> None:
    client = RealtimeClient(
        url=local.url, config={"model": {"modalities": ["text"]}}, reconnect=True
    )
    session = Session(client)
    try:
        await connect(session, mcp_server.url, require_approval=lambda r: True)
        await session.listed()
        await answered(session, "add 2 and 3")
        kept = {i["id"] for i in session.items("mcp_call") + session.items("mcp_approval_request")}
        first = local.connections[-1]
        reconnected = collect(client, "reconnected")
        await first.break_transport()
        await eventually(lambda: bool(reconnected), timeout=15)
        await session.listed(2)  # the new session lists the tools again
        connection = local.connections[-1]
        replayed = {i.id: i.item["type"] for i in connection.conversation.items()}
        assert kept <= set(replayed)
        assert "mcp_approval_response" in replayed.values()
        assert session.types("client").count("session.update") >= 2
        session.judge()
    finally:
        await client.aclose()


async def test_bad_mcp_entries_are_refused_by_the_local_server(
    local: LocalRealtimeServer,
) -> None:
    from websockets.asyncio.client import connect as ws_connect

    async with ws_connect(local.url) as ws:
        await ws.recv()
        entry = {"type": "mcp", "server_label": "docs", "server_url": "ftp://x"}
        session = {"type": "realtime", "tools": [entry]}
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        error = json.loads(await ws.recv())
        assert error["type"] == "error"
        assert error["error"]["param"] == "session.tools[0].server_url"


# -- a tool choice forcing an MCP server's tool --------------------------------------------------


async def test_a_session_choice_makes_the_named_mcp_tool_run_instead_of_words(
    session: Session, mcp_server: McpServerHandle
) -> None:
    await connect(session, mcp_server.url, require_approval="never")
    await session.listed()
    session.client.update_session(
        tool_choice={"type": "mcp", "server_label": "docs", "name": "search"}
    )
    await eventually(lambda: session.types("server").count("session.updated") >= 2)
    await answered(session, "widgets")  # names no tool: the choice calls one all the same
    (call,) = session.items("mcp_call")
    assert (call["server_label"], call["name"], call["status"]) == ("docs", "search", "completed")
    assert call["formatted"]["output"] == "7 hits for widgets"
    assert session.said()[-1] == "search returned 7 hits for widgets."
    updated = [e["event"] for e in session.events if e["event"]["type"] == "session.updated"]
    assert updated[-1]["session"]["tool_choice"] == {
        "type": "mcp",
        "server_label": "docs",
        "name": "search",
    }
    session.judge()


async def test_a_response_choice_calls_a_tool_of_that_mcp_server_once(
    session: Session, mcp_server: McpServerHandle
) -> None:
    await connect(session, mcp_server.url, require_approval="never", allowed_tools=["add"])
    await session.listed()
    await answered(session, "2 and 3")
    assert session.items("mcp_call") == [] and session.said()[-1] == "You said: 2 and 3."
    before = len(session.said())
    session.client.create_response(tool_choice={"type": "mcp", "server_label": "docs"})
    await eventually(lambda: len(session.said()) > before, timeout=15)
    (call,) = session.items("mcp_call")
    assert (call["name"], json.loads(call["arguments"])) == ("add", {"a": 2, "b": 3})
    assert session.said()[-1] == "add returned 5."
    await answered(session, "2 and 3")  # the session's own choice (auto) is back
    assert len(session.items("mcp_call")) == 1
    session.judge()


@pytest.mark.parametrize(
    ("choice", "param", "code"),
    [
        ({"type": "mcp"}, "tool_choice.server_label", "missing_required_parameter"),
        ({"type": "mcp", "server_label": 7}, "tool_choice.server_label", "invalid_type"),
        ({"type": "mcp", "server_label": "docs", "name": 7}, "tool_choice.name", "invalid_type"),
        ({"type": "mcp", "server_label": "docs", "x": 1}, "tool_choice.x", "unknown_parameter"),
        ({"type": "mcp", "server_label": "kb"}, "tool_choice.server_label", "invalid_value"),
    ],
)
async def test_bad_mcp_choices_are_refused_naming_the_field(
    local: LocalRealtimeServer, choice: dict[str, Any], param: str, code: str
) -> None:
    from websockets.asyncio.client import connect as ws_connect

    entry = {"type": "mcp", "server_label": "docs", "server_url": closed_port_url()}
    async with ws_connect(local.url) as ws:
        await ws.recv()
        session = {"type": "realtime", "tools": [entry], "tool_choice": choice}
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        error = json.loads(await ws.recv())
        assert (error["error"]["param"], error["error"]["code"]) == (f"session.{param}", code)
        await ws.send(json.dumps({"type": "response.create", "response": {"tool_choice": choice}}))
        error = json.loads(await ws.recv())
        assert (error["error"]["param"], error["error"]["code"]) == (f"response.{param}", code)
    assert local.connections == [] or local.connections[-1].session.tool_choice == "auto"


async def test_beta_sessions_refuse_an_mcp_choice(local: LocalRealtimeServer) -> None:
    from websockets.asyncio.client import connect as ws_connect

    beta = {"OpenAI-Beta": "realtime=v1"}
    async with ws_connect(local.url, additional_headers=beta) as ws:
        await ws.recv()
        await ws.recv()  # conversation.created
        choice = {"type": "mcp", "server_label": "docs"}
        await ws.send(json.dumps({"type": "session.update", "session": {"tool_choice": choice}}))
        error = json.loads(await ws.recv())
        assert error["error"]["param"] == "session.tool_choice.type"
        await ws.send(json.dumps({"type": "response.create", "response": {"tool_choice": choice}}))
        error = json.loads(await ws.recv())
        assert error["error"]["param"] == "response.tool_choice.type"
