"""One counting process per run: counts before and after, and lets the loader write between."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb

from stackform_singer.landing import Counter, Landed, rows_by_stream, rows_landed, snapshot


class _Venv:
    """This interpreter (it has duckdb) as the loader's venv."""

    python = Path(sys.executable)

    def environ(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin"}


def _target(config: dict[str, Any]) -> Any:
    return SimpleNamespace(resource=SimpleNamespace(attributes={"config": config}))


def _run(stack_dir: Path) -> Any:
    return SimpleNamespace(ctx=SimpleNamespace(resolve_path=lambda p: stack_dir / p),
                           log=lambda _m: None)


def _write(path: Path, sql: str) -> None:
    # Another process, as a loader is: it must get the file while the counter lives.
    subprocess.run([sys.executable, "-c", f"import duckdb; c = duckdb.connect({str(path)!r}); "
                    f"c.execute({sql!r}); c.close()"], check=True)


def test_one_counter_counts_before_and_after_a_load_it_does_not_block(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema raw; create table raw.t (a int); insert into raw.t values (1)")
    con.close()
    target = _target({"path": "w.duckdb", "default_target_schema": "raw"})
    counter = Counter(_run(tmp_path), target, _Venv())  # type: ignore[arg-type]
    try:
        before = snapshot(_run(tmp_path), target, _Venv(), counter)  # type: ignore[arg-type]
        assert before == {"t": (1, None)}
        _write(db, "insert into raw.t values (2), (3)")
        landed = rows_landed(_run(tmp_path), target, _Venv(),  # type: ignore[arg-type]
                             "2024-01-01T00:00:00+00:00", before, counter)
        assert (landed.rows, landed.how) == (2, "delta")
        assert landed.by_table == {"t": 2}
    finally:
        counter.close()


def test_a_counter_that_cannot_count_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "no-duckdb"
    broken.mkdir()
    (broken / "duckdb.py").write_text("raise ImportError('no duckdb here')\n")
    (broken / "_duckdb.py").write_text("raise ImportError('no engine module either')\n")

    class NoDriver(_Venv):
        def environ(self) -> dict[str, str]:
            return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(broken)}

    target = _target({"path": str(tmp_path / "w.duckdb")})
    counter = Counter(_run(tmp_path), target, NoDriver())  # type: ignore[arg-type]
    try:
        assert counter.counts(None) == "the count failed (ImportError: no duckdb here)"
    finally:
        counter.close()
    other = Counter(_run(tmp_path), _target({"filepath": "out.jsonl"}),  # type: ignore[arg-type]
                    NoDriver())
    assert other.counts(None) == other.why and "no DuckDB or PostgreSQL" in other.why


def test_each_stream_is_counted_by_its_own_table() -> None:
    landed = Landed(17, "received_at", by_table={"orders": 10, "order_items": 7, "other": 0})
    # "<schema>-<table>" streams land as <table>, as PipelineWise and SDK targets name them.
    assert rows_by_stream({"shop-orders": 10, "Order_Items": 7, "ghost": 3}, landed) == {
        "shop-orders": 10, "Order_Items": 7, "ghost": None}
    # Two streams landing in one table: neither can be told apart, so neither is counted.
    assert rows_by_stream({"a-orders": 4, "b-orders": 6}, landed) == {
        "a-orders": None, "b-orders": None}


def test_the_count_after_a_run_reads_the_columns_in_the_same_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw; create table raw.t (a int, b varchar)")
    target = _target({"path": "w.duckdb", "default_target_schema": "raw"})
    counter = Counter(_run(tmp_path), target, _Venv())  # type: ignore[arg-type]
    try:
        before = snapshot(_run(tmp_path), target, _Venv(), counter)  # type: ignore[arg-type]
        assert counter.columns is None  # not asked for
        _write(db, "insert into raw.t values (1, 'x')")
        landed = rows_landed(_run(tmp_path), target, _Venv(),  # type: ignore[arg-type]
                             "2024-01-01T00:00:00+00:00", before, counter, columns=True)
        assert (landed.rows, landed.how) == (1, "delta")
        assert landed.columns == {"t": [["a", "INTEGER"], ["b", "VARCHAR"]]}
        assert counter.schema == "raw"
    finally:
        counter.close()
    # No database yet (the loader never ran): no tables and no columns, not an error.
    empty = Counter(_run(tmp_path), _target({"path": "none.duckdb"}), _Venv())  # type: ignore[arg-type]
    try:
        assert empty.counts(None, columns=True) == {} and empty.columns == {}
    finally:
        empty.close()
