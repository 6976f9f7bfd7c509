"""Lineage of the quickstart, for real: the JSONL tap's catalog, stackform's DuckDB loader and
dbt-duckdb compiling the project, read by sqlglot.

Deselecting ``orders.amount`` makes the plan name the loader column, the dbt source, the
staging model's ``amount`` and the mart's ``revenue`` it feeds, in text, JSON and markdown, and
``--fail-on-breaking`` exit 3; selecting it again plans clean. Renaming the staging model's
column lists the mart column reading the old name, and renaming another the models and data
tests reading it; changing a column's cast names what it breaks with both types. A model
sqlglot cannot read is a warning naming it, never a crash.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from chromium_support import chromium_page, picture
from e2e_support import copy_quickstart, write_orders

pytestmark = pytest.mark.slow

SELECT = 'select = ["orders.*", "!orders.internal_note"]'
DESELECT = 'select = ["orders.*", "!orders.internal_note", "!orders.amount"]'
STAGING = "transform/models/staging/stg_orders.sql"
BREAKS = ("! removing stream orders.amount (extractors.orders) breaks: table raw.orders.amount "
          "-> source raw.orders.amount -> model stg_orders.amount -> model "
          "customer_revenue.revenue")


def screenshots(tmp_path: Path) -> Path:
    """``STACKFORM_TEST_SCREENSHOTS`` when set (to look at the pictures), else the tmp dir."""
    folder = Path(os.environ.get("STACKFORM_TEST_SCREENSHOTS", "").strip() or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new))


def test_quickstart_plan_names_what_a_change_breaks_downstream(tmp_path: Path,
                                                                stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "quickstart", dbt=True)
    write_orders(stack / "data" / "orders-01.jsonl", range(1, 21), time.time() - 3600)
    sf = stackform_for(stack)
    sf.apply()
    state = json.loads((stack / ".stackform" / "state" / "quickstart" / "dev.json").read_text())
    recorded = {a: r["outputs"].get("lineage") for a, r in state["resources"].items()}
    assert recorded["files.settings"] is None
    assert all(recorded[a]["complete"] for a in
               ("extractors.orders", "loaders.warehouse", "transformers.dbt")), recorded

    # The lineage command, from what apply recorded.
    shown = sf.ok("lineage", "stg_orders.amount").stdout
    assert ("source raw.orders.amount (transformers.dbt) -> model stg_orders.amount "
            "(transformers.dbt)") in shown, shown
    down = json.loads(sf.ok("lineage", "orders.amount", "--downstream", "--format",
                            "json").stdout)
    assert {n["id"] for n in down["nodes"]} == {
        "extractors.orders|orders|amount", "loaders.warehouse|raw.orders|amount",
        "transformers.dbt|raw.orders|amount", "transformers.dbt|stg_orders|amount",
        "transformers.dbt|customer_revenue|revenue"}

    page = sf.ok("lineage", "--format", "html").stdout
    assert '<g class="node" data-id="transformers.dbt|stg_orders|amount">' in page
    assert "<script" not in page
    # As a person opens it: headless Chromium, no network, the column nodes drawn.
    html = tmp_path / "lineage.html"
    html.write_text(page)
    with chromium_page(tmp_path / "chromium") as browser:
        browser.goto(html.as_uri())
        drawn = browser.locator("g.node")
        assert drawn.count() == len(json.loads(sf.ok("lineage", "--format", "json").stdout)
                                    ["nodes"])
        assert browser.locator('g.node[data-id="transformers.dbt|stg_orders|amount"]'
                               ).is_visible()
        assert browser.get_by_text("model stg_orders.amount", exact=True).is_visible()
        shot = picture(browser.screenshot(full_page=True))
    assert shot.width >= 600 and shot.colours > 1, shot

    # A no-op plan asks no provider again (no dbt process: its log stays as it was).
    clean = sf("plan", "--fail-on-breaking")
    assert clean.code == 0 and "No changes." in clean.stdout, clean

    # Deselect orders.amount: everything it feeds is named, path by path.
    toml = stack / "stack.toml"
    edit(toml, SELECT, DESELECT)
    plan = sf("plan", "--fail-on-breaking")
    assert plan.code == 3, plan
    assert "Breaks downstream (lineage):" in plan.stdout, plan.stdout
    assert BREAKS in " ".join(plan.stdout.split()), plan.stdout
    doc = json.loads(sf.ok("plan", "--format", "json").stdout)
    (entry,) = doc["impact"]["breaking"]
    assert entry["node"]["id"] == "extractors.orders|orders|amount"
    assert [[n["id"] for n in p] for p in entry["paths"]] == [[
        "loaders.warehouse|raw.orders|amount", "transformers.dbt|raw.orders|amount",
        "transformers.dbt|stg_orders|amount", "transformers.dbt|customer_revenue|revenue"]]
    # The plan's lineage page, as Chromium draws it: what the plan names, and only that, marked.
    page_file = tmp_path / "plan-lineage.html"
    assert sf("plan", "--fail-on-breaking", "--out-lineage-html", str(page_file)).code == 3
    named = {e["node"]["id"]: {"remove": "removed", "retype": "retyped"}.get(e["change"], "added")
             for e in doc["impact"]["breaking"] + doc["impact"]["affecting"]}
    named |= {n["id"]: "breaks" for e in doc["impact"]["breaking"] for p in e["paths"]
              for n in p}
    with chromium_page(tmp_path / "chromium-plan") as browser:
        browser.goto(page_file.as_uri())
        marked = browser.locator("g.node[data-mark]")
        drawn_marks = {}
        for i in range(marked.count()):
            assert marked.nth(i).is_visible()
            drawn_marks[marked.nth(i).get_attribute("data-id")] = marked.nth(i).get_attribute(
                "data-mark")
        assert browser.get_by_text("removed by the plan").is_visible()
        shot = picture(browser.screenshot(path=screenshots(tmp_path) / "plan-lineage.png",
                                          full_page=True))
    assert drawn_marks == named and named["extractors.orders|orders|amount"] == "removed", (
        drawn_marks, named)
    assert shot.colours > 2, shot
    markdown = sf.ok("plan", "--format", "markdown").stdout
    assert "#### Breaks downstream" in markdown and "model customer_revenue.revenue" in markdown
    assert sf("plan", "--fail-on-breaking", "--detailed-exitcode").code == 3

    # Select it again: nothing breaks.
    edit(toml, DESELECT, SELECT)
    again = sf("plan", "--fail-on-breaking")
    assert again.code == 0 and "No changes." in again.stdout, again

    # Rename the staging model's column: the mart's column reading the old name breaks.
    edit(stack / STAGING, "as amount,", "as amount_usd,")
    renamed = sf("plan", "--fail-on-breaking")
    assert renamed.code == 3, renamed
    flat = " ".join(renamed.stdout.split())
    assert ("! removing model stg_orders.amount (transformers.dbt) breaks: model "
            "customer_revenue.revenue") in flat, renamed.stdout
    assert "~ adding model stg_orders.amount_usd (transformers.dbt)" in flat
    # The applied target/ is left alone by the plan's compile of the edited project.
    manifest = (stack / ".stackform" / "envs" / "quickstart" / "dev" / "transformers" / "dbt"
                / "target" / "manifest.json")
    assert "amount_usd" not in manifest.read_text()

    # Retype it (a cast changed): what is computed from it breaks, both types named (sqlglot's
    # types of dbt's compiled SQL).
    edit(stack / STAGING, "cast(amount as decimal(12, 2)) as amount_usd,",
         "cast(amount as integer) as amount,")
    retyped = sf("plan", "--fail-on-breaking")
    assert retyped.code == 3, retyped
    assert ("! retyping model stg_orders.amount (transformers.dbt): DECIMAL(12, 2) -> INT "
            "breaks: model customer_revenue.revenue") in " ".join(retyped.stdout.split())
    edit(stack / STAGING, "cast(amount as integer) as amount,",
         "cast(amount as decimal(12, 2)) as amount,")

    # Rename a column models and data tests read: each of them is listed.
    edit(stack / STAGING, "customer as customer_name,", "customer as customer,")
    flat = " ".join(sf("plan", "--fail-on-breaking").stdout.split())
    head = "! removing model stg_orders.customer_name (transformers.dbt) breaks:"
    for reader in ("test not_null_stg_orders_customer_name",
                   "model customer_revenue.customer_name -> test "
                   "not_null_customer_revenue_customer_name",
                   "model customer_revenue.customer_name -> test "
                   "unique_customer_revenue_customer_name"):
        assert f"{head} {reader}" in flat, (reader, flat)
    edit(stack / STAGING, "customer as customer,", "customer as customer_name,")

    # A model sqlglot cannot read: a warning naming it, the lineage incomplete, no crash.
    (stack / "transform" / "models" / "marts" / "odd.sql").write_text(
        "select customer_name,, from {{ ref('stg_orders') }} where ((\n")
    odd = sf("plan", "--fail-on-breaking")
    assert odd.code == 0, odd
    flat = " ".join(odd.stdout.split())
    assert "lineage incomplete" in flat, odd.stdout
    assert "transformers.dbt: model odd: sqlglot cannot read its compiled SQL" in flat

    # After a run the loader's columns are the warehouse's own (DuckDB's information_schema),
    # with their types, which flow into dbt's source columns; a no-op plan stays clean.
    (stack / "transform" / "models" / "marts" / "odd.sql").unlink()
    ran = sf.ok("run", "daily")
    assert "lineage not confirmed" not in ran.stderr, ran.stderr
    doc = json.loads(sf.ok("lineage", "raw.orders", "--format", "json").stdout)
    types = {n["id"]: n["data_type"] for n in doc["nodes"]}
    assert types["loaders.warehouse|raw.orders|id"] == "BIGINT", types
    assert types["loaders.warehouse|raw.orders|_sdc_received_at"].startswith("TIMESTAMP")
    assert types["transformers.dbt|raw.orders|id"] == "BIGINT", types
    assert types["transformers.dbt|stg_orders|amount"] == "DECIMAL(12, 2)", types
    assert doc["complete"] and doc["warnings"] == [], doc["warnings"]  # the guess was right
    after_run = sf("plan", "--fail-on-breaking")
    assert after_run.code == 0 and "No changes." in after_run.stdout, after_run
