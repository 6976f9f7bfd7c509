"""Selection rules, metadata, summaries, diffs and digests on real Singer catalogs.

Two catalogs: one discovered by the real ``tap-jsonl`` 0.3.1 (singer-sdk), installed once per
session with uv into a temporary venv (skipped only when the package index cannot be reached),
and one written by hand in the shape ``pipelinewise-tap-mysql`` discovers (``db-table`` stream
ids, ``database-name``, ``is-view``, ``table-key-properties``, ``selected-by-default: false``,
automatic primary keys, an unsupported column type).
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from catalog_support import _md, _props, _stream, mysql_catalog, nested_catalog

from stackform_singer.catalog import (
    SelectionError,
    StreamSelection,
    apply_selection,
    selection_of,
)

# --------------------------------------------------------------------------- real tap catalog


def test_real_catalog_is_singer_shaped(real: dict[str, Any]) -> None:
    orders = _stream(real, "orders")
    assert _md(orders)["table-key-properties"] == ["id"]
    assert _md(orders, "id")["inclusion"] == "automatic"
    assert _md(orders, "internal_note")["inclusion"] == "available"
    assert {s["tap_stream_id"] for s in real["streams"]} == {"orders", "customers"}


def test_stream_wildcard_selects_stream_and_all_properties(real: dict[str, Any]) -> None:
    before = copy.deepcopy(real)
    out = apply_selection(real, ["orders.*"], {})
    assert real == before
    sel = selection_of(out)
    assert sel.names == ("orders",)
    assert {"id", "name", "note", "internal_note", "address", "tags", "updated_at"} <= _props(
        sel, "orders"
    )
    assert _md(_stream(out, "customers"))["selected"] is False
    assert all(e["metadata"]["selected"] is False for e in _stream(out, "customers")["metadata"])


def test_bare_stream_name_equals_stream_star(real: dict[str, Any]) -> None:
    assert selection_of(apply_selection(real, ["orders"], {})) == selection_of(
        apply_selection(real, ["orders.*"], {})
    )


def test_all_streams_and_property_globs(real: dict[str, Any]) -> None:
    sel = selection_of(apply_selection(real, ["*.*"], {}))
    assert sel.names == ("customers", "orders")
    sel = selection_of(apply_selection(real, ["orders.*note"], {}))
    assert sel.names == ("orders",)
    # the two notes plus what the tap always emits (primary key, replication key)
    assert _props(sel, "orders") == {"id", "_sdc_last_modified", "note", "internal_note"}
    sel = selection_of(apply_selection(real, ["*.id"], {}))
    assert sel.names == ("customers", "orders")
    assert _props(sel, "customers") == {"id", "_sdc_last_modified"}


def test_exclusions_win_whatever_the_order(real: dict[str, Any]) -> None:
    a = selection_of(apply_selection(real, ["*.*", "!orders.internal_note"], {}))
    b = selection_of(apply_selection(real, ["!orders.internal_note", "*.*"], {}))
    assert a == b
    assert "internal_note" not in _props(a, "orders") and "note" in _props(a, "orders")
    sel = selection_of(apply_selection(real, ["orders.note", "!orders.*"], {}))
    assert sel.names == ()
    sel = selection_of(apply_selection(real, ["*", "!customers"], {}))
    assert sel.names == ("orders",)


def test_selected_catalog_drives_the_real_tap(jsonl_env: dict[str, Any], tmp_path: Path) -> None:
    """The tap itself honours what apply_selection wrote: only selected fields are emitted."""
    catalog = apply_selection(jsonl_env["catalog"], ["orders.name"], {})
    catalog["streams"] = [s for s in catalog["streams"] if s["tap_stream_id"] == "orders"]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    proc = subprocess.run(
        [
            str(jsonl_env["tap"]),
            "--config",
            str(jsonl_env["configs"]["orders"]),
            "--catalog",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    records = [
        m["record"] for m in map(json.loads, proc.stdout.splitlines()) if m["type"] == "RECORD"
    ]
    assert len(records) == 2
    assert {k for r in records for k in r} <= set(_props(selection_of(catalog), "orders"))
    assert all("name" in r and "note" not in r for r in records)


def test_empty_select_keeps_the_taps_defaults(real: dict[str, Any]) -> None:
    out = apply_selection(real, [], {})
    assert selection_of(out) == selection_of(real)
    assert selection_of(out).names == ("customers", "orders")  # singer-sdk selects by default
    mysql = mysql_catalog()
    out = apply_selection(mysql, [], {"shop-orders": {"replication-method": "FULL_TABLE"}})
    assert selection_of(out).names == ()  # selected-by-default: false everywhere
    assert all("selected" not in e["metadata"] for s in out["streams"] for e in s["metadata"])
    assert _md(_stream(out, "shop-orders"))["replication-method"] == "FULL_TABLE"


# --------------------------------------------------------------------------- MySQL-style


def test_mysql_automatic_and_unsupported_columns() -> None:
    mysql = mysql_catalog()
    out = apply_selection(mysql, ["shop-orders.total"], {})
    orders = _stream(out, "shop-orders")
    assert _md(orders)["selected"] is True
    assert _md(orders, "id")["selected"] is True  # primary key rides along
    assert _md(orders, "customer_id")["selected"] is False
    assert _props(selection_of(out), "shop-orders") == {"id", "total"}

    out = apply_selection(mysql, ["*.*"], {})
    assert _md(_stream(out, "shop-orders"), "shape")["selected"] is False
    assert "shape" not in _props(selection_of(out), "shop-orders")
    assert selection_of(out).names == ("shop-customers", "shop-order_totals", "shop-orders")

    # a rule cannot drop a primary key: the tap would emit it anyway
    out = apply_selection(mysql, ["shop-orders.*", "!shop-orders.id"], {})
    assert "id" in _props(selection_of(out), "shop-orders")
    # ...nor select an unsupported column by name, which then selects nothing
    out = apply_selection(mysql, ["shop-orders.shape"], {})
    assert selection_of(out).names == ()


def test_mysql_unselected_stream_deselects_its_automatic_columns() -> None:
    out = apply_selection(mysql_catalog(), ["shop-customers.*"], {})
    orders = _stream(out, "shop-orders")
    assert all(e["metadata"]["selected"] is False for e in orders["metadata"])


def test_property_glob_across_columns() -> None:
    sel = selection_of(apply_selection(mysql_catalog(), ["shop-*.customer_*"], {}))
    assert sel.names == ("shop-order_totals", "shop-orders")
    assert _props(sel, "shop-orders") == {"id", "customer_id", "customer_name"}
    assert _props(sel, "shop-order_totals") == {"customer_id"}


def test_metadata_at_stream_and_property_level() -> None:
    mysql = mysql_catalog()
    before = copy.deepcopy(mysql)
    metadata = {
        "shop-order*": {
            "replication-method": "INCREMENTAL",
            "replication-key": "updated_at",
            "updated_at": {"is-replication-key": True},
        },
        "shop-customers": {
            "replication-method": "LOG_BASED",
            "properties": {"email": {"sensitive": True}},
        },
    }
    out = apply_selection(mysql, ["shop-*.*"], metadata)
    assert mysql == before
    orders = _stream(out, "shop-orders")
    assert _md(orders)["replication-method"] == "INCREMENTAL"
    assert _md(orders)["replication-key"] == "updated_at"
    assert _md(orders)["database-name"] == "shop"  # discovery's own keys are kept
    assert _md(orders, "updated_at")["is-replication-key"] is True
    assert "is-replication-key" not in _md(orders, "total")
    assert _md(_stream(out, "shop-customers"), "email")["sensitive"] is True
    # the view has no updated_at column: nothing is invented for it
    totals = _stream(out, "shop-order_totals")
    assert [e["breadcrumb"] for e in totals["metadata"]] == [
        [],
        ["properties", "customer_id"],
        ["properties", "total"],
    ]
    sel = selection_of(out)
    assert sel.stream("shop-orders") == StreamSelection(
        "shop-orders",
        ("customer_id", "customer_name", "id", "total", "updated_at"),
        "INCREMENTAL",
        "updated_at",
    )
    customers = sel.stream("shop-customers")
    assert customers is not None
    assert customers.replication_method == "LOG_BASED"


def test_metadata_for_nested_properties_and_list_values() -> None:
    out = apply_selection(
        nested_catalog(),
        ["orders.*"],
        {
            "orders": {
                "table-key-properties": ["id", "note"],
                "address.city": {"a": 1},
                "address": {"geo": {"lat": {"b": 2}}},
                "address.z*": {"c": 3},
            }
        },
    )
    orders = _stream(out, "orders")
    assert _md(orders)["table-key-properties"] == ["id", "note"]
    assert _md(orders, "address", "city")["a"] == 1
    assert _md(orders, "address", "geo", "lat")["b"] == 2
    assert _md(orders, "address", "zip")["c"] == 3


def test_malformed_metadata_is_an_error() -> None:
    with pytest.raises(SelectionError, match="shop-orders"):
        apply_selection(mysql_catalog(), ["*"], {"shop-orders": "INCREMENTAL"})  # type: ignore[dict-item]


# --------------------------------------------------------------------------- nested / legacy


def test_nested_property_selects_its_ancestors_only() -> None:
    cat = nested_catalog()
    out = apply_selection(cat, ["orders.address.city"], {})
    assert _props(selection_of(out), "orders") == {"id", "address", "address.city"}
    orders = _stream(out, "orders")
    assert _md(orders, "address", "zip")["selected"] is False  # entry created, then deselected
    assert _md(orders, "address", "geo", "lat")["selected"] is False
    assert "metadata" in cat["streams"][0] and len(cat["streams"][0]["metadata"]) == 4


def test_parent_property_covers_its_subtree_and_exclusion_prunes_it() -> None:
    sel = selection_of(apply_selection(nested_catalog(), ["orders.address"], {}))
    assert _props(sel, "orders") == {
        "id",
        "address",
        "address.city",
        "address.zip",
        "address.geo",
        "address.geo.lat",
        "address.geo.lon",
    }
    sel = selection_of(apply_selection(nested_catalog(), ["orders.*", "!orders.address.geo"], {}))
    assert _props(sel, "orders") == {"id", "note", "address", "address.city", "address.zip"}
    sel = selection_of(
        apply_selection(nested_catalog(), ["orders.address.city", "!orders.address"], {})
    )
    assert sel.names == ()


def test_streams_missing_metadata_get_entries() -> None:
    legacy = {
        "streams": [
            {
                "tap_stream_id": "events",
                "key_properties": ["event_id"],
                "schema": {"properties": {"event_id": {}, "kind": {}, "payload": {}}},
            },
            {
                "stream": "plain",  # no tap_stream_id: matched by stream
                "schema": {"properties": {"a": {}, "b": {}}},
                "metadata": [{"breadcrumb": ["properties", "a"], "metadata": {}}],
            },
        ]
    }
    before = copy.deepcopy(legacy)
    out = apply_selection(legacy, ["events.kind", "plain.b"], {})
    assert legacy == before
    events = out["streams"][0]
    assert [e["breadcrumb"] for e in events["metadata"]] == [
        [],
        ["properties", "event_id"],
        ["properties", "kind"],
        ["properties", "payload"],
    ]
    assert _md(events, "event_id")["inclusion"] == "automatic"  # inferred from key_properties
    plain = out["streams"][1]
    assert plain["metadata"][0] == {
        "breadcrumb": [],
        "metadata": {"inclusion": "available", "selected": True},
    }
    sel = selection_of(out)
    assert sel.names == ("events", "plain")
    assert _props(sel, "events") == {"event_id", "kind"}
    assert _props(sel, "plain") == {"b"}


