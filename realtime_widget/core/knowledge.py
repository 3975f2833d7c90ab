"""Knowledge scripts: predefined answers and function calls for known prompts.

The format (the seed's ``RealtimeConfig.knowledge``)::

    {"scripts": [{"id", "name", "description", "priority", "tags",
                  "dialogues": [{"id", "prompts": ["text", ...],
                                 "responses": [{"id", "type": "message", "message": "..."},
                                               {"id", "type": "function",
                                                "function": {"name", "arguments"}}]}]}]}

Only ``scripts``, ``dialogues``, ``prompts``, ``responses`` and each response's ``type`` and
payload are required; the other fields are optional and kept as given.

The real service has no field for scripts, so they travel inside the instructions:

- :func:`validate_knowledge` checks the shape and returns a deep copy (``UsageError`` naming
  the first offending field otherwise).
- :func:`render_knowledge_instructions` writes a line ``Knowledge scripts:``, a sentence a
  model can follow, and the scripts as a fenced ``json`` block;
  :func:`extract_knowledge_instructions` recovers them exactly, so one notebook works against
  the real service (which reads the block) and the local server (which parses it);
  :func:`merge_knowledge_instructions` replaces the block in existing instructions.
- :func:`normalize_utterance` is how prompts and user texts are compared.

Pure functions, no I/O.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from realtime_widget.core.checks import is_number
from realtime_widget.core.errors import UsageError

__all__ = [
    "KNOWLEDGE_HEADING",
    "extract_knowledge_instructions",
    "merge_knowledge_instructions",
    "normalize_utterance",
    "render_knowledge_instructions",
    "validate_knowledge",
]

KNOWLEDGE_HEADING = "Knowledge scripts:"
_GUIDANCE = (
    "When the user says one of the prompts of a dialogue below (or a sentence containing "
    "it), answer with that dialogue's responses in order: say each message response word "
    "for word and call each function response with its arguments. When several dialogues "
    "match, prefer the script with the highest priority."
)
_BLOCK = re.compile(
    r"^"
    + re.escape(KNOWLEDGE_HEADING)
    + r"[ \t]*\n(?:[^\n]*\n)*?```json[ \t]*\n([\s\S]*?)\n```[ \t]*$",
    re.MULTILINE,
)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def _fail(path: str, problem: str) -> UsageError:
    return UsageError(f"knowledge {path} {problem}")


def _check_str(value: Any, path: str, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise _fail(path, "must be a string")


def _check_response(response: Any, path: str) -> None:
    if not isinstance(response, dict):
        raise _fail(path, "must be an object")
    _check_str(response.get("id"), f"{path}.id")
    kind = response.get("type")
    if kind == "message":
        if not isinstance(response.get("message"), str):
            raise _fail(f"{path}.message", "must be a string")
    elif kind == "function":
        function = response.get("function")
        if not isinstance(function, dict):
            raise _fail(f"{path}.function", "must be an object")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"{path}.function.name", "must be a non-empty string")
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                raise _fail(f"{path}.function.arguments", "is not valid json") from None
        if not isinstance(arguments, dict):
            raise _fail(f"{path}.function.arguments", "must be an object or a json object")
    else:
        raise _fail(f"{path}.type", f"must be 'message' or 'function', got {kind!r}")


def validate_knowledge(knowledge: Any) -> dict[str, Any]:
    """A deep copy of ``knowledge`` once its shape is checked.

    Raises ``UsageError`` naming the first offending field (``knowledge scripts[0].dialogues
    must be a list``).
    """
    if not isinstance(knowledge, dict):
        raise _fail("", "must be an object with a 'scripts' list")
    scripts = knowledge.get("scripts")
    if not isinstance(scripts, list):
        raise _fail("scripts", "must be a list")
    for s, script in enumerate(scripts):
        path = f"scripts[{s}]"
        if not isinstance(script, dict):
            raise _fail(path, "must be an object")
        for key in ("id", "name", "description"):
            _check_str(script.get(key), f"{path}.{key}")
        priority = script.get("priority")
        if priority is not None and not is_number(priority):
            raise _fail(f"{path}.priority", "must be a number")
        tags = script.get("tags")
        if tags is not None and (
            not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
        ):
            raise _fail(f"{path}.tags", "must be a list of strings")
        dialogues = script.get("dialogues")
        if not isinstance(dialogues, list):
            raise _fail(f"{path}.dialogues", "must be a list")
        for d, dialogue in enumerate(dialogues):
            dpath = f"{path}.dialogues[{d}]"
            if not isinstance(dialogue, dict):
                raise _fail(dpath, "must be an object")
            _check_str(dialogue.get("id"), f"{dpath}.id")
            prompts = dialogue.get("prompts")
            if (
                not isinstance(prompts, list)
                or not prompts
                or not all(isinstance(p, str) and normalize_utterance(p) for p in prompts)
            ):
                raise _fail(f"{dpath}.prompts", "must be a non-empty list of non-empty strings")
            responses = dialogue.get("responses")
            if not isinstance(responses, list) or not responses:
                raise _fail(f"{dpath}.responses", "must be a non-empty list")
            for r, response in enumerate(responses):
                _check_response(response, f"{dpath}.responses[{r}]")
    return copy.deepcopy(knowledge)


def render_knowledge_instructions(knowledge: Any) -> str:
    """An instructions block describing ``knowledge`` (validated first; may raise UsageError)."""
    checked = validate_knowledge(knowledge)
    body = json.dumps(checked, indent=2, ensure_ascii=False)
    return f"{KNOWLEDGE_HEADING}\n{_GUIDANCE}\n```json\n{body}\n```"


def extract_knowledge_instructions(instructions: str | None) -> dict[str, Any] | None:
    """The knowledge held by the first well-formed block in ``instructions``, else ``None``.

    A block whose json is invalid or whose shape fails :func:`validate_knowledge` is ignored.
    """
    if not instructions or KNOWLEDGE_HEADING not in instructions:
        return None
    for found in _BLOCK.finditer(instructions):
        try:
            return validate_knowledge(json.loads(found.group(1)))
        except ValueError:
            continue
    return None


def merge_knowledge_instructions(instructions: str, knowledge: Any | None) -> str:
    """``instructions`` with its knowledge block replaced by one for ``knowledge``.

    Any existing block is removed; a new one is appended (after a blank line) unless
    ``knowledge`` is ``None``.
    """
    kept = _BLOCK.sub("", instructions).rstrip()
    if knowledge is None:
        return kept
    block = render_knowledge_instructions(knowledge)
    return f"{kept}\n\n{block}" if kept else block


def normalize_utterance(text: str) -> str:
    """Lower-cased words of ``text`` separated by single spaces (punctuation dropped)."""
    return " ".join(_NON_WORD.sub(" ", text.lower().replace("_", " ")).split())
