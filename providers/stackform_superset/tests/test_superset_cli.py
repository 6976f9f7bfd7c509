"""The Superset blocks through the real ``stackform`` command: plan, apply, a hand edit shown as
drift and restored, a no-op plan, a rename in Superset pulled into the folder, destroy (which
needs the login secret, and says so), and no password anywhere on disk."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import yaml
from superset_support import ASSETS, REVENUE_CHART, WAREHOUSE_PASSWORD, Warehouse

from stackform_superset.client import SupersetClient
from tests.cli_helpers import Runner, make_env
from tests.superset_server import SupersetServer

STACK = '''
[stack]
name = "bi-demo"

[bi.main]
url = "{url}"
username = "{user}"
password = "${{secret.superset}}"
assets = "assets"

[bi.main.databases.warehouse]
sqlalchemy_uri = "{uri}"
password = "${{secret.warehouse}}"
schemas = {{ analytics = "analytics_${{stack.env_id}}" }}

[dashboards.sales]
bi = "main"
slug = "sales"
'''


def _project(server: SupersetServer, wh: Warehouse, tmp_path: Path) -> tuple[Path, str, Runner]:
    """The test assets and STACK in a project folder: (folder, stack text, runner with both
    secrets)."""
    project = tmp_path / "project"
    shutil.copytree(ASSETS, project / "assets")
    text = textwrap.dedent(STACK.format(url=server.url, user=server.username, uri=wh.uri))
    (project / "stack.toml").write_text(text)
    return project, text, Runner(project, make_env(tmp_path / "home", {
        "STACKFORM_SECRET_SUPERSET": server.password,
        "STACKFORM_SECRET_WAREHOUSE": WAREHOUSE_PASSWORD}))


def test_plan_apply_drift_and_destroy_through_the_cli(
        superset_server: SupersetServer, wh: Warehouse, tmp_path: Path) -> None:
    project, _, sf = _project(superset_server, wh, tmp_path)

    plan = sf("plan")
    assert plan.code == 0, plan
    for line in ("+ database warehouse", "+ dataset revenue", "+ chart Revenue by customer",
                 "+ chart Row count", "+ dashboard Sales"):
        assert line in plan.stdout, plan
    applied = sf("apply", "--auto-approve", timeout=180)
    assert applied.code == 0, applied
    assert "dashboards.sales  create  done" in applied.stdout, applied
    assert "No changes." in sf("plan").stdout

    api = SupersetClient(superset_server.url, superset_server.username,
                         superset_server.password)
    chart = api.find("chart", REVENUE_CHART) or 0
    params = json.loads(api.get("chart", chart)["params"])
    api.put("chart", chart, {"params": json.dumps({**params, "row_limit": 7})})
    drift = sf("plan")
    assert drift.code == 0, drift
    assert "Changed outside stackform" in drift.stdout, drift
    assert ("~ chart Revenue by customer: params.row_limit: 100 -> 7 (edited in Superset; "
            "apply restores it)") in drift.stdout, drift
    assert sf("apply", "--auto-approve", timeout=180).code == 0
    assert json.loads(api.get("chart", chart)["params"])["row_limit"] == 100
    assert "No changes." in sf("plan").stdout

    # A chart renamed in Superset, pulled back into the folder: the repository now holds it.
    api.put("chart", chart, {"slice_name": "Revenue per customer"})
    pulled = sf("pull", "dashboards.sales", timeout=120)
    assert pulled.code == 0, pulled
    assert f"wrote assets/charts/{REVENUE_CHART}.yaml" in pulled.stderr, pulled
    assert "pulled dashboards.sales:" in pulled.stderr and pulled.stdout == "", pulled
    chart_file = project / "assets" / "charts" / f"{REVENUE_CHART}.yaml"
    assert yaml.safe_load(chart_file.read_text())["slice_name"] == "Revenue per customer"
    assert sf("apply", "--auto-approve", timeout=180).code == 0  # the folder's new files
    assert "No changes." in sf("plan").stdout
    for wrong, reason in (("bi.main", "bi blocks have nothing to pull"),
                          ("dashboards.nope", "dashboards.nope is not a block of the stack")):
        refused = sf("pull", wrong)
        assert refused.code != 0 and reason in refused.stderr, refused

    # destroy resolves the stack without secrets, but a Superset login needs one
    without = Runner(project, make_env(tmp_path / "home", {
        "STACKFORM_SECRET_WAREHOUSE": WAREHOUSE_PASSWORD}))
    refused = without("destroy", "--auto-approve")
    assert refused.code != 0
    assert "secret 'superset' is needed to log in to Superset" in refused.output, refused
    destroyed = sf("destroy", "--auto-approve", timeout=180)
    assert destroyed.code == 0, destroyed
    assert api.find("chart", REVENUE_CHART) is None

    for path in project.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert WAREHOUSE_PASSWORD.encode() not in data, path
            assert superset_server.password.encode() not in data, path


def test_validate_deep_logs_in_tests_connections_and_lints(
        superset_server: SupersetServer, wh: Warehouse, tmp_path: Path) -> None:
    project, text, sf = _project(superset_server, wh, tmp_path)
    stack = project / "stack.toml"
    good = sf("validate", "--deep", timeout=120)
    assert good.code == 0, good

    # a connection that fails, a layout chart without its uuid, a wrong login
    stack.write_text(text.replace(wh.database, "no_such_db_x"))
    layout = project / "assets" / "dashboards" / "sales.yaml"
    doc = yaml.safe_load(layout.read_text())
    del doc["position"]["CHART-4K3Q7SIM"]["meta"]["uuid"]
    layout.write_text(yaml.safe_dump(doc))
    bad = sf("validate", "--deep", timeout=120)
    assert bad.code != 0, bad
    assert "bi.main.databases.warehouse" in bad.output and "cannot connect to" in bad.output
    assert "layout node CHART-4K3Q7SIM has no meta.uuid" in bad.output, bad.output
    assert WAREHOUSE_PASSWORD not in bad.output
    refused = sf("validate", "--deep", env={"STACKFORM_SECRET_SUPERSET": "wrong-pw-3381"},
                 timeout=120)
    assert refused.code != 0
    assert f"Superset at {superset_server.url} refused the login of 'admin'" in refused.output
    assert "wrong-pw-3381" not in refused.output


def test_removing_the_bi_block_with_its_dashboards_is_refused_clearly(
        superset_server: SupersetServer, wh: Warehouse, tmp_path: Path) -> None:
    project, text, sf = _project(superset_server, wh, tmp_path)
    stack = project / "stack.toml"
    assert sf("apply", "--auto-approve", timeout=180).code == 0

    stack.write_text(text[:text.index("[bi.main]")] + '[files.x]\npath = "x.txt"\ncontent = ""\n')
    plan = sf("plan")
    assert plan.code == 0, plan
    assert "dashboards.sales will be destroyed" in plan.stdout, plan
    applied = sf("apply", "--auto-approve", timeout=180)
    assert applied.code != 0
    assert "bi.main is no longer in the stack, and Superset needs its login" in applied.output
    api = SupersetClient(superset_server.url, superset_server.username,
                         superset_server.password)
    assert api.find("chart", REVENUE_CHART) is not None, "nothing was deleted"

    stack.write_text(text)  # back, then destroy as one should
    assert sf("destroy", "--auto-approve", timeout=180).code == 0
    assert api.find("chart", REVENUE_CHART) is None
