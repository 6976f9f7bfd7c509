"""The ``schema`` overrides of an extractor (stackform_singer.catalog.schema): Meltano's
semantics, patterns, properties added, inputs untouched."""

from __future__ import annotations

import copy
from typing import Any

from stackform_singer.catalog import apply_selection
from stackform_singer.catalog.schema import apply_schema, unmatched_schema_rules

CATALOG: dict[str, Any] = {"streams": [
    {"tap_stream_id": "shop-orders", "schema": {"type": "object", "properties": {
        "id": {"type": "integer"}, "created_at": {"type": "string"},
        "updated_at": {"type": "string"}}}},
    {"tap_stream_id": "shop-customers", "schema": {"type": "object", "properties": {
        "id": {"type": "integer"}, "created_at": {"type": "string"}}}},
]}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}


def props(catalog: dict[str, Any], i: int) -> dict[str, Any]:
    result: dict[str, Any] = catalog["streams"][i]["schema"]["properties"]
    return result


def test_patterns_replace_each_matching_property_schema() -> None:
    before = copy.deepcopy(CATALOG)
    out = apply_schema(CATALOG, {"shop-*": {"*_at": TIMESTAMP}})
    assert before == CATALOG  # the input is not mutated
    assert props(out, 0)["created_at"] == TIMESTAMP == props(out, 0)["updated_at"]
    assert props(out, 1)["created_at"] == TIMESTAMP
    assert props(out, 0)["id"] == {"type": "integer"}


def test_a_literal_property_is_replaced_whole_or_added_and_then_selectable() -> None:
    out = apply_schema(CATALOG, {"shop-orders": {"id": {"type": "string"},
                                                 "note": {"type": ["string", "null"]}}})
    assert props(out, 0)["id"] == {"type": "string"}
    assert props(out, 0)["note"] == {"type": ["string", "null"]}
    assert "note" not in props(out, 1)
    selected = apply_selection(out, ["shop-orders.note"])
    entry = next(m for m in selected["streams"][0]["metadata"]
                 if m["breadcrumb"] == ["properties", "note"])
    assert entry["metadata"]["selected"] is True


def test_rules_that_change_nothing_are_found() -> None:
    rules = {"shop-*": {"*_on": TIMESTAMP, "*_at": TIMESTAMP, "new": {}},
             "billing": {"x": {}}}
    assert unmatched_schema_rules(CATALOG, rules) == [("shop-*", "*_on"), ("billing",)]
    assert apply_schema(CATALOG, {}) == CATALOG
