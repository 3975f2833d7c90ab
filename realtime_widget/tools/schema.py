"""Tool definitions and their JSON schema built from Python functions.

:func:`function_schema` reads a function's signature, hints and docstring: every parameter
is a property, required unless it has a default or admits ``None``; every object is closed
(``additionalProperties: false``). ``*args``, ``**kwargs``, positional-only parameters,
recursive types and types without a JSON form are a :class:`UsageError` naming the
parameter. :func:`validate_definition` normalises a hand-written definition;
:func:`wire_definition` keeps only the keys the API accepts.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import types
from collections.abc import Callable, Mapping
from typing import (
    Annotated,
    Any,
    Literal,
    NewType,
    TypeAlias,
    TypedDict,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

from realtime_widget.core.checks import need_tool_name
from realtime_widget.core.errors import UsageError
from realtime_widget.tools.docstrings import parse_docstring
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
    unwrap_partial,
)

__all__ = [
    "ToolDefinition",
    "function_schema",
    "validate_definition",
    "wire_definition",
]


JSONSchema: TypeAlias = dict[str, Any]


class ToolDefinition(TypedDict):
    """A function tool as sent in ``session.tools`` (and ``response.tools``)."""

    type: Literal["function"]
    name: str
    description: str
    parameters: JSONSchema


# -- definitions ----------------------------------------------------------------------------


def validate_definition(definition: Mapping[str, Any]) -> ToolDefinition:
    """A normalised copy of a tool definition.

    Adds ``type: "function"``, an empty ``description`` and empty object ``parameters`` when
    missing; ``parameters`` is deep-copied through JSON. Keys beyond the four wire keys are
    kept (see :func:`wire_definition`). Raises :class:`UsageError` for a name that is not
    1-64 letters, digits, ``_`` or ``-``, another ``type``, or ``parameters`` that are not a
    JSON-serialisable object schema.
    """
    if not isinstance(definition, Mapping):
        raise UsageError(f"a tool definition must be a mapping, got {type(definition).__name__}")
    result = dict(definition)
    kind = result.setdefault("type", "function")
    if kind != "function":
        raise UsageError(f"tool type must be 'function', got {kind!r}")
    name = need_tool_name(result.get("name"))
    description = result.get("description")
    if description is None:
        result["description"] = ""
    elif not isinstance(description, str):
        raise UsageError(f"description of tool {name!r} must be a string, got {description!r}")
    parameters = result.get("parameters")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping):
        raise UsageError(f"parameters of tool {name!r} must be a mapping, got {parameters!r}")
    try:
        parameters = json.loads(json.dumps(parameters, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"parameters of tool {name!r} are not JSON-serialisable: {exc}") from None
    schema_type = parameters.setdefault("type", "object")
    if schema_type != "object":
        raise UsageError(
            f"parameters of tool {name!r} must have type 'object', got {schema_type!r}"
        )
    if not isinstance(parameters.get("properties", {}), dict):
        raise UsageError(f"properties of tool {name!r} must be a mapping")
    result["parameters"] = parameters
    return cast(ToolDefinition, result)


def wire_definition(definition: Mapping[str, Any]) -> ToolDefinition:
    """The definition as the API accepts it: validated, only the four wire keys kept."""
    valid = validate_definition(definition)
    return {
        "type": valid["type"],
        "name": valid["name"],
        "description": valid["description"],
        "parameters": valid["parameters"],
    }


# -- schemas from type hints ----------------------------------------------------------------


class _Unsupported(Exception):
    def __init__(self, hint: Any, reason: str = "unsupported type") -> None:
        super().__init__(reason)
        self.hint = hint
        self.reason = reason
        self.path: list[str] = []  # the property keys leading to the bad type, outermost first


def _class_description(cls: type) -> tuple[str, dict[str, str]]:
    doc = cls.__doc__
    # A dataclass without a docstring gets its signature as __doc__: not a description.
    if doc is None or (is_dataclass_type(cls) and doc.startswith(cls.__name__ + "(")):
        return "", {}
    return parse_docstring(doc)


def _jsonable_default(value: Any) -> tuple[bool, Any]:
    """``(True, json_value)`` when a default value can be shown in a schema."""
    value = json_value(value)
    if isinstance(value, tuple):
        value = list(value)
    try:
        return True, json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return False, None


def _nullable(schema: JSONSchema) -> JSONSchema:
    if not schema:
        return schema
    schema = dict(schema)
    kind = schema.get("type")
    if isinstance(kind, str | list) and "anyOf" not in schema:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        if "null" not in kinds:
            schema["type"] = [*kinds, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    if "anyOf" in schema:
        if {"type": "null"} not in schema["anyOf"]:
            schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _enum_schema(values: list[Any], hint: Any) -> JSONSchema:
    kinds: list[str] = []
    for value in values:
        kind = JSON_SCALAR_TYPES.get(type(value))
        if kind is None:
            raise _Unsupported(hint, f"unsupported value {value!r} in type")
        if kind not in kinds:
            kinds.append(kind)
    return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": values}


def _object_schema(
    hints: Mapping[str, Any],
    required: list[str],
    descriptions: Mapping[str, str],
    defaults: Mapping[str, Any],
    stack: tuple[type, ...],
) -> JSONSchema:
    properties: dict[str, JSONSchema] = {}
    for key, hint in hints.items():
        try:
            schema = _schema(hint, stack)
        except _Unsupported as exc:
            exc.path.insert(0, key)
            raise
        if key in defaults:
            shown, value = _jsonable_default(defaults[key])
            if value is None and shown:
                schema = _nullable(schema)
            if shown:
                schema["default"] = value
        if key in descriptions and "description" not in schema:
            schema["description"] = descriptions[key]
        properties[key] = schema
    result: JSONSchema = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    result["additionalProperties"] = False
    return result


def _class_hints(cls: type) -> dict[str, Any]:
    try:
        return get_type_hints(cls, include_extras=True)
    except Exception:
        raise _Unsupported(cls, "unresolvable type hints in") from None


def _class_schema(cls: type, stack: tuple[type, ...]) -> JSONSchema:
    """The object schema of a TypedDict or a dataclass, its docstring summary as description."""
    hints = _class_hints(cls)
    summary, docs = _class_description(cls)
    if is_typeddict(cls):
        required = typeddict_required(cls, hints)
        fields = {key: strip_qualifiers(hint) for key, hint in hints.items()}
        schema = _object_schema(fields, [k for k in hints if k in required], docs, {}, stack)
    else:
        schema = _dataclass_schema(cls, hints, docs, stack)
    return {"description": summary, **schema} if summary else schema


def _dataclass_schema(
    cls: type, hints: Mapping[str, Any], descriptions: Mapping[str, str], stack: tuple[type, ...]
) -> JSONSchema:
    fields: dict[str, Any] = {}
    required: list[str] = []
    defaults: dict[str, Any] = {}
    docs = dict(descriptions)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        hint = hints.get(field.name, Any)
        fields[field.name] = hint
        if isinstance(field.metadata.get("description"), str):
            docs[field.name] = field.metadata["description"]
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif not has_default(field) and not accepts_none(hint):
            required.append(field.name)
    return _object_schema(fields, required, docs, defaults, stack)


def _schema(hint: Any, stack: tuple[type, ...] = ()) -> JSONSchema:
    """The JSON Schema of a type hint. Raises ``_Unsupported`` naming the innermost bad type."""
    if hint is Any or hint is object or hint is inspect.Parameter.empty:
        return {}
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        schema = _schema(args[0], stack)
        for meta in hint.__metadata__:
            if isinstance(meta, str):
                schema["description"] = meta
            elif isinstance(meta, Mapping):
                schema.update(meta)
        return schema
    if hint is None or hint is NONE_TYPE:
        return {"type": "null"}
    if isinstance(hint, NewType):
        return _schema(hint.__supertype__, stack)
    options = choices(hint)
    if options is not None:
        return _enum_schema([json_value(option) for option in options], hint)
    if origin in (Union, types.UnionType):
        arms = [arm for arm in args if arm is not NONE_TYPE]
        schemas = [_schema(arm, stack) for arm in arms]
        if len(schemas) == 1:
            schema = schemas[0]
        elif any(not s for s in schemas):
            schema = {}
        elif all(len(s) == 1 and isinstance(s.get("type"), str) for s in schemas):
            schema = {"type": list(dict.fromkeys(s["type"] for s in schemas))}
        else:
            schema = {"anyOf": schemas}
        return _nullable(schema) if len(arms) < len(args) else schema
    if not hashable(hint):
        raise _Unsupported(hint)
    if hint in SCALARS:
        return {"type": SCALARS[hint]}
    if is_typeddict(hint) or is_dataclass_type(hint):
        if hint in stack:
            raise _Unsupported(hint, "recursive type")
        return _class_schema(hint, (*stack, hint))
    base = origin or hint
    if base is tuple:
        if not args:
            return {"type": "array"}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema(args[0], stack)}
        items = [_schema(arg, stack) for arg in args]
        return {"type": "array", "prefixItems": items, "minItems": len(args), "maxItems": len(args)}
    if base in SEQUENCES or base in SETS:
        schema = {"type": "array"}
        if args and args[0] is not Any:
            schema["items"] = _schema(args[0], stack)
        if base in SETS:
            schema["uniqueItems"] = True
        return schema
    if base in MAPPINGS:
        if args and args[0] not in (str, Any):
            raise _Unsupported(hint, "unsupported key type in")
        schema = {"type": "object"}
        if args and args[1] is not Any:
            schema["additionalProperties"] = _schema(args[1], stack)
        return schema
    raise _Unsupported(hint)


def _default_name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", None)
    if isinstance(name, str):
        return name
    if isinstance(fn, functools.partial):
        raise UsageError(f"a partial of {_default_name(fn.func)!r} has no name: pass name=")
    return type(fn).__name__  # a callable object is named after its class


def _signature_of(fn: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"cannot read the signature of {fn!r}: {exc}") from None


def function_schema(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> ToolDefinition:
    """The tool definition of a Python function.

    Built from the signature, the type hints (``from __future__ import annotations`` and
    forward references are resolved in the function's module) and the docstring: its summary
    is the description, its parameter sections describe the parameters;
    ``Annotated[T, "text"]`` overrides those. Parameters with a default, or whose type admits
    ``None``, are not required; JSON-serialisable defaults are shown. ``name`` defaults to
    ``fn.__name__`` (a callable object's class name), ``description`` to the docstring
    summary.

    Raises :class:`UsageError` for ``*args``, ``**kwargs``, positional-only parameters, type
    hints that cannot be resolved or have no JSON form (naming the parameter and the type),
    and an invalid name.
    """
    tool_name = name if name is not None else _default_name(fn)
    signature = _signature_of(fn)
    try:
        hints = hints_of(fn)
    except Exception as exc:
        raise UsageError(f"cannot resolve the type hints of {tool_name!r}: {exc}") from None
    documented = unwrap_partial(fn)  # not partial's own docstring
    summary, docs = parse_docstring(inspect.getdoc(documented))
    fields: dict[str, Any] = {}
    required: list[str] = []
    defaults: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise UsageError(f"tool {tool_name!r}: parameter {star}{param.name} is not supported")
        if param.kind is param.POSITIONAL_ONLY:
            raise UsageError(f"tool {tool_name!r}: positional-only parameter {param.name!r}")
        hint = hints.get(param.name, Any)
        fields[param.name] = hint
        if param.default is not param.empty:
            defaults[param.name] = param.default
        elif not accepts_none(hint):
            required.append(param.name)
    try:
        parameters = _object_schema(fields, required, docs, defaults, ())
    except _Unsupported as exc:
        bad = exc.path[0]
        where = "" if fields[bad] is exc.hint else f" in {type_name(fields[bad])}"
        problem = f"{exc.reason} {type_name(exc.hint)}{where}"
        raise UsageError(f"tool {tool_name!r}: parameter {bad!r} has {problem}") from None
    return validate_definition(
        {
            "type": "function",
            "name": tool_name,
            "description": summary if description is None else description,
            "parameters": parameters,
        }
    )
