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
import os
import random
import shutil
import subprocess
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackform_singer.catalog import (
    Selection,
    SelectionError,
    StreamSelection,
    apply_selection,
    catalog_digest,
    diff_selection,
    selection_of,
    unmatched_rules,
    validate_rules,
)

# --------------------------------------------------------------------------- catalogs


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


@pytest.fixture(scope="session")
def tap_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    venv = tmp_path_factory.mktemp("tap-jsonl") / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, capture_output=True)
    proc = subprocess.run(
        [uv, "pip", "install", "-q", "tap-jsonl==0.3.1"],
        capture_output=True,
        text=True,
        env={**os.environ, "VIRTUAL_ENV": str(venv)},
        timeout=600,
    )
    if proc.returncode != 0:
        text = proc.stderr.lower()
        if any(w in text for w in ("connect", "network", "dns", "timed out", "offline")):
            pytest.skip(f"package index unreachable: {proc.stderr.strip()[-300:]}")
        raise AssertionError(proc.stderr)
    return venv / "bin" / "tap-jsonl"


ORDERS = [
    {
        "id": 1,
        "name": "first",
        "note": "leave at the door",
        "internal_note": "vip",
        "address": {"city": "Paris", "zip": "75001"},
        "tags": ["a"],
        "updated_at": "2024-01-01T00:00:00Z",
    },
    {
        "id": 2,
        "name": "second",
        "note": None,
        "internal_note": "",
        "address": {"city": "Oslo", "zip": "0150"},
        "tags": [],
        "updated_at": "2024-01-02T00:00:00Z",
    },
]
CUSTOMERS = [{"id": 7, "email": "a@example.com", "created_at": "2024-01-01T00:00:00Z"}]


def _tap_config(base: Path, stream: str, rows: list[dict[str, Any]]) -> Path:
    data = base / stream
    data.mkdir(parents=True, exist_ok=True)
    (data / f"{stream}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = base / f"{stream}.json"
    config.write_text(
        json.dumps({"path": str(data / "*.jsonl"), "stream_name": stream, "primary_keys": ["id"]})
    )
    return config


@pytest.fixture(scope="session")
def jsonl_env(tap_jsonl: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The real tap's catalog: ``orders`` and ``customers`` discovered and merged."""
    base = tmp_path_factory.mktemp("jsonl-data")
    configs = {
        "orders": _tap_config(base, "orders", ORDERS),
        "customers": _tap_config(base, "customers", CUSTOMERS),
    }
    streams = []
    for config in configs.values():
        proc = subprocess.run(
            [str(tap_jsonl), "--config", str(config), "--discover"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        streams += json.loads(proc.stdout)["streams"]
    return {"catalog": {"streams": streams}, "configs": configs, "tap": tap_jsonl}


@pytest.fixture()
def real(jsonl_env: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(jsonl_env["catalog"])


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


# --------------------------------------------------------------------------- summary and diff


def test_selection_is_frozen_and_json_ready(real: dict[str, Any]) -> None:
    sel = selection_of(apply_selection(real, ["orders.name"], {}))
    data = json.loads(json.dumps(sel.to_json()))
    assert Selection.from_json(data) == sel
    assert data["streams"][0] == {
        "name": "orders",
        "properties": ["_sdc_last_modified", "id", "name"],
        "replication_method": "INCREMENTAL",
        "replication_key": "_sdc_last_modified",
    }
    with pytest.raises(AttributeError):
        sel.streams = ()  # type: ignore[misc]
    assert hash(sel) == hash(Selection.from_json(data))


def test_diff_lines() -> None:
    mysql = mysql_catalog()
    before = selection_of(
        apply_selection(
            mysql,
            ["shop-orders.*", "!shop-orders.customer_name", "shop-customers.*"],
            {"shop-orders": {"replication-method": "FULL_TABLE"}},
        )
    )
    after = selection_of(
        apply_selection(
            mysql,
            ["shop-orders.*", "!shop-orders.total", "shop-order_totals.*"],
            {"shop-orders": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}},
        )
    )
    assert diff_selection(before, after) == [
        "- stream shop-customers",
        "+ stream shop-order_totals",
        "~ shop-orders replication-method FULL_TABLE -> INCREMENTAL",
        "~ shop-orders replication-key (none) -> updated_at",
        "+ property shop-orders.customer_name",
        "- property shop-orders.total",
    ]
    assert diff_selection(after, after) == []
    assert diff_selection(None, after) == ["+ stream shop-order_totals", "+ stream shop-orders"]


# --------------------------------------------------------------------------- digest


def _shuffled(node: Any, rng: random.Random) -> Any:
    if isinstance(node, dict):
        items = list(node.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(node, list):
        return [_shuffled(v, rng) for v in node]
    return node


def test_digest_is_stable(real: dict[str, Any]) -> None:
    out = apply_selection(real, ["orders.*"], {})
    digest = catalog_digest(out)
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert catalog_digest(_shuffled(out, random.Random(1))) == digest
    assert catalog_digest(apply_selection(real, ["orders.*"], {})) == digest
    reordered = copy.deepcopy(out)
    reordered["streams"][0]["metadata"].reverse()
    assert catalog_digest(reordered) == digest  # metadata entry order carries no meaning
    assert catalog_digest(apply_selection(real, ["orders.name"], {})) != digest


# --------------------------------------------------------------------------- rule checks


def test_unmatched_rules(real: dict[str, Any]) -> None:
    rules = [
        "orders.*",
        "ordrs.*",
        "orders.nope",
        "!customers.typo",
        "*.id",
        "!customers",
        "orders.address",
    ]
    assert unmatched_rules(real, rules) == ["ordrs.*", "orders.nope", "!customers.typo"]
    assert unmatched_rules(mysql_catalog(), ["orders.*", "shop-orders.id"]) == ["orders.*"]


@pytest.mark.parametrize(
    "rule",
    ["", ".", "..", "!", "!!orders", "orders.", ".id", "orders..id", "orders.[ab", " orders"],
)
def test_malformed_rules(rule: str) -> None:
    errors = validate_rules(["orders.*", rule])
    assert len(errors) == 1 and errors[0].startswith("select[1]")
    with pytest.raises(SelectionError):
        apply_selection(mysql_catalog(), ["orders.*", rule], {})


def test_good_rules_have_no_errors() -> None:
    good = [
        "orders",
        "orders.*",
        "*.*",
        "!orders.note",
        "orders.customer_*",
        "a.b.c",
        "orders.[ab]*",
        "shop-orders.id",
    ]
    assert validate_rules(good) == []
    assert validate_rules([3]) == ["select[0]: a rule is a string, not int"]  # type: ignore[list-item]
    with pytest.raises(SelectionError):
        apply_selection(mysql_catalog(), "orders.*", {})


# --------------------------------------------------------------------------- property test

STREAMS = ["orders", "order_items", "customers"]
TOP = ["id", "name", "note", "updated_at", "address"]
CHILDREN = ["city", "zip"]


@st.composite
def generated_catalog(draw: st.DrawFn) -> dict[str, Any]:
    streams = []
    for name in draw(st.lists(st.sampled_from(STREAMS), min_size=1, unique=True)):
        props = draw(st.lists(st.sampled_from(TOP), min_size=1, unique=True))
        schema: dict[str, Any] = {}
        metadata: list[dict[str, Any]] = [{"breadcrumb": [], "metadata": {}}]
        for prop in props:
            inclusion = draw(st.sampled_from(["available", "automatic", "unsupported"]))
            sub: dict[str, Any] = {"type": ["null", "string"]}
            if prop == "address":
                sub = {"type": "object", "properties": {c: {"type": "string"} for c in CHILDREN}}
            schema[prop] = sub
            metadata.append(
                {"breadcrumb": ["properties", prop], "metadata": {"inclusion": inclusion}}
            )
        streams.append(
            {
                "tap_stream_id": name,
                "stream": name,
                "schema": {"type": "object", "properties": schema},
                "metadata": metadata,
            }
        )
    return {"streams": streams}


RULE = st.builds(
    lambda neg, s, p: ("!" if neg else "") + s + ("" if p is None else "." + p),
    st.booleans(),
    st.sampled_from([*STREAMS, "*", "order*", "?ustomers"]),
    st.one_of(st.none(), st.sampled_from(["*", *TOP, "n*", "address.*", "address.city", "*id"])),
)


def _excluded_by(rules: list[str], stream: str, path: tuple[str, ...]) -> bool:
    for rule in rules:
        if not rule.startswith("!"):
            continue
        s, _, p = rule[1:].partition(".")
        if not fnmatchcase(stream, s):
            continue
        if p in ("", "*") or any(
            fnmatchcase(".".join(path[:i]), p) for i in range(1, len(path) + 1)
        ):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(generated_catalog(), st.lists(RULE, min_size=1, max_size=6))
def test_exclusions_and_automatic_properties_hold(
    catalog: dict[str, Any], rules: list[str]
) -> None:
    before = copy.deepcopy(catalog)
    out = apply_selection(catalog, rules, {})
    assert catalog == before
    sel = selection_of(out)
    for stream in catalog["streams"]:
        name = stream["tap_stream_id"]
        chosen = sel.stream(name)
        inclusion = {
            tuple(e["breadcrumb"][1::2]): e["metadata"]["inclusion"]
            for e in stream["metadata"]
            if e["breadcrumb"]
        }
        paths: list[tuple[str, ...]] = [(p,) for p in stream["schema"]["properties"]]
        paths += [("address", c) for c in CHILDREN if ("address",) in inclusion]
        for path in paths:
            top = inclusion[path[:1]]
            selected = chosen is not None and ".".join(path) in chosen.properties
            if top == "unsupported":
                assert not selected
            elif top == "automatic" and len(path) == 1:
                assert selected == (chosen is not None)
            elif _excluded_by(rules, name, path):
                assert not selected, (rules, name, path)
        if _excluded_by(rules, name, ()):
            assert chosen is None
