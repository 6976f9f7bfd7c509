"""``stackform catalog``'s listing (what is selected and why) and ``plan --refresh-catalog``'s
source changes, on a catalog in the shape pipelinewise-tap-mysql discovers."""

from __future__ import annotations

import copy
from typing import Any

from catalog_support import mysql_catalog

from stackform_singer.catalog import apply_selection, selection_of
from stackform_singer.catalog.changes import source_changes
from stackform_singer.catalog.listing import list_catalog

SELECT = ["shop-orders.*", "!shop-orders.customer_name"]


def marks(catalog: dict[str, Any], select: list[str],
          metadata: dict[str, Any] | None = None) -> dict[tuple[str, str | None], tuple[bool, str]]:
    return {(e.stream, e.prop): (e.selected, e.why)
            for e in list_catalog(catalog, select, metadata)}


def test_every_stream_and_property_with_the_rule_that_decides_it() -> None:
    found = marks(mysql_catalog(), SELECT)
    assert found[("shop-orders", None)] == (True, 'select rule "shop-orders.*"')
    assert found[("shop-orders", "id")] == (True, "inclusion: automatic")
    assert found[("shop-orders", "total")] == (True, 'select rule "shop-orders.*"')
    assert found[("shop-orders", "customer_name")] == (
        False, 'excluded by "!shop-orders.customer_name"')
    assert found[("shop-orders", "shape")] == (False, "inclusion: unsupported")
    assert found[("shop-customers", None)] == (False, "no select rule names it")
    assert found[("shop-customers", "email")] == (False, "stream not selected")
    assert {s for s, p in found if p is None} == {"shop-orders", "shop-customers",
                                                  "shop-order_totals"}


def test_the_listing_agrees_with_what_the_tap_is_given() -> None:
    catalog = mysql_catalog()
    metadata = {"shop-customers": {"selected": True, "email": {"selected": False}}}
    listed = list_catalog(catalog, SELECT, metadata)
    applied = selection_of(apply_selection(catalog, SELECT, metadata))
    on = {(e.stream, e.prop) for e in listed if e.selected and e.prop is not None}
    assert on == {(s.name, p) for s in applied.streams for p in s.properties}
    why = {(e.stream, e.prop): e.why for e in listed}
    assert why[("shop-customers", None)] == "metadata shop-customers.selected = true"
    assert why[("shop-customers", "email")] == "metadata shop-customers.email.selected = false"


def test_an_empty_select_is_the_taps_defaults_and_replication_is_listed() -> None:
    catalog = mysql_catalog()
    found = marks(catalog, [])
    assert found[("shop-orders", None)] == (
        False, "tap default (selected-by-default = false; select is empty)")
    metadata = {"shop-orders": {"replication-method": "INCREMENTAL",
                                "replication-key": "updated_at"}}
    orders = next(e for e in list_catalog(catalog, SELECT, metadata)
                  if e.stream == "shop-orders" and e.prop is None)
    assert (orders.replication_method, orders.replication_key, orders.key_properties) == (
        "INCREMENTAL", "updated_at", ("id",))
    types = {e.prop: e.type for e in list_catalog(catalog, SELECT)
             if e.stream == "shop-orders"}
    assert types["updated_at"] == "string (date-time)" and types["total"] == "number"


def test_source_changes_name_streams_and_columns_added_dropped_and_retyped() -> None:
    before = mysql_catalog()
    after = copy.deepcopy(before)
    orders = after["streams"][0]
    orders["schema"]["properties"]["coupon"] = {"type": ["null", "string"]}
    orders["schema"]["properties"]["total"] = {"type": ["null", "string"]}
    del orders["schema"]["properties"]["customer_id"]
    refunds = copy.deepcopy(after["streams"][1])
    refunds["tap_stream_id"] = "shop-refunds"
    after["streams"] = [s for s in after["streams"] if s["tap_stream_id"] != "shop-order_totals"]
    after["streams"].append(refunds)
    assert source_changes(before, after, SELECT) == [
        "+ stream shop-refunds (not selected)",
        "- stream shop-order_totals",
        "+ column shop-orders.coupon (selected by shop-orders.*)",
        "- column shop-orders.customer_id",
        "~ column shop-orders.total: number -> string",
    ]
    assert source_changes(before, after, ["*", "!shop-orders.coupon"])[:1] == [
        "+ stream shop-refunds (selected by *)"]
    assert "+ column shop-orders.coupon (not selected: excluded by \"!shop-orders.coupon\")" in (
        source_changes(before, after, ["*", "!shop-orders.coupon"]))
    assert source_changes(before, copy.deepcopy(before), SELECT) == []
