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

import collections
import contextlib
import json
import re
import select
import subprocess
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from stackform.plugins.kit import DUCKDB_IMPORT
from stackform.provider import Context, RunContext, RunStep
from stackform.supervise import popen
from stackform_singer.plugin import full_config

if TYPE_CHECKING:
    from stackform.plugins.installs import Venv

# Each driver script defines connect(cfg) -> (connection or None when there is no database
# yet, parameter mark); _SERVE answers one JSON line of cfg per request with the schema's row
# counts and, when asked, its columns, so one process (one import of the driver, which costs
# more than the queries) serves the counts before and after a run and the warehouse's catalog
# the lineage is confirmed with (warehouse_columns.py).
_DUCKDB = "import json, os, sys\n" + DUCKDB_IMPORT + r"""
def connect(cfg):
    if not os.path.exists(cfg["path"]):
        return None, "?"
    # Read-only, and closed before answering: the loader needs the file to itself.
    return duckdb.connect(cfg["path"], read_only=True), "?"

# DuckDB's first database and first catalog query in a process cost more than the count
# itself (about 30 ms here): paid now, while the run goes on, not after it.
_warm = duckdb.connect(":memory:")
_warm.execute("select count(*) from information_schema.columns").fetchall()
_warm.close()
"""

_POSTGRES = r"""
import json, sys
try:
    import psycopg
except ImportError:
    import psycopg2 as psycopg

def connect(cfg):
    con = psycopg.connect(host=cfg["host"], port=cfg["port"], user=cfg["user"],
                          password=cfg["password"], dbname=cfg["database"], connect_timeout=15)
    return con, "%s"
"""

_SERVE = r"""
def answer(cfg):
    tables, columns = {}, {}
    con, mark = connect(cfg)
    if con is None:
        return {"tables": tables, "columns": columns}
    schema, since = cfg["schema"], cfg.get("since")
    try:
        cur = con.cursor()
        # One read of the catalog gives the tables, their columns and which carry
        # _sdc_received_at; then one count per table.
        cur.execute("select table_name, column_name, data_type from information_schema.columns "
                    "where table_schema = " + mark + " order by table_name, ordinal_position",
                    [schema])
        for table, column, data_type in cur.fetchall():
            columns.setdefault(table, []).append([column, data_type])
        for name in columns if cfg.get("count", True) else ():
            table = '"' + schema.replace('"', '""') + '"."' + name.replace('"', '""') + '"'
            if since and any(column == "_sdc_received_at" for column, _ in columns[name]):
                cur.execute("select count(*), count(*) filter (where _sdc_received_at >= "
                            + mark + ("::timestamptz" if mark == "?" else "") + ") from "
                            + table, [since])
                tables[name] = list(cur.fetchone())
            else:
                cur.execute("select count(*) from " + table)
                tables[name] = [cur.fetchone()[0], None]
    finally:
        con.close()
    return {"tables": tables, "columns": columns if cfg.get("columns") else {}}

for line in sys.stdin:
    try:
        reply = answer(json.loads(line))
    except Exception as exc:
        reply = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(reply), flush=True)
"""


Columns = dict[str, list[list[str]]]
"""table -> [[column, type], ...] as the warehouse's ``information_schema`` names them."""

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
    by_table: dict[str, int] = field(default_factory=dict)
    """The rows each table of the schema landed (same way of counting as ``rows``)."""
    columns: Columns | None = None
    """The schema's columns after the run, when asked for and read."""


def connection(ctx: Context, target: RunStep) -> dict[str, Any] | None:
    """The loader's database as the serving script takes it (a DuckDB file, its path resolved
    from the stack's folder, or PostgreSQL), or ``None`` for a database stackform cannot
    read."""
    cfg = full_config(target.resource)
    schema = cfg.get("default_target_schema") or cfg.get("schema")
    path = cfg.get("path") or cfg.get("filepath") or cfg.get("database")
    if isinstance(path, str) and path.endswith((".duckdb", ".db")) and "host" not in cfg:
        return {"path": str(ctx.resolve_path(path)), "schema": schema or "main"}
    if cfg.get("host") and cfg.get("database"):
        return {"host": cfg["host"], "port": int(cfg.get("port") or 5432),
                "user": cfg.get("user") or cfg.get("username"),
                "password": cfg.get("password"), "database": cfg["database"],
                "schema": schema or "public"}
    return None


def serving_script(params: dict[str, Any]) -> str:
    """The script answering count and column requests for the database ``params`` name (as
    :func:`connection` gives them), run with the loader venv's Python."""
    return (_DUCKDB if "path" in params else _POSTGRES) + _SERVE


class Counter:
    """A Python in the loader's venv that counts the loader's tables when asked: started before
    a run (its import of the database driver then overlaps the run's own start), asked before
    and after it, closed at the end. It holds no connection between two counts."""

    def __init__(self, run: RunContext, target: RunStep, venv: Venv) -> None:
        self._params = connection(run.ctx, target)
        self._proc: subprocess.Popen[str] | None = None
        self._err: collections.deque[str] = collections.deque(maxlen=20)
        self.why = ""
        """Why no count can be had (set when none can)."""
        self.columns: Columns | None = None
        """The schema's columns, as the last count that asked for them read them."""
        if self._params is None:
            self.why = ("the loader writes to no DuckDB or PostgreSQL database stackform can "
                        "count")
            return
        try:
            self._proc = popen([str(venv.python), "-c", serving_script(self._params)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=venv.environ())
        except OSError as exc:
            self.why = f"the count could not start ({exc.strerror or exc})"
            return
        stderr = self._proc.stderr
        assert stderr is not None
        threading.Thread(target=self._err.extend, args=(stderr,), daemon=True,
                         name="count-stderr").start()
        # A run that raises before its last count still ends the process.
        self._finalizer = weakref.finalize(self, _stop, self._proc)

    @property
    def schema(self) -> str | None:
        """The database schema counted (``None`` when nothing can be)."""
        return None if self._params is None else str(self._params["schema"])

    def counts(self, since: str | None, timeout: float = 120.0, *,
               columns: bool = False) -> Counts | str:
        """The schema's tables and their counts, or why they could not be had; with
        ``columns``, its columns too, kept in :attr:`columns`."""
        proc = self._proc
        self.columns = None
        if proc is None or self._params is None:
            return self.why
        assert proc.stdin is not None and proc.stdout is not None
        try:
            request = {**self._params, "since": since, "columns": columns}
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            line = proc.stdout.readline() if ready else None
        except OSError:
            line = ""
        if line is None:
            self.close()
            self.why = f"the count took more than {timeout:.0f} s"
            return self.why
        if not line:  # it exited: its driver could not be imported, or it crashed
            self.close()
            last = [x.strip() for x in self._err if x.strip()][-1:] or ["no output"]
            self.why = f"the count failed ({last[0]})"
            return self.why
        answer = json.loads(line)
        if "error" in answer:
            return f"the count failed ({answer['error']})"
        if columns:
            self.columns = {str(t): [[str(c), str(d)] for c, d in cols]
                            for t, cols in answer["columns"].items()}
        return {name: (int(rows), None if received is None else int(received))
                for name, (rows, received) in answer["tables"].items()}

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            self._finalizer()


def _stop(proc: subprocess.Popen[str]) -> None:
    """End a counting process: its input closed, it exits (killed if it does not). Waited for
    on a thread of its own: the run has what it needs, and the driver's teardown takes a
    while."""
    with contextlib.suppress(OSError):
        assert proc.stdin is not None
        proc.stdin.close()

    def reap() -> None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    threading.Thread(target=reap, daemon=True, name="count-reaper").start()


def _counts(run: RunContext, target: RunStep, venv: Venv, since: str | None,
            counter: Counter | None, columns: bool = False) -> tuple[Counts | str, Columns | None]:
    """The counts (or why none), and the columns when asked for and read."""
    if counter is not None:
        return counter.counts(since, columns=columns), counter.columns if columns else None
    once = Counter(run, target, venv)
    try:
        return once.counts(since, columns=columns), once.columns if columns else None
    finally:
        once.close()


def wants_snapshot(target: RunStep) -> bool:
    """Whether the loader may land rows without ``_sdc_received_at`` (then the run counts the
    tables before it starts, to report the delta)."""
    return not full_config(target.resource).get("add_record_metadata")


def snapshot(run: RunContext, target: RunStep, venv: Venv,
             counter: Counter | None = None) -> Counts | None:
    """The row counts of the loader's schema before a run (``None`` when they cannot be had:
    the run then reports what it landed as unknown unless the rows carry their arrival time).
    With ``counter``, counted by it (else by a process of its own)."""
    counts, _ = _counts(run, target, venv, None, counter)
    if isinstance(counts, str):
        run.log(f"# rows landed: no count before the run: {counts}")
        return None
    return counts


def rows_landed(run: RunContext, target: RunStep, venv: Venv, since: str,
                before: Counts | None, counter: Counter | None = None, *,
                columns: bool = False) -> Landed:
    """Rows the target wrote during the run: by arrival time where the rows carry it, else by
    the row delta since ``before`` (see the module docstring). With ``columns``, the schema's
    columns are read in the same round trip (:attr:`Landed.columns`)."""
    after, read = _counts(run, target, venv, since, counter, columns)
    if isinstance(after, str):
        return Landed(None, "unknown", after)
    stamped = {name: received for name, (_rows, received) in after.items()
               if received is not None}
    if stamped:
        return Landed(sum(stamped.values()), "received_at", by_table=stamped, columns=read)
    if before is not None:
        grown = {name: rows - before.get(name, (0, None))[0]
                 for name, (rows, _) in after.items()}
        return Landed(sum(grown.values()), "delta", by_table=grown, columns=read)
    return Landed(None, "unknown", "no table has _sdc_received_at (set add_record_metadata = "
                  "true in the loader's config) and the tables were not counted before the run",
                  columns=read)


def table_candidates(stream: str) -> list[str]:
    """The table names Singer targets give a stream, most literal first: the stream itself,
    lower-cased, without its ``<schema>-`` prefix (``shop-orders`` -> ``orders``, as
    PipelineWise and Meltano SDK targets do), and with other characters as ``_``."""
    bare = stream.rsplit("-", 1)[-1]
    names = [stream, stream.lower(), bare, bare.lower(),
             re.sub(r"[^0-9A-Za-z_]", "_", stream).lower()]
    return list(dict.fromkeys(names))


def rows_by_stream(records: dict[str, int], landed: Landed) -> dict[str, int | None]:
    """The rows each stream landed: its table's count (``None`` when no table of the schema
    is the stream's; a table shared by two streams is given to neither)."""
    owners: dict[str, list[str]] = {}
    for stream in records:
        table = next((t for t in table_candidates(stream) if t in landed.by_table), None)
        owners.setdefault(table or "", []).append(stream)
    out: dict[str, int | None] = {}
    for table, streams in owners.items():
        for stream in streams:
            out[stream] = landed.by_table[table] if table and len(streams) == 1 else None
    return out


def landing_warning(name: str, emitted: int | None, landed: int | None, how: str
                    ) -> str | None:
    """What to say when the rows landed do not match the records emitted."""
    if emitted is None or landed is None or emitted == landed:
        return None
    if how == "delta" and landed > emitted:
        return (f"{name}: the loader's tables grew by {landed} rows but the tap emitted only "
                f"{emitted} records: something else wrote to them during the run")
    if how == "delta":
        return (f"{name}: the tap emitted {emitted} records but the loader's tables grew by "
                f"{landed} rows: a loader that appends lost {emitted - landed} rows; one that "
                "updates rows by key lands repeated keys as one row (set add_record_metadata "
                "= true to count by arrival time)")
    return (f"{name}: the tap emitted {emitted} records but {landed} rows landed in this run "
            "(records repeating a key land as one row)")
