"""Types and functions shared by the tool tests (test_toolschema, test_toolargs, test_tools).

This module uses ``from __future__ import annotations``, so every hint below is a string
resolved at schema time; :func:`define` compiles code without that flag to cover real
objects.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from typing import Annotated, Any, NewType, NotRequired, Required, TypedDict


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mixed(enum.Enum):
    ONE = 1
    TWO = "two"


@dataclasses.dataclass
class Point:
    """A point in the plane.

    Attributes:
        x: horizontal position
        y: vertical position
    """

    x: float
    y: float = 0.0


@dataclasses.dataclass
class Label:
    text: Annotated[str, "what it says"]
    color: Color = Color.RED
    tags: list[str] = dataclasses.field(default_factory=list)
    note: str | None = None
    size: int = dataclasses.field(default=12, metadata={"description": "font size"})
    cached: int = dataclasses.field(default=0, init=False)


@dataclasses.dataclass
class Positive:
    value: int

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError(f"value must be positive, got {self.value}")


@dataclasses.dataclass
class Node:
    name: str
    children: list[Node]


class Movie(TypedDict):
    """A film."""

    title: str
    year: int
    rating: NotRequired[float]


class Filters(TypedDict, total=False):
    genre: str
    before: Required[int]


class Opaque:
    def __str__(self) -> str:
        return "opaque thing"


UserId = NewType("UserId", int)


def define(source: str, **namespace: Any) -> Any:
    """The function ``f`` from ``source``, compiled without postponed annotations."""
    code = compile(inspect.cleandoc(source), "<test>", "exec", dont_inherit=True)
    scope: dict[str, Any] = {"__name__": __name__, **namespace}
    exec(code, scope)
    return scope["f"]


def documented(city: str, days: int = 3, *, metric: bool = True) -> str:
    """Get the weather forecast.

    Args:
        city: the city name
        days: how many days
    """
    return city
