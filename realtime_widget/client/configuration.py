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
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, overload

from realtime_widget.client.dispatching import ClientEvents
from realtime_widget.core.errors import ToolError, UsageError
from realtime_widget.core.protocol import AudioFormat, ToolsUpdatedEvent
from realtime_widget.core.session import (
    SessionConfig,
    SessionShape,
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
        if session_type == "transcription" and shape != "ga":
            raise UsageError(f"a transcription session speaks GA, not dialect {shape!r}")
        self.config = config
        self.session_shape: SessionShape = shape
        self.session_type: Literal["realtime", "transcription"] = session_type
        self.tools = ToolRegistry()

    # -- configuration --------------------------------------------------------------------

    def update_config(self, updates: Mapping[str, Any]) -> None:
        """Deep-merge grouped config ``updates``, then send the session if connected.

        The merge rules, and which fields each dialect sends (GA has no ``temperature``),
        are :mod:`realtime_widget.core.session`'s.
        """
        self.config.update_config(updates)
        self._send_session_if_connected()

    def update_session(self, **fields: Any) -> bool:
        """Set flat session fields (``instructions``, ``voice``, ``turn_detection``, ...).

        Each replaces its whole value (see :mod:`realtime_widget.core.session`; GA sessions take
        no ``temperature``). Sends the whole session when connected. Returns ``True``.
        """
        if fields:
            self.config.update_session(**fields)
        self._send_session_if_connected()
        return True

    def _send_session_if_connected(self) -> None:
        """The session's configuration changed: a connected client sends it."""

    def get_session_payload(self) -> dict[str, Any]:
        """``{"session": ...}`` in the client's dialect shape, with every tool; a
        transcription session's input audio settings only."""
        if self.session_type == "transcription":
            return {"session": transcription_payload(self.config)}
        return {
            "session": session_payload(
                self.config, self.session_shape, tools=self.tools.definitions()
            )
        }

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
