"""The model's arguments for a tool: decoded from JSON, checked against the handler's
signature and converted into the declared types (:func:`bind_arguments`).

Every refusal is a :class:`ToolError` the model can read, naming each missing or unknown
argument, or the path of a value of the wrong type (``'points[2].x'``). ``true`` is never
``1`` and ``"1"`` never ``1``. A handler of a hand-written definition with one positional
parameter that is not a property gets the whole arguments dict (the seed's
``(args) => ...``).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import types
from collections.abc import Callable, Mapping
from typing import Annotated, Any, NewType, Union, get_args, get_origin, get_type_hints

from realtime_widget.core.checks import is_number
from realtime_widget.core.errors import ToolError, UsageError
from realtime_widget.tools.typehints import (
    JSON_SCALAR_TYPES,
    MAPPINGS,
    NONE_TYPE,
    SCALARS,
    SEQUENCES,
    SETS,
    accepts_none,
    choices,
    has_default,
    hashable,
    hints_of,
    is_dataclass_type,
    is_typeddict,
    json_value,
    strip_qualifiers,
    type_name,
    typeddict_required,
)

__all__ = ["bind_arguments", "decode_arguments", "describe_exception", "takes_arguments_dict"]

_MAX_ERROR_CHARS = 2000


class _Mismatch(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"argument {path!r}: {message}")
        self.path = path


def _kind_of(value: Any) -> str:
    """The JSON kind of a decoded value, with the value itself when it is a scalar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    kind = JSON_SCALAR_TYPES.get(type(value))
    if kind is None:
        return type(value).__name__
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _expected(hint: Any) -> str:
    hint = strip_qualifiers(hint)
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        return _expected(args[0])
    if isinstance(hint, NewType):
        return _expected(hint.__supertype__)
    if hint is None or hint is NONE_TYPE:
        return "null"
    if isinstance(hint, type) and hint in SCALARS:
        return SCALARS[hint]
    options = choices(hint)
    if options is not None:
        return f"one of {_json_list([json_value(option) for option in options])}"
    if origin in (Union, types.UnionType):
        return " or ".join(dict.fromkeys(_expected(arm) for arm in args))
    base = origin or hint
    if is_typeddict(hint) or is_dataclass_type(hint):
        return "object"
    if isinstance(base, type) and base in MAPPINGS:
        return "object"
    if isinstance(base, type) and (base in SEQUENCES or base in SETS or base is tuple):
        return "array"
    return type_name(hint)


def _json_list(values: list[Any]) -> str:
    return json.dumps(values, ensure_ascii=False, default=repr)


def _same_json(option: Any, value: Any) -> bool:
    """``option == value`` without ``True == 1`` or ``"1" == 1`` surprises."""
    both_numbers = is_number(option) and is_number(value)
    return bool((type(option) is type(value) or both_numbers) and option == value)


def _convert(value: Any, hint: Any, path: str) -> Any:
    """``value`` (decoded JSON) as an instance of ``hint``. Raises ``_Mismatch``.

    Hints without a JSON form (a custom class) pass the value through unchanged.
    """
    hint = strip_qualifiers(hint)
    if hint is Any or hint is object or hint is inspect.Parameter.empty:
        return value
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        return _convert(value, args[0], path)
    if isinstance(hint, NewType):
        return _convert(value, hint.__supertype__, path)
    options = choices(hint)
    if hint is None or hint is NONE_TYPE:
        if value is None:
            return None
    elif options is not None:
        if isinstance(hint, type) and isinstance(value, hint):
            return value  # already an Enum member
        for option in options:
            if _same_json(json_value(option), value):
                return option
    elif origin in (Union, types.UnionType):
        return _convert_union(value, args, hint, path)
    elif not hashable(hint):
        return value
    elif hint in SCALARS:
        converted = _convert_scalar(value, hint)
        if converted is not _NO_MATCH:
            return converted
    elif is_typeddict(hint):
        if isinstance(value, dict):
            hints = _hints_or_any(hint)
            required = typeddict_required(hint, hints)
            return _convert_fields(value, hints, required, path)
    elif is_dataclass_type(hint):
        if isinstance(value, hint):
            return value
        if isinstance(value, dict):
            return _convert_dataclass(value, hint, path)
    elif (origin or hint) in MAPPINGS:
        if isinstance(value, dict):
            item_hint = args[1] if args else Any
            return {k: _convert(v, item_hint, f"{path}[{k!r}]") for k, v in value.items()}
    elif (origin or hint) in SEQUENCES or (origin or hint) in SETS or (origin or hint) is tuple:
        if isinstance(value, list | tuple):
            return _convert_array(value, origin or hint, args, hint, path)
    else:
        return value
    raise _Mismatch(path, f"expected {_expected(hint)}, got {_kind_of(value)}")


_NO_MATCH: Any = object()


def _convert_scalar(value: Any, hint: type) -> Any:
    if hint is bool:
        return value if isinstance(value, bool) else _NO_MATCH
    if hint is str:
        return value if isinstance(value, str) else _NO_MATCH
    if isinstance(value, bool):
        return _NO_MATCH
    if hint is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return _NO_MATCH
    return float(value) if isinstance(value, int | float) else _NO_MATCH


def _convert_union(value: Any, args: tuple[Any, ...], hint: Any, path: str) -> Any:
    if value is None and accepts_none(hint):
        return None
    arms = [arm for arm in args if arm is not NONE_TYPE]
    for arm in arms:  # an exact match first: ``float | int`` keeps an int an int
        if isinstance(arm, type) and arm in SCALARS and type(value) is arm:
            return value
    failures: list[_Mismatch] = []
    for arm in arms:
        try:
            return _convert(value, arm, path)
        except _Mismatch as exc:
            failures.append(exc)
    for failure in failures:  # the value had this arm's shape but a bad part: say which
        if failure.path != path:
            raise failure
    raise _Mismatch(path, f"expected {_expected(hint)}, got {_kind_of(value)}")


def _convert_array(
    value: list[Any] | tuple[Any, ...], base: Any, args: tuple[Any, ...], hint: Any, path: str
) -> Any:
    if base is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            raise _Mismatch(path, f"expected {len(args)} items, got {len(value)}")
        return tuple(
            _convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    item_hint = args[0] if args else Any
    items = [_convert(v, item_hint, f"{path}[{i}]") for i, v in enumerate(value)]
    if base is tuple:
        return tuple(items)
    if base in SETS:
        try:
            return frozenset(items) if base is frozenset else set(items)
        except TypeError:
            raise _Mismatch(path, f"items of {type_name(hint)} must be hashable") from None
    return items


def _convert_fields(
    value: dict[str, Any], hints: Mapping[str, Any], required: set[str], path: str
) -> dict[str, Any]:
    unknown = [key for key in value if key not in hints]
    if unknown:
        raise _Mismatch(path, f"unknown {_plural('key', unknown)}")
    missing = [key for key in hints if key in required and key not in value]
    if missing:
        raise _Mismatch(path, f"missing {_plural('key', missing)}")
    return {key: _convert(v, hints[key], f"{path}.{key}") for key, v in value.items()}


def _hints_or_any(cls: type) -> dict[str, Any]:
    """The type hints of a class; ``Any`` for each when they cannot be resolved."""
    try:
        return get_type_hints(cls, include_extras=True)
    except Exception:
        return dict.fromkeys(getattr(cls, "__annotations__", {}), Any)


def _convert_dataclass(value: dict[str, Any], cls: type, path: str) -> Any:
    hints = _hints_or_any(cls)
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    required = {
        name
        for name, field in fields.items()
        if not has_default(field) and not accepts_none(hints.get(name, Any))
    }
    converted = _convert_fields(value, {n: hints.get(n, Any) for n in fields}, required, path)
    for name, field in fields.items():
        if name not in converted and not has_default(field):
            converted[name] = None  # an optional field left out
    try:
        return cls(**converted)
    except Exception as exc:
        raise _Mismatch(path, f"invalid {cls.__name__}: {describe_exception(exc)}") from None


def _plural(word: str, names: list[str]) -> str:
    listed = ", ".join(repr(name) for name in names)
    return f"{word}s {listed}" if len(names) > 1 else f"{word} {listed}"


def bind_arguments(
    fn: Callable[..., Any], arguments: Mapping[str, Any], *, name: str | None = None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The ``(args, kwargs)`` to call ``fn`` with, from the model's decoded arguments.

    Each value is converted into its parameter's declared type: an object into a dataclass
    (a TypedDict stays a dict), a string or number into an Enum member, an array into a list,
    tuple or set, an integer into a float, an integral float into an int. A parameter left
    out gets its default, or ``None`` when its type admits ``None``. Unknown arguments are
    refused unless ``fn`` takes ``**kwargs``; positional-only parameters are passed in
    ``args``. A callable without a readable signature gets every argument as a keyword,
    unchecked. ``name`` names the tool in messages (default ``fn.__name__``).

    Raises :class:`ToolError` naming every missing or unknown argument, or the first value of
    the wrong type (by its path, e.g. ``'points[2].x'``).
    """
    tool_name = name if name is not None else getattr(fn, "__name__", repr(fn))
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return (), dict(arguments)  # no signature to check against: pass everything on
    hints = _hints_or_none(fn)  # unresolvable hints: pass the values as they are
    params = signature.parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = [p for p in params.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    unknown = [key for key in arguments if key not in params or params[key] not in named]
    missing = _required_not_in(named, arguments, hints)
    problems = []
    if missing:
        problems.append(f"missing required {_plural('argument', missing)}")
    if unknown and not takes_kwargs:
        problems.append(f"unknown {_plural('argument', unknown)}")
    if problems:
        raise ToolError(f"tool {tool_name!r}: " + "; ".join(problems), tool=tool_name)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    try:
        for param in named:
            if param.name in arguments:
                value = arguments[param.name]
                if not (value is None and param.default is None):
                    value = _convert(value, hints.get(param.name, Any), param.name)
            elif param.default is not param.empty:
                if param.kind is not param.POSITIONAL_ONLY:
                    continue
                value = param.default
            else:
                value = None
            if param.kind is param.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[param.name] = value
    except _Mismatch as exc:
        raise ToolError(f"tool {tool_name!r}: {exc}", tool=tool_name) from None
    if takes_kwargs:
        kwargs.update({key: arguments[key] for key in unknown})
    return tuple(args), kwargs


def takes_arguments_dict(
    fn: Callable[..., Any], parameters: Mapping[str, Any], *, name: str
) -> bool:
    """Whether ``fn`` takes the model's arguments as one dict rather than as keywords.

    ``parameters`` is the tool definition's JSON schema. ``True`` when ``fn`` has exactly one
    parameter, positional and not one of the schema's properties (``lambda args: ...``).
    Otherwise ``fn`` is called with keywords, and every property must be one of its
    parameters (or ``fn`` takes ``**kwargs``) and every parameter it needs must be a property.
    A callable without a readable signature is called with keywords, unchecked.

    Raises :class:`UsageError` naming the properties and parameters that do not match.
    """
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    properties = parameters.get("properties") or {}
    named = [p for p in params.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if (
        len(params) == 1
        and named
        and named[0].kind in (named[0].POSITIONAL_ONLY, named[0].POSITIONAL_OR_KEYWORD)
        and named[0].name not in properties
    ):
        return True
    names = {p.name for p in named}
    unused = [] if takes_kwargs else [key for key in properties if key not in names]
    unfilled = _required_not_in(named, properties, _hints_or_none(fn))
    problems = []
    if unused:
        listed = ", ".join(repr(key) for key in unused)
        if len(unused) > 1:
            problems.append(f"properties {listed} are not parameters of the handler")
        else:
            problems.append(f"property {listed} is not a parameter of the handler")
    if unfilled:
        verb = "are not properties" if len(unfilled) > 1 else "is not a property"
        problems.append(f"handler {_plural('parameter', unfilled)} {verb} of the definition")
    if problems:
        raise UsageError(
            f"handler of tool {name!r} does not match its definition: "
            + "; ".join(problems)
            + " (a handler of one parameter that is no property gets the arguments dict)"
        )
    return False


def _hints_or_none(fn: Callable[..., Any]) -> dict[str, Any]:
    """``fn``'s resolved type hints; none when they cannot be resolved."""
    try:
        return hints_of(fn)
    except Exception:
        return {}


def _required_not_in(
    named: list[inspect.Parameter], given: Mapping[str, Any], hints: Mapping[str, Any]
) -> list[str]:
    """The parameters in ``named`` that need a value and are not keys of ``given`` (one
    without a default that accepts ``None`` is filled with it)."""
    return [
        p.name
        for p in named
        if p.name not in given and p.default is p.empty and not accepts_none(hints.get(p.name, Any))
    ]


# -- the runner's helpers -------------------------------------------------------------------


def decode_arguments(name: str, arguments_json: str) -> dict[str, Any]:
    """The model's ``arguments_json`` for the tool ``name``, decoded; ``{}`` when blank.

    Raises :class:`ToolError` for a value that is not a string, invalid JSON, or JSON that
    is not an object.
    """
    if not isinstance(arguments_json, str | bytes | bytearray):
        raise ToolError(f"arguments of tool {name!r} must be a JSON string", tool=name)
    if not arguments_json.strip():
        return {}  # a call without arguments may come with an empty string
    try:
        arguments = json.loads(arguments_json)
    except ValueError as exc:
        raise ToolError(f"invalid JSON arguments for tool {name!r}: {exc}", tool=name) from exc
    if not isinstance(arguments, dict):
        kind = _kind_of(arguments).split()[0]
        raise ToolError(f"arguments of tool {name!r} must be a JSON object, got {kind}", tool=name)
    return arguments


def describe_exception(exc: BaseException) -> str:
    """``"Type: message"`` (or ``"Type"``) for an exception, at most 2000 characters."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(message) > _MAX_ERROR_CHARS:
        message = message[: _MAX_ERROR_CHARS - 3] + "..."
    return message
