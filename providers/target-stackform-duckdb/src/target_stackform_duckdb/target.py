"""A Singer target for DuckDB.

Reads Singer messages (JSON lines) on stdin. Records are appended, as raw message lines, to one
newline-delimited JSON file per stream; a batch is loaded with a single
``INSERT ... SELECT ... FROM read_json(..., columns={explicit types})`` so DuckDB parses and
converts the rows itself and never guesses a type or a header. A STATE message flushes every
stream, commits, and only then writes the state value to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, NoReturn

from target_stackform_duckdb import __version__

NAME = "target-stackform-duckdb"

LOAD_METHODS = ("upsert", "append", "overwrite")

SETTINGS: list[dict[str, Any]] = [
    {
        "name": "path",
        "kind": "string",
        "required": True,
        "description": "Path of the DuckDB database file. Parent folders are created.",
    },
    {
        "name": "default_target_schema",
        "kind": "string",
        "default": "raw",
        "description": "Database schema the tables are created in.",
    },
    {
        "name": "batch_size_rows",
        "kind": "integer",
        "default": 100000,
        "description": "A stream's buffered records are loaded when they reach this many rows "
        "(and on every STATE message and at the end of input).",
    },
    {
        "name": "load_method",
        "kind": "options",
        "default": "upsert",
        "options": list(LOAD_METHODS),
        "description": "upsert: insert or replace by key_properties (append when a stream has "
        "none); append: always append, no primary key; overwrite: the first batch of a run "
        "replaces the table's contents, later batches of that run are loaded as by upsert.",
    },
    {
        "name": "add_record_metadata",
        "kind": "boolean",
        "default": False,
        "description": "Add _sdc_extracted_at, _sdc_received_at and _sdc_deleted_at columns.",
    },
    {
        "name": "flush_on_state",
        "kind": "boolean",
        "default": True,
        "description": "Load and commit buffered rows on every STATE message. When false, a STATE "
        "is held and emitted after the next commit (batch full or end of input); use it for "
        "taps that emit a STATE after every few records.",
    },
]

META_COLUMNS = ("_sdc_extracted_at", "_sdc_received_at", "_sdc_deleted_at")


class TargetError(Exception):
    """A failure reported to the user as one line."""


def warn(msg: str) -> None:
    sys.stderr.write(f"{NAME}: warning: {msg}\n")
    sys.stderr.flush()


def info(msg: str) -> None:
    sys.stderr.write(f"{NAME}: {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- names and types

_CAMEL1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def snake(name: str) -> str:
    """Lower snake case: ``userId`` -> ``user_id``, ``Order Lines`` -> ``order_lines``."""
    s = _CAMEL2.sub(r"\1_\2", _CAMEL1.sub(r"\1_\2", name))
    s = _NON_WORD.sub("_", s).strip("_").lower()
    if not s:
        s = "_"
    if s[0].isdigit():
        s = "_" + s
    return s


def qi(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def ql(value: str) -> str:
    """Quote a string literal."""
    return "'" + value.replace("'", "''") + "'"


def _branches(schema: Any) -> list[tuple[str, str | None]]:
    """The (type, format) alternatives a JSON schema allows."""
    if not isinstance(schema, dict):
        return [("any", None)]
    out: list[tuple[str, str | None]] = []
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            for sub in schema[key]:
                out.extend(_branches(sub))
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        out.extend(_branches(schema["allOf"][0]))
    t = schema.get("type")
    fmt = schema.get("format")
    fmt = fmt if isinstance(fmt, str) else None
    if t is None:
        if out:
            return out
        if "properties" in schema:
            t = "object"
        elif "items" in schema:
            t = "array"
        elif fmt is not None:
            t = "string"
        else:
            return [("any", None)]
    types = t if isinstance(t, list) else [t]
    out.extend((x if isinstance(x, str) else "any", fmt) for x in types)
    return out


def sql_type(schema: Any) -> str:
    """DuckDB type for a property's JSON schema."""
    branches = [b for b in _branches(schema) if b[0] != "null"]
    if not branches:
        return "VARCHAR"
    kinds = {t for t, _ in branches}
    if kinds & {"object", "array", "any"}:
        return "JSON"
    if kinds == {"integer"}:
        return "BIGINT"
    if kinds <= {"integer", "number"}:
        return "DOUBLE"
    if kinds == {"boolean"}:
        return "BOOLEAN"
    if kinds == {"string"}:
        formats = {f for _, f in branches}
        if formats == {"date"}:
            return "DATE"
        if formats and formats <= {"date-time", "date"}:
            return "TIMESTAMPTZ"
    return "VARCHAR"


_TYPE_ALIASES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "INT8": "BIGINT", "FLOAT8": "DOUBLE"}


def _canon(typ: str) -> str:
    t = typ.upper()
    return _TYPE_ALIASES.get(t, t)


# --------------------------------------------------------------------------- config


def load_config(path: str) -> dict[str, Any]:
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise TargetError(f"config file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise TargetError(f"cannot read config {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise TargetError(f"config {path} must be a JSON object")
    known = {s["name"] for s in SETTINGS}
    for key in sorted(set(raw) - known):
        warn(f"unknown config key ignored: {key}")
    cfg: dict[str, Any] = {s["name"]: s.get("default") for s in SETTINGS}
    cfg.update({k: v for k, v in raw.items() if k in known and v is not None})
    if not isinstance(cfg["path"], str) or not cfg["path"]:
        raise TargetError("config: 'path' (the DuckDB file) is required")
    if not isinstance(cfg["default_target_schema"], str) or not cfg["default_target_schema"]:
        raise TargetError("config: 'default_target_schema' must be a non-empty string")
    bs = cfg["batch_size_rows"]
    if isinstance(bs, bool) or not isinstance(bs, int) or bs < 1:
        raise TargetError("config: 'batch_size_rows' must be a positive integer")
    if cfg["load_method"] not in LOAD_METHODS:
        raise TargetError(f"config: 'load_method' must be one of {', '.join(LOAD_METHODS)}")
    for key in ("add_record_metadata", "flush_on_state"):
        if not isinstance(cfg[key], bool):
            raise TargetError(f"config: '{key}' must be true or false")
    return cfg


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


class Target:
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

    # ----------------------------------------------------------------- messages

    def run(self, stream_in: IO[bytes]) -> None:
        decode = json.JSONDecoder().raw_decode
        lineno = 0
        for raw in stream_in:
            lineno += 1
            line = raw.strip()
            if not line:
                continue
            try:
                text = line.decode("utf-8")
                msg, end = decode(text)
                if end != len(text):
                    raise ValueError(f"extra data at column {end + 1}")
            except ValueError as exc:  # includes UnicodeDecodeError
                raise TargetError(f"input line {lineno}: not valid JSON ({exc})") from None
            if not isinstance(msg, dict):
                raise TargetError(f"input line {lineno}: a Singer message must be a JSON object")
            mtype = msg.get("type")
            if mtype == "RECORD":
                self.record(msg, line, lineno)
            elif mtype == "STATE":
                self.state(msg, lineno)
            elif mtype == "SCHEMA":
                self.schema_msg(msg, lineno)
            elif mtype == "ACTIVATE_VERSION":
                pass  # tables are upserted or overwritten per load_method; versions unused
            elif mtype is None:
                raise TargetError(f"input line {lineno}: message has no 'type'")
            elif mtype not in self.warned_types:
                self.warned_types.add(str(mtype))
                warn(f"input line {lineno}: ignoring messages of unknown type {mtype!r}")
        self.finish()

    def record(self, msg: dict[str, Any], line: bytes, lineno: int) -> None:
        s = self.streams.get(msg.get("stream"))  # type: ignore[arg-type]
        if s is None:
            raise TargetError(
                f"input line {lineno}: RECORD for stream {msg.get('stream')!r} before its SCHEMA"
            )
        rec = msg.get("record")
        if not isinstance(rec, dict):
            raise TargetError(f"input line {lineno}: RECORD 'record' must be a JSON object")
        if not s.warned_extra and not rec.keys() <= s.prop_names:
            s.warned_extra = True
            extra = sorted(set(rec) - s.prop_names - {"_sdc_deleted_at"})
            if extra:
                warn(
                    f"stream {s.name}: fields not in the schema are ignored: "
                    + ", ".join(extra[:10])
                    + (" ..." if len(extra) > 10 else "")
                )
        if s.buf is None:
            s.buf = open(s.buf_path, "wb", buffering=1 << 20)  # noqa: SIM115
        s.seq += 1
        if self.meta:
            now = datetime.now(timezone.utc).isoformat().encode()  # noqa: UP017 (py3.10)
            s.buf.write(b'{"s":%d,"r":"%s","m":%s}\n' % (s.seq, now, line))
        else:
            s.buf.write(b'{"s":%d,"m":%s}\n' % (s.seq, line))
        s.count += 1
        self.buffered += 1
        if s.count >= self.batch_size:
            self.begin()
            try:
                self.load(s)
                self.commit()
            except BaseException:
                self.rollback()
                raise
            self.buffered = sum(x.count for x in self.streams.values())
            if self.buffered == 0:
                self.emit_pending()

    def state(self, msg: dict[str, Any], lineno: int) -> None:
        if "value" not in msg:
            raise TargetError(f"input line {lineno}: STATE message has no 'value'")
        self.pending_state = msg["value"]
        self.has_pending_state = True
        if self.flush_on_state or self.buffered == 0:
            self.flush_all()

    def schema_msg(self, msg: dict[str, Any], lineno: int) -> None:
        name = msg.get("stream")
        schema = msg.get("schema")
        keys = msg.get("key_properties") or []
        if not isinstance(name, str) or not name:
            raise TargetError(f"input line {lineno}: SCHEMA message needs a 'stream' name")
        if not isinstance(schema, dict):
            raise TargetError(f"input line {lineno}: SCHEMA 'schema' must be a JSON object")
        props = schema.get("properties")
        if not isinstance(props, dict) or not props:
            raise TargetError(f"input line {lineno}: SCHEMA for {name!r} has no properties")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise TargetError(f"input line {lineno}: 'key_properties' must be a list of names")
        missing = [k for k in keys if k not in props]
        if missing:
            raise TargetError(
                f"input line {lineno}: key_properties of {name!r} not in its schema: "
                + ", ".join(missing)
            )
        s = self.streams.get(name)
        if s is None:
            s = Stream(name, self.tmpdir, len(self.streams))
            self.streams[name] = s
        elif s.count:
            # Rows buffered under the previous schema are loaded with it.
            self.begin()
            try:
                self.load(s)
                self.commit()
            except BaseException:
                self.rollback()
                raise
            self.buffered = sum(x.count for x in self.streams.values())

        columns: dict[str, tuple[str, str]] = {}
        used: set[str] = set()
        for prop, pschema in props.items():
            col = snake(prop)
            if col in used:
                n = 2
                while f"{col}_{n}" in used:
                    n += 1
                warn(f"stream {name}: property {prop!r} renamed to column {col}_{n} (clash)")
                col = f"{col}_{n}"
            used.add(col)
            columns[prop] = (col, sql_type(pschema))
        s.props = columns
        s.prop_names = frozenset(columns)
        s.key_props = list(keys)
        s.upsert = bool(keys) and self.method != "append"
        s.meta_cols = [c for c in META_COLUMNS if self.meta and c not in used]
        s.deleted_from_record = "_sdc_deleted_at" in s.meta_cols
        self.ensure_table(s)

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


# --------------------------------------------------------------------------- CLI


def about() -> dict[str, Any]:
    return {
        "name": NAME,
        "version": __version__,
        "description": "Singer target for DuckDB using DuckDB's own JSON ingestion",
        "capabilities": [],
        "settings": SETTINGS,
    }


def _fail(msg: str, code: int = 1) -> NoReturn:
    sys.stderr.write(f"{NAME}: error: {msg}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=NAME, description="Singer target for DuckDB")
    parser.add_argument("-c", "--config", help="config JSON file")
    parser.add_argument("--input", help="read Singer messages from this file instead of stdin")
    parser.add_argument("--about", action="store_true", help="print settings as JSON")
    parser.add_argument("--format", choices=["json"], default="json", help="--about format")
    parser.add_argument("--version", action="version", version=f"{NAME} {__version__}")
    args = parser.parse_args(argv)

    if args.about:
        print(json.dumps(about(), indent=2))
        return 0
    if not args.config:
        _fail("--config CONFIG.json is required", 2)

    debug = os.environ.get("TARGET_DEBUG", "") not in ("", "0")
    signal.signal(signal.SIGTERM, _on_sigterm)
    target: Target | None = None
    started = time.monotonic()
    try:
        cfg = load_config(args.config)
        target = Target(cfg, sys.stdout)
        if args.input:
            with open(args.input, "rb") as fh:
                target.run(fh)
        else:
            target.run(sys.stdin.buffer)
        if debug:
            info(f"done in {time.monotonic() - started:.2f}s")
        return 0
    except KeyboardInterrupt:
        if debug:
            raise
        _fail("interrupted; rows and STATE not committed yet were discarded", 130)
    except TargetError as exc:
        if debug:
            raise
        _fail(str(exc))
    except Exception as exc:
        if debug:
            raise
        _fail(_one_line(exc))
    finally:
        if target is not None:
            with contextlib.suppress(Exception):
                target.close()


if __name__ == "__main__":
    raise SystemExit(main())
