"""How tool code reads a Python type hint: the vocabulary shared by schemas and binding.

``Annotated``, ``NewType``, ``Required`` and ``NotRequired`` stand for their type; a hint
admits ``None`` only when it says so; ``Literal`` and Enum are both a fixed set of options;
hints resolve where the callable was defined (:func:`hints_of`).
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import enum
import functools
import inspect
import re
import types
from collections.abc import Callable, Mapping
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,
    Required,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

__all__ = [
    "JSON_SCALAR_TYPES",
    "MAPPINGS",
    "NONE_TYPE",
    "SCALARS",
    "SEQUENCES",
    "SETS",
    "accepts_none",
    "choices",
    "has_default",
    "hashable",
    "hints_of",
    "is_dataclass_type",
    "is_typeddict",
    "json_value",
    "strip_qualifiers",
    "type_name",
    "typeddict_required",
    "unwrap_partial",
]

NONE_TYPE = type(None)

SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
"""The scalar hints and their JSON Schema types."""

JSON_SCALAR_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    NONE_TYPE: "null",
}
"""The Python types of decoded JSON scalars and their JSON Schema types."""

SEQUENCES = frozenset({list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable, cabc.Collection})
SETS = frozenset({set, frozenset, cabc.Set, cabc.MutableSet})
MAPPINGS = frozenset({dict, cabc.Mapping, cabc.MutableMapping})


def type_name(hint: Any) -> str:
    """A short name of ``hint`` for messages: ``Point``, ``list[Point]`` (no module paths)."""
    if isinstance(hint, type) and not get_args(hint):
        return hint.__qualname__
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", repr(hint))


def hashable(hint: Any) -> bool:
    """Whether ``hint`` can be looked up in a set or dict (an odd annotation may not)."""
    try:
        hash(hint)
    except TypeError:
        return False
    return True


def is_typeddict(hint: Any) -> bool:
    """Whether ``hint`` is a TypedDict class."""
    return (
        isinstance(hint, type)
        and issubclass(hint, dict)
        and hasattr(hint, "__required_keys__")
        and hasattr(hint, "__annotations__")
    )


def is_dataclass_type(hint: Any) -> bool:
    """Whether ``hint`` is a dataclass (the class, not an instance)."""
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def has_default(field: dataclasses.Field[Any]) -> bool:
    """Whether a dataclass field has a default value or a default factory."""
    return (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )


def strip_qualifiers(hint: Any) -> Any:
    """``hint`` without ``Required[...]`` and ``NotRequired[...]`` around it."""
    while get_origin(hint) in (Required, NotRequired):
        hint = get_args(hint)[0]
    return hint


def accepts_none(hint: Any) -> bool:
    """Whether ``hint`` explicitly admits ``None`` (``Optional``, ``| None``, ``Literal[None]``)."""
    hint = strip_qualifiers(hint)
    origin = get_origin(hint)
    if origin is Annotated:
        return accepts_none(get_args(hint)[0])
    if hint is None or hint is NONE_TYPE:
        return True
    if origin in (Union, types.UnionType):
        return any(accepts_none(arm) for arm in get_args(hint))
    if origin is Literal:
        return None in get_args(hint)
    return False


def choices(hint: Any) -> tuple[Any, ...] | None:
    """The options of a ``Literal`` (its values) or an Enum class (its members), else ``None``."""
    if get_origin(hint) is Literal:
        return get_args(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return tuple(hint)
    return None


def json_value(option: Any) -> Any:
    """The JSON value of a ``Literal`` or Enum option: an Enum member's ``value``."""
    return option.value if isinstance(option, enum.Enum) else option


def typeddict_required(cls: type, hints: Mapping[str, Any]) -> set[str]:
    """The required keys of the TypedDict ``cls``, given its resolved ``hints``."""
    # __required_keys__ misses Required/NotRequired written as strings on 3.11; the
    # resolved hints still carry the qualifier, so they have the last word.
    required = set(getattr(cls, "__required_keys__", ()))
    for key, hint in hints.items():
        if get_origin(hint) is NotRequired:
            required.discard(key)
        elif get_origin(hint) is Required:
            required.add(key)
    return required


def unwrap_partial(fn: Any) -> Any:
    """The function under any layers of ``functools.partial``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def hints_of(fn: Callable[..., Any]) -> dict[str, Any]:
    """The resolved type hints of a callable. Raises ``NameError`` and friends when unresolvable."""
    target = unwrap_partial(fn)
    if not (inspect.isfunction(target) or inspect.ismethod(target) or isinstance(target, type)):
        target = getattr(target, "__call__", target)  # noqa: B004 - a callable object
    return get_type_hints(target, include_extras=True)
