"""Selection problems found against real catalogs (``check_selection``) and metadata keys
checked without one (``key_problems``, what validate reports).

Catalogs: the one the real tap-jsonl 0.3.1 discovers (``orders`` and ``customers``, selected by
default), and the pipelinewise-tap-mysql shape (``selected-by-default: false``, its own
``datatype`` key).
"""

from __future__ import annotations

from typing import Any

import pytest
from catalog_support import mysql_catalog

from stackform_singer.catalog import Finding, check_selection, key_problems, unmatched_rules


def by_path(found: list[Finding]) -> dict[tuple[str | int, ...], Finding]:
    return {f.path: f for f in found}


def test_a_stream_typo_is_named_with_a_suggestion(real: dict[str, Any]) -> None:
    found = by_path(check_selection(real, ["ordres.*", "customers"], {}))
    typo = found[("select", 0)]
    assert typo.severity == "warning"
    assert typo.message == "'ordres.*' matches no stream of the tap's catalog: it selects nothing"
    assert typo.hint is not None and typo.hint.startswith("did you mean 'orders.*'?")
    assert "customers, orders" in typo.hint
    assert ("select", 1) not in found


def test_an_exclusion_matching_nothing_is_worded_as_the_leak_it_is(real: dict[str, Any]) -> None:
    [found] = check_selection(real, ["orders.*", "!orders.INTERNAL_NOTE"], {})
    assert found.path == ("select", 1)
    assert found.message.startswith("exclusion '!orders.INTERNAL_NOTE' matches no property of "
                                    "stream orders: it keeps nothing out")
    assert found.hint is not None
    # Case is the commonest miss: the suggestion ignores it.
    assert found.hint.startswith("did you mean '!orders.internal_note'?")
    assert "PII" in found.hint


def test_a_glob_that_matches_nothing_gets_no_guess(real: dict[str, Any]) -> None:
    [found] = check_selection(real, ["orders.*", "!orders.*_ssn"], {})
    assert found.path == ("select", 1) and found.hint is not None
    assert not found.hint.startswith("did you mean")
    assert "properties: " in found.hint


def test_unmatched_rules_keeps_its_answer(real: dict[str, Any]) -> None:
    rules = ["orders.*", "ordrs.*", "orders.nope", "!customers.typo", "*.id", "!customers"]
    assert unmatched_rules(real, rules) == ["ordrs.*", "orders.nope", "!customers.typo"]


def test_metadata_patterns_matching_nothing(real: dict[str, Any]) -> None:
    metadata = {
        "ordres": {"replication-method": "FULL_TABLE", "note": {"selected": True}},
        "orders": {"internal_notes": {"selected": False}, "name": {"selected": True}},
    }
    found = by_path(check_selection(real, ["orders.*"], metadata))
    stream = found[("metadata", "ordres")]
    assert stream.at_key and stream.severity == "warning"
    assert stream.message == (
        "stream pattern 'ordres' matches no stream of the tap's catalog: "
        'replication-method = "FULL_TABLE", note.selected = true is set on nothing')
    assert stream.hint is not None and stream.hint.startswith("did you mean 'orders'?")
    prop = found[("metadata", "orders", "internal_notes")]
    assert "keeps nothing out, so what it was meant to exclude is extracted" in prop.message
    assert prop.hint is not None and prop.hint.startswith("did you mean 'internal_note'?")
    assert ("metadata", "orders", "name") not in found


def test_keys_a_tap_does_not_know(real: dict[str, Any]) -> None:
    found = by_path(check_selection(real, ["orders.*"], {"orders": {"frobnicate": True}}))
    unknown = found[("metadata", "orders", "frobnicate")]
    assert unknown.severity == "warning" and unknown.at_key
    assert "not a Singer metadata key" in unknown.message
    # A key of the tap's own (pipelinewise-tap-mysql writes `datatype`) is no problem.
    assert check_selection(mysql_catalog(), ["shop-orders.*"],
                           {"shop-orders": {"total": {"datatype": "decimal"}}}) == []


def test_a_replication_key_that_is_not_a_property_is_an_error(real: dict[str, Any]) -> None:
    found = by_path(check_selection(real, ["orders.*"],
                                    {"orders": {"replication-key": "updatedat"}}))
    error = found[("metadata", "orders", "replication-key")]
    assert error.severity == "error" and not error.at_key
    assert error.message == "replication-key 'updatedat' is not a property of stream orders"
    assert error.hint is not None and error.hint.startswith("did you mean 'updated_at'?")
    fine = check_selection(real, ["orders.*"], {"orders": {"replication-key": "updated_at"}})
    assert fine == []


def test_a_wide_pattern_checks_the_replication_key_of_selected_streams_only() -> None:
    # `shop-*` reaches every table; only the selected one is extracted, and has the column.
    metadata = {"shop-*": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}}
    assert check_selection(mysql_catalog(), ["shop-orders.*"], metadata) == []
    [error] = check_selection(mysql_catalog(), ["shop-orders.*", "shop-customers.*"], metadata)
    assert error.message == "replication-key 'updated_at' is not a property of stream " \
        "shop-customers"


def test_nothing_selected(real: dict[str, Any]) -> None:
    [rule, empty] = check_selection(real, ["!orders", "!customers", "ordres"], {})
    assert rule.path == ("select", 2)
    assert empty.path == ("select",) and empty.severity == "warning"
    assert empty.message == ("selects no stream of the tap's catalog: `stackform run` refuses "
                             "to run this extractor")
    assert empty.hint is not None and "allow_empty_selection = true" in empty.hint
    [allowed] = [f for f in check_selection(real, ["!orders", "!customers"], {},
                                            allow_empty=True)]
    assert allowed.message.endswith("allow_empty_selection = true, so runs extract nothing")
    # Selected away by metadata is nothing selected too.
    found = check_selection(real, [], {"*": {"selected": False}})
    assert [f.path for f in found] == [("select",)]


def test_an_empty_select_with_a_tap_that_selects_nothing_by_default() -> None:
    [empty] = check_selection(mysql_catalog(), [], {})
    assert empty.message.startswith("selects no stream: select is empty, which keeps the "
                                    "tap's own defaults, and the tap selects no stream by "
                                    "default")
    assert empty.hint is not None and 'select = ["shop-orders.*"]' in empty.hint


def test_an_empty_select_with_a_tap_that_selects_by_default(real: dict[str, Any]) -> None:
    assert check_selection(real, [], {}) == []


@pytest.mark.parametrize(("key", "meant"), [
    ("replication_key", "replication-key"),
    ("Replication-Method", "replication-method"),
    ("selected_by_default", "selected-by-default"),
    ("replication-kye", "replication-key"),
    ("selcted", "selected"),
])
def test_misspelt_metadata_keys(key: str, meant: str) -> None:
    [(where, message, hint)] = key_problems({"orders": {"id": {key: True}}})
    assert where == ("orders", "id", key)
    assert message == f"unknown metadata key '{key}'"
    assert hint is not None and hint.startswith(f"did you mean '{meant}'?")


def test_metadata_keys_validate_accepts() -> None:
    # Singer keys, and keys far from any Singer key (a tap's own: validate cannot know).
    assert key_problems({"orders": {"replication-key": "u", "datatype": "x", "behavior": "y",
                                    "properties": {"id": {"selected": True}}}}) == []


def test_a_replication_key_must_be_a_name() -> None:
    [(where, message, _hint)] = key_problems({"orders": {"replication-key": ["a", "b"]}})
    assert where == ("orders", "replication-key")
    assert message == "replication-key must be a property name (a string)"
