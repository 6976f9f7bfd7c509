"""``stackform catalog``, ``plan --refresh-catalog`` and ``invoke`` against a real tap:
pipelinewise-tap-mysql reading the MariaDB on this machine (docs/connectors.md).

Each test has tables of its own in the source database (others' tables may be there too: the
assertions look at these only), removed at the end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import MYSQL, MYSQL_PASSWORD, Stackform, mysql

pytestmark = pytest.mark.slow

DB = MYSQL["database"]


@pytest.fixture
def tables(databases: None) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:10]
    orders, refunds = f"cat_orders_{suffix}", f"cat_refunds_{suffix}"
    with mysql() as con, con.cursor() as cur:
        cur.execute(f"create table `{orders}` (id int primary key, amount decimal(10,2), "
                    "note text, updated_at datetime)")
        cur.execute(f"create table `{refunds}` (id int primary key, reason text)")
    try:
        yield orders, refunds
    finally:
        with mysql() as con, con.cursor() as cur:
            cur.execute(f"drop table if exists `{orders}`")
            cur.execute(f"drop table if exists `{refunds}`")


def mysql_stack(directory: Path, orders: str, extra: str = "") -> Path:
    directory.mkdir(parents=True)
    (directory / "stack.toml").write_text(f"""\
[stack]
name = "inspect"

[extractors.source]
pip_url = "pipelinewise-tap-mysql==1.6.0"
executable = "tap-mysql"
select = ["{DB}-{orders}.*", "!{DB}-{orders}.note"]
{extra}
[extractors.source.config]
host = "{MYSQL['host']}"
port = {MYSQL['port']}
user = "{MYSQL['user']}"
password = "${{secret.mysql_password}}"
filter_dbs = "{DB}"

[extractors.source.metadata."{DB}-{orders}"]
replication-method = "INCREMENTAL"
replication-key = "updated_at"
""")
    return directory


def streams(listing: dict[str, Any], *names: str) -> dict[str, dict[str, Any]]:
    found = {s["stream"]: s for s in listing["streams"]}
    return {name: found[f"{DB}-{name}"] for name in names}


def props(stream: dict[str, Any]) -> dict[str, tuple[bool, str, str | None]]:
    return {p["property"]: (p["selected"], p["why"], p["type"]) for p in stream["properties"]}


def test_catalog_lists_every_table_and_column_with_its_selection(
        tmp_path: Path, stackform_for: Callable[..., Stackform],
        tables: tuple[str, str]) -> None:
    orders, refunds = tables
    stack = mysql_stack(tmp_path / "catalog", orders)
    wrong = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": "not-the-password"})
    failed = wrong("catalog", "source", timeout=900)
    assert failed.code == 1, failed
    assert "extractors.source: discovery for stackform catalog failed" in failed.stderr, failed
    assert "nothing was recorded" in failed.stderr
    assert "not-the-password" not in failed.stdout + failed.stderr

    sf = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": MYSQL_PASSWORD})
    before = sf.ok("catalog", "source", "--all", "--format", "json")
    assert "discovered now, read-only" in before.stderr, before
    assert sf.ok("state", "list").stdout.strip() == ""  # discovery wrote no state
    listing = json.loads(before.stdout)
    assert (listing["block"], listing["catalog"], listing["all"]) == (
        "extractors.source", "discovered", True)
    found = streams(listing, orders, refunds)
    rule = f'select rule "{DB}-{orders}.*"'
    assert {k: found[orders][k] for k in ("selected", "why", "replication_method",
                                           "replication_key", "key_properties")} == {
        "selected": True, "why": rule, "replication_method": "INCREMENTAL",
        "replication_key": "updated_at", "key_properties": ["id"]}
    assert props(found[orders]) == {
        # tap-mysql marks the key automatic in the schema only, not in the metadata taps read
        "id": (True, rule, "integer"),
        "amount": (True, rule, "number"),
        "note": (False, f'excluded by "!{DB}-{orders}.note"', "string"),
        "updated_at": (True, rule, "string (date-time)"),
    }
    assert (found[refunds]["selected"], found[refunds]["why"]) == (False,
                                                                   "no select rule names it")
    assert props(found[refunds]) == {"id": (False, "stream not selected", "integer"),
                                     "reason": (False, "stream not selected", "string")}

    sf.apply()
    recorded = json.loads(sf.ok("catalog", "extractors.source", "--all", "--format",
                                "json").stdout)
    assert recorded["catalog"] == "recorded"
    assert streams(recorded, orders, refunds) == found
    # Without --all: the selected streams and their selected properties only.
    selected = json.loads(sf.ok("catalog", "source", "--format", "json").stdout)
    assert [s["stream"] for s in selected["streams"]] == [f"{DB}-{orders}"]
    assert set(props(selected["streams"][0])) == {"id", "amount", "updated_at"}
    table = sf.ok("catalog", "source").stdout
    assert f"{DB}-{orders}.amount" in table and "note" not in table and refunds not in table

    unknown = sf("catalog", "sorce")
    assert unknown.code == 1 and "no block 'sorce'" in unknown.stderr, unknown
    assert "did you mean 'source'?" in unknown.stderr


def test_source_changes_show_in_the_plan_and_apply_records_them(
        tmp_path: Path, stackform_for: Callable[..., Stackform],
        tables: tuple[str, str]) -> None:
    orders, _refunds = tables
    stack = mysql_stack(tmp_path / "changes", orders)
    sf = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": MYSQL_PASSWORD})
    sf.apply()
    with mysql() as con, con.cursor() as cur:
        cur.execute(f"alter table `{orders}` add column coupon varchar(20)")
        cur.execute(f"alter table `{orders}` modify amount varchar(20)")
    # The catalog is frozen until refreshed...
    assert sf.ok("plan").stdout.startswith("No changes."), "nothing refreshed"
    # ...and a refreshing plan shows the source's change as the extractor's, not as drift.
    planned = sf.ok("plan", "--refresh-catalog").stdout
    assert ("# extractors.source will be updated in place (the source's schema changed since "
            "the last apply)") in planned, planned
    added = f"+ column {DB}-{orders}.coupon (selected by {DB}-{orders}.*)"
    retyped = f"~ column {DB}-{orders}.amount: number -> string"
    assert added in planned and retyped in planned
    assert "outside stackform" not in planned
    assert "Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy." in planned
    applied = sf.apply("--refresh-catalog")
    assert added in applied.stdout, applied
    listing = json.loads(sf.ok("catalog", "source", "--format", "json").stdout)
    assert props(streams(listing, orders)[orders])["coupon"][0] is True
    assert sf.ok("plan", "--refresh-catalog").stdout.startswith("No changes.")

    # The stack setting refreshes at every plan; a failing discovery stops the plan and
    # changes nothing.
    toml = stack / "stack.toml"
    toml.write_text(toml.read_text().replace('select = [', 'refresh_catalog = true\nselect = ['))
    sf.apply()
    with mysql() as con, con.cursor() as cur:
        cur.execute(f"alter table `{orders}` drop column coupon")
    assert f"- column {DB}-{orders}.coupon" in sf.ok("plan").stdout
    state = stack / ".stackform" / "state" / "inspect" / "dev.json"
    catalog = next(stack.rglob("catalog.discovered.json"))
    kept = (state.read_bytes(), catalog.read_bytes())
    broken = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": "not-the-password"})
    failed = broken("plan")
    assert failed.code == 1, failed
    assert ("extractors.source: discovery for the plan (--refresh-catalog) failed"
            in failed.stderr), failed
    assert (state.read_bytes(), catalog.read_bytes()) == kept


def test_invoke_runs_the_tap_with_the_environments_secrets(
        tmp_path: Path, stackform_for: Callable[..., Stackform],
        tables: tuple[str, str]) -> None:
    orders, _refunds = tables
    stack = mysql_stack(tmp_path / "invoke", orders)
    sf = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": MYSQL_PASSWORD})
    discovered = sf("invoke", "extractors.source", "--", "--discover", timeout=900)
    assert discovered.code == 0, discovered
    catalog = json.loads(discovered.stdout)
    assert f"{DB}-{orders}" in {s["tap_stream_id"] for s in catalog["streams"]}
    assert MYSQL_PASSWORD not in discovered.stdout + discovered.stderr
    # The tap's own failure: its exit code passes through, its stderr streamed.
    failed = sf("invoke", "source", "--", "--catalog", "missing.json")
    assert failed.code != 0 and failed.stderr, failed
    assert sf.leftover_runtime_dirs() == []
    leaked = [p for p in sf.tmpdir.rglob("*") if p.is_file()
              and MYSQL_PASSWORD.encode() in p.read_bytes()]
    assert leaked == []
    assert sf.ok("state", "list").stdout.strip() == ""
