"""Tool definitions and their JSON schema built from functions.

This module uses ``from __future__ import annotations``, so every hint below is a string
resolved at schema time; ``define`` compiles code without that flag to cover real objects.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, NotRequired, Optional, Required, TypedDict

import pytest
from tool_samples import (
    Color,
    Filters,
    Label,
    Level,
    Mixed,
    Movie,
    Node,
    Opaque,
    Point,
    UserId,
    define,
    documented,
)

from realtime_widget.core.errors import UsageError
from realtime_widget.tools.schema import function_schema, validate_definition, wire_definition


def params_of(fn: Callable[..., Any]) -> dict[str, Any]:
    return dict(function_schema(fn)["parameters"])


def prop(hint_source: str, **namespace: Any) -> dict[str, Any]:
    """The schema of one parameter typed ``hint_source`` (evaluated with real objects)."""
    names = {
        "Annotated": Annotated,
        "Any": Any,
        "Literal": Literal,
        "Optional": Optional,
        "Sequence": Sequence,
        "Mapping": Mapping,
        "Color": Color,
        "Level": Level,
        "Mixed": Mixed,
        "Point": Point,
        "Movie": Movie,
        "UserId": UserId,
        **namespace,
    }
    fn = define(f"def f(p: {hint_source}): pass", **names)
    return dict(params_of(fn)["properties"]["p"])


# -- definitions ----------------------------------------------------------------------------


class TestDefinitions:
    def test_validate_fills_defaults(self) -> None:
        assert validate_definition({"name": "ping"}) == {
            "type": "function",
            "name": "ping",
            "description": "",
            "parameters": {"type": "object", "properties": {}},
        }

    def test_validate_copies_parameters_deeply(self) -> None:
        params: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "integer"}}}
        checked = validate_definition({"name": "a", "parameters": params})
        checked["parameters"]["properties"]["a"]["type"] = "string"
        assert params["properties"]["a"]["type"] == "integer"

    def test_validate_adds_object_type_and_keeps_extra_keys(self) -> None:
        checked = validate_definition(
            {"name": "a", "parameters": {"properties": {}}, "strict": True}
        )
        assert checked["parameters"] == {"type": "object", "properties": {}}
        assert dict(checked)["strict"] is True

    @pytest.mark.parametrize("name", ["", "a" * 65, "has space", "dot.ted", "new\nline", 3, None])
    def test_bad_names(self, name: Any) -> None:
        with pytest.raises(UsageError, match="invalid tool name"):
            validate_definition({"name": name})

    def test_longest_name(self) -> None:
        assert validate_definition({"name": "a-_9" * 16})["name"] == "a-_9" * 16

    @pytest.mark.parametrize(
        ("definition", "message"),
        [
            ({"name": "a", "type": "mcp"}, "tool type must be 'function', got 'mcp'"),
            ({"name": "a", "description": 3}, "description of tool 'a' must be a string"),
            ({"name": "a", "parameters": []}, "parameters of tool 'a' must be a mapping"),
            ({"name": "a", "parameters": {"type": "array"}}, "got 'array'"),
            ({"name": "a", "parameters": {"default": {1, 2}}}, "not JSON-serialisable"),
            ({"name": "a", "parameters": {"default": math.nan}}, "not JSON-serialisable"),
            ({"name": "a", "parameters": {"properties": []}}, "properties of tool 'a'"),
        ],
    )
    def test_bad_definitions(self, definition: dict[str, Any], message: str) -> None:
        with pytest.raises(UsageError, match=message):
            validate_definition(definition)

    def test_not_a_mapping(self) -> None:
        with pytest.raises(UsageError, match="must be a mapping, got list"):
            validate_definition([("name", "a")])  # type: ignore[arg-type]

    def test_wire_definition_keeps_only_wire_keys(self) -> None:
        definition = {"name": "a", "description": "d", "strict": True, "handler": print}
        assert wire_definition(definition) == {
            "type": "function",
            "name": "a",
            "description": "d",
            "parameters": {"type": "object", "properties": {}},
        }


# -- schemas --------------------------------------------------------------------------------


class TestFunctionSchema:
    def test_full_definition(self) -> None:
        assert function_schema(documented) == {
            "type": "function",
            "name": "documented",
            "description": "Get the weather forecast.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "the city name"},
                    "days": {"type": "integer", "default": 3, "description": "how many days"},
                    "metric": {"type": "boolean", "default": True},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        }

    def test_name_and_description_override(self) -> None:
        schema = function_schema(documented, name="forecast", description="")
        assert (schema["name"], schema["description"]) == ("forecast", "")

    def test_no_parameters_no_docstring(self) -> None:
        def ping() -> None:
            pass

        assert function_schema(ping) == {
            "type": "function",
            "name": "ping",
            "description": "",
            "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
        }

    @pytest.mark.parametrize(
        ("hint", "expected"),
        [
            ("str", {"type": "string"}),
            ("int", {"type": "integer"}),
            ("float", {"type": "number"}),
            ("bool", {"type": "boolean"}),
            ("Any", {}),
            ("object", {}),
            ("None", {"type": "null"}),
            ("UserId", {"type": "integer"}),
            ("list", {"type": "array"}),
            ("list[int]", {"type": "array", "items": {"type": "integer"}}),
            ("list[Any]", {"type": "array"}),
            ("Sequence[str]", {"type": "array", "items": {"type": "string"}}),
            ("tuple", {"type": "array"}),
            ("tuple[float, ...]", {"type": "array", "items": {"type": "number"}}),
            (
                "tuple[int, str]",
                {
                    "type": "array",
                    "prefixItems": [{"type": "integer"}, {"type": "string"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            ),
            ("set[str]", {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
            (
                "frozenset[int]",
                {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
            ),
            ("dict", {"type": "object"}),
            ("dict[str, Any]", {"type": "object"}),
            ("dict[str, int]", {"type": "object", "additionalProperties": {"type": "integer"}}),
            (
                "Mapping[str, list[float]]",
                {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "number"}},
                },
            ),
            ("Literal['a', 'b']", {"type": "string", "enum": ["a", "b"]}),
            (
                "Literal['a', 1, 2.5, True, None]",
                {
                    "type": ["string", "integer", "number", "boolean", "null"],
                    "enum": ["a", 1, 2.5, True, None],
                },
            ),
            ("Literal[Color.GREEN]", {"type": "string", "enum": ["green"]}),
            ("Color", {"type": "string", "enum": ["red", "green"]}),
            ("Level", {"type": "integer", "enum": [1, 2]}),
            ("Mixed", {"type": ["integer", "string"], "enum": [1, "two"]}),
            ("int | str", {"type": ["integer", "string"]}),
            (
                "int | list[int]",
                {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]},
            ),
            ("int | Any", {}),
            ("Annotated[int, 'how many']", {"type": "integer", "description": "how many"}),
            (
                "Annotated[int, {'minimum': 0, 'maximum': 9}, 'a digit']",
                {"type": "integer", "minimum": 0, "maximum": 9, "description": "a digit"},
            ),
            ("Annotated[int, 42]", {"type": "integer"}),
        ],
    )
    def test_types(self, hint: str, expected: dict[str, Any]) -> None:
        assert prop(hint) == expected

    @pytest.mark.parametrize(
        ("hint", "expected"),
        [
            ("Optional[str]", {"type": ["string", "null"]}),
            ("str | None", {"type": ["string", "null"]}),
            ("int | str | None", {"type": ["integer", "string", "null"]}),
            ("Color | None", {"type": ["string", "null"], "enum": ["red", "green", None]}),
            ("Literal['a', None]", {"type": ["string", "null"], "enum": ["a", None]}),
            ("list[int] | None", {"type": ["array", "null"], "items": {"type": "integer"}}),
            (
                "int | list[int] | None",
                {
                    "anyOf": [
                        {"type": "integer"},
                        {"type": "array", "items": {"type": "integer"}},
                        {"type": "null"},
                    ]
                },
            ),
            ("Any | None", {}),
            (
                "Annotated[int | None, 'maybe']",
                {"type": ["integer", "null"], "description": "maybe"},
            ),
            (
                "Annotated[int, 'maybe'] | None",
                {"type": ["integer", "null"], "description": "maybe"},
            ),
        ],
    )
    def test_optional_is_nullable_and_not_required(
        self, hint: str, expected: dict[str, Any]
    ) -> None:
        assert prop(hint) == expected
        fn = define(f"def f(p: {hint}, q: int): pass", **globals())
        assert params_of(fn)["required"] == ["q"]

    def test_defaults(self) -> None:
        def f(
            a: int = 1,
            b: str | None = None,
            c: Color = Color.GREEN,
            d: tuple[int, int] = (1, 2),
            e: float = math.inf,
            g: set[int] = frozenset({1}),  # type: ignore[assignment]
            h: Point = Point(1.0),  # noqa: B008
            i: int = None,  # type: ignore[assignment]  # noqa: RUF013
        ) -> None:
            pass

        assert params_of(f)["properties"] == {
            "a": {"type": "integer", "default": 1},
            "b": {"type": ["string", "null"], "default": None},
            "c": {"type": "string", "enum": ["red", "green"], "default": "green"},
            "d": {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "integer"}],
                "minItems": 2,
                "maxItems": 2,
                "default": [1, 2],
            },
            "e": {"type": "number"},
            "g": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
            "h": function_schema(_takes_point)["parameters"]["properties"]["p"],
            "i": {"type": ["integer", "null"], "default": None},
        }
        assert "required" not in params_of(f)

    def test_dataclass(self) -> None:
        assert prop("Point") == {
            "type": "object",
            "description": "A point in the plane.",
            "properties": {
                "x": {"type": "number", "description": "horizontal position"},
                "y": {"type": "number", "default": 0.0, "description": "vertical position"},
            },
            "required": ["x"],
            "additionalProperties": False,
        }

    def test_dataclass_fields(self) -> None:
        assert prop("Label", Label=Label) == {
            "type": "object",
            "properties": {
                "text": {"type": "string", "description": "what it says"},
                "color": {"type": "string", "enum": ["red", "green"], "default": "red"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "note": {"type": ["string", "null"], "default": None},
                "size": {"type": "integer", "default": 12, "description": "font size"},
            },
            "required": ["text"],
            "additionalProperties": False,
        }

    def test_nested_list_of_dataclasses(self) -> None:
        assert prop("list[Point]") == {"type": "array", "items": prop("Point")}

    def test_typeddict(self) -> None:
        expected_movie = {
            "type": "object",
            "description": "A film.",
            "properties": {
                "title": {"type": "string"},
                "year": {"type": "integer"},
                "rating": {"type": "number"},
            },
            "required": ["title", "year"],
            "additionalProperties": False,
        }
        expected_filters = {
            "type": "object",
            "properties": {"genre": {"type": "string"}, "before": {"type": "integer"}},
            "required": ["before"],
            "additionalProperties": False,
        }
        # Hints written as strings (this module) and as objects (compiled without the flag).
        assert params_of(_takes_movie)["properties"]["m"] == expected_movie
        assert params_of(_takes_filters)["properties"]["f"] == expected_filters
        source = """
        class Movie(TypedDict):
            '''A film.'''
            title: str
            year: int
            rating: NotRequired[float]
        class Filters(TypedDict, total=False):
            genre: str
            before: Required[int]
        def f(m: Movie, f: Filters): pass
        """
        names = {"TypedDict": TypedDict, "NotRequired": NotRequired, "Required": Required}
        properties = params_of(define(source, **names))["properties"]
        assert properties == {"m": expected_movie, "f": expected_filters}

    def test_forward_reference_to_a_later_class(self) -> None:
        assert params_of(_takes_later)["properties"]["p"] == {
            "type": "object",
            "properties": {"v": {"type": "integer"}},
            "required": ["v"],
            "additionalProperties": False,
        }

    def test_docstring_styles_feed_the_schema(self) -> None:
        def numpy_style(a: int, b: int) -> int:
            """Add.

            Parameters
            ----------
            a : int
                first
            b : int
                second
            """
            return a + b

        def sphinx_style(a: int) -> int:
            """Negate.

            :param a: the number
            """
            return -a

        numpy = function_schema(numpy_style)
        assert numpy["description"] == "Add."
        assert numpy["parameters"]["properties"] == {
            "a": {"type": "integer", "description": "first"},
            "b": {"type": "integer", "description": "second"},
        }
        sphinx = function_schema(sphinx_style)
        assert sphinx["parameters"]["properties"]["a"]["description"] == "the number"

    def test_annotated_description_wins_over_docstring(self) -> None:
        def f(a: Annotated[int, "from the hint"]) -> None:
            """Do.

            Args:
                a: from the docstring
            """

        assert params_of(f)["properties"]["a"] == {
            "type": "integer",
            "description": "from the hint",
        }

    def test_callable_object_and_partial(self) -> None:
        class Adder:
            def __call__(self, a: int, b: int = 0) -> int:
                return a + b

        assert params_of(Adder())["required"] == ["a"]
        assert function_schema(Adder())["name"] == "Adder"
        with pytest.raises(UsageError, match="a partial of 'documented' has no name: pass name="):
            function_schema(functools.partial(documented, "Paris"))
        schema = function_schema(functools.partial(documented, days=1), name="paris")
        assert list(schema["parameters"]["properties"]) == ["city", "days", "metric"]


def _takes_point(p: Point) -> None:
    pass


def _takes_movie(m: Movie) -> None:
    pass


def _takes_filters(f: Filters) -> None:
    pass


def _takes_later(p: DefinedLater) -> None:
    pass


@dataclasses.dataclass
class DefinedLater:
    v: int


class TestSchemaErrors:
    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("def f(a, *args): pass", r"parameter \*args is not supported"),
            ("def f(a, **kw): pass", r"parameter \*\*kw is not supported"),
            ("def f(a, /, b): pass", "positional-only parameter 'a'"),
            ("def f(a: int, thing: Opaque): pass", "parameter 'thing' has unsupported type Opaque"),
            (
                "def f(things: list[Opaque]): pass",
                r"parameter 'things' has unsupported type Opaque in list\[Opaque\]",
            ),
            (
                "def f(m: dict[int, str]): pass",
                r"parameter 'm' has unsupported key type in dict\[int, str\]",
            ),
            ("def f(n: Node): pass", "parameter 'n' has recursive type Node"),
            ("def f(c: complex): pass", "parameter 'c' has unsupported type complex"),
            ("def f(x: Literal[b'x']): pass", r"unsupported value b'x' in type"),
            ("def f(a: 'Missing'): pass", "cannot resolve the type hints of 'f'"),
        ],
    )
    def test_unsupported(self, source: str, message: str) -> None:
        fn = define(source, Opaque=Opaque, Node=Node, Literal=Literal)
        with pytest.raises(UsageError, match=message):
            function_schema(fn)

    def test_local_class_cannot_be_resolved(self) -> None:
        @dataclasses.dataclass
        class Local:
            a: int

        def f(x: Local) -> None:
            pass

        with pytest.raises(UsageError, match="cannot resolve the type hints of 'f'"):
            function_schema(f)

    def test_invalid_derived_name(self) -> None:
        with pytest.raises(UsageError, match="invalid tool name '<lambda>'"):
            function_schema(lambda: None)

    def test_builtin_without_signature(self) -> None:
        with pytest.raises(UsageError, match="cannot read the signature"):
            function_schema(BaseException, name="x")
