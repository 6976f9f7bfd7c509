"""The sync: emit SCHEMA, RECORD, STATE and METRIC messages, resuming each file at its bookmark.

A file's bookmark is its byte offset of complete lines already emitted with its size, mtime and
inode; see :class:`Sync`.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from datetime import datetime, timezone
from typing import IO, Any

import orjson

from tap_stackform_jsonl.catalog import Plan
from tap_stackform_jsonl.config import TapError, info, warn
from tap_stackform_jsonl.files import BOM, META_FILE, META_LINE, _decode, _encode, _line_error


def _now() -> bytes:
    return datetime.now(timezone.utc).isoformat().encode()  # noqa: UP017 (py3.10)


class Sync:
    def __init__(
        self, cfg: dict[str, Any], plan: Plan, state: Any, out: IO[bytes], debug: bool
    ) -> None:
        self.cfg = cfg
        self.plan = plan
        self.out = out
        self.debug = debug
        self.stream = cfg["stream_name"]
        self.every = int(cfg["state_every_rows"])
        props = plan.schema["properties"]
        self.meta_file = bool(cfg["add_file_metadata"]) and META_FILE in props
        self.meta_line = bool(cfg["add_file_metadata"]) and META_LINE in props
        if (
            isinstance(state, dict)
            and "bookmarks" not in state
            and isinstance(state.get("value"), dict)
        ):
            state = state["value"]  # a STATE message rather than its value
        self.state: dict[str, Any] = copy.deepcopy(state) if isinstance(state, dict) else {}
        bookmarks = self.state.get("bookmarks")
        if not isinstance(bookmarks, dict):
            bookmarks = self.state["bookmarks"] = {}
        mine = bookmarks.get(self.stream)
        if not isinstance(mine, dict):
            mine = bookmarks[self.stream] = {}
        files = mine.get("files")
        if not isinstance(files, dict):
            files = mine["files"] = {}
        self.files: dict[str, Any] = files
        self.emitted = 0  # records written
        self.metric_mark = 0  # self.emitted at the last METRIC
        self.next_state = self.every
        self.last_state: bytes | None = None
        self.prefix = b'{"type":"RECORD","stream":' + _encode(self.stream).encode() + b',"record":'
        self.suffix = b',"time_extracted":"' + _now() + b'"}\n'

    # ----------------------------------------------------------------- messages

    def emit_schema(self) -> None:
        msg = {
            "type": "SCHEMA",
            "stream": self.stream,
            "schema": self.plan.schema,
            "key_properties": self.plan.keys,
        }
        self.out.write(_encode(msg).encode() + b"\n")

    def emit_state(self) -> None:
        """Write the state (unless it is the same as the last one written) and flush."""
        data = b'{"type":"STATE","value":' + _encode(self.state).encode() + b"}\n"
        if data != self.last_state:
            self.out.write(data)
            self.last_state = data
        self.out.flush()
        self.suffix = b',"time_extracted":"' + _now() + b'"}\n'

    def emit_metric(self) -> None:
        value = self.emitted - self.metric_mark
        self.metric_mark = self.emitted
        metric = {
            "type": "counter",
            "metric": "record_count",
            "value": value,
            "tags": {"stream": self.stream},
        }
        sys.stderr.write("INFO METRIC: " + json.dumps(metric) + "\n")
        sys.stderr.flush()

    # ----------------------------------------------------------------- run

    def run(self, paths: list[str]) -> None:
        self.emit_schema()
        matched = set(paths)
        for path in list(self.files):
            if path not in matched and not os.path.exists(path):
                info(f"{path}: no longer exists; its bookmark is dropped")
                del self.files[path]
        read = 0
        for path in paths:
            if self.sync_file(path):
                read += 1
        self.emit_state()
        self.emit_metric()
        info(
            f"stream {self.stream}: {self.emitted} record(s) from {read} of "
            f"{len(paths)} file(s) with new lines"
        )

    def _resume(self, path: str, fh: IO[bytes], st: os.stat_result) -> tuple[int, int]:
        """(offset, complete lines before it) to start reading ``path`` at."""
        bm = self.files.get(path)
        if bm is None:
            return 0, 0
        try:
            offset = int(bm["offset"])
            size = int(bm.get("size", offset))
            inode = bm.get("inode")
        except (KeyError, TypeError, ValueError):
            warn(f"{path}: unreadable bookmark {bm!r}; reading from the start")
            return 0, 0
        if inode is not None and inode != st.st_ino:
            info(f"{path}: replaced (inode changed); reading it again from the start")
            return 0, 0
        if st.st_size < size or st.st_size < offset:
            info(
                f"{path}: truncated (size {st.st_size} < {max(size, offset)} at the last read); "
                "reading it again from the start"
            )
            return 0, 0
        if offset > 0:
            fh.seek(offset - 1)
            ok = fh.read(1) == b"\n"
            if not ok and offset == len(BOM):
                fh.seek(0)
                ok = fh.read(len(BOM)) == BOM
            if not ok:
                info(f"{path}: rewritten (no line ends at the bookmark); reading it again")
                return 0, 0
        lines = bm.get("lines")
        if not isinstance(lines, int) or isinstance(lines, bool):
            fh.seek(0)
            lines, left = 0, offset
            while left > 0:
                chunk = fh.read(min(left, 1 << 20))
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                left -= len(chunk)
        return offset, lines

    def sync_file(self, path: str) -> bool:
        """Emit the new complete lines of ``path``; True when there were any."""
        try:
            fh = open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise TapError(f"{path}: cannot open: {exc.strerror or exc}") from None
        with fh:
            st = os.fstat(fh.fileno())
            start, lineno = self._resume(path, fh, st)
            size = st.st_size
            old = self.files.get(path)
            if start >= size and old is not None and start > 0:
                return False  # nothing new
            fh.seek(start)
            offset = start
            if start == 0:
                head = fh.read(3)
                if head == BOM:
                    offset = 3
                else:
                    fh.seek(0)
            bookmark = {
                "offset": offset,
                "size": size,
                "mtime_ns": st.st_mtime_ns,
                "inode": st.st_ino,
                "lines": lineno,
            }
            before = self.emitted
            try:
                offset, lineno = self._read(fh, path, offset, lineno, size, bookmark)
            except TapError:
                # The STATE before the bad line (records up to it were emitted), then fail.
                self.files[path] = bookmark
                self.emit_state()
                self.emit_metric()
                raise
            bookmark["offset"] = offset
            bookmark["lines"] = lineno
            if bookmark != old:
                self.files[path] = bookmark
                self.emit_state()
            return self.emitted > before

    def _read(
        self,
        fh: IO[bytes],
        path: str,
        offset: int,
        lineno: int,
        size: int,
        bookmark: dict[str, Any],
    ) -> tuple[int, int]:
        """Emit records from the complete lines after ``offset``; the new (offset, lineno).

        ``bookmark`` is kept describing the records emitted so far (it is put in the state at
        each periodic STATE)."""
        # One loop over every line of the file, kept whole on purpose: it is the tap's hot path,
        # and names bound to locals and no call per record are what make it fast (split into
        # helpers, each record would pay for calls). tests/test_structure.py allows its length.
        drop = self.plan.drop
        meta_file, meta_line = self.meta_file, self.meta_line
        reshape = bool(drop) or meta_file or meta_line
        write = self.out.write
        decode = _decode
        encode = _encode
        prefix = self.prefix
        emitted = self.emitted
        next_state = self.next_state
        file_json = b',"_sdc_source_file":' + encode(path).encode()
        # A line passed through as it is only needs checking, which orjson does several times
        # faster; a line it refuses is judged by the strict reader (the same verdicts as
        # before: orjson is the stricter of the two). A record that is rewritten is read by
        # the standard library, whose numbers round-trip exactly.
        fast = None if reshape else orjson.loads
        for line in fh:
            n = len(line)
            if line[-1] != 10 or offset + n > size:
                break  # a partial line, or one written after the size was taken
            lineno += 1
            try:
                if fast is not None:
                    try:
                        rec = fast(line)
                    except orjson.JSONDecodeError:
                        rec = decode(line.decode("utf-8"))
                else:
                    rec = decode(line.decode("utf-8"))
            except ValueError as exc:
                if not line.strip():
                    offset += n
                    continue
                self.emitted = emitted
                bookmark["offset"], bookmark["lines"] = offset, lineno - 1
                raise _line_error(path, lineno, line, exc) from None
            if type(rec) is not dict:
                self.emitted = emitted
                bookmark["offset"], bookmark["lines"] = offset, lineno - 1
                raise _line_error(path, lineno, line, None)
            offset += n
            if reshape and not drop and rec and META_FILE not in rec and META_LINE not in rec:
                # Only file metadata to add: splice it into the line as it is.
                meta = file_json if meta_file else b""
                if meta_line:
                    meta += b',"_sdc_source_lineno":%d' % lineno
                write(prefix + line.rstrip()[:-1] + meta + b"}" + self.suffix)
            elif reshape:
                if drop:
                    rec = {k: v for k, v in rec.items() if k not in drop}
                if meta_file:
                    rec[META_FILE] = path
                if meta_line:
                    rec[META_LINE] = lineno
                write(prefix + encode(rec).encode() + self.suffix)
            else:
                write(prefix + line.rstrip() + self.suffix)
            emitted += 1
            if emitted >= next_state:
                next_state = emitted + self.every
                self.emitted = emitted
                bookmark["offset"], bookmark["lines"] = offset, lineno
                self.files[path] = bookmark
                self.emit_state()
                self.emit_metric()
        self.emitted = emitted
        self.next_state = next_state
        return offset, lineno
