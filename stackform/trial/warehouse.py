"""SQL against a DuckDB or PostgreSQL warehouse, run by a Python in a plugin's own venv.

Providers use it for the capabilities of :mod:`stackform.provider_schemas`: the plugin's venv
already has the database driver (duckdb, psycopg or psycopg2), so stackform needs none. The
request, credentials included, goes to the script on its stdin (never its command line) and
the answer comes back as one JSON document on stdout.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stackform.errors import StackformError
from stackform.plugins.installs import Venv
from stackform.plugins.kit import DUCKDB_IMPORT, install
from stackform.provider import Context
from stackform.provider_schemas import QueryResult, WarehouseSchema
from stackform.resource import Resource

Found = tuple[dict[str, Any], str, str] | None
"""A block's warehouse as its provider knows it: (request db, identity, its schema), or None
when it is no DuckDB file or PostgreSQL database."""

TIMEOUT = 300.0
ROW_CAP = 10_000
"""A check query's rows are counted up to this many."""

_SCRIPT = r"""
import json, os, sys
req = json.loads(sys.stdin.read())
db = req["db"]

def quoted(name):
    return '"' + name.replace('"', '""') + '"'

def connect(read_only):
    if db["type"] == "duckdb":
""" + "\n".join("        " + line for line in DUCKDB_IMPORT.splitlines()) + r"""
        return duckdb.connect(db["path"], read_only=read_only)
    try:
        import psycopg
    except ImportError:
        import psycopg2 as psycopg
    con = psycopg.connect(host=db["host"], port=db["port"], user=db["user"],
                          password=db["password"], dbname=db["database"])
    con.autocommit = True
    return con

def drop():
    if db["type"] == "duckdb" and not os.path.exists(db["path"]):
        return {"dropped": [], "left": 0}
    con = connect(False)
    try:
        cur = con.cursor()
        dropped = []
        for schema in req["schemas"]:
            cur.execute("select count(*) from information_schema.schemata where schema_name = "
                        + ("?" if db["type"] == "duckdb" else "%s"), [schema])
            if cur.fetchone()[0]:
                cur.execute(f"drop schema if exists {quoted(schema)} cascade")
                dropped.append(schema)
        left = 0
        if db["type"] == "duckdb":
            cur.execute("select count(*) from information_schema.tables "
                        "where table_catalog = current_database()")
            left = cur.fetchone()[0]
            cur.execute("select count(*) from information_schema.schemata where catalog_name = "
                        "current_database() and schema_name not in "
                        "('main', 'information_schema', 'pg_catalog')")
            left += cur.fetchone()[0]
        return {"dropped": dropped, "left": left}
    finally:
        con.close()

def query():
    con = connect(True)
    try:
        cur = con.cursor()
        cur.execute(req["sql"])
        columns = [d[0] for d in (cur.description or [])]
        count, first = 0, []
        while count < req["cap"]:
            rows = cur.fetchmany(500)
            if not rows:
                break
            for row in rows:
                if len(first) < 5:
                    first.append([str(v) for v in row])
            count += len(rows)
        return {"rows": count, "columns": columns, "first": first}
    finally:
        con.close()

try:
    answer = drop() if req["op"] == "drop" else query()
except Exception as exc:
    answer = {"error": " ".join(f"{type(exc).__name__}: {exc}".split())[:1000]}
print(json.dumps(answer))
"""


def duckdb_database(path: Path) -> tuple[dict[str, Any], str]:
    """A DuckDB file as a request's ``db``, and its identity."""
    return {"type": "duckdb", "path": str(path)}, f"duckdb:{path}"


def postgres_database(cfg: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """A PostgreSQL database from ``host``, ``port``, ``user``, ``password`` and ``database``
    (or ``dbname``), and its identity (no user, no password)."""
    database = cfg.get("database") or cfg.get("dbname")
    db = {"type": "postgres", "host": cfg.get("host"), "port": int(cfg.get("port") or 5432),
          "user": cfg.get("user") or cfg.get("username"), "password": cfg.get("password"),
          "database": database}
    return db, f"postgresql://{db['host']}:{db['port']}/{database}"


def _ask(venv: Venv, request: Mapping[str, Any], what: str) -> dict[str, Any]:
    try:
        done = subprocess.run([str(venv.python), "-c", _SCRIPT], input=json.dumps(request),
                              capture_output=True, text=True, timeout=TIMEOUT,
                              env=venv.environ(), check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackformError(f"{what}: could not run ({exc})") from None
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        last = [x for x in done.stderr.splitlines() if x.strip()][-1:] or ["no output"]
        raise StackformError(f"{what}: failed ({last[0]})")
    answer: dict[str, Any] = json.loads(lines[-1])
    if "error" in answer:
        raise StackformError(f"{what}: {answer['error']}")
    return answer


def drop_schemas(venv: Venv, db: Mapping[str, Any], identity: str,
                 schemas: Sequence[str]) -> tuple[list[str], bool]:
    """Drop ``schemas`` (with their tables); return the dropped ones as ``schema in identity``
    and whether a DuckDB file is left with no table and no schema of its own (then the caller
    may remove the file)."""
    answer = _ask(venv, {"op": "drop", "db": dict(db), "schemas": list(schemas)},
                  f"dropping schemas in {identity}")
    dropped = [str(WarehouseSchema(identity, s)) for s in answer["dropped"]]
    return dropped, db.get("type") == "duckdb" and answer["left"] == 0


def run_query(venv: Venv, db: Mapping[str, Any], identity: str, sql: str) -> QueryResult:
    """Run ``sql``; its row count (up to :data:`ROW_CAP`) and first rows."""
    answer = _ask(venv, {"op": "query", "db": dict(db), "sql": sql, "cap": ROW_CAP},
                  f"query on {identity}")
    return QueryResult(rows=int(answer["rows"]), columns=tuple(answer["columns"]),
                       first=tuple(tuple(r) for r in answer["first"]))


def drop_and_tidy(venv: Venv, db: Mapping[str, Any], identity: str,
                  schemas: Sequence[str]) -> list[str]:
    """:func:`drop_schemas`, then the DuckDB file and its write-ahead log when nothing is left
    in it (a throwaway environment's own file)."""
    if not schemas:
        return []
    dropped, empty = drop_schemas(venv, db, identity, schemas)
    if empty:
        path = Path(db["path"])
        for candidate in (path, path.with_name(path.name + ".wal")):
            candidate.unlink(missing_ok=True)
    return dropped


def drop_block(ctx: Context, resource: Resource, found: Found,
               owned: Sequence[WarehouseSchema]) -> list[str]:
    """A provider's ``drop_schemas``: the ``owned`` schemas of the block's warehouse, with
    the driver of the block's own venv."""
    if found is None:
        return []
    return drop_and_tidy(install(ctx, resource), found[0], found[1], [s.schema for s in owned])


def query_block(ctx: Context, resource: Resource, found: Found, sql: str) -> QueryResult:
    """A provider's ``run_query``: ``sql`` on the block's warehouse."""
    if found is None:
        raise StackformError(f"{resource.address} reaches no DuckDB file or PostgreSQL "
                             "database stackform can query")
    return run_query(install(ctx, resource), found[0], found[1], sql)
