"""Knowledge scripts: predefined answers to known prompts, and how they travel.

A knowledge config is ``{"scripts": [script, ...]}``; a script is ``{id, name, description,
priority, tags, dialogues}`` (all but ``dialogues`` optional); a dialogue is ``{id, prompts:
[text, ...], responses: [response, ...]}``; a response is ``{id, type: "message", message:
text}`` or ``{id, type: "function", function: {name, arguments}}``.

The real service has no field for scripts, so they travel inside the instructions:
:func:`render_knowledge_instructions` writes a heading a model can follow plus the scripts as
a fenced JSON block, and :func:`extract_knowledge_instructions` reads that block back exactly
(the local server uses it to answer deterministically).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import UsageError

__all__ = [
    "KNOWLEDGE_HEADING",
    "extract_knowledge_instructions",
    "render_knowledge_instructions",
    "validate_knowledge",
]

KNOWLEDGE_HEADING = "Knowledge scripts:"
_PREAMBLE = (
    "When the user's message matches one of the prompts below, give the scripted response: "
    "say the message exactly, or call the function with the arguments given."
)
_BLOCK = re.compile(re.escape(KNOWLEDGE_HEADING) + r".*?```json\n(.*?)\n```", re.DOTALL)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where} must be a non-empty string, got {value!r}")
    return value


def _response(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise UsageError(f"{where} must be a dict, got {value!r}")
    kind = value.get("type")
    if kind == "message":
        _text(value.get("message"), f"{where}.message")
    elif kind == "function":
        function = value.get("function")
        if not isinstance(function, Mapping):
            raise UsageError(f"{where}.function must be a dict, got {function!r}")
        _text(function.get("name"), f"{where}.function.name")
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{where}.function.arguments is not valid json: {exc}") from None
        if not isinstance(arguments, Mapping):
            raise UsageError(f"{where}.function.arguments must be a dict, got {arguments!r}")
    else:
        raise UsageError(f"{where}.type must be 'message' or 'function', got {kind!r}")
    return dict(value)


def validate_knowledge(knowledge: Any) -> dict[str, Any]:
    """Check a knowledge config and return a plain copy; raises UsageError naming the fault."""
    if not isinstance(knowledge, Mapping):
        raise UsageError(f"knowledge must be a dict with 'scripts', got {knowledge!r}")
    scripts = knowledge.get("scripts", [])
    if not isinstance(scripts, list | tuple):
        raise UsageError(f"knowledge.scripts must be a list, got {scripts!r}")
    checked: list[dict[str, Any]] = []
    for i, script in enumerate(scripts):
        where = f"knowledge.scripts[{i}]"
        if not isinstance(script, Mapping):
            raise UsageError(f"{where} must be a dict, got {script!r}")
        priority = script.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int | float):
            raise UsageError(f"{where}.priority must be a number, got {priority!r}")
        dialogues = script.get("dialogues")
        if not isinstance(dialogues, list | tuple) or not dialogues:
            raise UsageError(f"{where}.dialogues must be a non-empty list, got {dialogues!r}")
        for j, dialogue in enumerate(dialogues):
            at = f"{where}.dialogues[{j}]"
            if not isinstance(dialogue, Mapping):
                raise UsageError(f"{at} must be a dict, got {dialogue!r}")
            prompts = dialogue.get("prompts")
            if not isinstance(prompts, list | tuple) or not prompts:
                raise UsageError(f"{at}.prompts must be a non-empty list, got {prompts!r}")
            for k, prompt in enumerate(prompts):
                _text(prompt, f"{at}.prompts[{k}]")
            responses = dialogue.get("responses")
            if not isinstance(responses, list | tuple) or not responses:
                raise UsageError(f"{at}.responses must be a non-empty list, got {responses!r}")
            for k, response in enumerate(responses):
                _response(response, f"{at}.responses[{k}]")
        checked.append(json.loads(json.dumps(script)))
    return {"scripts": checked}


def render_knowledge_instructions(knowledge: Mapping[str, Any]) -> str:
    """Instructions text carrying ``knowledge``: a heading, a rule, and a fenced JSON block."""
    checked = validate_knowledge(knowledge)
    body = json.dumps(checked, indent=1, ensure_ascii=False)
    return f"{KNOWLEDGE_HEADING}\n{_PREAMBLE}\n```json\n{body}\n```"


def extract_knowledge_instructions(instructions: str) -> dict[str, Any] | None:
    """The knowledge config rendered into ``instructions``, or ``None`` when there is none.

    Raises UsageError when a block is present but does not hold valid scripts.
    """
    match = _BLOCK.search(instructions or "")
    if match is None:
        return None
    try:
        data = json.loads(match.group(1))
    except json.JSONDecodeError as exc:
        raise UsageError(f"knowledge block in the instructions is not valid json: {exc}") from None
    return validate_knowledge(data)
