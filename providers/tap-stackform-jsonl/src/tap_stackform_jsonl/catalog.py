"""Reading a ``--catalog``: whether the stream is selected and which properties to drop."""

from __future__ import annotations

from typing import Any

from tap_stackform_jsonl.config import TapError
from tap_stackform_jsonl.discovery import discover


def _md_map(entry: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for item in entry.get("metadata") or []:
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
            out[tuple(item.get("breadcrumb") or ())] = item["metadata"]
    return out


def _selected(md: dict[str, Any], default: bool = True) -> bool:
    if md.get("inclusion") == "automatic":
        return True
    if md.get("inclusion") == "unsupported":
        return False
    if isinstance(md.get("selected"), bool):
        return bool(md["selected"])
    if isinstance(md.get("selected-by-default"), bool):
        return bool(md["selected-by-default"])
    return default


class Plan:
    """What to sync: the stream's schema and keys, and the properties to drop."""

    def __init__(self, schema: dict[str, Any], keys: list[str], drop: set[str]) -> None:
        props = dict(schema.get("properties") or {})
        self.drop = drop
        self.schema = {**schema, "properties": {k: v for k, v in props.items() if k not in drop}}
        self.keys = keys


def plan_from_catalog(catalog: Any, stream: str) -> Plan | None:
    """The plan for ``stream``, or None when the catalog does not select it."""
    if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
        raise TapError("catalog must be a JSON object with a 'streams' list")
    entry = next(
        (
            s
            for s in catalog["streams"]
            if isinstance(s, dict) and (s.get("tap_stream_id") or s.get("stream")) == stream
        ),
        None,
    )
    if entry is None:
        return None
    md = _md_map(entry)
    schema = entry.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        raise TapError(f"catalog: stream {stream!r} has no schema properties")
    top = md.get((), {})
    legacy = schema.get("selected")
    if not _selected(top, default=legacy if isinstance(legacy, bool) else False):
        return None
    keys = entry.get("key_properties")
    if not isinstance(keys, list):
        keys = top.get("table-key-properties") or []
    drop = {
        name
        for name in schema["properties"]
        if not _selected(md.get(("properties", name), {})) and name not in keys
    }
    return Plan(schema, list(keys), drop)


def plan_from_discovery(cfg: dict[str, Any]) -> Plan:
    entry = discover(cfg)["streams"][0]
    return Plan(entry["schema"], entry["key_properties"], set())
