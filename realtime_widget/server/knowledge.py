"""Matching a user's words to the knowledge scripts (see :mod:`realtime_widget.knowledge`).

:func:`match_dialogue` finds the dialogue for a user text. Texts and prompts are compared
normalised (lower-cased, punctuation turned into spaces, whitespace collapsed); a prompt
matches when it equals the text or is contained in it as whole words. Among matches the
script with the highest ``priority`` (a number, 0 when absent) wins; then an exact match
beats a contained one; then the longer prompt; then the earlier script and dialogue.

Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..knowledge import (
    KNOWLEDGE_HEADING,
    extract_knowledge_instructions,
    merge_knowledge_instructions,
    normalize_utterance,
    render_knowledge_instructions,
    validate_knowledge,
)

__all__ = [
    "KNOWLEDGE_HEADING",
    "DialogueMatch",
    "extract_knowledge_instructions",
    "match_dialogue",
    "merge_knowledge_instructions",
    "normalize_utterance",
    "render_knowledge_instructions",
    "validate_knowledge",
]


@dataclass(frozen=True)
class DialogueMatch:
    """The dialogue chosen for a user text, with the script it belongs to and the prompt hit."""

    script: dict[str, Any]
    dialogue: dict[str, Any]
    prompt: str
    exact: bool


def match_dialogue(sources: list[dict[str, Any]], text: str) -> DialogueMatch | None:
    """The best dialogue of the knowledge objects ``sources`` for ``text``, else ``None``.

    ``sources`` must hold validated knowledge (see :func:`validate_knowledge`).
    """
    said = normalize_utterance(text)
    if not said:
        return None
    padded = f" {said} "
    best: tuple[tuple[float, int, int, int], DialogueMatch] | None = None
    order = 0
    for knowledge in sources:
        for script in knowledge["scripts"]:
            priority = float(script.get("priority") or 0)
            for dialogue in script["dialogues"]:
                order -= 1
                for prompt in dialogue["prompts"]:
                    wanted = normalize_utterance(prompt)
                    exact = wanted == said
                    if not exact and f" {wanted} " not in padded:
                        continue
                    key = (priority, int(exact), len(wanted), order)
                    if best is None or key > best[0]:
                        best = (key, DialogueMatch(script, dialogue, prompt, exact))
    return None if best is None else best[1]
