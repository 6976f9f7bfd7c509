"""The dashboards provider against a real Superset: apply, a hand edit seen as drift field by
field and restored, a chart removed from the bundle deleted, environments pointing at their own
schemas, and clear errors (state untouched) for a wrong password or a server that is down."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
import yaml
from superset_support import (
    ASSETS,
    COUNT_CHART,
    DASHBOARD_UUID,
    DATASET_UUID,
    REVENUE_CHART,
    WAREHOUSE_PASSWORD,
    Warehouse,
    resolved_pair,
)

from stackform.provider import Context
from stackform.resource import Resource, ResourceState, fingerprinter
from stackform_superset import BiProvider, DashboardProvider
from stackform_superset.client import SupersetClient, SupersetError
from tests.superset_server import SupersetServer

PROVIDER = DashboardProvider()


def context(stack_dir: Path) -> Context:
    work = stack_dir / ".stackform" / "envs" / "test"
    work.mkdir(parents=True, exist_ok=True)
    return Context(env="test", stack_name="conformance", stack_dir=stack_dir, work_dir=work,
                   fingerprint=fingerprinter("superset-tests"))


def record(ctx: Context, desired: Resource, outputs: dict) -> ResourceState:
    return ResourceState(desired.address, desired.kind, desired.masked(ctx.fingerprint),
                         dict(outputs))


def api(server: SupersetServer) -> SupersetClient:
    return SupersetClient(server.url, server.username, server.password)


def test_apply_drift_restore_and_a_chart_leaving_the_bundle(
        superset_server: SupersetServer, wh: Warehouse, tmp_path: Path) -> None:
    ctx = context(tmp_path / "stack")
    _, desired = resolved_pair(ctx.stack_dir, superset_server.url, superset_server.username,
                               superset_server.password, wh)
    assert PROVIDER.plan_notes(ctx, None, desired) == [
        "+ database warehouse", "+ dataset revenue", "+ chart Revenue by customer",
        "+ chart Row count", "+ dashboard Sales"]
    state = record(ctx, desired, PROVIDER.create(ctx, desired))
    text = json.dumps(state.to_json())
    assert WAREHOUSE_PASSWORD not in text and superset_server.password not in text
    assert PROVIDER.read(ctx, state) == state, "no drift right after an apply"
    assert PROVIDER.unapplied(ctx, state, desired) is None

    # The dataset points at this environment's schema.
    server = api(superset_server)
    dataset = server.get("dataset", server.find("dataset", DATASET_UUID) or 0)
    assert dataset["schema"] == "analytics_dev"

    # A hand edit in Superset is drift, field by field; apply restores it.
    chart_id = server.find("chart", REVENUE_CHART)
    assert chart_id is not None
    params = json.loads(server.get("chart", chart_id)["params"])
    server.put("chart", chart_id, {"params": json.dumps({**params, "row_limit": 10})})
    drifted = PROVIDER.read(ctx, state)
    assert drifted is not None and drifted != state
    assert drifted.attributes["drift"] == {
        "chart Revenue by customer": ["params.row_limit: 100 -> 10"]}
    assert ("~ chart Revenue by customer: params.row_limit: 100 -> 10 (edited in Superset; "
            "apply restores it)") in PROVIDER.plan_notes(ctx, drifted, desired)
    state = record(ctx, desired, PROVIDER.update(ctx, drifted, desired))
    assert PROVIDER.read(ctx, state) == state
    assert json.loads(server.get("chart", chart_id)["params"])["row_limit"] == 100

    # A chart removed from the bundle (file and layout node) is deleted from the server.
    assets = tmp_path / "assets"
    shutil.copytree(ASSETS, assets)
    (assets / "charts" / "row_count.yaml").unlink()
    layout = assets / "dashboards" / "sales.yaml"
    doc = yaml.safe_load(layout.read_text())
    doc["position"] = {k: v for k, v in doc["position"].items() if k != "CHART-4K3Q7SIM"}
    for node in doc["position"].values():
        if isinstance(node, dict) and "children" in node:
            node["children"] = [c for c in node["children"] if c != "CHART-4K3Q7SIM"]
    layout.write_text(yaml.safe_dump(doc))
    _, smaller = resolved_pair(ctx.stack_dir, superset_server.url, superset_server.username,
                               superset_server.password, wh, assets=assets)
    unapplied = PROVIDER.unapplied(ctx, state, smaller)
    assert unapplied is not None and f"{ASSETS}/charts/row_count.yaml" in unapplied.paths
    notes = PROVIDER.plan_notes(ctx, state, smaller)
    assert "- chart Row count (no longer in the bundle; deleted from Superset)" in notes
    assert any(n.startswith("~ dashboard Sales: position.") for n in notes), notes
    state = record(ctx, smaller, PROVIDER.update(ctx, state, smaller))
    assert server.find("chart", COUNT_CHART) is None
    assert server.find("chart", REVENUE_CHART) is not None
    assert PROVIDER.read(ctx, state) == state

    # Destroyed: the dashboard and what only it used are gone; read says so.
    PROVIDER.delete(ctx, state)
    assert server.find("dashboard", DASHBOARD_UUID) is None
    assert server.find("chart", REVENUE_CHART) is None
    assert PROVIDER.read(ctx, state) is None


def test_prod_points_at_its_own_schema_and_rows(
        superset_server: SupersetServer, wh: Warehouse, tmp_path: Path) -> None:
    ctx = context(tmp_path / "stack")
    _, desired = resolved_pair(ctx.stack_dir, superset_server.url, superset_server.username,
                               superset_server.password, wh, env="prod")
    PROVIDER.create(ctx, desired)
    server = api(superset_server)
    dataset_id = server.find("dataset", DATASET_UUID)
    assert server.get("dataset", dataset_id or 0)["schema"] == "analytics_prod"
    rows = server.request("POST", "/api/v1/chart/data", json={
        "datasource": {"id": dataset_id, "type": "table"},
        "queries": [{"columns": ["customer"], "metrics": [], "row_limit": 10}],
        "result_format": "json", "result_type": "full"}).json()
    assert [r["customer"] for r in rows["result"][0]["data"]] == ["prod-a"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("failure", ["wrong password", "server down"])
def test_login_failures_are_clear_and_leave_state_alone(
        superset_server: SupersetServer, wh: Warehouse, tmp_path: Path, failure: str) -> None:
    good_ctx = context(tmp_path / "good")
    _, good = resolved_pair(good_ctx.stack_dir, superset_server.url, superset_server.username,
                            superset_server.password, wh)
    state = record(good_ctx, good, PROVIDER.create(good_ctx, good))
    before = json.dumps(state.to_json())

    ctx = context(tmp_path / "bad")
    url = (superset_server.url if failure == "wrong password"
           else f"http://127.0.0.1:{_closed_port()}")
    password = "wrong-pw-5521" if failure == "wrong password" else superset_server.password
    bi, desired = resolved_pair(ctx.stack_dir, url, superset_server.username, password, wh)
    bad_state = ResourceState(state.address, state.kind, desired.masked(ctx.fingerprint),
                              state.outputs)
    for call in (lambda: PROVIDER.read(ctx, bad_state),
                 lambda: PROVIDER.update(ctx, bad_state, desired),
                 lambda: BiProvider().create(ctx, bi)):
        with pytest.raises(SupersetError) as caught:
            call()
        message = f"{caught.value.reason} {caught.value.hint}"
        assert url in message
        assert "wrong-pw-5521" not in message and WAREHOUSE_PASSWORD not in message
        if failure == "wrong password":
            assert "refused the login of 'admin'" in message
        else:
            assert "cannot reach Superset" in message
    assert json.dumps(state.to_json()) == before
    assert PROVIDER.read(good_ctx, state) == state, "the dashboard is still there, unchanged"
