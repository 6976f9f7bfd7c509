"""dbt-core 1.12 on a machine that cannot fetch what its parser downloads while it builds: the
apply fails with uv's message *and* the hint the docs promise (pin ``dbt-core<1.12``), whether
the install resolves ``pip_url`` or syncs the set ``stackform.lock`` pinned.

Real uv, real package index: ``dbt-core-experimental-parser`` (pulled in by dbt-core 1.12)
fetches a wheel from outside the package index in its build backend, which fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from e2e_support import INSTALL_TIMEOUT, QUICKSTART

pytestmark = pytest.mark.slow

STACK = """\
[stack]
name = "hint"

[transformers.dbt]
pip_url = "dbt-duckdb==1.11.1 dbt-core==1.12.*"
project_dir = "transform"
"""
PIN = "It is pulled in by dbt-core 1.12: add `dbt-core<1.12` to pip_url"


def test_dbt_core_1_12_install_failure_says_to_pin_it(tmp_path: Path, stackform_for) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "stack.toml").write_text(STACK)
    shutil.copytree(QUICKSTART / "transform", stack / "transform")
    sf = stackform_for(stack)

    resolved = sf("apply", "--auto-approve", timeout=INSTALL_TIMEOUT)
    assert resolved.code == 1, resolved
    said = " ".join(resolved.output.split())  # the table may wrap long cells
    assert "Failed to build `dbt-core-experimental-parser" in said, resolved
    assert "hint: dbt-core-experimental-parser" in said, resolved
    assert "downloads files while it builds" in said, resolved
    assert f"{PIN} to get a release without it" in said, resolved

    sf.ok("lock", timeout=INSTALL_TIMEOUT)
    synced = sf("apply", "--auto-approve", timeout=INSTALL_TIMEOUT)
    assert synced.code == 1, synced
    said = " ".join(synced.output.split())
    assert "locked_requirements" in said, synced  # the locked set, installed with uv pip sync
    assert f"{PIN} and run `stackform lock` again" in said, synced
