"""pydantic's validation errors as short, located diagnostics.

Used for the core sections when the stack file is read (:mod:`.loader`) and for provider blocks
once resolved (:mod:`.resolve`): one message per problem, in the words of TOML (``expected an
integer, got a string``), located where the value is written, with a did-you-mean for unknown
keys.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from stackform.config.schema import CoreSections
from stackform.diagnostics import Diagnostic, Location, did_you_mean
from stackform.resource import KeyPath, format_path

Locator = Callable[[KeyPath, bool], Location | None]
"""(source key path, point at the key rather than the value) -> location."""
_EXPECTED = {
    "string_type": "a string",
    "str_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "an array",
    "tuple_type": "an array",
    "set_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dataclass_type": "a table",
    "none_required": "nothing",
    "date_type": "a date",
    "datetime_type": "a date-time",
    "time_type": "a time",
    "path_type": "a path",
    "url_type": "a URL",
    "url_parsing": "a URL",
    "enum": "one of the allowed values",
}


def describe(value: Any) -> str:
    """``an integer``, ``a table``...: how a TOML value's type reads in a message."""
    import datetime as dt

    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, dt.time):
        return "a time"
    if value is None:
        return "nothing"
    return type(value).__name__


def _loc_to_path(loc: tuple[int | str, ...], data: Any, error_type: str) -> KeyPath:
    """pydantic's ``loc`` as a key path into ``data``, skipping union-member tags."""
    path: list[str | int] = []
    cur = data
    last = len(loc) - 1
    for n, item in enumerate(loc):
        in_dict = isinstance(cur, dict) and item in cur
        in_list = isinstance(cur, list) and isinstance(item, int) and 0 <= item < len(cur)
        if in_dict or in_list:
            path.append(item)
            cur = cur[item]
        elif n == last and error_type == "missing" and isinstance(item, str):
            path.append(item)
            cur = None
        # else: a union tag ("str", "function-after[...]") or a key the data lacks: skip it
    return tuple(path)


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        for member in members:
            inner = _unwrap(member)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


def fields_at(model: type[BaseModel] | None, path: KeyPath) -> list[str]:
    """The field names (aliases where set) of the model found at ``path`` under ``model``."""
    annotation: Any = model
    for key in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            by_key = {f.alias or n: f for n, f in annotation.model_fields.items()}
            field = by_key.get(str(key)) or annotation.model_fields.get(str(key))
            if field is None:
                return []
            annotation = field.annotation
            continue
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin in (list, tuple, set, frozenset) and args:
            annotation = args[0]
        elif origin in (dict, Mapping) and len(args) == 2:
            annotation = args[1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _got(value: Any) -> str:
    if isinstance(value, str) and len(value) <= 40:
        return repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return describe(value)


def validation_diagnostics(
    error: ValidationError,
    data: Any,
    model: type[BaseModel] | None,
    prefix: KeyPath,
    locate: Locator,
    source: Callable[[KeyPath], KeyPath] | None = None,
) -> list[Diagnostic]:
    """One short, located diagnostic per problem pydantic found in ``data``.

    ``prefix`` turns a path inside ``data`` into the key path shown to the user; ``source`` maps
    a path inside ``data`` to where it is written (an environment override, say), by default
    ``prefix + path``.
    """
    to_source = source or (lambda rel: (*prefix, *rel))
    # Several errors on one path come from a union: fold "expected" parts into one message.
    grouped: dict[KeyPath, list[dict[str, Any]]] = {}
    for err in error.errors(include_url=False):
        rel = _loc_to_path(tuple(err["loc"]), data, err["type"])
        grouped.setdefault(rel, []).append(dict(err))
    out: list[Diagnostic] = []
    for rel, errs in grouped.items():
        shown = format_path((*prefix, *rel))
        expected = [_EXPECTED[e["type"]] for e in errs if e["type"] in _EXPECTED]
        if len(expected) == len(errs) and len(errs) > 1:
            names = list(dict.fromkeys(expected))
            message = f"expected {' or '.join(names)}, got {describe(errs[0].get('input'))}"
            out.append(Diagnostic(message, path=shown, location=locate(to_source(rel), False)))
            continue
        for one in errs:
            message, hint, at_key = _message(one, model, rel)
            out.append(Diagnostic(message, path=shown, location=locate(to_source(rel), at_key),
                                  hint=hint))
    return out


def _message(err: Mapping[str, Any], model: type[BaseModel] | None, rel: KeyPath
             ) -> tuple[str, str | None, bool]:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    last = rel[-1] if rel else ""
    if kind == "missing":
        if rel and isinstance(last, str) and len(rel) == 1 and model is CoreSections:
            return f"missing required table [{last}]", f"add a [{last}] table", False
        return f"missing required key '{last}'", None, False
    if kind == "extra_forbidden":
        return f"unknown key '{last}'", did_you_mean(str(last), fields_at(model, rel[:-1])), True
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}", None, False
    if kind == "literal_error":
        return f"expected {ctx.get('expected', 'an allowed value')}, got {_got(value)}", None, False
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty", None, False
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    # A provider's own error (PydanticCustomError) may carry a hint, and ask to point at the key.
    hint = ctx.get("hint") if isinstance(ctx.get("hint"), str) else None
    return msg[:1].lower() + msg[1:], hint, ctx.get("at_key") is True
