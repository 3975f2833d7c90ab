"""The deterministic "model" of the local server: what a response says or calls.

Given the context of a response (conversation items, instructions, tools, tool choice and
knowledge), :func:`decide` returns the outputs, one per output item, by the first rule that
applies:

1. **Tool results.** When the context ends with ``function_call_output`` items (after the
   last message), the answer states them: ``"add returned 5. multiply returned 6."``; an
   output ``{"error": "..."}`` reads ``"add failed: ..."``, a one-key object its value.
2. **Forced tool.** ``tool_choice`` ``required`` or ``{type: function, name}`` (or an MCP
   server's tools, see :meth:`~realtime_widget.server.mcp.McpTools.model_choice`) calls the
   mentioned tools (see :mod:`~realtime_widget.server.toolcalls`), else the named tool (or
   the first tool) with the arguments found in the whole text.
3. **Knowledge.** A dialogue of the knowledge scripts matching the user's text (see
   :func:`~realtime_widget.server.knowledge.match_dialogue`) answers with its responses in
   order: message responses as messages, function responses as calls. Knowledge comes from
   the caller (server and session) and from a block in the instructions.
4. **Tools.** Tools mentioned in the user's text are called (unless ``tool_choice`` is
   ``none``).
5. **Echo.** ``"You said: X."`` for a user text X (no extra period when X ends with
   ``.``, ``!`` or ``?``); ``"Sorry, I did not catch that."`` for speech the recognizer
   could not make out; ``"I heard N.N seconds of audio."`` for audio no recognizer
   listened to (a server without one); ``"I see an image of WxH pixels."`` (or
   ``"I see an image."``) per image;
   ``"Hello! How can I help?"`` when there is no user message at all.

Pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from realtime_widget.server.knowledge import extract_knowledge_instructions, match_dialogue
from realtime_widget.server.perceive import Perception, perceive
from realtime_widget.server.store import StoredItem
from realtime_widget.server.toolcalls import ToolCall, extract_arguments, find_tool_calls

__all__ = ["NOT_CAUGHT", "CallOutput", "MessageOutput", "ModelContext", "Output", "decide"]

NOT_CAUGHT = "Sorry, I did not catch that."


@dataclass(frozen=True)
class MessageOutput:
    """An assistant message saying ``text``."""

    text: str


@dataclass(frozen=True)
class CallOutput:
    """A function call of tool ``name`` with JSON ``arguments``."""

    name: str
    arguments: str


Output = MessageOutput | CallOutput


@dataclass(frozen=True)
class ModelContext:
    """Everything a response may depend on."""

    items: Sequence[StoredItem]
    instructions: str = ""
    tools: Sequence[dict[str, Any]] = ()
    tool_choice: str | dict[str, Any] = "auto"
    knowledge: Sequence[dict[str, Any]] = ()


def _render_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _result_sentence(name: str, output: str) -> str:
    try:
        value: Any = json.loads(output)
    except ValueError:
        value = output
    if isinstance(value, dict) and set(value) == {"error"}:
        return f"{name} failed: {_render_value(value['error']).rstrip('.')}."
    if isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    return f"{name} returned {_render_value(value)}."


def _tool_results(items: Sequence[StoredItem]) -> list[str] | None:
    outputs: list[dict[str, Any]] = []
    for stored in reversed(items):
        kind = stored.item.get("type")
        if kind == "message":
            break
        if kind == "function_call_output":
            outputs.append(stored.item)
    if not outputs:
        return None
    names = {
        s.item.get("call_id"): s.item.get("name")
        for s in items
        if s.item.get("type") == "function_call"
    }
    return [
        _result_sentence(str(names.get(o["call_id"]) or f"call {o['call_id']}"), o["output"])
        for o in reversed(outputs)
    ]


def _last_user(items: Sequence[StoredItem]) -> Perception | None:
    for stored in reversed(items):
        item = stored.item
        if item.get("type") == "message" and item.get("role") == "user":
            return perceive(stored)
    return None


def _echo(heard: Perception | None) -> str:
    if heard is None:
        return "Hello! How can I help?"
    sentences: list[str] = []
    if heard.text:
        tail = "" if heard.text.endswith((".", "!", "?")) else "."
        sentences.append(f"You said: {heard.text}{tail}")
    if heard.missed:
        sentences.append(NOT_CAUGHT)
    sentences.extend(f"I heard {s:.1f} seconds of audio." for s in heard.unheard_audio_seconds)
    for size in heard.images:
        sentences.append(
            f"I see an image of {size[0]}x{size[1]} pixels." if size else "I see an image."
        )
    return " ".join(sentences) if sentences else "I did not catch that."


def _calls(calls: list[ToolCall]) -> list[Output]:
    return [CallOutput(call.name, call.arguments_json) for call in calls]


def _forced(context: ModelContext, text: str) -> list[Output] | None:
    choice = context.tool_choice
    tools = list(context.tools)
    if not tools or choice in ("auto", "none"):
        return None
    if isinstance(choice, dict):
        tools = [t for t in tools if t.get("name") == choice.get("name")]
        if not tools:
            return None
    mentioned = find_tool_calls(tools, text)
    if mentioned:
        return _calls(mentioned)
    tool = tools[0]
    return _calls([ToolCall(str(tool["name"]), extract_arguments(tool, text))])


def _knowledge(context: ModelContext, text: str, *, spoken: bool) -> list[Output] | None:
    sources = list(context.knowledge)
    from_instructions = extract_knowledge_instructions(context.instructions)
    if from_instructions is not None:
        sources.insert(0, from_instructions)
    found = match_dialogue(sources, text, near=spoken) if sources else None
    if found is None:
        return None
    outputs: list[Output] = []
    for response in found.dialogue["responses"]:
        if response["type"] == "message":
            outputs.append(MessageOutput(response["message"]))
        else:
            function = response["function"]
            arguments = function.get("arguments", {})
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False)
            outputs.append(CallOutput(function["name"], arguments))
    return outputs


def decide(context: ModelContext) -> list[Output]:
    """The outputs of a response for ``context`` (see the module rules); never empty."""
    results = _tool_results(context.items)
    if results is not None:
        return [MessageOutput(" ".join(results))]
    heard = _last_user(context.items)
    text = heard.text if heard else ""
    forced = _forced(context, text)
    if forced:
        return forced
    if text:
        scripted = _knowledge(context, text, spoken=heard is not None and heard.spoken)
        if scripted:
            return scripted
        if context.tool_choice != "none":
            calls = find_tool_calls(list(context.tools), text)
            if calls:
                return _calls(calls)
    return [MessageOutput(_echo(heard))]
