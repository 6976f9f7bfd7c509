"""Names and types: Singer names to snake-case identifiers, SQL quoting, and JSON schema to
DuckDB column types."""

from __future__ import annotations

import re
from typing import Any

_CAMEL1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def snake(name: str) -> str:
    """Lower snake case: ``userId`` -> ``user_id``, ``Order Lines`` -> ``order_lines``."""
    s = _CAMEL2.sub(r"\1_\2", _CAMEL1.sub(r"\1_\2", name))
    s = _NON_WORD.sub("_", s).strip("_").lower()
    if not s:
        s = "_"
    if s[0].isdigit():
        s = "_" + s
    return s


def qi(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def ql(value: str) -> str:
    """Quote a string literal."""
    return "'" + value.replace("'", "''") + "'"


def _branches(schema: Any) -> list[tuple[str, str | None]]:
    """The (type, format) alternatives a JSON schema allows."""
    if not isinstance(schema, dict):
        return [("any", None)]
    out: list[tuple[str, str | None]] = []
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            for sub in schema[key]:
                out.extend(_branches(sub))
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        out.extend(_branches(schema["allOf"][0]))
    t = schema.get("type")
    fmt = schema.get("format")
    fmt = fmt if isinstance(fmt, str) else None
    if t is None:
        if out:
            return out
        if "properties" in schema:
            t = "object"
        elif "items" in schema:
            t = "array"
        elif fmt is not None:
            t = "string"
        else:
            return [("any", None)]
    types = t if isinstance(t, list) else [t]
    out.extend((x if isinstance(x, str) else "any", fmt) for x in types)
    return out


def sql_type(schema: Any) -> str:
    """DuckDB type for a property's JSON schema."""
    branches = [b for b in _branches(schema) if b[0] != "null"]
    if not branches:
        return "VARCHAR"
    kinds = {t for t, _ in branches}
    if kinds & {"object", "array", "any"}:
        return "JSON"
    if kinds == {"integer"}:
        return "BIGINT"
    if kinds <= {"integer", "number"}:
        return "DOUBLE"
    if kinds == {"boolean"}:
        return "BOOLEAN"
    if kinds == {"string"}:
        formats = {f for _, f in branches}
        if formats == {"date"}:
            return "DATE"
        if formats and formats <= {"date-time", "date"}:
            return "TIMESTAMPTZ"
    return "VARCHAR"


_TYPE_ALIASES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "INT8": "BIGINT", "FLOAT8": "DOUBLE"}


def _canon(typ: str) -> str:
    t = typ.upper()
    return _TYPE_ALIASES.get(t, t)
