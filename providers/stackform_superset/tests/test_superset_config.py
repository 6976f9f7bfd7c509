"""The blocks' schemas, and the stack file errors a user meets (through the real CLI)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from stackform.errors import StackformError
from stackform.session import open_session
from stackform_superset import BiProvider, DashboardConfig, DashboardProvider, DatabaseConnection
from stackform_superset.bundle import DatabaseTarget

STACK = '''
[stack]
name = "bi-demo"

[bi.main]
url = "http://127.0.0.1:1"
username = "admin"
password = "${{secret.superset}}"
assets = "assets"

[bi.main.databases.warehouse]
sqlalchemy_uri = "{uri}"

[dashboards.sales]
bi = "{bi}"
slug = "sales"
'''


def validate(folder: Path, uri: str, bi: str) -> subprocess.CompletedProcess[str]:
    (folder / "stack.toml").write_text(textwrap.dedent(STACK.format(uri=uri, bi=bi)))
    return subprocess.run([sys.executable, "-m", "stackform", "validate"], cwd=folder,
                          capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(folder),
                               "STACKFORM_SECRET_SUPERSET": "admin-pw-123"})


def test_a_password_inside_the_uri_is_refused_without_repeating_it(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        DatabaseConnection(sqlalchemy_uri="postgresql://bi:hunter2-leak@db/wh")
    assert "hunter2-leak" not in str(caught.value.errors()[0]["msg"])
    done = validate(tmp_path, "postgresql://bi:hunter2-leak@db/wh", "main")
    assert done.returncode != 0
    assert "sqlalchemy_uri holds a password" in done.stderr + done.stdout
    DatabaseConnection(sqlalchemy_uri="postgresql://bi@db/wh")
    DatabaseConnection(sqlalchemy_uri="postgresql://bi:XXXXXXXXXX@db/wh")


def test_a_dashboard_names_its_bi_block_and_one_identity(tmp_path: Path) -> None:
    done = validate(tmp_path, "postgresql://bi@db/wh", "other")
    assert done.returncode != 0
    assert "dashboards.sales: bi = 'other' names no bi block" in done.stderr + done.stdout
    assert "hint: bi blocks: bi.main" in done.stderr + done.stdout
    assert validate(tmp_path, "postgresql://bi@db/wh", "main").returncode == 0
    with pytest.raises(ValidationError, match="exactly one of uuid and slug"):
        DashboardConfig(bi="main", uuid="u", slug="s")
    with pytest.raises(ValidationError, match="exactly one of uuid and slug"):
        DashboardConfig(bi="main")


SCHEMA_FROM = '''
[stack]
name = "bi-demo"

[environments.dev]
per_developer = true

[environments.prod]

[transformers.dbt]
pip_url = "dbt-duckdb"
{prod_schema}

[bi.main]
url = "http://127.0.0.1:1"
username = "admin"
password = "pw"
assets = "assets"

[bi.main.databases.warehouse]
sqlalchemy_uri = "postgresql://bi@db/wh"
schema_from = "transformers.dbt"
schemas = {{ staging = "staging_fixed" }}

[dashboards.sales]
bi = "main"
slug = "sales"
'''


@pytest.mark.parametrize(("env", "prod_schema", "want"), [
    ("dev", "", "analytics_dev_alice"),
    ("prod", "", "analytics_prod"),
    ("prod", 'target = { type = "duckdb", path = "w.duckdb", schema = "marts" }', "marts")])
def test_schema_from_follows_the_dbt_block(tmp_path: Path, env: str, prod_schema: str,
                                           want: str) -> None:
    (tmp_path / "stack.toml").write_text(SCHEMA_FROM.format(prod_schema=prod_schema))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STACKFORM_DEVELOPER", "alice")
        stack = open_session(tmp_path, None, env, strict_secrets=False).stack
    server = stack.resources["dashboards.sales"].attributes["server"]
    database = server["databases"]["warehouse"]
    assert database["default_schema"] == want
    target = DatabaseTarget(database["sqlalchemy_uri"], database["schemas"],
                            database["default_schema"])
    assert target.schema_for("analytics") == want
    assert target.schema_for("staging") == "staging_fixed"
    # Applied in that order without a depends_on: the dbt block, the server, the dashboard.
    assert stack.block_dependencies == {"bi.main": ("transformers.dbt",),
                                        "dashboards.sales": ("bi.main", "transformers.dbt")}


def test_schema_from_names_a_transformer_block(tmp_path: Path) -> None:
    text = SCHEMA_FROM.format(prod_schema="").replace('"transformers.dbt"', '"transformers.nope"')
    (tmp_path / "stack.toml").write_text(text)
    with pytest.raises(StackformError) as caught:
        open_session(tmp_path, None, "prod", strict_secrets=False)
    assert "schema_from = 'transformers.nope' names no block of the stack" in str(caught.value)
    (tmp_path / "stack.toml").write_text(text.replace('"transformers.nope"', '"dashboards.sales"'))
    with pytest.raises(StackformError) as caught:
        open_session(tmp_path, None, "prod", strict_secrets=False)
    assert "schema_from = 'dashboards.sales' names a block that exports no schema" in str(
        caught.value)
    with pytest.raises(ValidationError, match=r'names a block: "transformers\.NAME"'):
        DatabaseConnection(sqlalchemy_uri="postgresql://bi@db/wh", schema_from="dbt")


def test_both_blocks_watch_the_asset_folder(tmp_path: Path) -> None:
    (tmp_path / "stack.toml").write_text(SCHEMA_FROM.format(prod_schema=""))
    stack = open_session(tmp_path, None, "prod", strict_secrets=False).stack
    for address, provider in (("bi.main", BiProvider()), ("dashboards.sales",
                                                          DashboardProvider())):
        watched = provider.watched_paths(stack, stack.resources[address])
        assert watched == [("Superset assets", Path("assets"))]
