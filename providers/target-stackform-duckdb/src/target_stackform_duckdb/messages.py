"""Reading Singer messages: SCHEMA (tables and column types), RECORD (buffered) and STATE.

:class:`Target` reads the messages from a byte stream; the loading itself is done by
:class:`~.loading.Loader`, its base.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import IO, Any

import orjson

from target_stackform_duckdb.config import TargetError, warn
from target_stackform_duckdb.loading import META_COLUMNS, Loader, Stream
from target_stackform_duckdb.sql import snake, sql_type


def _parse_strictly(raw: bytes, lineno: int) -> Any:
    """A line orjson refused, read by the standard library, or a located error.

    orjson (the fast path) refuses some input the standard library reads: numbers beyond a
    double's range, NaN and Infinity. Those lines are read as before; anything else it refused
    is not JSON, and the error names the line.
    """
    try:
        text = raw.decode("utf-8").strip()
        msg, end = json.JSONDecoder().raw_decode(text)
        if end != len(text):
            raise ValueError(f"extra data at column {end + 1}")
    except ValueError as exc:  # includes UnicodeDecodeError
        raise TargetError(f"input line {lineno}: not valid JSON ({exc})") from None
    return msg


class Target(Loader):
    """Reads Singer messages and loads them (see :meth:`run`)."""

    # ----------------------------------------------------------------- messages

    def run(self, stream_in: IO[bytes]) -> None:
        # The per-record path is the target's whole Python cost (200,000 records: ~0.3 s of
        # which orjson is ~0.12 s), so RECORD is handled inline with locals rather than through
        # a method call and attribute lookups per record.
        loads = orjson.loads
        refused = orjson.JSONDecodeError
        streams = self.streams
        batch_size = self.batch_size
        meta = self.meta
        lineno = 0
        for raw in stream_in:
            lineno += 1
            try:
                msg = loads(raw)
            except refused:
                if not raw.strip():
                    continue
                msg = _parse_strictly(raw, lineno)
            if type(msg) is not dict:
                raise TargetError(f"input line {lineno}: a Singer message must be a JSON object")
            mtype = msg.get("type")
            if mtype == "RECORD":
                s = streams.get(msg.get("stream"))  # type: ignore[arg-type]
                if s is None:
                    raise TargetError(
                        f"input line {lineno}: RECORD for stream {msg.get('stream')!r} "
                        "before its SCHEMA"
                    )
                rec = msg.get("record")
                if type(rec) is not dict:
                    raise TargetError(
                        f"input line {lineno}: RECORD 'record' must be a JSON object"
                    )
                if not s.warned_extra and not rec.keys() <= s.prop_names:
                    self.warn_extra(s, rec)
                buf = s.buf
                if buf is None:
                    buf = s.buf = open(s.buf_path, "wb", buffering=1 << 20)  # noqa: SIM115
                s.seq += 1
                if meta:
                    now = datetime.now(timezone.utc).isoformat().encode()  # noqa: UP017 (py3.10)
                    buf.write(b'{"s":%d,"r":"%s","m":%s}\n' % (s.seq, now, raw.strip()))
                else:
                    buf.write(b'{"s":%d,"m":%s}\n' % (s.seq, raw.strip()))
                s.count += 1
                if s.count >= batch_size:
                    self.batch_full(s)
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

    @staticmethod
    def warn_extra(s: Stream, rec: dict[str, Any]) -> None:
        """Warn once per stream about record fields its schema does not name."""
        s.warned_extra = True
        extra = sorted(set(rec) - s.prop_names - {"_sdc_deleted_at"})
        if extra:
            warn(
                f"stream {s.name}: fields not in the schema are ignored: "
                + ", ".join(extra[:10])
                + (" ..." if len(extra) > 10 else "")
            )

    def batch_full(self, s: Stream) -> None:
        """Queue a stream's full batch; the held STATE rides along when the batch holds every
        row not yet loaded."""
        batch = s.take_batch()
        self.submit([batch], with_state=self.buffered() == 0)

    def state(self, msg: dict[str, Any], lineno: int) -> None:
        if "value" not in msg:
            raise TargetError(f"input line {lineno}: STATE message has no 'value'")
        self.pending_state = msg["value"]
        self.has_pending_state = True
        if self.flush_on_state or self.buffered() == 0:
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
            self.batch_full(s)
        # Queued loads read the stream's columns, and the table is about to change.
        self.drain()

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
