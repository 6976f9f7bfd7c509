"""The blocks' schemas, and the stack file errors a user meets (through the real CLI)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from stackform_superset import DashboardConfig, DatabaseConnection

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
