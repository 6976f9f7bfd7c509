"""What a loader's run really landed: the tables and columns of its target schema, read from the
warehouse's own catalog (``information_schema.columns`` of DuckDB or PostgreSQL) after a
successful run and kept in the loader's folder, so its lineage names what is there instead of
guessing the loader's normalisation (docs/lineage.md).

The catalog is read with the loader's own venv (it has the database driver the target uses), as
:mod:`stackform_singer.landing` counts rows: stackform needs no database library. The
connection settings, password included, reach that process on its standard input only.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackform.errors import StackformError
from stackform.plugins.kit import DUCKDB_IMPORT, install, plugin_dir, write_private
from stackform.provider import Context, RunStep
from stackform.resource import Resource
from stackform.supervise import popen
from stackform.textsafe import safe_text
from stackform_singer.landing import _query as connection_of

FILE = "warehouse.columns.json"
TIMEOUT = 60.0

# Reads one JSON line of settings, prints {"table": [[column, type], ...]} of the schema.
_SCRIPT = r"""
import json, os, sys
cfg = json.loads(sys.stdin.readline())
sql = ("select table_name, column_name, data_type from information_schema.columns "
       "where table_schema = {} order by table_name, ordinal_position")
if "path" in cfg:
""" + "\n".join("    " + line for line in DUCKDB_IMPORT.splitlines()) + r"""
    rows = []
    if os.path.exists(cfg["path"]):
        # Read-only: the next run's loader needs the file to itself.
        con = duckdb.connect(cfg["path"], read_only=True)
        try:
            rows = con.execute(sql.format("?"), [cfg["schema"]]).fetchall()
        finally:
            con.close()
else:
    try:
        import psycopg
    except ImportError:
        import psycopg2 as psycopg
    con = psycopg.connect(host=cfg["host"], port=cfg["port"], user=cfg["user"],
                          password=cfg["password"], dbname=cfg["database"], connect_timeout=15)
    try:
        cur = con.cursor()
        cur.execute(sql.format("%s"), [cfg["schema"]])
        rows = cur.fetchall()
    finally:
        con.close()
tables = {}
for table, column, data_type in rows:
    tables.setdefault(table, []).append([column, data_type])
print(json.dumps(tables))
"""


def read_columns(python: str | Path, env: Mapping[str, str] | None, params: Mapping[str, Any]
                 ) -> dict[str, list[list[str]]]:
    """``{table: [[column, type], ...]}`` of the schema ``params`` name, read by ``python``
    (a venv with the database driver); :class:`StackformError` saying why when it cannot."""
    try:
        proc = popen([str(python), "-c", _SCRIPT], env=env, stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise StackformError(f"cannot start {python}: {exc.strerror or exc}") from exc
    try:
        out, err = proc.communicate(json.dumps(dict(params)) + "\n", timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise StackformError(f"the warehouse did not answer within {TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        last = [line.strip() for line in err.splitlines() if line.strip()][-1:] or [
            f"exit code {proc.returncode}"]
        said = safe_text(last[0], newlines=False)
        raise StackformError(f"the warehouse's catalog could not be read: {said}")
    try:
        tables = json.loads(out)
    except ValueError:
        raise StackformError("the warehouse's catalog could not be read: no answer") from None
    return {str(t): [[str(c), str(d)] for c, d in cols] for t, cols in tables.items()}


def confirm(ctx: Context, step: RunStep) -> None:
    """Read the loader's schema from the warehouse and keep it in the loader's folder (nothing
    for a loader into a database stackform cannot read)."""
    query = connection_of(step, None)
    if query is None:
        return
    params = {k: v for k, v in query[1].items() if k != "since"}
    if "path" in params and not str(params["path"]).startswith("/"):
        params["path"] = str(ctx.resolve_path(params["path"]))
    venv = install(ctx, step.resource)  # the run installed it: found in the cache
    tables = read_columns(venv.python, venv.environ(), params)
    write_private(plugin_dir(ctx, step.resource.address) / FILE,
                  {"schema": params["schema"], "tables": tables})


def confirmed(ctx: Context, resource: Resource) -> dict[str, Any] | None:
    """What the last run's confirmation kept: ``{"schema", "tables"}``, or ``None``."""
    try:
        data = json.loads((plugin_dir(ctx, resource.address) / FILE).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("tables"), dict):
        return data
    return None


def token(ctx: Context, resource: Resource) -> str:
    """A digest of what the confirmation kept (``""`` when none)."""
    try:
        data = (plugin_dir(ctx, resource.address) / FILE).read_bytes()
    except OSError:
        return ""
    return hashlib.sha256(data).hexdigest()[:16]
