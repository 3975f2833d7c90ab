"""`SessionConfiguration`: what a client's session is configured with, its config and tools.

- ``config`` is the grouped session config (:class:`SessionConfig`: the merge rules, and
  which fields each dialect sends, are :mod:`realtime_widget.core.session`'s); ``tools``
  the registered tools (:class:`ToolRegistry`). Tools only defined (``add_tool``) live in
  the config; their calls are the caller's to answer.
- Every change of the config or tools calls :meth:`_send_session_if_connected` (the
  client sends the whole session when connected); every change of the tools dispatches
  ``tools.updated`` ``{tools}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from realtime_widget.client.dispatching import ClientEvents
from realtime_widget.client.mcpapprovals import McpApprover
from realtime_widget.core.errors import ToolError, UsageError
from realtime_widget.core.mcptools import check_mcp_tool, is_mcp_tool, mcp_secrets
from realtime_widget.core.protocol import AudioFormat, ToolsUpdatedEvent
from realtime_widget.core.session import (
    SessionConfig,
    SessionShape,
    beta_transcription_payload,
    session_payload,
    session_tools,
    transcription_payload,
)
from realtime_widget.tools.registry import (
    DEFAULT_TIMEOUT,
    Tool,
    ToolRegistry,
    as_tool,
    run_tool,
    validate_definition,
)
from realtime_widget.tools.registry import tool as make_tool

__all__ = ["SessionConfiguration"]

F = TypeVar("F", bound=Callable[..., Any])


class SessionConfiguration(ClientEvents):
    """The config and tools of a session of ``shape`` (see the module docstring)."""

    def __init__(
        self,
        config: SessionConfig,
        shape: SessionShape,
        session_type: Literal["realtime", "transcription"] = "realtime",
    ) -> None:
        super().__init__()
        if session_type not in ("realtime", "transcription"):
            raise UsageError(
                f"session_type must be 'realtime' or 'transcription', got {session_type!r}"
            )
        if session_type == "transcription" and shape == "nested":
            raise UsageError("a transcription session speaks GA or beta, not dialect 'nested'")
        self.config = config
        self.session_shape: SessionShape = shape
        self.session_type: Literal["realtime", "transcription"] = session_type
        self.tools = ToolRegistry()
        # who answers MCP approval requests: by server label, None for every server
        self.mcp_approvers: dict[str | None, McpApprover] = {}
        # told every credential the config's MCP servers carry (the client: its redactor)
        self._learn_secrets: Callable[..., None] = lambda *secrets: None

    def update_config(self, updates: Mapping[str, Any]) -> None:
        """Deep-merge grouped config ``updates``, then send the session if connected.

        The merge rules, and which fields each dialect sends (GA has no ``temperature``),
        are :mod:`realtime_widget.core.session`'s.
        """
        self.config.update_config(updates)
        self._learn_secrets(*self._mcp_secrets())
        self._send_session_if_connected()

    def update_session(self, **fields: Any) -> bool:
        """Set flat session fields (``instructions``, ``voice``, ``turn_detection``, ...).

        Each replaces its whole value (see :mod:`realtime_widget.core.session`; GA sessions take
        no ``temperature``). Sends the whole session when connected. Returns ``True``.
        """
        if fields:
            self.config.update_session(**fields)
            self._learn_secrets(*self._mcp_secrets())
        self._send_session_if_connected()
        return True

    def _send_session_if_connected(self) -> None:
        """The session's configuration changed: a connected client sends it."""

    def get_session_payload(self, event_id: str | None = None) -> dict[str, Any]:
        """``{"session": ...}`` in the client's dialect shape, with every tool; a
        transcription session's input audio settings only (beta: the flat fields of
        ``transcription_session.update``). With ``event_id``, ``{"event_id", "session"}``."""
        if event_id is not None:
            return {"event_id": event_id, **self.get_session_payload()}
        self._learn_secrets(*self._mcp_secrets())
        if self.session_type == "transcription" and self.session_shape == "beta":
            return {"session": beta_transcription_payload(self.config)}
        if self.session_type == "transcription":
            return {"session": transcription_payload(self.config)}
        return {
            "session": session_payload(
                self.config, self.session_shape, tools=self.tools.definitions()
            )
        }

    @property
    def session_update_type(self) -> str:
        """The client event that sends the session: ``session.update``, or a beta
        transcription session's ``transcription_session.update``."""
        beta = self.session_type == "transcription" and self.session_shape == "beta"
        return "transcription_session.update" if beta else "session.update"

    def _input_format(self) -> AudioFormat:
        """The input audio format the session was asked for (what the server now expects)."""
        return self.config.audio("input_audio_format") or "pcm16"

    def get_turn_detection_type(self) -> str | None:
        """``"server_vad"``, ``"semantic_vad"`` or ``None`` (manual turns)."""
        return self.config.turn_detection_type()

    # -- tools ----------------------------------------------------------------------------

    def add_tool(self, definition: Mapping[str, Any]) -> None:
        """Add a tool definition without a handler (the caller answers its calls with
        :meth:`send_function_call_output`)."""
        checked = validate_definition(definition)
        tools = [t for t in self.config.get("model", "tools") if t.get("name") != checked["name"]]
        tools.append(dict(checked))
        self.update_config({"model": {"tools": tools}})
        self._tools_changed()

    def remove_tool(self, name: str) -> None:
        """Remove a definition added with :meth:`add_tool`; UsageError when there is none."""
        tools = self.config.get("model", "tools")
        kept = [t for t in tools if t.get("name") != name]
        if len(kept) == len(tools):
            raise UsageError(f"no tool named {name!r} was added")
        self.update_config({"model": {"tools": kept}})
        self._tools_changed()

    def register_tool(self, definition: Any, handler: Callable[..., Any] | None = None) -> Tool:
        """Register a tool with its handler; a name registered again is replaced.

        ``definition`` is a tool definition dict (with ``handler``), a function (its schema
        built from its signature and docstring) or a :class:`Tool`. With a definition dict,
        a handler of one parameter that is not a property gets the arguments dict
        (``register_tool({...}, lambda args: eval(args["expression"]))``); any other handler
        gets keyword arguments and must match the properties, else :class:`UsageError`.
        """
        registered = self.tools.register(definition, handler)
        self._send_session_if_connected()
        self._tools_changed()
        return registered

    def unregister_tool(self, name: str) -> None:
        """Remove a registered tool; UsageError when there is none."""
        self.tools.unregister(name)
        self._send_session_if_connected()
        self._tools_changed()

    # -- MCP servers ----------------------------------------------------------------------

    def add_mcp_server(
        self,
        server_label: str,
        server_url: str | None = None,
        *,
        allowed_tools: Sequence[str] | Mapping[str, Any] | None = None,
        require_approval: str | Mapping[str, Any] | McpApprover | None = None,
        headers: Mapping[str, str] | None = None,
        authorization: str | None = None,
        server_description: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Give the model a remote MCP server's tools (a ``{"type": "mcp"}`` session tool).

        ``require_approval`` is ``"always"`` (the service's default), ``"never"``, a filter
        ``{"always": {...}, "never": {...}}``, or a function: then every call asks for
        approval and the function answers it (see :meth:`on_mcp_approval`). ``headers`` and
        ``authorization`` are credentials: sent in the session, never shown or logged.
        ``fields`` are the tool type's other fields (``connector_id``, ``tunnel_id``,
        ``allowed_callers``, ``defer_loading``). A label added again is replaced. Returns the
        entry as sent; raises UsageError naming a bad field (nothing changes then).
        """
        approver = require_approval if callable(require_approval) else None
        given = {
            "server_url": server_url,
            "allowed_tools": allowed_tools,
            "require_approval": "always" if approver is not None else require_approval,
            "headers": headers,
            "authorization": authorization,
            "server_description": server_description,
            **fields,
        }
        entry = {"type": "mcp", "server_label": server_label}
        entry.update({k: v for k, v in given.items() if v is not None})
        checked = check_mcp_tool(entry, "mcp server")
        tools = [
            t
            for t in self.config.get("model", "tools")
            if not (is_mcp_tool(t) and t.get("server_label") == server_label)
        ]
        if approver is not None:
            self.mcp_approvers[server_label] = approver
        else:
            self.mcp_approvers.pop(server_label, None)
        self.update_config({"model": {"tools": [*tools, checked]}})
        self._tools_changed()
        return checked

    def remove_mcp_server(self, server_label: str) -> None:
        """Remove an MCP server added before; UsageError when there is none, or while the
        session's ``tool_choice`` forces one of its tools."""
        tools = self.config.get("model", "tools")
        kept = [t for t in tools if not (is_mcp_tool(t) and t.get("server_label") == server_label)]
        if len(kept) == len(tools):
            raise UsageError(f"no MCP server labelled {server_label!r} was added")
        self.mcp_approvers.pop(server_label, None)
        self.update_config({"model": {"tools": kept}})
        self._tools_changed()

    def _tell_secrets_to(self, learn: Callable[..., None]) -> None:
        """Tell ``learn`` every credential of the config's MCP servers, now and on changes."""
        self._learn_secrets = learn
        learn(*self._mcp_secrets())

    def _mcp_secrets(self) -> list[str]:
        """The credentials of the MCP servers in the config (for the redactor)."""
        tools = self.config.get("model", "tools") or []
        return [secret for tool in tools if is_mcp_tool(tool) for secret in mcp_secrets(tool)]

    def on_mcp_approval(self, handler: McpApprover | None, server_label: str | None = None) -> None:
        """Answer MCP approval requests with ``handler`` (of one server, or of all).

        ``handler(request)`` gets the ``mcp_approval_request`` item (``server_label``,
        ``name``, ``arguments``) and returns ``True`` to approve, ``False`` to deny (or an
        awaitable of that, or ``(approve, reason)``); the client then sends the
        ``mcp_approval_response`` and asks for a response. ``None`` removes it: requests
        then wait for :meth:`answer_mcp_approval` (the widget's buttons).
        """
        if handler is not None and not callable(handler):
            raise UsageError(f"the MCP approval handler must be callable, got {handler!r}")
        if handler is None:
            self.mcp_approvers.pop(server_label, None)
        else:
            self.mcp_approvers[server_label] = handler

    def _tools_changed(self) -> None:
        changed: ToolsUpdatedEvent = {"tools": self.get_tools()}
        self.dispatch("tools.updated", changed)

    def get_tools(self) -> list[dict[str, Any]]:
        """Every tool definition: added ones, then registered ones."""
        return session_tools(self.config, self.tools.definitions())

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = ...,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> Any:
        """Register a function as a tool: ``@client.tool`` or ``@client.tool(name=...)``.

        The function is returned unchanged. Registering a name again (re-running a notebook
        cell) replaces the tool and updates the session.
        """

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            decorated = make_tool(name=name, description=description, timeout=timeout)(function)
            self.register_tool(as_tool(decorated))
            return decorated

        return register(fn) if fn is not None else register

    async def execute_tool(self, name: str, args: Mapping[str, Any] | str) -> Any:
        """Run a registered tool with ``args`` and return its value.

        Raises :class:`ToolError` when the tool is unknown, the arguments are invalid, it
        fails or times out.
        """
        registered = self.tools.get(name)
        if registered is None:
            raise ToolError(f"tool {name!r} is not registered", tool=name)
        arguments = args if isinstance(args, str) else json.dumps(dict(args))
        result = await run_tool(registered, name, arguments)
        if not result.ok:
            raise ToolError(result.error or f"tool {name!r} failed", tool=name)
        return result.value
