"""A tool's result as its output string, encoded as a stream that stops at a byte limit.

A ``str`` is the output as it is; anything else becomes JSON (dataclasses, enums, numpy
arrays, datetimes, paths, ``model_dump()`` objects; NaN as ``null``). The limit is kept while
encoding: a sized value that cannot fit is refused from its length before any item is read,
so ``range(10**9)`` costs nothing. Too big raises :class:`OversizedResult`.
"""

from __future__ import annotations

import collections.abc as cabc
import contextlib
import dataclasses
import datetime
import enum
import json
import math
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["MAX_DEPTH", "OversizedResult", "serialise_result"]

MAX_DEPTH = 100
"""How deeply a result may nest containers."""


class OversizedResult(ValueError):
    """A result whose output would pass ``limit`` UTF-8 bytes; the message says what."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


def serialise_result(value: Any, *, max_bytes: int | None = None) -> str:
    """The output string for a handler's result (see the module rules).

    ``max_bytes`` bounds the output's UTF-8 size (``None``: no bound); raises
    :class:`OversizedResult` once it is passed, ``ValueError`` for a circular or too deeply
    nested result.
    """
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str):
        text = str.__str__(value)
        if max_bytes is not None:
            _check_text(text, max_bytes)
        return text
    writer = _Writer(max_bytes)
    writer.value(value, 0, set())
    return "".join(writer.parts)


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _check_text(text: str, limit: int) -> None:
    # a character takes at least one byte: a long text is refused before it is encoded
    if len(text) > limit:
        raise OversizedResult(
            f"text of {len(text)} characters is over the limit of {limit} bytes", limit
        )
    size = _utf8_size(text)
    if size > limit:
        raise OversizedResult(f"text of {size} bytes is over the limit of {limit} bytes", limit)


def _json_key(key: Any) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key if not isinstance(key, float) or math.isfinite(key) else None)
    return str(key)


def _sort_key(item: Any) -> Any:
    return item.value if isinstance(item, enum.Enum) else item


def _all_finite(array: Any) -> bool:
    return array.dtype.kind != "f" or bool(np.isfinite(array).all())


def _is_numpy(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "numpy" and callable(
        getattr(value, "tolist", None)
    )


class _Writer:
    """Writes a value's JSON into ``parts``, counting UTF-8 bytes against ``limit``."""

    __slots__ = ("limit", "parts", "size")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def passed(self) -> OversizedResult:
        assert self.limit is not None
        return OversizedResult(
            f"its JSON passed the limit of {self.limit} bytes (encoding stopped there)",
            self.limit,
        )

    def write(self, text: str) -> None:
        self.size += _utf8_size(text)
        if self.limit is not None and self.size > self.limit:
            raise self.passed()
        self.parts.append(text)

    def reserve(self, value: Any, count: int, depth: int) -> None:
        """``count`` items of ``value`` come next: refuse them now if they cannot fit."""
        if self.limit is None or self.size + max(2, 3 * count) <= self.limit:
            return
        if depth:
            raise self.passed()
        what = f"{type(value).__name__} of {count} items"
        raise OversizedResult(f"{what} is over the limit of {self.limit} bytes as JSON", self.limit)

    def text(self, text: str) -> None:
        if self.limit is not None and self.size + len(text) + 2 > self.limit:
            raise self.passed()  # checked before encoding a long string
        self.write(json.dumps(text, ensure_ascii=False))

    def value(self, value: Any, depth: int, active: set[int]) -> None:
        if value is None:
            self.write("null")
        elif isinstance(value, bool):
            self.write("true" if value else "false")
        elif isinstance(value, enum.Enum):
            self.value(value.value, depth, active)
        elif isinstance(value, int):
            self.write(int.__repr__(value))
        elif isinstance(value, float):
            self.write(float.__repr__(value) if math.isfinite(value) else "null")
        elif isinstance(value, str):
            self.text(str.__str__(value))
        elif isinstance(value, datetime.date | datetime.time):
            self.text(value.isoformat())
        elif isinstance(value, pathlib.PurePath):
            self.text(str(value))
        elif isinstance(value, bytes | bytearray | memoryview):
            self.bytes(value)
        elif _is_numpy(value):
            self.array(value, depth, active)
        else:
            self.other(value, depth, active)

    def array(self, value: Any, depth: int, active: set[int]) -> None:
        size = getattr(value, "size", None)
        if not isinstance(size, int) or not getattr(value, "ndim", None):
            self.value(value.tolist(), depth, active)  # a scalar
            return
        self.reserve(value, size, depth)
        plain = getattr(getattr(value, "dtype", None), "kind", "") in ("b", "i", "u", "f")
        if plain and depth + value.ndim <= MAX_DEPTH and _all_finite(value):
            # numbers only, and few enough to fit (reserve): one pass of json's C encoder
            self.write(json.dumps(value.tolist()))
        else:
            self.value(value.tolist(), depth, active)

    def bytes(self, value: bytes | bytearray | memoryview) -> None:
        if self.limit is not None and self.size + memoryview(value).nbytes > self.limit + 2:
            raise self.passed()  # its text would not fit either: not decoded
        data = bytes(value)
        try:
            self.text(data.decode("utf-8"))
        except UnicodeDecodeError:
            self.text(f"<{len(data)} bytes of binary data>")

    def other(self, value: Any, depth: int, active: set[int]) -> None:
        if depth >= MAX_DEPTH:
            raise ValueError(f"result nested deeper than {MAX_DEPTH} levels")
        is_dataclass = dataclasses.is_dataclass(value) and not isinstance(value, type)
        if is_dataclass or isinstance(value, Mapping | set | frozenset | cabc.Sequence):
            if id(value) in active:
                raise ValueError("circular reference in result")
            active.add(id(value))
            try:
                self.container(value, depth, active)
            finally:
                active.discard(id(value))
            return
        dump = getattr(value, "model_dump", None)
        if callable(dump) and not isinstance(value, type):
            self.value(dump(), depth + 1, active)
            return
        try:
            text = str(value)
        except Exception:
            text = f"<{type(value).__name__} object>"
        self.text(text)

    def container(self, value: Any, depth: int, active: set[int]) -> None:
        if dataclasses.is_dataclass(value):
            fields = dataclasses.fields(value)
            self.reserve(value, len(fields), depth)
            self.mapping(((f.name, getattr(value, f.name)) for f in fields), depth, active)
        elif isinstance(value, Mapping):
            self.reserve(value, len(value), depth)
            self.mapping(value.items(), depth, active)
        else:
            self.reserve(value, len(value), depth)
            items: cabc.Iterable[Any] = value
            if isinstance(value, set | frozenset):
                items = list(value)
                with contextlib.suppress(TypeError):  # mixed item types keep iteration order
                    items.sort(key=_sort_key)
            self.write("[")
            for index, item in enumerate(items):
                if index:
                    self.write(", ")
                self.value(item, depth + 1, active)
            self.write("]")

    def mapping(
        self, entries: cabc.Iterable[tuple[Any, Any]], depth: int, active: set[int]
    ) -> None:
        self.write("{")
        for index, (key, item) in enumerate(entries):
            if index:
                self.write(", ")
            self.text(_json_key(key))
            self.write(": ")
            self.value(item, depth + 1, active)
        self.write("}")
