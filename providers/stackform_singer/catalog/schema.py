"""``apply_schema``: a copy of a discovered catalog with the stack's ``schema`` overrides in it
(Meltano's ``schema`` extra), applied before selection.

``{stream_pattern: {property_pattern: json_schema}}``: both are ``fnmatch`` patterns over
``tap_stream_id`` and the stream's top-level property names. The fragment **replaces** the
schema of every property it matches (a tap that says ``{"type": "string"}`` for a timestamp
gets ``{"type": ["string", "null"], "format": "date-time"}``); a property named without
wildcards that the stream lacks is added, so a tap that cannot discover a property (a
schemaless source) can still emit and select it. Streams and properties matched by no rule
are untouched; the input is never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from stackform_singer.catalog.streams import stream_id_of

_WILDCARDS = frozenset("*?[")


def apply_schema(catalog: Mapping[str, Any],
                 rules: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """``catalog`` with ``rules`` applied (the catalog itself, copied, when there are none)."""
    out = copy.deepcopy(dict(catalog))
    if not rules:
        return out
    for stream in out.get("streams") or ():
        if not isinstance(stream, dict):
            continue
        sid = stream_id_of(stream)
        for stream_pattern, properties in rules.items():
            if fnmatchcase(sid, stream_pattern):
                _override(stream, properties)
    return out


def _override(stream: dict[str, Any], properties: Mapping[str, Mapping[str, Any]]) -> None:
    schema = stream.get("schema")
    if not isinstance(schema, dict):
        schema = stream["schema"] = {"type": "object"}
    props = schema.get("properties")
    if not isinstance(props, dict):
        props = schema["properties"] = {}
    for pattern, fragment in properties.items():
        if _WILDCARDS.isdisjoint(pattern):
            props[pattern] = copy.deepcopy(dict(fragment))
            continue
        for name in [n for n in props if fnmatchcase(n, pattern)]:
            props[name] = copy.deepcopy(dict(fragment))


def unmatched_schema_rules(catalog: Mapping[str, Any],
                           rules: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """The rules (``(stream_pattern,)`` or ``(stream_pattern, property_pattern)``) that match
    no stream, or no property of any stream they match: they change nothing."""
    streams = [s for s in catalog.get("streams") or () if isinstance(s, dict)]
    found: list[tuple[str, ...]] = []
    for stream_pattern, properties in rules.items():
        matched = [s for s in streams if fnmatchcase(stream_id_of(s), stream_pattern)]
        if not matched:
            found.append((stream_pattern,))
            continue
        for pattern in properties:
            if _WILDCARDS.isdisjoint(pattern):
                continue  # added where missing: never a no-op
            names = {n for s in matched for n in ((s.get("schema") or {}).get("properties")
                                                  or {})}
            if not any(fnmatchcase(n, pattern) for n in names):
                found.append((stream_pattern, pattern))
    return found
