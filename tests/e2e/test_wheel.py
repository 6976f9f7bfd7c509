"""First contact from the package alone: the wheel built from this checkout, installed into a
fresh venv outside it, creates a stack with ``stackform init``, names the first-party JSONL tap
and DuckDB loader without a path (``stackform:tap-jsonl``, ``stackform:target-duckdb``) and
lands rows; nothing of the checkout is on the path.

It also checks what a wheel user reads: the wheel holds no ``tests/`` of any provider or
connector, the package page (the wheel's README) has only absolute links and names only doc
pages the wheel ships, and the comments ``stackform init`` writes point at pages that exist.
"""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from e2e_support import INSTALL_TIMEOUT, ROOT, duckdb_rows, stackform_in, write_orders

pytestmark = pytest.mark.slow

ROWS = 250


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _run(*args: str | Path, cwd: Path) -> str:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _build_and_install(tmp_path: Path) -> tuple[zipfile.ZipFile, Path]:
    """The wheel (opened) and the ``stackform`` script of a fresh venv that has it installed."""
    uv = _uv()
    _run(uv, "build", "--wheel", "--out-dir", tmp_path / "dist", ROOT, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("stackform-*.whl")
    venv = tmp_path / "venv"
    _run(uv, "venv", "--quiet", "--python", "3.11", venv, cwd=tmp_path)
    _run(uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel, cwd=tmp_path)
    return zipfile.ZipFile(wheel), venv / "bin" / "stackform"


def test_the_wheel_alone_inits_a_stack_and_lands_rows_with_its_own_connectors(
        tmp_path: Path, plugin_cache: Path) -> None:
    wheel, exe = _build_and_install(tmp_path)
    names = wheel.namelist()
    assert not [n for n in names if "tests/" in n or n.startswith("tests")], \
        "the wheel carries tests that import modules it does not have"
    for connector in ("tap-stackform-jsonl", "target-stackform-duckdb"):
        assert f"stackform/_shipped/providers/{connector}/pyproject.toml" in names
    assert "stackform/data/connectors.json" in names  # `stackform add` knows them offline

    # The package page: every link absolute, every doc page it names shipped.
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    page = wheel.read(metadata).decode()
    links = re.findall(r"\]\(([^)\s]+)\)", page)
    assert [link for link in links if not link.startswith("https://")] == [], links
    shipped = {Path(n).stem for n in names
               if n.startswith("stackform/_shipped/docs/") and n.endswith(".md")}
    named = set(re.findall(r"`stackform docs ([a-z-]+)", page)) | set(
        re.findall(r"^- `([a-z-]+)`:", page, re.M))
    assert named and named <= shipped, named - shipped

    # Nothing of the checkout: the installed package runs.
    where = _run(exe.with_name("python"), "-c", "import stackform; print(stackform.__file__)",
                 cwd=tmp_path)
    assert not Path(where.strip()).is_relative_to(ROOT), where

    sf = stackform_in(tmp_path / "first", tmp_path / "home", plugin_cache, exe=str(exe))
    sf.cwd.mkdir()
    sf.ok("init")
    text = (sf.cwd / "stack.toml").read_text()
    pages = re.findall(r"`stackform docs ([a-z-]+)`", text)
    assert "stack-file" in pages and "singer" in pages, text
    for name in pages:
        shown = sf.ok("docs", name).stdout
        assert shown.startswith("# "), (name, shown[:200])
    prod = text[:text.index("[environments.prod]")].rsplit("\n\n", 1)[-1]
    assert "git" in prod and "clean" in prod and "branch" in prod, prod
    ignored = (sf.cwd / ".gitignore").read_text().splitlines()
    assert {".stackform/", "out/", "warehouse/"} <= set(ignored), ignored

    # The first-party tap and loader, by name only (no executable, no path).
    with (sf.cwd / "stack.toml").open("a") as f:
        f.write('''
[extractors.orders]
pip_url = "stackform:tap-jsonl"
config = { path = "data/*.jsonl", stream_name = "orders", primary_keys = ["id"] }

[loaders.warehouse]
pip_url = "stackform:target-duckdb"
config = { path = "warehouse/${stack.env}.duckdb", default_target_schema = "raw", \
add_record_metadata = true }

[pipelines.daily]
steps = ["orders", "warehouse"]
''')
    (sf.cwd / "data").mkdir()
    write_orders(sf.cwd / "data" / "orders.jsonl", range(1, ROWS + 1))
    sf.ok("validate")
    assert "meltanolabs-tap-postgres==" in sf.ok("add", "--list").stdout  # the shipped index
    applied = sf.apply()
    assert "Apply complete: 3 resources" in applied.stderr, applied
    ran = sf.ok("run", "daily")
    assert f"{ROWS} records emitted, {ROWS} rows landed" in ran.stderr, ran
    warehouse = sf.cwd / "warehouse" / "dev.duckdb"
    assert duckdb_rows(warehouse, "select count(*), count(distinct id), max(id) "
                       "from raw.orders") == [(ROWS, ROWS, ROWS)]
    assert (sf.cwd / "out" / "dev" / "README.txt").read_text() == "hello from dev\n"

    # Installed from the copies inside the installed package, into the shared plugin cache.
    installed = [json.loads(marker.read_text())["requirements"]
                 for marker in (plugin_cache / "venvs").glob("*/stackform-venv.json")]
    site = tmp_path / "venv"
    for connector in ("tap-stackform-jsonl", "target-stackform-duckdb"):
        assert any(str(site) in r and r.endswith(f"/_shipped/providers/{connector}")
                   for reqs in installed for r in reqs), installed
