"""How the target reaches DuckDB: its engine module alone, the whole package where that is
missing (duckdb before 1.4)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("duckdb")

PKG_DIR = Path(__file__).resolve().parents[1]


def test_connects_through_the_duckdb_package_when_its_engine_module_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """duckdb before 1.4 has no ``_duckdb`` module: the target falls back to the package."""
    monkeypatch.syspath_prepend(str(PKG_DIR / "src"))
    from target_stackform_duckdb import loading

    con = loading._connect(":memory:")
    assert type(con).__module__ == "_duckdb"  # the fast path, on this duckdb
    con.close()
    # An extension module cannot be loaded twice in a process: blocking it is the only way
    # to see the fallback here.
    monkeypatch.setitem(sys.modules, "_duckdb", None)  # makes `import _duckdb` fail
    con = loading._connect(str(tmp_path / "old.duckdb"))
    try:
        assert con.execute("SELECT 41 + 1").fetchone() == (42,)
    finally:
        con.close()
