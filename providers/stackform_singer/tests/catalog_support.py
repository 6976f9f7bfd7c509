"""Helpers and hand-written catalogs for the catalog tests: breadcrumb lookups, the config of
the real tap-jsonl run, and a catalog in the shape pipelinewise-tap-mysql discovers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stackform_singer.catalog import (
    Selection,
)


def _md(stream: dict[str, Any], *path: str) -> dict[str, Any]:
    crumb: list[str] = []
    for name in path:
        crumb += ["properties", name]
    for entry in stream["metadata"]:
        if entry["breadcrumb"] == crumb:
            return entry["metadata"]
    raise KeyError(path)


def _stream(catalog: dict[str, Any], stream_id: str) -> dict[str, Any]:
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == stream_id)


def _props(sel: Selection, name: str) -> set[str]:
    found = sel.stream(name)
    assert found is not None, f"{name} not selected: {sel.names}"
    return set(found.properties)


def _tap_config(base: Path, stream: str, rows: list[dict[str, Any]]) -> Path:
    data = base / stream
    data.mkdir(parents=True, exist_ok=True)
    (data / f"{stream}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = base / f"{stream}.json"
    config.write_text(
        json.dumps({"path": str(data / "*.jsonl"), "stream_name": stream, "primary_keys": ["id"]})
    )
    return config



def _mysql_col(name: str, sql_type: str, inclusion: str = "available") -> dict[str, Any]:
    return {
        "breadcrumb": ["properties", name],
        "metadata": {
            "selected-by-default": inclusion != "unsupported",
            "sql-datatype": sql_type,
            "datatype": sql_type.split("(")[0],
            **({"inclusion": inclusion} if inclusion else {}),
        },
    }


def mysql_catalog() -> dict[str, Any]:
    """What pipelinewise-tap-mysql 1.6 discovers for a ``shop`` database (two tables, a view)."""
    return {
        "streams": [
            {
                "tap_stream_id": "shop-orders",
                "table_name": "orders",
                "stream": "orders",
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"inclusion": "automatic", "type": ["null", "integer"]},
                        "customer_id": {"inclusion": "available", "type": ["null", "integer"]},
                        "customer_name": {"inclusion": "available", "type": ["null", "string"]},
                        "total": {"inclusion": "available", "type": ["null", "number"]},
                        "updated_at": {
                            "inclusion": "available",
                            "type": ["null", "string"],
                            "format": "date-time",
                        },
                        "shape": {"inclusion": "unsupported", "description": "geometry"},
                    },
                },
                "metadata": [
                    {
                        "breadcrumb": [],
                        "metadata": {
                            "selected-by-default": False,
                            "database-name": "shop",
                            "row-count": 3,
                            "is-view": False,
                            "table-key-properties": ["id"],
                        },
                    },
                    _mysql_col("id", "int(11)", "automatic"),
                    _mysql_col("customer_id", "int(11)"),
                    _mysql_col("customer_name", "varchar(100)"),
                    _mysql_col("total", "decimal(10,2)"),
                    _mysql_col("updated_at", "datetime"),
                    _mysql_col("shape", "geometry", "unsupported"),
                ],
            },
            {
                "tap_stream_id": "shop-customers",
                "table_name": "customers",
                "stream": "customers",
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"inclusion": "automatic", "type": ["null", "integer"]},
                        "email": {"inclusion": "available", "type": ["null", "string"]},
                    },
                },
                "metadata": [
                    {
                        "breadcrumb": [],
                        "metadata": {
                            "selected-by-default": False,
                            "database-name": "shop",
                            "row-count": 1,
                            "is-view": False,
                            "table-key-properties": ["id"],
                        },
                    },
                    _mysql_col("id", "int(11)", "automatic"),
                    _mysql_col("email", "varchar(200)"),
                ],
            },
            {
                "tap_stream_id": "shop-order_totals",
                "table_name": "order_totals",
                "stream": "order_totals",
                "schema": {
                    "type": "object",
                    "properties": {
                        "customer_id": {"inclusion": "available", "type": ["null", "integer"]},
                        "total": {"inclusion": "available", "type": ["null", "number"]},
                    },
                },
                "metadata": [
                    {
                        "breadcrumb": [],
                        "metadata": {
                            "selected-by-default": False,
                            "database-name": "shop",
                            "is-view": True,
                        },
                    },
                    _mysql_col("customer_id", "int(11)"),
                    _mysql_col("total", "decimal(32,2)"),
                ],
            },
        ]
    }


def nested_catalog() -> dict[str, Any]:
    """singer-sdk shape with a nested object schema; metadata only for top-level properties."""
    return {
        "streams": [
            {
                "tap_stream_id": "orders",
                "stream": "orders",
                "key_properties": ["id"],
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "note": {"type": ["string", "null"]},
                        "address": {
                            "type": ["object", "null"],
                            "properties": {
                                "city": {"type": "string"},
                                "zip": {"type": "string"},
                                "geo": {
                                    "anyOf": [
                                        {"type": "null"},
                                        {
                                            "type": "object",
                                            "properties": {
                                                "lat": {"type": "number"},
                                                "lon": {"type": "number"},
                                            },
                                        },
                                    ]
                                },
                            },
                        },
                    },
                },
                "metadata": [
                    {"breadcrumb": [], "metadata": {"inclusion": "available"}},
                    {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
                    {"breadcrumb": ["properties", "note"], "metadata": {"inclusion": "available"}},
                    {
                        "breadcrumb": ["properties", "address"],
                        "metadata": {"inclusion": "available"},
                    },
                ],
            }
        ]
    }


