"""Dev then prod: the same asset folder applied to two Superset servers (one per environment,
the same UUIDs on both), each dataset pointing at its environment's schema of one PostgreSQL
warehouse, so the same chart returns each environment's own rows. This is the one test that
starts a second server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from superset_support import DASHBOARD_UUID, DATASET_UUID, REVENUE_CHART, Warehouse, resolved_pair

from stackform.provider import Context
from stackform.resource import ResourceState, fingerprinter
from stackform_superset import BiProvider, DashboardProvider
from stackform_superset.bundle import BundleError
from stackform_superset.client import SupersetClient
from tests.superset_server import SupersetServer, running_superset


@pytest.fixture(scope="module")
def prod_server() -> Iterator[SupersetServer]:
    with running_superset() as server:
        yield server


def chart_rows(server: SupersetServer) -> list[str]:
    api = SupersetClient(server.url, server.username, server.password)
    dataset = api.find("dataset", DATASET_UUID)
    answer = api.request("POST", "/api/v1/chart/data", json={
        "datasource": {"id": dataset, "type": "table"},
        "queries": [{"columns": ["customer"], "metrics": [], "orderby": [["customer", True]],
                     "row_limit": 10}],
        "result_format": "json", "result_type": "full"}).json()
    return [row["customer"] for row in answer["result"][0]["data"]]


def test_the_same_folder_on_dev_and_prod_shows_each_environments_rows(
        superset_server: SupersetServer, prod_server: SupersetServer, wh: Warehouse,
        tmp_path: Path) -> None:
    states: dict[str, ResourceState] = {}
    for env, server in (("dev", superset_server), ("prod", prod_server)):
        stack_dir = tmp_path / env
        work = stack_dir / ".stackform" / "envs" / env
        work.mkdir(parents=True)
        ctx = Context(env=env, stack_name="bi-demo", stack_dir=stack_dir, work_dir=work,
                      fingerprint=fingerprinter("environments"))
        bi, dashboard = resolved_pair(stack_dir, server.url, server.username, server.password,
                                      wh, env=env, stack_env=env)
        BiProvider().create(ctx, bi)
        outputs = DashboardProvider().create(ctx, dashboard)
        states[env] = ResourceState(dashboard.address, dashboard.kind,
                                    dashboard.masked(ctx.fingerprint), outputs)
        assert DashboardProvider().read(ctx, states[env]) == states[env]

    assert chart_rows(superset_server) == ["dev-a", "dev-b"]
    assert chart_rows(prod_server) == ["prod-a"]
    # the same identities on both servers
    for server in (superset_server, prod_server):
        api = SupersetClient(server.url, server.username, server.password)
        assert api.find("dashboard", DASHBOARD_UUID) is not None
        assert api.find("chart", REVENUE_CHART) is not None
    assert (states["dev"].outputs["objects"][DATASET_UUID]["server"]["schema"],
            states["prod"].outputs["objects"][DATASET_UUID]["server"]["schema"]) == (
        "analytics_dev", "analytics_prod")


def test_per_environment_uuids_share_one_server(
        superset_server: SupersetServer, wh: Warehouse, tmp_path: Path) -> None:
    """``uuid_mode = "per_environment"``: Alice's and Bob's dev environments on one server,
    each with its own dashboard, charts, dataset and database, each showing its own rows."""
    api = SupersetClient(superset_server.url, superset_server.username,
                         superset_server.password)
    found = {}
    for env, schema in (("dev-alice", "dev"), ("dev-bob", "prod")):
        stack_dir = tmp_path / env
        work = stack_dir / ".stackform" / "envs" / env
        work.mkdir(parents=True)
        ctx = Context(env=env, stack_name="bi-demo", stack_dir=stack_dir, work_dir=work,
                      fingerprint=fingerprinter("per-environment"))
        bi, dashboard = resolved_pair(stack_dir, superset_server.url, superset_server.username,
                                      superset_server.password, wh, env=schema, stack_env=env,
                                      uuid_mode="per_environment")
        provider = DashboardProvider()
        notes = provider.plan_notes(ctx, None, dashboard)
        suffix = env.replace("-", "_")
        assert f"+ database warehouse_{suffix}" in notes
        assert f"+ dashboard Sales ({suffix})" in notes
        BiProvider().create(ctx, bi)
        outputs = provider.create(ctx, dashboard)
        state = ResourceState(dashboard.address, dashboard.kind,
                              dashboard.masked(ctx.fingerprint), outputs)
        assert provider.read(ctx, state) == state
        found[env] = outputs

    alice, bob = found["dev-alice"], found["dev-bob"]
    assert alice["dashboard"] != bob["dashboard"] != DASHBOARD_UUID
    assert not set(alice["objects"]) & set(bob["objects"]), "no object shared"
    for outputs, slug, rows in ((alice, "sales-dev_alice", ["dev-a", "dev-b"]),
                                (bob, "sales-dev_bob", ["prod-a"])):
        ident = api.find("dashboard", outputs["dashboard"]) or 0
        assert api.get("dashboard", ident)["slug"] == slug
        dataset = next(u for u, o in outputs["objects"].items() if o["kind"] == "dataset")
        answer = api.request("POST", "/api/v1/chart/data", json={
            "datasource": {"id": api.find("dataset", dataset), "type": "table"},
            "queries": [{"columns": ["customer"], "metrics": [],
                         "orderby": [["customer", True]], "row_limit": 10}],
            "result_format": "json", "result_type": "full"}).json()
        assert [r["customer"] for r in answer["result"][0]["data"]] == rows


def test_per_environment_refuses_a_schema_every_environment_would_share(
        superset_server: SupersetServer, wh: Warehouse, tmp_path: Path) -> None:
    stack_dir = tmp_path / "stack"
    work = stack_dir / ".stackform" / "envs" / "dev-carol"
    work.mkdir(parents=True)
    ctx = Context(env="dev-carol", stack_name="bi-demo", stack_dir=stack_dir, work_dir=work,
                  fingerprint=fingerprinter("per-environment"))
    _, dashboard = resolved_pair(stack_dir, superset_server.url, superset_server.username,
                                 superset_server.password, wh, stack_env="dev-carol",
                                 uuid_mode="per_environment", schemas={})
    with pytest.raises(BundleError) as caught:
        DashboardProvider().plan_notes(ctx, None, dashboard)
    assert "dataset(s) revenue of dashboard 'Sales' keep the folder's schema" in caught.value.reason
    assert "schema_from" in (caught.value.hint or "")
