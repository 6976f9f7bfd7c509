"""How many rows a loader landed during a run, for loaders into databases we can query.

The count is taken with the loader's own venv (it has the database driver the target uses), so
stackform needs no database library. Two ways, in this order:

* by the ``_sdc_received_at`` column Singer targets add with ``add_record_metadata = true``:
  every row written or upserted during the run carries a time after the run started, so the
  count compares directly with the records the tap emitted, upserts included;
* else by the **row delta** of the target schema's tables, counted before and after the run
  (:func:`snapshot`): exact for loaders that append, and what catches a loader that loses rows
  (``target-duckdb`` 0.8.0 drops the first row of every batch). A loader that updates rows in
  place lands fewer new rows than records, and the report says so.

When neither can be had (another kind of loader, a database that cannot be reached), the count
is unknown and said to be, never guessed.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from stackform.provider import RunContext, RunStep
from stackform.supervise import popen
from stackform_singer.plugin import full_config

if TYPE_CHECKING:
    from stackform.plugins.installs import Venv

# Each script prints {"tables": {name: [rows, rows received since or null]}} for one schema.
_DUCKDB = r"""
import json, os, sys
import duckdb
cfg = json.load(sys.stdin)
tables = {}
if os.path.exists(cfg["path"]):
    con = duckdb.connect(cfg["path"], read_only=True)
    names = [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = ?",
        [cfg["schema"]]).fetchall()]
    stamped = {r[0] for r in con.execute(
        "select table_name from information_schema.columns "
        "where column_name = '_sdc_received_at' and table_schema = ?", [cfg["schema"]]).fetchall()}
    for name in names:
        rows = con.execute(f'select count(*) from "{cfg["schema"]}"."{name}"').fetchone()[0]
        since = None
        if name in stamped and cfg["since"]:
            since = con.execute(
                f'select count(*) from "{cfg["schema"]}"."{name}" '
                "where _sdc_received_at >= ?::timestamptz", [cfg["since"]]).fetchone()[0]
        tables[name] = [rows, since]
print(json.dumps({"tables": tables}))
"""

_POSTGRES = r"""
import json, sys
cfg = json.load(sys.stdin)
try:
    import psycopg
except ImportError:
    import psycopg2 as psycopg
con = psycopg.connect(host=cfg["host"], port=cfg["port"], user=cfg["user"],
                      password=cfg["password"], dbname=cfg["database"])
cur = con.cursor()
cur.execute("select table_name from information_schema.tables where table_schema = %s",
            [cfg["schema"]])
names = [r[0] for r in cur.fetchall()]
cur.execute("select table_name from information_schema.columns "
            "where column_name = '_sdc_received_at' and table_schema = %s", [cfg["schema"]])
stamped = {r[0] for r in cur.fetchall()}
tables = {}
for name in names:
    cur.execute(f'select count(*) from "{cfg["schema"]}"."{name}"')
    rows = cur.fetchone()[0]
    since = None
    if name in stamped and cfg["since"]:
        cur.execute(f'select count(*) from "{cfg["schema"]}"."{name}" '
                    "where _sdc_received_at >= %s", [cfg["since"]])
        since = cur.fetchone()[0]
    tables[name] = [rows, since]
print(json.dumps({"tables": tables}))
"""

Counts = dict[str, tuple[int, int | None]]
"""table -> (rows, rows received since the run started or None without the column)."""


@dataclass(frozen=True)
class Landed:
    """What a run landed, and how that was counted."""

    rows: int | None
    """``None``: unknown."""
    how: Literal["received_at", "delta", "unknown"]
    why: str = ""
    """For an unknown count: why."""


def _query(target: RunStep, since: str | None) -> tuple[str, dict[str, Any]] | None:
    cfg = full_config(target.resource)
    schema = cfg.get("default_target_schema") or cfg.get("schema")
    path = cfg.get("path") or cfg.get("filepath") or cfg.get("database")
    if isinstance(path, str) and path.endswith((".duckdb", ".db")) and "host" not in cfg:
        return _DUCKDB, {"path": path, "schema": schema or "main", "since": since}
    if cfg.get("host") and cfg.get("database"):
        return _POSTGRES, {"host": cfg["host"], "port": int(cfg.get("port") or 5432),
                           "user": cfg.get("user") or cfg.get("username"),
                           "password": cfg.get("password"), "database": cfg["database"],
                           "schema": schema or "public", "since": since}
    return None


def _counts(run: RunContext, target: RunStep, venv: Venv, since: str | None
            ) -> Counts | str:
    """The schema's tables and their counts, or why they could not be had."""
    query = _query(target, since)
    if query is None:
        return "the loader writes to no DuckDB or PostgreSQL database stackform can count"
    script, params = query
    if "path" in params and not str(params["path"]).startswith("/"):
        params["path"] = str(run.ctx.resolve_path(params["path"]))
    try:
        proc = popen([str(venv.python), "-c", script], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     env=venv.environ())
    except OSError as exc:
        return f"the count could not start ({exc.strerror or exc})"
    try:
        out, err = proc.communicate(json.dumps(params), timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return "the count took more than 120 s"
    if proc.returncode != 0:
        last = err.strip().splitlines()[-1:] or ["no output"]
        return f"the count failed ({last[0]})"
    tables = json.loads(out)["tables"]
    return {name: (int(rows), None if since is None else int(since))
            for name, (rows, since) in tables.items()}


def wants_snapshot(target: RunStep) -> bool:
    """Whether the loader may land rows without ``_sdc_received_at`` (then the run counts the
    tables before it starts, to report the delta)."""
    return not full_config(target.resource).get("add_record_metadata")


def snapshot(run: RunContext, target: RunStep, venv: Venv) -> Counts | None:
    """The row counts of the loader's schema before a run (``None`` when they cannot be had:
    the run then reports what it landed as unknown unless the rows carry their arrival time)."""
    counts = _counts(run, target, venv, None)
    if isinstance(counts, str):
        run.log(f"# rows landed: no count before the run: {counts}")
        return None
    return counts


def rows_landed(run: RunContext, target: RunStep, venv: Venv, since: str,
                before: Counts | None) -> Landed:
    """Rows the target wrote during the run: by arrival time where the rows carry it, else by
    the row delta since ``before`` (see the module docstring)."""
    after = _counts(run, target, venv, since)
    if isinstance(after, str):
        return Landed(None, "unknown", after)
    stamped = [received for _rows, received in after.values() if received is not None]
    if stamped:
        return Landed(sum(stamped), "received_at")
    if before is not None:
        delta = sum(rows - before.get(name, (0, None))[0] for name, (rows, _) in after.items())
        return Landed(delta, "delta")
    return Landed(None, "unknown", "no table has _sdc_received_at (set add_record_metadata = "
                  "true in the loader's config) and the tables were not counted before the run")
