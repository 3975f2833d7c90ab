"""What a widget makes of its settings: session fields, tools, and the kernel check.

A bad setting is a :class:`UsageError` naming it. :data:`UNSET` marks a setting not given
(``None`` is a value: no transcription, manual turns).
"""

from __future__ import annotations

import importlib.metadata
import sys
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from realtime_widget.core.errors import UsageError
from realtime_widget.widget.turns import turn_config

if TYPE_CHECKING:
    from realtime_widget.client.client import RealtimeClient

__all__ = [
    "DEFAULT_TRANSCRIPTION",
    "UNSET",
    "add_tool",
    "ipykernel_too_old",
    "session_fields",
    "tool_summaries",
    "transcription_config",
    "warn_if_old_ipykernel",
]

DEFAULT_TRANSCRIPTION: Final = "gpt-4o-mini-transcribe"  # for a client the widget makes


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


UNSET: Final = _Unset()

_ipykernel_warned = False


def ipykernel_too_old(version: str) -> bool:
    """Whether an ipykernel ``version`` holds comm messages while a cell awaits (before 7)."""
    major = version.split(".", 1)[0]
    return major.isdigit() and int(major) < 7


def warn_if_old_ipykernel() -> None:
    """Warn once per process when running in an ipykernel older than 7, which holds comm
    messages while any cell runs, even one that awaits.

    The warning names the line that made the widget: call this from the widget's
    ``__init__`` itself.
    """
    global _ipykernel_warned
    module = sys.modules.get("ipykernel")
    if _ipykernel_warned or module is None:
        return
    version = getattr(module, "__version__", None)
    if not isinstance(version, str):
        try:
            version = importlib.metadata.version("ipykernel")
        except importlib.metadata.PackageNotFoundError:
            return
    if ipykernel_too_old(version):
        _ipykernel_warned = True
        warnings.warn(
            f"ipykernel {version} holds the widget's messages while a cell runs, even one "
            "that awaits: install ipykernel>=7.4 in the kernel's environment",
            RuntimeWarning,
            stacklevel=3,
        )


def transcription_config(value: object) -> dict[str, Any] | None:
    """The session's ``input_audio_transcription`` for a widget value."""
    if value is None:
        return None
    if isinstance(value, str) and value:
        return {"model": value}
    if isinstance(value, Mapping):
        return dict(value)
    raise UsageError(f"transcription must be a model name, a dict or None, got {value!r}")


def session_fields(
    *, instructions: str | None, voice: str | None, transcription: Any, turn_detection: Any
) -> dict[str, Any]:
    """The fields of one ``update_session`` of the client for the settings given (those
    not :data:`UNSET`); ``turn_detection`` is read by :func:`turn_config`."""
    fields: dict[str, Any] = {}
    if instructions is not None:
        fields["instructions"] = instructions
    if voice is not None:
        fields["voice"] = voice
    if transcription is not UNSET:
        fields["input_audio_transcription"] = transcription_config(transcription)
    if turn_detection is not UNSET:
        fields["turn_detection"] = turn_config(turn_detection)
    return fields


def add_tool(client: RealtimeClient, tool: Any) -> None:
    """Give ``client`` a tool given to the widget: a function or :class:`Tool` is
    registered, a definition with a ``handler`` is registered with it, one without is only
    defined (the caller answers it with ``client.send_function_call_output``)."""
    if isinstance(tool, Mapping) and "handler" not in tool:
        client.add_tool(tool)
    elif isinstance(tool, Mapping):
        definition = {k: v for k, v in tool.items() if k != "handler"}
        client.register_tool(definition, tool["handler"])
    else:
        client.register_tool(tool)


def tool_summaries(tools: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``tools`` trait's value for the client's tool definitions."""
    return [
        {
            "name": str(t.get("name", "")),
            "description": str(t.get("description", "")),
            "parameters": t.get("parameters") or {},
        }
        for t in tools
    ]
