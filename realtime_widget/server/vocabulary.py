"""The words a session expects to hear, and the small language model built from them.

A general English language model hears synthetic or accented speech poorly ("when are you
open" comes back as "ah you know"); one restricted to the words the session can act on
does far better. :func:`session_texts` gathers what a session knows: its instructions, the
prompts and answers of its knowledge scripts, and its tools' names, descriptions and
parameters. :func:`build_vocabulary` turns those texts into a :class:`Vocabulary`: their
words, the number words and a few hundred common words, plus the sentences that teach word
order (each text, and spoken arithmetic after each tool name: "calculate two plus three").

:func:`arpa_bigram` writes the vocabulary as a bigram model in the ARPA text format
(absolute discounting, backoff to add-one unigrams), which any word may follow any other
through, so speech outside the sentences is still heard word by word.

Pure functions, no I/O.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from realtime_widget.server.knowledge import extract_knowledge_instructions

__all__ = [
    "NUMBER_WORDS",
    "Vocabulary",
    "arpa_bigram",
    "build_vocabulary",
    "session_texts",
    "words_of",
]

NUMBER_WORDS = tuple(
    re.findall(
        r"\w+",
        """
zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
ninety hundred thousand million point
""",
    )
)
_OPERATORS = ("plus", "minus", "times", "divided by", "over")
_COMMON = re.findall(
    r"\w+",
    """
a about after again all also am an and any are as ask at back be because been before being
best better between both but by call can cancel could day days did do does doing done down
each else end enough even every find first for from get give go going good got great had
has have having he hello help her here hi him his how i if in into is it its just keep
know last later least left let like little long look lot made make many may me mean more
morning most much must my name need never new next night no not now of off ok okay on once
one only open or other our out over please put quite rather really right same say see set
she should show so some something soon sorry start still stop such sure take tell than
thank thanks that the their them then there these they thing think this those through time
to today tomorrow too try turn two under until up us use very want was way we week well
were what when where which while who why will with without would yes yesterday yet you
your monday tuesday wednesday thursday friday saturday sunday january february march april
may june july august september october november december hour hours minute minutes second
seconds weather price cost date today answer question number numbers calculate add
subtract multiply divide sum total plus minus times divided
""",
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_DISCOUNT = 0.5
_MIN_LOG = -99.0


@dataclass(frozen=True)
class Vocabulary:
    """Words to listen for, and sentences that show their order (lower-case, split)."""

    words: frozenset[str]
    sentences: tuple[tuple[str, ...], ...]


def words_of(text: str) -> list[str]:
    """The lower-case words of ``text`` (``_`` and ``-`` split words; digits dropped)."""
    return _WORD.findall(re.sub(r"[_\-]", " ", text.lower()))


def _tool_texts(tool: Mapping[str, Any]) -> list[str]:
    texts = [str(tool.get("name") or ""), str(tool.get("description") or "")]
    properties = (tool.get("parameters") or {}).get("properties") or {}
    if isinstance(properties, dict):
        for name, schema in properties.items():
            texts.append(str(name))
            if isinstance(schema, dict):
                texts.append(str(schema.get("description") or ""))
    return texts


def _knowledge_texts(knowledge: Mapping[str, Any]) -> list[str]:
    texts: list[str] = []
    for script in knowledge.get("scripts") or ():
        for dialogue in script.get("dialogues") or ():
            texts.extend(str(p) for p in dialogue.get("prompts") or ())
            for response in dialogue.get("responses") or ():
                if response.get("type") == "message":
                    texts.append(str(response.get("message") or ""))
    return texts


def session_texts(
    instructions: str,
    tools: Sequence[Mapping[str, Any]],
    knowledge: Iterable[Mapping[str, Any]],
) -> list[str]:
    """Every text of a session that names something it can act on or answer."""
    texts = [instructions]
    sources = list(knowledge)
    from_instructions = extract_knowledge_instructions(instructions)
    if from_instructions is not None:
        sources.append(from_instructions)
    for source in sources:
        texts.extend(_knowledge_texts(source))
    for tool in tools:
        texts.extend(_tool_texts(tool))
    return [t for t in texts if t.strip()]


def _arithmetic(lead: Sequence[str]) -> list[tuple[str, ...]]:
    """Spoken sums after ``lead``: each of the numbers zero to twelve once on each side of
    every operator (the right one a permutation of the left: 5 and 13 are coprime), so no
    number is likelier than another after the lead or around an operator."""
    numbers = NUMBER_WORDS[:13]
    sentences: list[tuple[str, ...]] = []
    for index, operator in enumerate(_OPERATORS):
        for left in range(len(numbers)):
            right = (left * 5 + index + 2) % len(numbers)
            sentences.append((*lead, numbers[left], *operator.split(), numbers[right]))
    return sentences


def build_vocabulary(texts: Iterable[str], tool_names: Iterable[str] = ()) -> Vocabulary:
    """The vocabulary of ``texts``, the number and common words, and spoken arithmetic.

    Each name of ``tool_names`` is followed by spoken sums in the sentences, so a tool named
    aloud with numbers after it ("calculate two plus three") is a likely word sequence.
    """
    sentences = [tuple(words_of(text)) for text in texts]
    sentences = [s for s in sentences if s]
    sentences.extend(_arithmetic(()))
    for name in tool_names:
        lead = tuple(words_of(name))
        if lead:
            sentences.extend(_arithmetic(lead))
            sentences.extend(_arithmetic(("please", *lead)))
    words = set(NUMBER_WORDS) | set(_COMMON)
    for sentence in sentences:
        words.update(sentence)
    return Vocabulary(frozenset(words), tuple(sentences))


def arpa_bigram(vocabulary: Vocabulary, known: Iterable[str]) -> str:
    """A bigram language model of ``vocabulary`` in ARPA format, over the ``known`` words.

    Words missing from ``known`` (the recognizer's dictionary) are left out, and a sentence
    is cut where one of them was. Sentence boundaries are ``<s>`` and ``</s>``.
    """
    allowed = vocabulary.words & set(known)
    unigrams: Counter[str] = Counter({word: 1 for word in allowed})
    bigrams: Counter[tuple[str, str]] = Counter()
    for sentence in vocabulary.sentences:
        kept = [word if word in allowed else None for word in sentence]
        sequence = ["<s>", *kept, "</s>"]
        for left, right in itertools.pairwise(sequence):
            if right is not None:
                unigrams[right] += 1
            if left is not None and right is not None:
                bigrams[(left, right)] += 1
    unigrams["</s>"] += 1
    total = sum(unigrams.values())
    probability = {word: count / total for word, count in unigrams.items()}
    following: dict[str, list[tuple[str, int]]] = {}
    for (left, right), count in bigrams.items():
        following.setdefault(left, []).append((right, count))

    def backoff(word: str) -> float:
        seen = following.get(word)
        if not seen:
            return 0.0
        count = sum(c for _, c in seen)
        left_over = _DISCOUNT * len(seen) / count
        remaining = 1.0 - sum(probability.get(right, 0.0) for right, _ in seen)
        return math.log10(left_over / max(remaining, 1e-9))

    lines = ["\\data\\", f"ngram 1={len(unigrams) + 1}", f"ngram 2={len(bigrams)}", ""]
    lines.append("\\1-grams:")
    lines.append(f"{_MIN_LOG:.4f} <s> {backoff('<s>'):.4f}")
    for word in sorted(unigrams):
        lines.append(f"{math.log10(probability[word]):.4f} {word} {backoff(word):.4f}")
    lines += ["", "\\2-grams:"]
    for left in sorted(following):
        seen = following[left]
        count = sum(c for _, c in seen)
        for right, pair in sorted(seen):
            lines.append(f"{math.log10((pair - _DISCOUNT) / count):.4f} {left} {right}")
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)
