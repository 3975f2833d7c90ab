"""The local server's MCP tools: a real MCP client for the MCP servers a session declares.

Rules:

- When ``session.update`` declares an MCP server (a ``{"type": "mcp"}`` tool with a
  ``server_url``) that is new or changed, the server lists its tools over streamable HTTP:
  ``conversation.item.added`` of an ``mcp_list_tools`` item, ``mcp_list_tools.in_progress``,
  then ``mcp_list_tools.completed`` (the item's ``tools`` filled) or ``.failed`` (the server
  down, an HTTP or protocol error, or no answer within ``timeout`` seconds), and
  ``conversation.item.done``. A response waits for the listings under way.
- The model sees each listed tool that ``allowed_tools`` lets through as a function tool of
  the same name (its ``input_schema`` as parameters), and calls it as it calls functions
  (:mod:`~realtime_widget.server.toolcalls`). Such a call becomes an ``mcp_call`` item when
  ``require_approval`` lets it run (:func:`~realtime_widget.core.mcptools.needs_approval`),
  else an ``mcp_approval_request`` item, and the response ends there.
- A response whose ``tool_choice`` is ``{"type": "mcp", "server_label", "name"}`` sees only
  that server's allowed tools (only ``name`` when given) and must call one
  (:meth:`McpTools.model_choice`), as ``required`` makes it call a function.
- A response whose context ends (after the last message) with an ``mcp_approval_response``
  answering a request not yet run calls the tool when approved, and says it was not
  otherwise.
- An ``mcp_call`` streams ``response.output_item.added``, the item's added event,
  ``response.mcp_call_arguments.delta`` / ``.done``, ``response.mcp_call.in_progress``, then
  the call (within ``timeout`` seconds), ``response.mcp_call.completed`` (``output``: the
  tool's text) or ``.failed`` (``error``: ``tool_execution_error`` when the tool reports
  one, ``http_error`` for an HTTP status, ``protocol_error`` otherwise, a timeout
  included), and the item's done events; a message stating the outcome follows it.
- ``connector_id`` and ``tunnel_id`` servers cannot be reached from here: their listing
  fails. ``headers`` and ``authorization`` (as ``Authorization: Bearer``) go with every
  request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from realtime_widget.core.ids import generate_id
from realtime_widget.core.mcptools import is_mcp_choice, is_mcp_tool, needs_approval, tool_allowed
from realtime_widget.core.protocol import Dialect, dialect_event_type
from realtime_widget.server.model import CallOutput, MessageOutput, Output
from realtime_widget.server.store import Conversation, StoredItem, render_item
from realtime_widget.server.wire import Emit

__all__ = ["McpApproval", "McpCall", "McpTools"]

_ITEM_ADDED = {"ga": "conversation.item.added", "beta": "conversation.item.created"}

Send = Callable[..., Awaitable[None]]
Open = Callable[[int, dict[str, Any]], Awaitable[StoredItem]]
Close = Callable[[int, StoredItem], Awaitable[None]]


class McpFailure(Exception):
    """An MCP request that failed: ``error`` is the item's ``error`` object."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


def _headers(entry: dict[str, Any]) -> dict[str, str]:
    headers = dict(entry.get("headers") or {})
    if entry.get("authorization"):
        headers["Authorization"] = f"Bearer {entry['authorization']}"
    return headers


def _failure(exc: BaseException, url: str, timeout: float) -> McpFailure:
    """An exception of the MCP client as an ``error`` object."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, McpFailure):
        return exc
    if isinstance(exc, TimeoutError):
        message = f"the MCP server at {url} did not answer within {timeout:g} seconds"
        return McpFailure({"type": "protocol_error", "code": -32001, "message": message})
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        message = f"the MCP server at {url} answered HTTP {status}"
        return McpFailure({"type": "http_error", "code": status, "message": message})
    message = f"the MCP server at {url} failed: {type(exc).__name__}: {exc}"
    return McpFailure({"type": "protocol_error", "code": -32000, "message": message})


async def _request(entry: dict[str, Any], timeout: float, run: Callable[[Any], Any]) -> Any:
    """``run(client)`` on a fresh MCP client session with the server of ``entry``."""
    url = entry.get("server_url")
    if not isinstance(url, str):
        where = "connector_id" if "connector_id" in entry else "tunnel_id"
        message = f"the local server reaches MCP servers by server_url only, not by {where}"
        raise McpFailure({"type": "protocol_error", "code": -32000, "message": message})
    try:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
    except ImportError:
        message = "the local server needs the mcp package for MCP tools: pip install mcp"
        raise McpFailure({"type": "protocol_error", "code": -32000, "message": message}) from None
    try:
        async with asyncio.timeout(timeout):
            async with httpx2.AsyncClient(headers=_headers(entry), timeout=timeout) as http:
                transport = streamable_http_client(url, http_client=http)
                async with Client(transport, mode="auto") as client:
                    return await run(client)
    except Exception as exc:
        raise _failure(exc, url, timeout) from None


def _tool_view(tool: Any) -> dict[str, Any]:
    view: dict[str, Any] = {"name": tool.name, "input_schema": tool.input_schema or {}}
    if tool.description:
        view["description"] = tool.description
    if tool.annotations is not None:
        view["annotations"] = tool.annotations.model_dump(exclude_none=True, by_alias=True)
    return view


def _call_text(result: Any) -> str:
    texts = [getattr(part, "text", None) for part in result.content or ()]
    joined = "\n".join(t for t in texts if isinstance(t, str))
    if joined or result.structured_content is None:
        return joined
    return json.dumps(result.structured_content, ensure_ascii=False)


@dataclass
class _Server:
    entry: dict[str, Any]
    tools: list[dict[str, Any]] = field(default_factory=list)
    listing: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class McpCall:
    """A call of an MCP server's tool (after its approval, ``approval_request_id``)."""

    server_label: str
    name: str
    arguments: str
    run: Callable[[], Awaitable[str]]
    approval_request_id: str | None = None

    async def stream(
        self, response_id: str, index: int, send: Send, open_item: Open, close_item: Close
    ) -> str:
        """Stream the call (see the module rules); returns the sentence stating its outcome."""
        item: dict[str, Any] = {
            "id": generate_id("item_"),
            "type": "mcp_call",
            "server_label": self.server_label,
            "name": self.name,
            "arguments": "",
        }
        if self.approval_request_id is not None:
            item["approval_request_id"] = self.approval_request_id
        stored = await open_item(index, item)
        ids = {"response_id": response_id, "item_id": item["id"], "output_index": index}
        for start in range(0, len(self.arguments), 24):
            delta = self.arguments[start : start + 24]
            await send("response.mcp_call_arguments.delta", **ids, delta=delta)
        await send("response.mcp_call_arguments.done", **ids, arguments=self.arguments)
        item["arguments"] = self.arguments
        where = {"item_id": item["id"], "output_index": index}
        await send("response.mcp_call.in_progress", **where)
        try:
            output = await self.run()
        except McpFailure as failure:
            item["error"] = failure.error
            await send("response.mcp_call.failed", **where)
            await close_item(index, stored)
            return f"{self.name} failed: {failure.error['message'].rstrip('.')}."
        item["output"] = output
        await send("response.mcp_call.completed", **where)
        await close_item(index, stored)
        return f"{self.name} returned {output}." if output else f"{self.name} returned nothing."


@dataclass(frozen=True)
class McpApproval:
    """A request for approval of a call of an MCP server's tool."""

    server_label: str
    name: str
    arguments: str

    async def stream(
        self, response_id: str, index: int, send: Send, open_item: Open, close_item: Close
    ) -> str:
        """Stream the ``mcp_approval_request`` item; nothing follows it (``""``)."""
        item = {
            "id": generate_id("item_"),
            "type": "mcp_approval_request",
            "server_label": self.server_label,
            "name": self.name,
            "arguments": self.arguments,
        }
        await close_item(index, await open_item(index, item))
        return ""


McpOutput = McpCall | McpApproval


class McpTools:
    """The MCP servers of one connection's session (see the module rules)."""

    def __init__(
        self,
        *,
        emit: Emit,
        conversation: Conversation,
        dialect: Dialect,
        spawn: Callable[[Awaitable[None]], asyncio.Task[Any]],
        timeout: Callable[[], float],
    ) -> None:
        self._emit = emit
        self._conversation = conversation
        self._dialect: Dialect = dialect
        self._spawn = spawn
        self._timeout = timeout
        self._servers: dict[str, _Server] = {}

    def configure(self, tools: Sequence[dict[str, Any]]) -> None:
        """The session's tools changed: list the tools of MCP servers new or changed."""
        entries = {str(t["server_label"]): t for t in tools if is_mcp_tool(t)}
        for label in list(self._servers):
            if label not in entries:
                del self._servers[label]
        for label, entry in entries.items():
            known = self._servers.get(label)
            if known is not None and known.entry == entry:
                continue
            server = self._servers[label] = _Server(dict(entry))
            server.listing = self._spawn(self._list(server))

    async def ready(self) -> None:
        """Wait for the listings under way."""
        for server in list(self._servers.values()):
            if server.listing is not None and not server.listing.done():
                await asyncio.wait([server.listing])

    async def _send(self, ga_type: str, **payload: Any) -> None:
        await self._emit({"type": dialect_event_type(ga_type, self._dialect), **payload})

    async def _list(self, server: _Server) -> None:
        label = str(server.entry["server_label"])
        item: dict[str, Any] = {
            "id": generate_id("item_"),
            "type": "mcp_list_tools",
            "server_label": label,
            "tools": [],
        }
        previous = self._conversation.insert(StoredItem(item))
        await self._send(
            _ITEM_ADDED[self._dialect], previous_item_id=previous, item=render_item(item, "ga")
        )
        await self._send("mcp_list_tools.in_progress", item_id=item["id"])

        async def listing(client: Any) -> list[dict[str, Any]]:
            result = await client.list_tools()
            return [_tool_view(tool) for tool in result.tools]

        try:
            tools = await _request(server.entry, self._timeout(), listing)
        except McpFailure:
            await self._send("mcp_list_tools.failed", item_id=item["id"])
        else:
            item["tools"] = tools
            server.tools = tools
            await self._send("mcp_list_tools.completed", item_id=item["id"])
        if self._dialect == "ga":
            await self._send("conversation.item.done", previous_item_id=previous, item=item)

    def _owner(self, name: str) -> tuple[_Server, dict[str, Any]] | None:
        for server in self._servers.values():
            for tool in server.tools:
                read_only = (tool.get("annotations") or {}).get("readOnlyHint")
                if tool["name"] == name and tool_allowed(server.entry, name, read_only):
                    return server, tool
        return None

    def model_tools(self, functions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The function tools of ``functions`` (MCP entries left out), then each allowed MCP
        tool no function is named after, as a function the model may call."""
        tools = [dict(t) for t in functions if not is_mcp_tool(t)]
        names = {t.get("name") for t in tools}
        for server in self._servers.values():
            for tool in server.tools:
                if tool["name"] not in names and self._owner(tool["name"]) is not None:
                    names.add(tool["name"])
                    parameters = tool.get("input_schema") or {"type": "object"}
                    tools.append(
                        {"type": "function", "name": tool["name"], "parameters": parameters}
                    )
        return tools

    def model_choice(
        self, functions: Sequence[dict[str, Any]], choice: str | dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str | dict[str, Any]]:
        """The tools and tool choice the model gets for a response with ``functions`` and
        ``choice``: :meth:`model_tools` and ``choice`` itself, but for a choice forcing an
        MCP server's tool (``{"type": "mcp", "server_label", "name"}``), which leaves the
        model only that server's allowed tools (only ``name`` when given) and requires a
        call of one of them."""
        if not is_mcp_choice(choice):
            return self.model_tools(functions), choice
        assert isinstance(choice, dict)
        server = self._servers.get(str(choice["server_label"]))
        wanted = choice.get("name")
        tools = [
            t
            for t in self.model_tools(())
            if server is not None
            and any(listed["name"] == t["name"] for listed in server.tools)
            and (wanted is None or t["name"] == wanted)
        ]
        return tools, "required"

    def _call(self, server: _Server, name: str, arguments: str) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            async def calling(client: Any) -> str:
                result = await client.call_tool(name, json.loads(arguments or "{}"))
                text = _call_text(result)
                if result.is_error:
                    error = {"type": "tool_execution_error", "message": text or "the tool failed"}
                    raise McpFailure(error)
                return text

            result: str = await _request(server.entry, self._timeout(), calling)
            return result

        return run

    def approved(self, context: Sequence[StoredItem]) -> list[Output | McpOutput] | None:
        """The outputs answering an approval response at the end of ``context``, if any."""
        answers: list[dict[str, Any]] = []
        for stored in reversed(context):
            if stored.item.get("type") == "message":
                break
            if stored.item.get("type") == "mcp_approval_response":
                answers.append(stored.item)
        run_ids = {
            s.item.get("approval_request_id") for s in context if s.item.get("type") == "mcp_call"
        }
        requests = {s.id: s.item for s in context if s.item.get("type") == "mcp_approval_request"}
        outputs: list[Output | McpOutput] = []
        for answer in reversed(answers):
            request = requests.get(str(answer.get("approval_request_id")))
            if request is None or request["id"] in run_ids:
                continue
            name = str(request.get("name"))
            server = self._servers.get(str(request.get("server_label")))
            if not answer.get("approve"):
                reason = answer.get("reason")
                said = f" ({reason.rstrip('.')})" if isinstance(reason, str) and reason else ""
                outputs.append(MessageOutput(f"{name} was not approved{said}."))
            elif server is None:
                outputs.append(MessageOutput(f"{name} cannot run: its MCP server is gone."))
            else:
                arguments = str(request.get("arguments") or "{}")
                run = self._call(server, name, arguments)
                label = str(request.get("server_label"))
                outputs.append(McpCall(label, name, arguments, run, str(request["id"])))
        return outputs or None

    def take_over(self, outputs: Sequence[Output]) -> list[Output | McpOutput]:
        """``outputs`` with each call of an MCP tool as an :class:`McpCall`, or, when it needs
        approval, an :class:`McpApproval` that ends the response."""
        taken: list[Output | McpOutput] = []
        for output in outputs:
            owner = self._owner(output.name) if isinstance(output, CallOutput) else None
            if owner is None or not isinstance(output, CallOutput):
                taken.append(output)
                continue
            server, tool = owner
            label = str(server.entry["server_label"])
            read_only = (tool.get("annotations") or {}).get("readOnlyHint")
            if needs_approval(server.entry, output.name, read_only):
                taken.append(McpApproval(label, output.name, output.arguments))
                break
            run = self._call(server, output.name, output.arguments)
            taken.append(McpCall(label, output.name, output.arguments, run))
        return taken
