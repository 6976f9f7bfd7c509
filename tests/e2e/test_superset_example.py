"""examples/superset for real, from the rows to the picture: JSONL orders land in the machine's
PostgreSQL (stackform's JSONL tap, meltanolabs-target-postgres), dbt-postgres builds the mart,
stackform imports the dashboard into a real Superset (the session's ``superset_server``), and
headless Chromium (Debian's, driven by Playwright) logs in through the form and takes a
screenshot of the dashboard, which must show both charts drawn from the mart's rows. Between
the two, a dbt model change that removes the column the charts read makes the plan name both
charts and their dashboard (lineage from dbt's compiled SQL to the charts' params).

The picture goes to ``STACKFORM_TEST_SCREENSHOTS`` (a folder) when set, else to the test's tmp
dir: never into the repository. The landing and dbt schemas are the test's own and are dropped
at the end; ``stackform destroy`` removes what the stack put in Superset.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from chromium_support import (
    LoginRefused,
    Picture,
    chromium_page,
    picture,
    require_chromium,
    superset_login,
)
from e2e_support import POSTGRES_PASSWORD, Stackform, pg_rows, postgres
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.superset_server import SupersetServer

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "superset"
PIE, TABLE = "Revenue by customer", "Customers"


def expected_mart() -> dict[str, tuple[int, Decimal]]:
    """Orders and revenue per customer, from the example's data files."""
    orders: dict[str, int] = defaultdict(int)
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for path in sorted((EXAMPLE / "data").glob("orders-*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line, parse_float=Decimal)
            orders[row["customer"]] += 1
            revenue[row["customer"]] += row["amount"]
    return {name: (orders[name], revenue[name]) for name in orders}


def screenshot_dir(tmp_path: Path) -> Path:
    explicit = os.environ.get("STACKFORM_TEST_SCREENSHOTS", "").strip()
    folder = Path(explicit).expanduser() if explicit else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def schemas(databases: None) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:10]
    landing, analytics = f"e2e_{suffix}", f"e2e_{suffix}_dbt"
    try:
        yield landing, analytics
    finally:
        with postgres() as con:
            for schema in (landing, analytics):
                con.execute(f'drop schema if exists "{schema}" cascade')


def copy_example(dest: Path, server: SupersetServer, landing: str, analytics: str) -> Path:
    """The example pointed at the test's Superset and the test's own schemas."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".stackform", "*.sfplan"))
    (dest / "README.md").unlink()  # its "Try it" shows the default passwords
    path = dest / "stack.toml"
    doc: Any = tomlkit.parse(path.read_text())
    doc["vars"]["superset_url"] = server.url
    doc["vars"]["superset_user"] = server.username
    doc["vars"]["landing_schema"] = landing
    doc["transformers"]["dbt"]["target"]["schema"] = analytics
    path.write_text(tomlkit.dumps(doc))
    return dest


HOLDER = '[data-test="dashboard-component-chart-holder"]'


def render_dashboard(page: Page, url: str, slug: str, timeout_ms: float = 60_000) -> None:
    """Open a dashboard and wait until both charts have drawn: the pie's canvas, the table's
    rows. When they do not, the error names what the chart holders show instead."""
    page.goto(f"{url}/superset/dashboard/{slug}/")
    try:
        page.locator(HOLDER, has_text=PIE).locator("canvas").first.wait_for(
            state="visible", timeout=timeout_ms)
        page.locator(HOLDER, has_text=TABLE).locator("tbody tr").first.wait_for(
            state="visible", timeout=timeout_ms)
    except PlaywrightTimeoutError:
        shown = " | ".join(" ".join(text.split()) for text in
                           page.locator(HOLDER).all_inner_texts())
        raise AssertionError(f"dashboard {slug}: the charts did not draw within "
                             f"{timeout_ms / 1000:.0f} s; they show: {shown}") from None
    page.wait_for_load_state("networkidle")


def test_superset_example_from_rows_to_a_rendered_dashboard(
        tmp_path: Path, stackform_for: Any, schemas: tuple[str, str],
        superset_server: SupersetServer) -> None:
    chromium = require_chromium()  # before the minutes of apply and run
    landing, analytics = schemas
    stack = copy_example(tmp_path / "superset", superset_server, landing, analytics)
    sf: Stackform = stackform_for(stack, {
        "STACKFORM_SECRET_SUPERSET": superset_server.password,
        "STACKFORM_SECRET_POSTGRES_PASSWORD": POSTGRES_PASSWORD})
    mart = expected_mart()
    records = sum(count for count, _ in mart.values())
    try:
        plan = sf.ok("plan")
        assert "+ dashboard Customer revenue" in plan.stdout, plan
        assert f"builds into schema {analytics}" in plan.stdout, plan
        sf.apply()
        # Imported, but dbt has not built the mart yet: the check sees charts that did not draw.
        with chromium_page(tmp_path / "chromium-before-run", chromium) as page:
            superset_login(page, superset_server.url, superset_server.username,
                           superset_server.password)
            with pytest.raises(AssertionError, match="the charts did not draw") as empty:
                render_dashboard(page, superset_server.url, "revenue", timeout_ms=15_000)
        assert f'relation "{analytics}.customer_revenue" does not exist' in str(empty.value)

        run = sf.ok("run", "daily")
        assert f"{records} records emitted, {records} rows landed" in run.stderr, run
        assert pg_rows(f'select customer_name, orders, revenue from "{analytics}".'
                       "customer_revenue order by customer_name") == [
            (name, *mart[name]) for name in sorted(mart)]
        assert "No changes." in sf.ok("plan").stdout
        _a_model_change_names_the_charts_it_breaks(sf, stack)

        started = time.monotonic()
        with chromium_page(tmp_path / "chromium-profile", chromium) as page:
            superset_login(page, superset_server.url, superset_server.username,
                           superset_server.password)
            render_dashboard(page, superset_server.url, "revenue")
            shot = screenshot_dir(tmp_path) / "superset-example-dashboard.png"
            whole = picture(page.screenshot(path=shot, full_page=True))
            pie = picture(page.locator(HOLDER, has_text=PIE).screenshot())
            table_text = page.locator(HOLDER, has_text=TABLE).inner_text()
            titles = page.locator('[data-test="slice-header"]').all_inner_texts()
            heading = page.get_by_label("Dashboard title").input_value()
        elapsed = time.monotonic() - started
        print(f"dashboard screenshot {shot}: {whole.width}x{whole.height}, {whole.size} bytes, "
              f"{whole.colours} colours; pie {pie.areas} colour areas; login and render "
              f"{elapsed:.1f} s")

        assert heading == "Customer revenue"
        assert any(PIE in title for title in titles) and any(TABLE in t for t in titles), titles
        for name in mart:  # every row of the mart, drawn from the warehouse
            assert name in table_text, table_text
        assert _drawn(whole, min_bytes=20_000), whole
        # The pie alone: its background and a slice per customer, each its own colour.
        assert pie.areas >= len(mart) + 1, pie
    finally:
        destroyed = sf("destroy", "--auto-approve", timeout=300)
        assert destroyed.code == 0, destroyed
    for found in stack.rglob("*"):
        if found.is_file():
            data = found.read_bytes()
            assert POSTGRES_PASSWORD.encode() not in data, found
            assert superset_server.password.encode() not in data, found


def _a_model_change_names_the_charts_it_breaks(sf: Stackform, stack: Path) -> None:
    """Renaming the mart's ``revenue`` (dbt compiles the edited project at plan): both charts
    read it, and the plan names each, with its dashboard (docs/lineage.md)."""
    mart = stack / "transform" / "models" / "marts" / "customer_revenue.sql"
    applied = mart.read_text()
    mart.write_text(applied.replace("as revenue,", "as revenue_usd,"))
    try:
        plan = sf("plan", "--fail-on-breaking")
        assert plan.code == 3, plan
        lines = [" ".join(line.split()) for line in plan.stdout.splitlines()]
        for chart in (PIE, TABLE):
            assert any(line.startswith("! removing model customer_revenue.revenue "
                                       "(transformers.dbt) breaks:")
                       and line.endswith(f'chart "{chart}" -> dashboard "Customer revenue"')
                       for line in lines), (chart, plan.stdout)
    finally:
        mart.write_text(applied)
    assert "No changes." in sf.ok("plan").stdout


def _drawn(shot: Picture, min_bytes: int) -> bool:
    """A page that drew something: the viewport's size, some weight, more than one colour."""
    return (shot.width >= 1000 and shot.height >= 600 and shot.size >= min_bytes
            and shot.colours > 1)


def test_a_refused_browser_login_is_a_clear_failure(
        tmp_path: Path, superset_server: SupersetServer) -> None:
    chromium = require_chromium()
    with chromium_page(tmp_path / "chromium-profile", chromium) as page, \
            pytest.raises(LoginRefused) as refused:
        superset_login(page, superset_server.url, superset_server.username, "wrong-pw-5521")
    assert str(refused.value) == (f"Superset at {superset_server.url} refused the browser "
                                  f"login of '{superset_server.username}'")


def test_a_missing_browser_fails_the_test_and_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        require_chromium(tmp_path / "no-chromium")
    assert "headless Chromium is not installed" in str(failed.value)
    assert "scripts/ci-browser" in str(failed.value)
