"""Every stream and property of a catalog, selected or not, and *why* (``stackform catalog``).

The selection itself is :func:`~stackform_singer.catalog.apply.apply_selection`'s and the
reading of it :func:`~stackform_singer.catalog.summary.selection_of`'s: this module only names
what decided each mark, in the order the rules take effect (metadata over ``select``, an
exclusion over an inclusion, ``inclusion`` over both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from stackform_singer.catalog.apply import _applied
from stackform_singer.catalog.metadata import MetadataRule, _metadata_rules
from stackform_singer.catalog.rules import _parse, _Rule
from stackform_singer.catalog.streams import Path, _dotted, _hits, _StreamView
from stackform_singer.catalog.summary import _effective, replication_of


@dataclass(frozen=True)
class Listed:
    """One stream (``prop`` ``None``) or property: selected or not, why, and its type."""

    stream: str
    prop: str | None
    selected: bool
    why: str
    type: str | None = None
    replication_method: str | None = None
    replication_key: str | None = None
    key_properties: tuple[str, ...] = ()


def list_catalog(catalog: Mapping[str, Any], select: Sequence[str],
                 metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[Listed]:
    """Every stream of ``catalog`` and its properties, as ``select`` and ``metadata`` leave
    them, sorted by name (dotted: a parent before its children). By name, not in the schema's
    order: the recorded catalog is written with sorted keys, and a listing must not change
    order with where the catalog came from."""
    _result, views = _applied(catalog, select, metadata)
    rules = _parse(select)
    chosen = [r for r in _metadata_rules(metadata or {}) if r.key == "selected"]
    out: list[Listed] = []
    for view in sorted(views, key=lambda v: v.id):
        on = _effective(view.stream_md, None)
        method, key = replication_of(view)
        out.append(Listed(view.id, None, on, _stream_why(view, on, rules, chosen), None,
                          method, key, _keys(view)))
        marks: dict[Path, bool] = {(): on}
        for path in view.paths:  # parents first: a mark depends on the parent's
            marks[path] = _effective(view.md(path) or None, marks.get(path[:-1]))
        for path in sorted(view.paths):
            out.append(Listed(view.id, _dotted(path), marks[path],
                              _property_why(view, path, marks, rules, chosen),
                              type_of(view.stream.get("schema"), path)))
    return out


def _stream_why(view: _StreamView, on: bool, rules: Sequence[_Rule],
                chosen: Sequence[MetadataRule]) -> str:
    set_by = next((r for r in reversed(chosen)
                   if r.prop is None and fnmatchcase(view.id, r.stream)), None)
    if set_by is not None:
        return f"metadata {_where(set_by)} = {str(set_by.value).lower()}"
    if not rules:
        return _default(view.stream_md)
    named = [r for r in rules if r.target(view.id)[0]]
    if on:
        rule = next((r for r in named if not r.negated), None)
        return f'select rule "{rule.raw}"' if rule else "selected"
    excluded = next((r for r in named if r.negated and r.target(view.id)[1] is None), None)
    if excluded is not None:
        return f'excluded by "{excluded.raw}"'
    return "no select rule names it"


def _property_why(view: _StreamView, path: Path, marks: Mapping[Path, bool],
                  rules: Sequence[_Rule], chosen: Sequence[MetadataRule]) -> str:
    if not marks.get(path[:-1]):
        return "stream not selected" if len(path) == 1 else "parent not selected"
    inclusion = view.inclusion(path)
    if inclusion in ("automatic", "unsupported"):
        return f"inclusion: {inclusion}"
    dotted = _dotted(path)
    set_by = next((r for r in reversed(chosen) if r.prop is not None
                   and fnmatchcase(view.id, r.stream) and fnmatchcase(dotted, r.prop)), None)
    if set_by is not None:
        return f"metadata {_where(set_by)} = {str(set_by.value).lower()}"
    if not rules:
        return _default(view.md(path))
    for rule in rules:
        if rule.negated and _covers(rule, view.id, path):
            return f'excluded by "{rule.raw}"'
    direct = next((r for r in rules if not r.negated and _covers(r, view.id, path)), None)
    if direct is not None:
        return f'select rule "{direct.raw}"'
    below = [p for p in view.paths if p[:len(path)] == path and len(p) > len(path)]
    parent = next((r for r in rules if not r.negated
                   and any(_covers(r, view.id, p) for p in below)), None)
    if parent is not None and marks[path]:
        return f'select rule "{parent.raw}" (a parent of what it selects)'
    return "no select rule selects it"


def _covers(rule: _Rule, stream_id: str, path: Path) -> bool:
    named, prop = rule.target(stream_id)
    return named and (prop is None or _hits([prop], path))


def _where(rule: MetadataRule) -> str:
    return ".".join(rule.where)


def _default(md: Mapping[str, Any]) -> str:
    value = md.get("selected", md.get("selected-by-default"))
    if isinstance(value, bool):
        key = "selected" if "selected" in md else "selected-by-default"
        return f"tap default ({key} = {str(value).lower()}; select is empty)"
    return "tap default (select is empty)"


def _keys(view: _StreamView) -> tuple[str, ...]:
    keys = view.stream_md.get("table-key-properties") or view.stream.get("key_properties")
    return tuple(str(k) for k in keys) if isinstance(keys, list) else ()


def type_of(schema: Any, path: Path) -> str | None:
    """The JSON-schema type of the property at ``path``: ``integer``, ``number | string``,
    ``string (date-time)``; nullability left out (nearly every column is nullable)."""
    node = _schema_at(schema, path)
    if node is None:
        return None
    return _type_text(node)


def _schema_at(schema: Any, path: Path) -> Mapping[str, Any] | None:
    if not path:
        return schema if isinstance(schema, Mapping) else None
    if not isinstance(schema, Mapping):
        return None
    props = schema.get("properties")
    if isinstance(props, Mapping) and isinstance(props.get(path[0]), Mapping):
        return _schema_at(props[path[0]], path[1:])
    for combinator in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(combinator) or ():
            found = _schema_at(option, path)
            if found is not None:
                return found
    return None


def _type_text(node: Mapping[str, Any]) -> str | None:
    raw = node.get("type")
    names = [raw] if isinstance(raw, str) else [t for t in raw or () if isinstance(t, str)]
    for combinator in ("anyOf", "oneOf"):
        for option in node.get(combinator) or ():
            if isinstance(option, Mapping):
                names.extend(t for t in (_type_text(option) or "").split(" | ") if t)
    names = [n for n in dict.fromkeys(names) if n != "null"]
    if not names:
        return None
    text = " | ".join(names)
    fmt = node.get("format")
    return f"{text} ({fmt})" if isinstance(fmt, str) else text
