"""Loading into DuckDB: the connection and its transactions, tables and batches.

Each stream's records are buffered, as raw message lines, in a newline-delimited JSON file; a
batch is loaded with one ``INSERT ... SELECT ... FROM read_json(..., columns=...)`` (an upsert
keeps the last row per key). :class:`Loader` is the base of :class:`~.messages.Target`, which
reads the Singer messages and decides when to load.

Loads run on one background thread, in the order they were asked for, while the reader goes on
with the next records: DuckDB releases the GIL while it loads, so reading and loading overlap
(on a 200,000-record stream that takes the load's time off the run). A unit of work is a set of
batches loaded and committed in one transaction, then the STATE it carries written to stdout:
a STATE still comes out only after every row before it is committed. After a failed unit no
later unit loads anything, so nothing committed ever follows a failure. Anything that reads or
changes tables outside a unit (a SCHEMA message) first waits for the units in flight.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from target_stackform_duckdb.config import TargetError, info, warn
from target_stackform_duckdb.sql import _canon, qi, ql, snake

META_COLUMNS = ("_sdc_extracted_at", "_sdc_received_at", "_sdc_deleted_at")

# Units queued behind the one loading: the reader waits beyond this, which bounds the batch
# files on disk to this many plus the running one plus the one being written.
QUEUED_UNITS = 1



def _connect(path: str) -> Any:
    """A DuckDB connection to ``path``.

    Only ``connect`` is needed, and the ``duckdb`` package re-exports it from its engine
    module ``_duckdb`` (duckdb 1.4 and later): importing that alone takes ~0.02 s where the
    package, with its relational and expression layers, takes ~0.2 s, a fifth of a
    200,000-record run. Older releases have no ``_duckdb``. Imported here, not at the top, so
    ``--about`` and ``--version`` stay fast.
    """
    try:
        import _duckdb as engine
    except ImportError:
        import duckdb as engine  # type: ignore[no-redef]
    return engine.connect(path)


# --------------------------------------------------------------------------- streams


class Stream:
    """One Singer stream: its table, its columns and its buffered batch."""

    def __init__(self, name: str, tmpdir: str, index: int) -> None:
        self.name = name
        self.table = snake(name)
        self.props: dict[str, tuple[str, str]] = {}  # property -> (column, reader type)
        self.prop_names: frozenset[str] = frozenset()
        self.key_props: list[str] = []
        self.upsert = False
        self.has_pk = False
        self.meta_cols: list[str] = []
        self.deleted_from_record = False  # read _sdc_deleted_at from the record itself
        self.tmpdir = tmpdir
        self.index = index
        self.batch_no = 0
        self.buf_path = self.next_path()
        self.buf: IO[bytes] | None = None
        self.count = 0
        self.seq = 0
        self.loaded = 0
        self.batches = 0
        self.overwritten = False
        self.warned_extra = False
        self.warned_types: set[str] = set()

    @property
    def key_cols(self) -> list[str]:
        return [self.props[k][0] for k in self.key_props]

    def next_path(self) -> str:
        self.batch_no += 1
        return os.path.join(self.tmpdir, f"stream{self.index}-{self.batch_no}.jsonl")

    def take_batch(self) -> Batch:
        """The buffered rows as a batch to load; the next records go to a new file."""
        if self.buf is not None:
            self.buf.close()
            self.buf = None
        batch = Batch(self, self.buf_path, self.count)
        self.buf_path = self.next_path()
        self.count = 0
        return batch


@dataclass(frozen=True)
class Batch:
    """A closed buffer file of one stream, waiting to be loaded."""

    stream: Stream
    path: str
    rows: int


class Loader:
    """A DuckDB connection with the streams, their buffered batches and the held STATE."""

    def __init__(self, cfg: dict[str, Any], out: IO[str]) -> None:
        self.cfg = cfg
        self.out = out
        self.schema = cfg["default_target_schema"]
        self.batch_size = int(cfg["batch_size_rows"])
        self.method = cfg["load_method"]
        self.meta = bool(cfg["add_record_metadata"])
        self.flush_on_state = bool(cfg["flush_on_state"])
        self.streams: dict[str, Stream] = {}
        self.pending_state: Any = None
        self.has_pending_state = False
        self.warned_types: set[str] = set()
        self.tmpdir = tempfile.mkdtemp(prefix="target-stackform-duckdb-")
        path = cfg["path"]
        if path != ":memory:":
            path = os.path.expanduser(path)
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        self.con = _connect(path)
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(self.schema)}")
        self.in_tx = False
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load")
        self.in_flight: collections.deque[Future[None]] = collections.deque()
        self.failed = False  # set by the worker: no later unit may commit

    # ----------------------------------------------------------------- transactions

    def begin(self) -> None:
        if not self.in_tx:
            self.con.execute("BEGIN TRANSACTION")
            self.in_tx = True

    def commit(self) -> None:
        if self.in_tx:
            self.con.execute("COMMIT")
            self.in_tx = False

    def rollback(self) -> None:
        if self.in_tx:
            self.in_tx = False
            with contextlib.suppress(Exception):
                self.con.execute("ROLLBACK")

    def close(self) -> None:
        # Units already asked for finish (each is all-or-nothing) before the connection goes.
        for fut in self.in_flight:
            with contextlib.suppress(BaseException):
                fut.result()
        self.in_flight.clear()
        self.worker.shutdown(wait=True)
        self.rollback()
        for s in self.streams.values():
            if s.buf is not None:
                s.buf.close()
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # ----------------------------------------------------------------- DDL

    def ensure_table(self, s: Stream) -> None:
        fq = f"{qi(self.schema)}.{qi(s.table)}"
        wanted = [(col, typ) for col, typ in s.props.values()]
        wanted += [(c, "TIMESTAMPTZ") for c in s.meta_cols]
        existing = {
            r[0].lower(): r[1]
            for r in self.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ?",
                [self.schema, s.table],
            ).fetchall()
        }
        self.begin()
        try:
            if not existing:
                cols = [f"{qi(c)} {t}" for c, t in wanted]
                if s.upsert:
                    cols.append(f"PRIMARY KEY ({', '.join(qi(c) for c in s.key_cols)})")
                self.con.execute(f"CREATE TABLE {fq} ({', '.join(cols)})")
            else:
                for col, typ in wanted:
                    have = existing.get(col.lower())
                    if have is None:
                        self.con.execute(f"ALTER TABLE {fq} ADD COLUMN {qi(col)} {typ}")
                    elif _canon(have) != _canon(typ) and col not in s.warned_types:
                        s.warned_types.add(col)
                        warn(
                            f"stream {s.name}: column {col} stays {have} "
                            f"(the schema now says {typ}); values are cast to {have}"
                        )
            self.commit()
        except BaseException:
            self.rollback()
            raise
        pk = self.con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE schema_name = ? AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [self.schema, s.table],
        ).fetchall()
        s.has_pk = bool(pk) and sorted(c.lower() for c in pk[0][0]) == sorted(s.key_cols)

    # ----------------------------------------------------------------- loading

    def buffered(self) -> int:
        """Rows buffered across streams and not yet queued for loading."""
        return sum(s.count for s in self.streams.values())

    def take_pending(self) -> tuple[bool, Any]:
        held = (self.has_pending_state, self.pending_state)
        self.has_pending_state = False
        self.pending_state = None
        return held

    def submit(self, batches: list[Batch], with_state: bool) -> None:
        """Queue one unit: load and commit ``batches``, then write the held STATE if asked."""
        state = self.take_pending() if with_state else (False, None)
        while len(self.in_flight) > QUEUED_UNITS:
            self.in_flight.popleft().result()  # the worker's error is raised here
        self.in_flight.append(self.worker.submit(self.commit_unit, batches, state))

    def drain(self) -> None:
        """Wait for every unit asked for; raise the first one's error."""
        while self.in_flight:
            self.in_flight.popleft().result()

    def commit_unit(self, batches: list[Batch], state: tuple[bool, Any]) -> None:
        """Run on the worker: the batches in one transaction, then the STATE."""
        if self.failed:
            raise TargetError("not loaded: an earlier batch failed")
        try:
            if batches:
                self.begin()
                for batch in batches:
                    self.load(batch)
                self.commit()
            has_state, value = state
            if has_state:
                self.out.write(json.dumps(value, separators=(",", ":")) + "\n")
                self.out.flush()
        except BaseException:
            self.failed = True
            self.rollback()
            raise

    def flush_all(self) -> None:
        """Queue every buffered batch as one unit with the held STATE."""
        batches = [s.take_batch() for s in self.streams.values() if s.count]
        if batches or self.has_pending_state:
            self.submit(batches, with_state=True)

    def finish(self) -> None:
        self.flush_all()
        self.drain()
        for s in self.streams.values():
            if s.batches:
                info(
                    f"stream {s.name}: {s.loaded} rows loaded into "
                    f"{self.schema}.{s.table} in {s.batches} batch(es)"
                )

    def load(self, batch: Batch) -> None:
        """Load one batch (inside the caller's transaction)."""
        s = batch.stream
        fq = f"{qi(self.schema)}.{qi(s.table)}"
        names, select, upsert = self._batch_select(s, batch.path)
        col_list = ", ".join(qi(c) for c in names)
        con = self.con
        if self.method == "overwrite" and not s.overwritten:
            con.execute(f"DELETE FROM {fq}")
            s.overwritten = True
        if upsert and s.has_pk:
            con.execute(f"INSERT OR REPLACE INTO {fq} ({col_list}) {select}")
        elif upsert:
            # The table has no matching primary key (made by another tool): delete + insert.
            con.execute(f"CREATE OR REPLACE TEMP TABLE _sf_batch AS {select}")
            match = " AND ".join(f"t.{qi(c)} = b.{qi(c)}" for c in s.key_cols)
            con.execute(f"DELETE FROM {fq} AS t USING _sf_batch AS b WHERE {match}")
            con.execute(f"INSERT INTO {fq} ({col_list}) SELECT * FROM _sf_batch")
            con.execute("DROP TABLE _sf_batch")
        else:
            con.execute(f"INSERT INTO {fq} ({col_list}) {select}")
        s.loaded += batch.rows
        s.batches += 1
        os.unlink(batch.path)

    def _batch_select(self, s: Stream, path: str) -> tuple[list[str], str, bool]:
        """The columns a batch fills, the SELECT that reads them from the batch file (the last
        record of each key only, when upserting), and whether it upserts."""
        rec_fields = [f"{qi(p)} {t}" for p, (_, t) in s.props.items()]
        if s.deleted_from_record:
            rec_fields.append('"_sdc_deleted_at" VARCHAR')
        m_fields = [f"record STRUCT({', '.join(rec_fields)})"]
        if self.meta:
            m_fields.append("time_extracted VARCHAR")
        columns = {"s": "BIGINT", "m": f"STRUCT({', '.join(m_fields)})"}
        if self.meta:
            columns["r"] = "VARCHAR"
        columns_sql = "{" + ", ".join(f"{ql(k)}: {ql(v)}" for k, v in columns.items()) + "}"

        def field(name: str) -> str:
            return f"struct_extract(struct_extract(m, 'record'), {ql(name)})"

        names = [col for col, _ in s.props.values()]
        exprs = [f"{field(p)} AS {qi(col)}" for p, (col, _) in s.props.items()]
        for c in s.meta_cols:
            names.append(c)
            if c == "_sdc_extracted_at":
                exprs.append(
                    f"TRY_CAST(struct_extract(m, 'time_extracted') AS TIMESTAMPTZ) AS {qi(c)}"
                )
            elif c == "_sdc_received_at":
                exprs.append(f"TRY_CAST(r AS TIMESTAMPTZ) AS {qi(c)}")
            else:
                exprs.append(f"TRY_CAST({field('_sdc_deleted_at')} AS TIMESTAMPTZ) AS {qi(c)}")
        source = (
            f"read_json({ql(path)}, format = 'newline_delimited', "
            f"columns = {columns_sql}, maximum_object_size = 1073741824)"
        )
        select = f"SELECT {', '.join(exprs)} FROM {source}"
        upsert = s.upsert or (self.method == "overwrite" and bool(s.key_props))
        if upsert:
            keys = ", ".join(qi(c) for c in s.key_cols)
            select = (
                f"SELECT * EXCLUDE (_sf_seq) FROM (SELECT {', '.join(exprs)}, s AS _sf_seq "
                f"FROM {source}) QUALIFY row_number() OVER "
                f"(PARTITION BY {keys} ORDER BY _sf_seq DESC) = 1"
            )
        return names, select, upsert
