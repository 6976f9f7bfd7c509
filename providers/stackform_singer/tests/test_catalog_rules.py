"""Selection summaries and diffs, digests, rule checks, and a property test of the selection
rules over generated catalogs."""

from __future__ import annotations

import copy
import json
import random
from fnmatch import fnmatchcase
from typing import Any

import pytest
from catalog_support import mysql_catalog
from hypothesis import given, settings
from hypothesis import strategies as st

from stackform_singer.catalog import (
    Selection,
    SelectionError,
    apply_selection,
    catalog_digest,
    diff_selection,
    selection_of,
    unmatched_rules,
    validate_rules,
)

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
