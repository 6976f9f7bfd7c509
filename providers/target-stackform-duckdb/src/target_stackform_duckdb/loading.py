"""Loading into DuckDB: the connection and its transactions, tables and batches.

Each stream's records are buffered, as raw message lines, in a newline-delimited JSON file; a
batch is loaded with one ``INSERT ... SELECT ... FROM read_json(..., columns=...)`` (an upsert
keeps the last row per key). :class:`Loader` is the base of :class:`~.messages.Target`, which
reads the Singer messages and decides when to load.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from typing import IO, Any

from target_stackform_duckdb.config import info, warn
from target_stackform_duckdb.sql import _canon, qi, ql, snake

META_COLUMNS = ("_sdc_extracted_at", "_sdc_received_at", "_sdc_deleted_at")


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
        self.buf_path = os.path.join(tmpdir, f"stream{index}.jsonl")
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


class Loader:
    """A DuckDB connection with the streams, their buffered batches and the held STATE."""

    def __init__(self, cfg: dict[str, Any], out: IO[str]) -> None:
        import duckdb  # imported here so --about/--version stay fast

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
        self.buffered = 0  # rows buffered across streams since the last commit
        self.warned_types: set[str] = set()
        self.tmpdir = tempfile.mkdtemp(prefix="target-stackform-duckdb-")
        path = cfg["path"]
        if path != ":memory:":
            path = os.path.expanduser(path)
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        self.con = duckdb.connect(path)
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(self.schema)}")
        self.in_tx = False

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

    def flush_all(self) -> None:
        """Load every buffered batch in one transaction, commit, then emit the held STATE."""
        if self.buffered:
            self.begin()
            try:
                for s in self.streams.values():
                    if s.count:
                        self.load(s)
                self.commit()
            except BaseException:
                self.rollback()
                raise
            self.buffered = 0
        self.emit_pending()

    def emit_pending(self) -> None:
        if self.has_pending_state:
            self.out.write(json.dumps(self.pending_state, separators=(",", ":")) + "\n")
            self.out.flush()
            self.has_pending_state = False
            self.pending_state = None

    def finish(self) -> None:
        self.flush_all()
        for s in self.streams.values():
            if s.batches:
                info(
                    f"stream {s.name}: {s.loaded} rows loaded into "
                    f"{self.schema}.{s.table} in {s.batches} batch(es)"
                )

    def load(self, s: Stream) -> None:
        """Load the stream's buffered batch (inside the caller's transaction)."""
        assert s.buf is not None
        s.buf.close()
        s.buf = None
        fq = f"{qi(self.schema)}.{qi(s.table)}"
        names, select, upsert = self._batch_select(s)
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
        s.loaded += s.count
        s.batches += 1
        s.count = 0
        os.unlink(s.buf_path)

    def _batch_select(self, s: Stream) -> tuple[list[str], str, bool]:
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
            f"read_json({ql(s.buf_path)}, format = 'newline_delimited', "
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
