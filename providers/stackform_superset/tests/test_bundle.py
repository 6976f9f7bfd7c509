"""Asset folders: reading, a dashboard's closure, the environment's rewrite, zips, normalising
and linting, on the small fixture folder (no server)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from superset_support import (
    ASSETS,
    COUNT_CHART,
    DASHBOARD_UUID,
    DATABASE_UUID,
    DATASET_UUID,
    REVENUE_CHART,
    copy_assets,
)

from stackform_superset.bundle import (
    MASK,
    Asset,
    BundleError,
    DatabaseTarget,
    closure,
    derive_uuid,
    differences,
    digest,
    find_dashboard,
    lint,
    normalise,
    per_environment,
    read_assets,
    read_zip,
    rewrite,
    to_zip,
)
from stackform_superset.pull import from_export


def test_objects_are_found_by_uuid_whatever_their_file_names() -> None:
    assets = read_assets(ASSETS)
    assert {a.uuid: a.label for a in assets.values()} == {
        DASHBOARD_UUID: "dashboard Sales", REVENUE_CHART: "chart Revenue by customer",
        COUNT_CHART: "chart Row count", DATASET_UUID: "dataset revenue",
        DATABASE_UUID: "database warehouse"}
    assert assets[DATASET_UUID].path == "datasets/warehouse/revenue.yaml"


def test_the_closure_goes_dashboard_charts_datasets_databases() -> None:
    assets = read_assets(ASSETS)
    dashboard = find_dashboard(assets, slug="sales")
    assert find_dashboard(assets, uuid=DASHBOARD_UUID) == dashboard
    assert [a.label for a in closure(assets, dashboard)] == [
        "database warehouse", "dataset revenue", "chart Revenue by customer", "chart Row count",
        "dashboard Sales"]
    assert lint(assets) == []


def test_an_unknown_dashboard_names_those_there() -> None:
    with pytest.raises(BundleError) as caught:
        find_dashboard(read_assets(ASSETS), slug="nope")
    assert "no dashboard with slug 'nope'" in caught.value.reason
    assert "'Sales' (sales)" in (caught.value.hint or "")


def test_a_missing_folder_and_a_duplicate_uuid_are_errors(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        read_assets(tmp_path / "nothing")
    folder = copy_assets(tmp_path / "assets")
    shutil.copy(folder / "charts" / "row_count.yaml", folder / "charts" / "copy.yaml")
    with pytest.raises(BundleError, match="have the same uuid"):
        read_assets(folder)
    (folder / "charts" / "copy.yaml").write_text("a: b: c\n")
    with pytest.raises(BundleError) as caught:
        read_assets(folder)
    assert caught.value.reason.endswith(
        "charts/copy.yaml in " + str(folder) + ": mapping values are not allowed here "
        "(line 1, column 5)")


def test_lint_finds_missing_references_unnamed_layout_charts_and_passwords(
        tmp_path: Path) -> None:
    folder = copy_assets(tmp_path / "assets")
    (folder / "datasets" / "warehouse" / "revenue.yaml").unlink()
    dashboard = folder / "dashboards" / "sales.yaml"
    doc = yaml.safe_load(dashboard.read_text())
    del doc["position"]["CHART-4K3Q7SIM"]["meta"]["uuid"]
    dashboard.write_text(yaml.safe_dump(doc))
    database = folder / "databases" / "warehouse.yaml"
    database.write_text(database.read_text().replace(MASK, "hunter2-in-clear"))
    problems = lint(read_assets(folder))
    assert len(problems) == 4, problems
    assert any(f"refers to {DATASET_UUID}" in p for p in problems)
    assert any("layout node CHART-4K3Q7SIM has no meta.uuid" in p for p in problems)
    assert any("holds a password in clear" in p for p in problems)
    assert not any("hunter2-in-clear" in p for p in problems)


def test_rewrite_points_the_database_and_maps_the_schemas() -> None:
    assets = read_assets(ASSETS)
    target = DatabaseTarget("postgresql://bi@db.example/prod", {"analytics": "analytics_prod"})
    out = {a.uuid: a for a in rewrite(closure(assets, assets[DASHBOARD_UUID]),
                                      {"warehouse": target})}
    assert out[DATABASE_UUID].doc["sqlalchemy_uri"] == "postgresql://bi@db.example/prod"
    assert out[DATASET_UUID].doc["schema"] == "analytics_prod"
    assert assets[DATASET_UUID].doc["schema"] == "analytics", "the folder's objects are kept"
    # an unmapped database keeps what the folder says
    same = {a.uuid: a for a in rewrite(assets.values(), {})}
    assert same[DATASET_UUID].doc["schema"] == "analytics"


def test_a_zip_round_trips_with_files_named_by_uuid() -> None:
    assets = read_assets(ASSETS)
    again = read_zip(to_zip(assets.values()))
    assert set(again) == set(assets)
    assert again[REVENUE_CHART].path == f"charts/{REVENUE_CHART}.yaml"
    assert all(normalise(again[u]) == normalise(assets[u]) for u in assets)


def test_normalise_drops_server_local_ids_and_masks_uri_passwords() -> None:
    chart = Asset("chart", "c", "charts/c.yaml", {
        "slice_name": "x", "version": "1.0.0", "query_context": '{"datasource": {"id": 7}}',
        "params": {"datasource": "7__table", "slice_id": 3, "row_limit": 10}})
    assert normalise(chart) == {"slice_name": "x", "params": {"row_limit": 10}}
    database = Asset("database", "d", "databases/d.yaml",
                     {"database_name": "w", "sqlalchemy_uri": "postgresql://u:secret@h/db"})
    assert normalise(database)["sqlalchemy_uri"] == f"postgresql://u:{MASK}@h/db"
    dashboard = read_assets(ASSETS)[DASHBOARD_UUID]
    numbered = yaml.safe_load(yaml.safe_dump(dict(dashboard.doc)))
    numbered["position"]["CHART-4K3Q7SIM"]["meta"]["chartId"] = 42
    assert digest(normalise(Asset("dashboard", "x", "p", numbered))) == digest(
        normalise(dashboard))


def test_differences_are_field_by_field() -> None:
    before = {"params": {"row_limit": 100, "groupby": ["a"]}, "slice_name": "R"}
    after = {"params": {"row_limit": 10, "groupby": ["a"]}, "slice_name": "R", "extra": 1}
    assert differences(before, after) == ["extra: (unset) -> 1",
                                          "params.row_limit: 100 -> 10"]
    # against an export, only what the bundle sets
    assert differences({"a": 1, "server_default": 2}, {"a": 1}, only_after_keys=True) == []
    many = differences({}, {str(i): i for i in range(9)}, limit=3)
    assert many[-1] == "and 6 more"


def test_per_environment_derives_every_uuid_and_suffixes_names() -> None:
    assets = read_assets(ASSETS)
    objects = closure(assets, assets[DASHBOARD_UUID])
    alice = {a.kind + " " + a.name: a for a in per_environment(objects, "dev_alice")}
    bob = per_environment(objects, "dev_bob")
    assert {a.uuid for a in alice.values()}.isdisjoint({a.uuid for a in bob})
    assert {a.uuid for a in alice.values()} == {derive_uuid(a.uuid, "dev_alice")
                                                for a in objects}
    assert set(alice) >= {"database warehouse_dev_alice", "dashboard Sales (dev_alice)"}
    dashboard = alice["dashboard Sales (dev_alice)"]
    assert dashboard.doc["slug"] == "sales-dev_alice"
    assert lint({a.uuid: a for a in alice.values()}) == [], "every reference follows"
    assert alice["chart Row count"].doc["dataset_uuid"] == derive_uuid(DATASET_UUID, "dev_alice")


def test_pull_undoes_the_environment_rewrite_and_suffixes() -> None:
    assets = read_assets(ASSETS)
    target = DatabaseTarget("postgresql://bi@db/wh", {"analytics": "analytics_dev_alice"})
    served = per_environment(rewrite(closure(assets, assets[DASHBOARD_UUID]),
                                     {"warehouse": target}), "dev_alice")
    found = read_zip(to_zip(served))
    back = {a.uuid: a for a in from_export(found, assets, DASHBOARD_UUID,
                                           {"warehouse": target}, "dev_alice")}
    assert set(back) == set(assets)
    for uuid, asset in assets.items():
        assert differences(normalise(asset), normalise(back[uuid])) == [], asset.label
