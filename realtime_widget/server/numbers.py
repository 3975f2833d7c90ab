"""Numbers said in words: their homophones fixed in transcripts, digits for tool arguments.

- :func:`fix_homophones` mends what a recognizer cannot hear apart: "to", "too", "do" and
  "for", "won", "ate" next to a number word or a spoken operator are the numbers ("calculate
  to plus three" is "calculate two plus three").
- :func:`digits` writes spoken numbers as digits and, between two numbers, spoken operators
  as symbols: "two plus three" is ``2 + 3``, "twenty one times four point five" is
  ``21 * 4.5``, "ten divided by two" is ``10 / 2``. Other words are left as they are.

Pure functions, no I/O.
"""

from __future__ import annotations

import re

__all__ = ["digits", "fix_homophones"]

_UNITS = {
    word: value
    for value, word in enumerate(
        re.findall(
            r"\w+",
            "zero one two three four five six seven eight nine "
            "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen",
        )
    )
}
_TENS = {
    word: 10 * (index + 2)
    for index, word in enumerate(
        re.findall(r"\w+", "twenty thirty forty fifty sixty seventy eighty ninety")
    )
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
_OPERATORS = {
    ("plus",): "+",
    ("minus",): "-",
    ("times",): "*",
    ("multiplied", "by"): "*",
    ("divided", "by"): "/",
    ("over",): "/",
}
_HOMOPHONES = {"to": "two", "too": "two", "do": "two", "for": "four", "won": "one", "ate": "eight"}
_OPERATOR_WORDS = {word for words in _OPERATORS for word in words}
_TOKEN = re.compile(r"\S+")


def _is_number_word(word: str) -> bool:
    return word in _UNITS or word in _TENS or word in _SCALES


def fix_homophones(text: str) -> str:
    """``text`` with number homophones beside numbers or operators read as numbers."""
    words = text.split()
    fixed = list(words)
    for index, word in enumerate(words):
        number = _HOMOPHONES.get(word.lower())
        if number is None:
            continue
        around = [
            w.lower() for w in words[max(0, index - 1) : index] + words[index + 1 : index + 2]
        ]
        if any(_is_number_word(w) or w in _OPERATOR_WORDS or w.isdigit() for w in around):
            fixed[index] = number
    return " ".join(fixed)


def _read_number(words: list[str], start: int) -> tuple[str, int] | None:
    """The number spoken from ``words[start]`` on, and the index after it."""
    total = current = 0
    index = start
    seen = False
    while index < len(words):
        word = words[index]
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "and" and seen and index + 1 < len(words) and words[index + 1] in _UNITS:
            pass  # "three hundred and two"
        elif word in _SCALES and seen:
            scale = _SCALES[word]
            if scale == 100:
                current *= scale
            else:
                total += current * scale
                current = 0
        else:
            break
        seen = True
        index += 1
    if not seen:
        return None
    value = str(total + current)
    if index + 1 < len(words) and words[index] == "point" and words[index + 1] in _UNITS:
        fraction = ""
        index += 1
        while index < len(words) and words[index] in _UNITS and _UNITS[words[index]] < 10:
            fraction += str(_UNITS[words[index]])
            index += 1
        value = f"{value}.{fraction}"
    return value, index


def _operator_at(words: list[str], start: int) -> tuple[str, int] | None:
    for spoken, symbol in _OPERATORS.items():
        if tuple(words[start : start + len(spoken)]) == spoken:
            return symbol, start + len(spoken)
    return None


def digits(text: str) -> str:
    """``text`` with spoken numbers as digits and operators between them as symbols."""
    tokens = _TOKEN.findall(text)
    words = [re.sub(r"[^\w]", "", t.lower()) for t in tokens]
    out: list[str] = []
    index = 0
    last_number = False
    while index < len(tokens):
        number = _read_number(words, index)
        if number is not None:
            value, index = number
            out.append(value + re.sub(r"^.*?([.,;:!?]*)$", r"\1", tokens[index - 1]))
            last_number = True
            continue
        operator = _operator_at(words, index) if last_number else None
        if operator is not None and _read_number(words, operator[1]) is not None:
            out.append(operator[0])
            index = operator[1]
        else:
            out.append(tokens[index])
            index += 1
        last_number = False
    return " ".join(out)
