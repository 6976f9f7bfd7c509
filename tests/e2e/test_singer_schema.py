"""Schema overrides and wildcard metadata on a real tap: tap-jsonl 0.3.1 (package index) into
target-stackform-duckdb. What the override says is what the target creates; a property the tap
does not discover is added; an override matching nothing is a located warning; a malformed one a
located error before anything is applied."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_support import Stackform, duckdb_rows
from test_singer_selection import jsonl_stack, where

pytestmark = pytest.mark.slow


def column_types(stack: Path) -> dict[str, str]:
    return dict(duckdb_rows(stack / "warehouse.duckdb",  # type: ignore[arg-type]
                            "select column_name, data_type from information_schema.columns "
                            "where table_name = 'orders'"))


def test_schema_overrides_shape_what_lands_and_metadata_wildcards_apply(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    stack = jsonl_stack(tmp_path / "typed", """\
select = ["orders.*", "!orders.ssn"]

[extractors.orders.metadata."ord*"]
"*" = { selected = true }
ssn = { selected = false }

[extractors.orders.schema.orders]
id = { type = ["string", "null"] }
"updated_*" = { type = ["string", "null"], format = "date-time" }
discount = { type = ["number", "null"] }

[extractors.orders.schema."nothing-*"]
x = { type = "string" }
""")
    sf = stackform_for(stack)
    applied = sf.apply()
    at = where(stack, '"nothing-*"').rsplit(":", 1)[0]  # the key's line
    assert (f"{at}:" in applied.stderr and "warning: extractors.orders.schema.nothing-*: stream "
            "pattern 'nothing-*' matches no stream of the tap's catalog: the override changes "
            "nothing") in applied.stderr, applied
    sf.ok("run", "daily")
    types = column_types(stack)
    assert types["id"] == "VARCHAR", types
    assert types["updated_at"].startswith("TIMESTAMP"), types
    assert "discount" in types and "ssn" not in types, types
    assert duckdb_rows(stack / "warehouse.duckdb",
                       "select id from raw.orders order by id") == [("1",), ("2",)]
    selected = json.loads((stack / ".stackform").rglob("catalog.json").__next__().read_text())
    assert selected["streams"][0]["schema"]["properties"]["discount"] == {
        "type": ["number", "null"]}


def test_a_malformed_schema_override_is_a_located_error_and_nothing_is_applied(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    stack = jsonl_stack(tmp_path / "bad", '[extractors.orders.schema.orders]\nid = "string"\n')
    sf = stackform_for(stack)
    result = sf("apply", "--auto-approve")
    assert result.code == 1, result
    at = where(stack, '"string"')
    assert f"{at}: error: extractors.orders.schema.orders.id: " in result.stderr, result
    assert not (stack / ".stackform" / "state").exists() or not list(
        (stack / ".stackform" / "state").rglob("*.json"))
