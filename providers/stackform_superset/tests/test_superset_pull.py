"""Pull against a real Superset: a dashboard edited on the server comes back into the folder
with stable names, without server-local ids or passwords, un-rewritten for the environment, and
what left the dashboard removed; applying the pulled folder changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from superset_support import (
    COUNT_CHART,
    DASHBOARD_UUID,
    DATABASE_UUID,
    DATASET_UUID,
    REVENUE_CHART,
    WAREHOUSE_PASSWORD,
    Warehouse,
    copy_assets,
    resolved_pair,
)

from stackform.provider import Context
from stackform.resource import ResourceState, fingerprinter
from stackform_superset import DashboardProvider
from stackform_superset.bundle import MASK, lint, read_assets
from stackform_superset.client import SupersetClient
from stackform_superset.pull import pull
from tests.superset_server import SupersetServer


def test_pull_brings_a_server_edit_back_into_the_folder(
        superset_server: SupersetServer, wh: Warehouse, tmp_path: Path) -> None:
    folder = copy_assets(tmp_path / "assets")
    stack_dir = tmp_path / "stack"
    work = stack_dir / ".stackform" / "envs" / "test"
    work.mkdir(parents=True)
    ctx = Context(env="test", stack_name="conformance", stack_dir=stack_dir, work_dir=work,
                  fingerprint=fingerprinter("pull"))
    _, desired = resolved_pair(stack_dir, superset_server.url, superset_server.username,
                               superset_server.password, wh, assets=folder)
    provider = DashboardProvider()
    provider.create(ctx, desired)

    # In Superset: a chart renamed, another taken off the dashboard.
    api = SupersetClient(superset_server.url, superset_server.username,
                         superset_server.password)
    chart = api.find("chart", REVENUE_CHART) or 0
    api.put("chart", chart, {"slice_name": "Revenue (by customer)"})
    dash = api.find("dashboard", DASHBOARD_UUID) or 0
    position = json.loads(api.get("dashboard", dash)["position_json"])
    node = next(k for k, v in position.items()
                if isinstance(v, dict) and v.get("meta", {}).get("uuid") == COUNT_CHART)
    del position[node]
    for value in position.values():
        if isinstance(value, dict) and node in value.get("children", []):
            value["children"].remove(node)
    api.put("dashboard", dash, {"position_json": json.dumps(position)})
    # as the UI's save does: the chart leaves the dashboard too (else the export puts it back
    # into the layout, in a row of its own)
    api.put("chart", api.find("chart", COUNT_CHART) or 0, {"dashboards": []})

    targets = {"warehouse": wh.target("dev")}
    pulled = pull(api, DASHBOARD_UUID, folder, targets)
    assert f"charts/{REVENUE_CHART}.yaml" in pulled.written
    assert "charts/revenue_by_customer.yaml" in pulled.removed, "renamed to its uuid"
    assert "charts/row_count.yaml" in pulled.removed, "off the dashboard: removed"
    assets = read_assets(folder)
    assert COUNT_CHART not in assets
    assert lint(assets) == []
    chart_doc = assets[REVENUE_CHART].doc
    assert chart_doc["slice_name"] == "Revenue (by customer)"
    assert "datasource" not in chart_doc["params"] and chart_doc["query_context"] is None
    dashboard_doc = assets[DASHBOARD_UUID].doc
    assert all("chartId" not in v.get("meta", {}) for v in dashboard_doc["position"].values()
               if isinstance(v, dict))
    assert assets[DATASET_UUID].doc["schema"] == "analytics", "mapped back from analytics_dev"
    assert assets[DATABASE_UUID].doc["sqlalchemy_uri"].endswith(f":{MASK}@localhost:5432/"
                                                                "warehouse"), "the folder's"
    for path in folder.rglob("*.yaml"):
        assert WAREHOUSE_PASSWORD not in path.read_text()

    # The pulled folder is what the server holds: re-applying it finds nothing to restore.
    _, again = resolved_pair(stack_dir, superset_server.url, superset_server.username,
                             superset_server.password, wh, assets=folder)
    outputs = provider.update(ctx, ResourceState(again.address, again.kind, {}, {}), again)
    state = ResourceState(again.address, again.kind, again.masked(ctx.fingerprint), outputs)
    assert provider.read(ctx, state) == state
    assert provider.unapplied(ctx, state, again) is None
    assert api.get("chart", chart)["slice_name"] == "Revenue (by customer)"
