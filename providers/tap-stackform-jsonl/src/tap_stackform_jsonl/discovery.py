"""Discovery: infer a JSON schema from the first records and build the one-stream catalog."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tap_stackform_jsonl.config import TapError
from tap_stackform_jsonl.files import META_FILE, META_LINE, iter_records, match_files

# ISO-8601 date and time (date-only strings stay plain strings).
_DATETIME = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d"
    r"(:([0-5]\d|60)(\.\d{1,9})?)?([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?"
)


# --------------------------------------------------------------------------- discovery

_TYPE_ORDER = ("integer", "number", "boolean", "string", "object", "array")


class _Prop:
    __slots__ = ("datetime", "present", "saw_null", "types")

    def __init__(self) -> None:
        self.types: set[str] = set()
        self.present = 0
        self.saw_null = False
        self.datetime = True  # every string seen so far is an ISO-8601 timestamp

    def see(self, v: Any) -> None:
        self.present += 1
        t = type(v)
        if v is None:
            self.saw_null = True
        elif t is bool:
            self.types.add("boolean")
        elif t is int:
            self.types.add("integer")
        elif t is float:
            self.types.add("number")
        elif t is str:
            self.types.add("string")
            if self.datetime and not _DATETIME.fullmatch(v):
                self.datetime = False
        elif t is dict:
            self.types.add("object")
        else:
            self.types.add("array")

    def schema(self, total: int) -> dict[str, Any]:
        types = set(self.types)
        if "number" in types:
            types.discard("integer")
        names = [t for t in _TYPE_ORDER if t in types] or ["string"]
        out: dict[str, Any] = {}
        if self.saw_null or self.present < total or not self.types:
            out["type"] = ["null", *names]
        else:
            out["type"] = names
        if names == ["string"] and self.types and self.datetime:
            out["format"] = "date-time"
        if "array" in names:
            out["items"] = {}
        return out


def infer_schema(records: Iterator[dict[str, Any]], limit: int) -> tuple[dict[str, Any], int]:
    props: dict[str, _Prop] = {}
    total = 0
    for rec in records:
        total += 1
        for k, v in rec.items():
            p = props.get(k)
            if p is None:
                p = props[k] = _Prop()
            p.see(v)
        if total >= limit:
            break
    schema = {
        "type": "object",
        "properties": {k: p.schema(total) for k, p in props.items()},
    }
    return schema, total


def discover(cfg: dict[str, Any]) -> dict[str, Any]:
    files = match_files(cfg["path"])
    if not files:
        raise TapError(f"no files match {cfg['path']}: cannot infer a schema")
    limit = int(cfg["schema_sample_rows"])
    schema, total = infer_schema(iter_records(files), limit)
    if total == 0:
        raise TapError(f"no records in the files matching {cfg['path']}: cannot infer a schema")
    props = schema["properties"]
    if cfg["add_file_metadata"]:
        props[META_FILE] = {"type": ["string"]}
        props[META_LINE] = {"type": ["integer"]}
    keys: list[str] = list(cfg["primary_keys"])
    missing = [k for k in keys if k not in props]
    if missing:
        raise TapError(
            "primary_keys not found in the first "
            f"{total} record(s): {', '.join(missing)} (see schema_sample_rows)"
        )
    stream = cfg["stream_name"]
    metadata: list[dict[str, Any]] = [
        {
            "breadcrumb": [],
            "metadata": {
                "inclusion": "available",
                "selected-by-default": True,
                "table-key-properties": keys,
                "forced-replication-method": "INCREMENTAL",
            },
        }
    ]
    for name in props:
        metadata.append(
            {
                "breadcrumb": ["properties", name],
                "metadata": {
                    "inclusion": "automatic" if name in keys else "available",
                    "selected-by-default": True,
                },
            }
        )
    return {
        "streams": [
            {
                "tap_stream_id": stream,
                "stream": stream,
                "schema": schema,
                "key_properties": keys,
                "metadata": metadata,
            }
        ]
    }
