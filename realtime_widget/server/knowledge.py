"""Matching a user's words to the knowledge scripts (see :mod:`realtime_widget.core.knowledge`).

:func:`match_dialogue` finds the dialogue for a user text. Texts and prompts are compared
normalised (lower-cased, punctuation turned into spaces, whitespace collapsed); a prompt
matches when it equals the text or is contained in it as whole words. Heard speech
(``near=True``) may also be one word off a prompt of three words or more (a word misheard,
missed or added: "we are you open" for "when are you open"), as a listener would take it.
Among matches the script with the highest ``priority`` (a number, 0 when absent) wins; then
an exact match beats a contained one, and a contained one a near one; then the longer
prompt; then the earlier script and dialogue.

Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from realtime_widget.core.knowledge import (
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
    "word_edits",
]


@dataclass(frozen=True)
class DialogueMatch:
    """The dialogue chosen for a user text, with the script it belongs to and the prompt hit."""

    script: dict[str, Any]
    dialogue: dict[str, Any]
    prompt: str
    exact: bool


def match_dialogue(
    sources: list[dict[str, Any]], text: str, *, near: bool = False
) -> DialogueMatch | None:
    """The best dialogue of the knowledge objects ``sources`` for ``text``, else ``None``;
    ``near`` (for heard speech) also takes a prompt one word off (see the module rules).

    ``sources`` must hold validated knowledge (see :func:`validate_knowledge`).
    """
    said = normalize_utterance(text)
    if not said:
        return None
    padded = f" {said} "
    said_words = said.split()
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
                    if exact or f" {wanted} " in padded:
                        tier = 2 if exact else 1
                    elif near and _one_word_off(wanted.split(), said_words):
                        tier = 0
                    else:
                        continue
                    key = (priority, tier, len(wanted), order)
                    if best is None or key > best[0]:
                        best = (key, DialogueMatch(script, dialogue, prompt, exact))
    return None if best is None else best[1]


def _one_word_off(prompt: list[str], said: list[str]) -> bool:
    """Whether ``said`` is ``prompt`` of three words or more with one word changed, missed
    or added."""
    return len(prompt) >= 3 and abs(len(prompt) - len(said)) <= 1 and word_edits(prompt, said) <= 1


def word_edits(wanted: Sequence[str], got: Sequence[str]) -> int:
    """The fewest word substitutions, insertions and deletions turning ``wanted`` into
    ``got`` (Levenshtein over words)."""
    row = list(range(len(got) + 1))
    for index, word in enumerate(wanted, 1):
        previous, row[0] = row[0], index
        for column, other in enumerate(got, 1):
            previous, row[column] = (
                row[column],
                min(row[column] + 1, row[column - 1] + 1, previous + (word != other)),
            )
    return row[-1]
