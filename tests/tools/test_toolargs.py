"""Binding the model's arguments to a handler, and its agreement with the schema.

This module uses ``from __future__ import annotations``, so every hint below is a string
resolved at binding time; ``define`` compiles code without that flag to cover real objects.
"""

from __future__ import annotations

import inspect
import json
import keyword
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tool_samples import (
    Color,
    Label,
    Level,
    Movie,
    Opaque,
    Point,
    Positive,
    UserId,
    define,
)

from realtime_widget.core.errors import ToolError, UsageError
from realtime_widget.tools.arguments import bind_arguments
from realtime_widget.tools.schema import function_schema

# -- argument binding -----------------------------------------------------------------------


def _rich(
    count: int,
    ratio: float,
    color: Color,
    level: Level,
    points: list[Point],
    pair: tuple[int, str],
    seq: tuple[float, ...],
    tags: set[str],
    scores: dict[str, float],
    movie: Movie,
    mode: Literal["fast", 1, True],
    uid: UserId,
    note: str | None = None,
) -> None:
    pass


class TestBindArguments:
    def test_conversions(self) -> None:
        args, kwargs = bind_arguments(
            _rich,
            {
                "count": 4.0,
                "ratio": 2,
                "color": "green",
                "level": 2,
                "points": [{"x": 1, "y": 2.5}, {"x": 3}],
                "pair": [1, "a"],
                "seq": [1, 2.5],
                "tags": ["a", "b", "a"],
                "scores": {"x": 1},
                "movie": {"title": "Up", "year": 2009},
                "mode": 1,
                "uid": 7,
            },
        )
        assert args == ()
        assert kwargs == {
            "count": 4,
            "ratio": 2.0,
            "color": Color.GREEN,
            "level": Level.HIGH,
            "points": [Point(1.0, 2.5), Point(3.0, 0.0)],
            "pair": (1, "a"),
            "seq": (1.0, 2.5),
            "tags": {"a", "b"},
            "scores": {"x": 1.0},
            "movie": {"title": "Up", "year": 2009},
            "mode": 1,
            "uid": 7,
        }
        assert type(kwargs["count"]) is int
        assert type(kwargs["ratio"]) is float
        assert type(kwargs["points"][0].x) is float
        assert type(kwargs["movie"]) is dict

    def test_literal_and_enum_do_not_confuse_bool_and_int(self) -> None:
        def f(mode: Literal[1, "a"], level: Level) -> None:
            pass

        with pytest.raises(ToolError, match=r"argument 'mode': expected one of \[1, \"a\"\]"):
            bind_arguments(f, {"mode": True, "level": 1})
        with pytest.raises(ToolError, match=r"'level': expected one of \[1, 2\], got boolean"):
            bind_arguments(f, {"mode": 1, "level": True})

    def test_missing_and_unknown_are_all_named(self) -> None:
        def f(a: int, b: int, c: int = 0) -> None:
            pass

        with pytest.raises(ToolError) as info:
            bind_arguments(f, {"c": 1, "x": 1, "y": 2})
        assert str(info.value) == (
            "tool 'f': missing required arguments 'a', 'b'; unknown arguments 'x', 'y'"
        )
        assert info.value.tool == "f"
        with pytest.raises(ToolError, match=r"^tool 'calc': unknown argument 'x'$"):
            bind_arguments(f, {"a": 1, "b": 2, "x": 0}, name="calc")

    def test_optional_left_out_is_none_and_defaults_are_left_to_python(self) -> None:
        def f(a: int | None, b: int = 5, c: str | None = "x") -> None:
            pass

        assert bind_arguments(f, {}) == ((), {"a": None})
        assert bind_arguments(f, {"c": None}) == ((), {"a": None, "c": None})

    def test_null_for_a_none_default(self) -> None:
        def f(a: int = None) -> None:  # type: ignore[assignment]  # noqa: RUF013
            pass

        assert bind_arguments(f, {"a": None}) == ((), {"a": None})

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            ({"count": "3"}, "argument 'count': expected integer, got string '3'"),
            ({"count": 2.5}, "argument 'count': expected integer, got number 2.5"),
            ({"count": True}, "argument 'count': expected integer, got boolean true"),
            ({"ratio": "1"}, "argument 'ratio': expected number, got string '1'"),
            ({"color": "blue"}, 'argument \'color\': expected one of ["red", "green"]'),
            ({"points": [{"x": 1}, {"x": "a"}]}, "argument 'points[1].x': expected number"),
            ({"points": [{"y": 1}]}, "argument 'points[0]': missing key 'x'"),
            ({"points": [{"x": 1, "z": 1}]}, "argument 'points[0]': unknown key 'z'"),
            ({"points": {"x": 1}}, "argument 'points': expected array, got object"),
            ({"pair": [1]}, "argument 'pair': expected 2 items, got 1"),
            ({"pair": [1, 2]}, "argument 'pair[1]': expected string, got integer 2"),
            ({"scores": {"a": None}}, "argument \"scores['a']\": expected number, got null"),
            ({"movie": {"title": "Up"}}, "argument 'movie': missing key 'year'"),
            ({"movie": {"title": "Up", "year": "x"}}, "argument 'movie.year': expected integer"),
            ({"note": 3}, "argument 'note': expected string or null, got integer 3"),
            ({"movie": []}, "argument 'movie': expected object, got array"),
        ],
    )
    def test_wrong_types(self, arguments: dict[str, Any], message: str) -> None:
        valid: dict[str, Any] = {
            "count": 1,
            "ratio": 1.0,
            "color": "red",
            "level": 1,
            "points": [],
            "pair": [1, "a"],
            "seq": [],
            "tags": [],
            "scores": {},
            "movie": {"title": "Up", "year": 2009},
            "mode": "fast",
            "uid": 1,
        }
        with pytest.raises(ToolError) as info:
            bind_arguments(_rich, {**valid, **arguments})
        assert str(info.value).startswith("tool '_rich': " + message)

    def test_unions(self) -> None:
        def f(a: float | int, b: int | str, c: int | list[int]) -> None:
            pass

        _, kwargs = bind_arguments(f, {"a": 3, "b": "x", "c": [1]})
        assert kwargs == {"a": 3, "b": "x", "c": [1]}
        assert type(kwargs["a"]) is int
        with pytest.raises(ToolError, match="'b': expected integer or string, got null"):
            bind_arguments(f, {"a": 1, "b": None, "c": 1})
        with pytest.raises(ToolError, match=r"'c\[0\]': expected integer, got string"):
            bind_arguments(f, {"a": 1, "b": 1, "c": ["x"]})

    def test_dataclass_validation_error_and_instances(self) -> None:
        def f(p: Positive, labels: list[Label]) -> None:
            pass

        with pytest.raises(ToolError, match="'p': invalid Positive: ValueError: value must be"):
            bind_arguments(f, {"p": {"value": 0}, "labels": []})
        _, kwargs = bind_arguments(f, {"p": Positive(2), "labels": [{"text": "hi"}]})
        assert kwargs == {"p": Positive(2), "labels": [Label("hi", note=None)]}

    def test_sets_need_hashable_items(self) -> None:
        def f(s: set[Any]) -> None:
            pass

        with pytest.raises(ToolError, match=r"'s': items of set.* must be hashable"):
            bind_arguments(f, {"s": [[1]]})

    def test_unknown_hints_and_missing_hints_pass_values_through(self) -> None:
        def f(a, b: Opaque, c: Any) -> None:  # type: ignore[no-untyped-def]
            pass

        value = {"k": [1]}
        _, kwargs = bind_arguments(f, {"a": value, "b": "raw", "c": 1})
        assert kwargs == {"a": value, "b": "raw", "c": 1}

    def test_positional_only_and_var_keyword(self) -> None:
        def f(a: int, b: int = 2, /, c: float = 0, **rest: Any) -> None:
            pass

        assert bind_arguments(f, {"a": 1, "c": 2, "extra": "x"}) == (
            (1, 2),
            {"c": 2.0, "extra": "x"},
        )

    def test_unresolvable_hints_do_not_block_a_call(self) -> None:
        fn = define("def f(a: 'Missing'): return a")
        assert bind_arguments(fn, {"a": "1"}) == ((), {"a": "1"})

    def test_no_signature_passes_everything_as_keywords(self) -> None:
        assert bind_arguments(BaseException, {"a": [1]}) == ((), {"a": [1]})


# -- properties -----------------------------------------------------------------------------

# (hint, strategy of JSON values, the Python value bind_arguments should produce)
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_KINDS: list[tuple[Any, st.SearchStrategy[Any], Callable[[Any], Any]]] = [
    (int, st.integers(), lambda v: v),
    (float, _FLOATS, float),
    (str, st.text(), lambda v: v),
    (bool, st.booleans(), lambda v: v),
    (list[int], st.lists(st.integers(), max_size=4), lambda v: v),
    (dict[str, float], st.dictionaries(st.text(), _FLOATS, max_size=3), lambda v: v),
    (Optional[str], st.none() | st.text(), lambda v: v),  # noqa: UP045
    (Literal["a", "b", 3], st.sampled_from(["a", "b", 3]), lambda v: v),
    (Color, st.sampled_from(["red", "green"]), Color),
    (tuple[int, str], st.tuples(st.integers(), st.text()).map(list), tuple),
    (set[int], st.lists(st.integers(), max_size=4, unique=True), set),
    (
        Point,
        st.fixed_dictionaries({"x": _FLOATS}, optional={"y": _FLOATS}),
        lambda v: Point(**v),
    ),
    (Annotated[int, "counted"], st.integers(), lambda v: v),
]
_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n)
)


@st.composite
def _signatures(draw: st.DrawFn) -> tuple[Callable[..., Any], dict[str, Any], dict[str, Any]]:
    """A function with generated keyword-only parameters, JSON arguments and expected values."""
    names = draw(st.lists(_NAMES, unique=True, max_size=6))
    parameters = []
    annotations: dict[str, Any] = {}
    arguments: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for name in names:
        hint, values, convert = draw(st.sampled_from(_KINDS))
        annotations[name] = hint
        has_default = draw(st.booleans())
        default = convert(draw(values)) if has_default else inspect.Parameter.empty
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default))
        if not has_default or draw(st.booleans()):
            arguments[name] = draw(values)
            expected[name] = convert(arguments[name])
        elif hint == Optional[str] and default is inspect.Parameter.empty:  # noqa: UP045
            expected[name] = None

    def fn(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    fn.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    fn.__annotations__ = annotations
    return fn, arguments, expected


@given(_signatures())
def test_generated_signatures(
    case: tuple[Callable[..., Any], dict[str, Any], dict[str, Any]],
) -> None:
    fn, arguments, expected = case
    definition = function_schema(fn)
    parameters = definition["parameters"]
    assert json.loads(json.dumps(definition, allow_nan=False)) == definition
    names = list(inspect.signature(fn).parameters)
    assert list(parameters["properties"]) == names
    required = [n for n, p in inspect.signature(fn).parameters.items() if p.default is p.empty]
    assert set(parameters.get("required", [])) <= set(required)
    jsonschema.Draft202012Validator.check_schema(parameters)
    jsonschema.validate(arguments, parameters, cls=jsonschema.Draft202012Validator)
    args, kwargs = bind_arguments(fn, json.loads(json.dumps(arguments)))
    assert args == ()
    assert kwargs == expected


class _Unhashable:
    """An annotation object that cannot be hashed (a callable, so typing accepts it)."""

    __hash__ = None  # type: ignore[assignment]

    def __call__(self) -> None:
        pass


class TestOddHints:
    def test_unhashable_annotation_is_unsupported_not_a_crash(self) -> None:
        fn = define("def f(a: odd): pass", odd=_Unhashable())
        with pytest.raises(UsageError, match="parameter 'a' has unsupported type"):
            function_schema(fn)
        assert bind_arguments(fn, {"a": [1]}) == ((), {"a": [1]})

    def test_union_with_a_class_without_json_form(self) -> None:
        def f(a: int | Opaque) -> None:
            pass

        assert bind_arguments(f, {"a": "x"}) == ((), {"a": "x"})  # Opaque passes it through
        with pytest.raises(UsageError, match=r"parameter 'a' has unsupported type Opaque in"):
            function_schema(f)

    def test_nested_class_with_unresolvable_hints(self) -> None:
        source = """
        from dataclasses import dataclass
        @dataclass
        class Box:
            item: 'Missing'
        def f(box: Box): return box
        """
        fn = define(source)
        with pytest.raises(UsageError, match="parameter 'box' has unresolvable type hints in Box"):
            function_schema(fn)
        _, kwargs = bind_arguments(fn, {"box": {"item": 1}})
        assert kwargs["box"].item == 1
