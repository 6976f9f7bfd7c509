"""How many rows a loader landed during a run, for loaders into databases we can query.

The count is taken with the loader's own venv (it has the database driver the target uses), so
stackform needs no database library. Rows are counted by the ``_sdc_received_at`` column that
Singer targets add with ``add_record_metadata = true``: every row written or upserted during the
run carries a time after the run started, so the count compares directly with the records the
tap emitted, upserts included. Without that column the count is unknown, never guessed.
"""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING, Any

from stackform.provider import RunContext, RunStep
from stackform.supervise import popen
from stackform_singer.plugin import full_config

if TYPE_CHECKING:
    from stackform.installs import Venv

_DUCKDB = r"""
import json, sys
import duckdb
cfg = json.load(sys.stdin)
con = duckdb.connect(cfg["path"], read_only=True)
rows = con.execute(
    "select table_schema, table_name from information_schema.columns "
    "where column_name = '_sdc_received_at' and table_schema = ?", [cfg["schema"]]).fetchall()
total = 0
for schema, table in rows:
    total += con.execute(
        f'select count(*) from "{schema}"."{table}" where _sdc_received_at >= ?::timestamptz',
        [cfg["since"]]).fetchone()[0]
print(json.dumps({"tables": len(rows), "rows": total}))
"""

_POSTGRES = r"""
import json, sys
cfg = json.load(sys.stdin)
try:
    import psycopg
    con = psycopg.connect(host=cfg["host"], port=cfg["port"], user=cfg["user"],
                          password=cfg["password"], dbname=cfg["database"])
except ImportError:
    import psycopg2 as psycopg
    con = psycopg.connect(host=cfg["host"], port=cfg["port"], user=cfg["user"],
                          password=cfg["password"], dbname=cfg["database"])
cur = con.cursor()
cur.execute("select table_schema, table_name from information_schema.columns "
            "where column_name = '_sdc_received_at' and table_schema = %s", [cfg["schema"]])
rows = cur.fetchall()
total = 0
for schema, table in rows:
    cur.execute(f'select count(*) from "{schema}"."{table}" where _sdc_received_at >= %s',
                [cfg["since"]])
    total += cur.fetchone()[0]
print(json.dumps({"tables": len(rows), "rows": total}))
"""


def _query(target: RunStep, since: str) -> tuple[str, dict[str, Any]] | None:
    cfg = full_config(target.resource)
    schema = cfg.get("default_target_schema") or cfg.get("schema")
    path = cfg.get("path") or cfg.get("filepath") or cfg.get("database")
    if isinstance(path, str) and path.endswith((".duckdb", ".db")) and "host" not in cfg:
        return _DUCKDB, {"path": path, "schema": schema or "main",
                         "since": since}
    if cfg.get("host") and cfg.get("database"):
        return _POSTGRES, {"host": cfg["host"], "port": int(cfg.get("port") or 5432),
                           "user": cfg.get("user") or cfg.get("username"),
                           "password": cfg.get("password"), "database": cfg["database"],
                           "schema": schema or "public", "since": since}
    return None


def rows_landed(run: RunContext, target: RunStep, venv: Venv, since: str) -> int | None:
    """Rows the target wrote during the run, or ``None`` when it cannot be known."""
    query = _query(target, since)
    if query is None:
        return None
    script, params = query
    if "path" in params and not str(params["path"]).startswith("/"):
        params["path"] = str(run.ctx.resolve_path(params["path"]))
    try:
        proc = popen([str(venv.python), "-c", script], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     env=venv.environ())
    except OSError as exc:
        run.log(f"# rows landed: not counted ({exc})")
        return None
    try:
        out, err = proc.communicate(json.dumps(params), timeout=120)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        run.log(f"# rows landed: not counted ({exc})")
        return None
    if proc.returncode != 0:
        run.log(f"# rows landed: not counted ({err.strip().splitlines()[-1:]})")
        return None
    result = json.loads(out)
    if not result.get("tables"):
        run.log("# rows landed: no table has _sdc_received_at; set add_record_metadata = true "
                "in the loader's config to count them")
        return None
    return int(result["rows"])
