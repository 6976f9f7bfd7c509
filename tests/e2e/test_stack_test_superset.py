"""``stackform test`` with a managed Superset dashboard, for real (examples/superset: JSONL ->
PostgreSQL -> dbt-postgres -> the session's Superset): each chart's query runs through the
chart data API against the throwaway environment's warehouse. A chart asking for a column the
mart does not have fails its check by name, the other chart passes, the exit code is 1, and
the environment is destroyed: its schemas dropped and its objects gone from Superset.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit
import yaml
from e2e_support import INSTALL_TIMEOUT, POSTGRES_PASSWORD, pg_rows, postgres, state_traces

from stackform_superset.client import SupersetClient
from tests.superset_server import SupersetServer

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "superset"
TABLE_CHART = "0e95b51e-8b25-4f96-91ee-bbb6a9da4986"  # "Customers", a table of the mart


@pytest.fixture
def suffix(databases: None) -> Iterator[str]:
    found = uuid.uuid4().hex[:8]
    try:
        yield found
    finally:
        with postgres() as con:
            for (schema,) in con.execute("select schema_name from information_schema.schemata "
                                         "where schema_name like %s", [f"%{found}%"]):
                con.execute(f'drop schema if exists "{schema}" cascade')


def test_a_chart_whose_query_fails_fails_its_check_and_the_env_is_destroyed(
        tmp_path: Path, stackform_for: Any, suffix: str,
        superset_server: SupersetServer) -> None:
    stack = tmp_path / "superset"
    shutil.copytree(EXAMPLE, stack, ignore=shutil.ignore_patterns(".stackform", "*.sfplan"))
    (stack / "README.md").unlink()
    path = stack / "stack.toml"
    doc: Any = tomlkit.parse(path.read_text())
    doc["vars"]["superset_url"] = superset_server.url
    doc["vars"]["superset_user"] = superset_server.username
    doc["vars"]["landing_schema"] = f"e2e_{suffix}_${{stack.env_id}}"
    path.write_text(tomlkit.dumps(doc))
    # The table chart asks for a column the mart does not have.
    chart = stack / "assets" / "charts" / f"{TABLE_CHART}.yaml"
    spec = yaml.safe_load(chart.read_text())
    spec["params"]["all_columns"].append("discount")
    chart.write_text(yaml.safe_dump(spec, sort_keys=False))
    env = f"ci-{suffix}"
    sf = stackform_for(stack, {"STACKFORM_SECRET_SUPERSET": superset_server.password,
                               "STACKFORM_SECRET_POSTGRES_PASSWORD": POSTGRES_PASSWORD})
    result = sf("test", "--env", env, "--junit", "junit.xml", timeout=INSTALL_TIMEOUT)
    assert result.code == 1, result
    rows = {line.split("  ")[0]: line for line in result.stdout.splitlines()}
    assert "failed" in rows["dashboards.revenue: chart Customers"], result.stdout
    assert "discount" in rows["dashboards.revenue: chart Customers"], result.stdout
    assert "passed" in rows["dashboards.revenue: chart Revenue by customer"], result.stdout
    assert "passed" in rows["daily: dbt:build"], result.stdout
    assert "environment destroyed" in result.stderr, result
    assert pg_rows("select schema_name from information_schema.schemata where schema_name "
                   "like %s", [f"%{suffix}%"]) == []
    api = SupersetClient(superset_server.url, superset_server.username,
                         superset_server.password)
    assert api.find("chart", TABLE_CHART) is None
    assert state_traces(stack, env) == []
    assert not (stack / ".stackform" / "runs" / "superset-demo" / env).exists()
