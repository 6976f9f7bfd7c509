"""A Singer tap for JSONL files that is incremental by byte offset.

One stream reads every file matched by ``path`` (a file, a folder or a glob). The bookmark of each
file is the number of bytes of complete lines already emitted, with the size, mtime and inode the
file had when it was read. The next run seeks to that offset and emits only the lines appended
since; a file whose inode changed (replaced) or that shrank (truncated) is read again from the
start. Only complete lines (ending in a newline) are read: a line still being written is left for
the next run. A STATE message is written after each file and every ``state_every_rows`` records,
and always describes exactly the records emitted before it.
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import IO, Any, NoReturn

from tap_stackform_jsonl import __version__

NAME = "tap-stackform-jsonl"

SETTINGS: list[dict[str, Any]] = [
    {
        "name": "path",
        "kind": "string",
        "required": True,
        "description": "A JSONL file, a folder (its *.jsonl, *.ndjson, *.jsonlines and *.json "
        "files, not recursive) or a glob (** recurses). Relative to the working directory.",
    },
    {
        "name": "stream_name",
        "kind": "string",
        "required": True,
        "description": "Name of the one stream the files are read into.",
    },
    {
        "name": "primary_keys",
        "kind": "array",
        "default": [],
        "description": "Properties that identify a record (the stream's key_properties).",
    },
    {
        "name": "schema_sample_rows",
        "kind": "integer",
        "default": 1000,
        "description": "How many records discovery reads (across the files, in order) to infer "
        "the schema.",
    },
    {
        "name": "add_file_metadata",
        "kind": "boolean",
        "default": False,
        "description": "Add _sdc_source_file (absolute path) and _sdc_source_lineno (1-based "
        "line number) to every record.",
    },
    {
        "name": "state_every_rows",
        "kind": "integer",
        "default": 10000,
        "description": "Also write a STATE message (and a record_count METRIC) every this many "
        "records, so a target can commit in the middle of a large file.",
    },
]

FOLDER_SUFFIXES = (".jsonl", ".ndjson", ".jsonlines", ".json")
META_FILE = "_sdc_source_file"
META_LINE = "_sdc_source_lineno"
BOM = b"\xef\xbb\xbf"

# ISO-8601 date and time (date-only strings stay plain strings).
_DATETIME = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d"
    r"(:([0-5]\d|60)(\.\d{1,9})?)?([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?"
)


class TapError(Exception):
    """A failure reported to the user as one line."""


def warn(msg: str) -> None:
    sys.stderr.write(f"{NAME}: warning: {msg}\n")
    sys.stderr.flush()


def info(msg: str) -> None:
    sys.stderr.write(f"{NAME}: {msg}\n")
    sys.stderr.flush()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# NaN and Infinity are accepted by Python's json module but are not JSON: reject them.
_decode = json.JSONDecoder(parse_constant=_reject_constant).decode
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def parse_line(line: bytes) -> Any:
    """Parse one line (bytes, strict UTF-8)."""
    return _decode(line.decode("utf-8"))


def _line_error(path: str, lineno: int, line: bytes, exc: Exception | None) -> TapError:
    if exc is None:
        return TapError(f"{path}:{lineno}: a line must hold a JSON object")
    if isinstance(exc, UnicodeDecodeError):
        return TapError(f"{path}:{lineno}: not valid UTF-8 ({exc.reason} at byte {exc.start})")
    msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
    return TapError(f"{path}:{lineno}: malformed JSON ({msg}{where})")


# --------------------------------------------------------------------------- config


def load_json_file(path: str, what: str) -> Any:
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read() or b"{}")
    except FileNotFoundError:
        raise TapError(f"{what} file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise TapError(f"cannot read {what} {path}: {exc}") from None


def load_config(path: str) -> dict[str, Any]:
    raw = load_json_file(path, "config")
    if not isinstance(raw, dict):
        raise TapError(f"config {path} must be a JSON object")
    known = {s["name"] for s in SETTINGS}
    for key in sorted(set(raw) - known):
        warn(f"unknown config key ignored: {key}")
    cfg: dict[str, Any] = {s["name"]: copy.deepcopy(s.get("default")) for s in SETTINGS}
    cfg.update({k: v for k, v in raw.items() if k in known and v is not None})
    for key in ("path", "stream_name"):
        if not isinstance(cfg[key], str) or not cfg[key]:
            raise TapError(f"config: '{key}' is required (a non-empty string)")
    pks = cfg["primary_keys"]
    if isinstance(pks, str):
        pks = cfg["primary_keys"] = [pks]
    if not isinstance(pks, list) or not all(isinstance(k, str) and k for k in pks):
        raise TapError("config: 'primary_keys' must be a list of property names")
    for key in ("schema_sample_rows", "state_every_rows"):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise TapError(f"config: '{key}' must be a positive integer")
    if not isinstance(cfg["add_file_metadata"], bool):
        raise TapError("config: 'add_file_metadata' must be true or false")
    return cfg


# --------------------------------------------------------------------------- files


def _has_magic(p: str) -> bool:
    return any(c in p for c in "*?[")


def match_files(spec: str) -> list[str]:
    """Absolute paths of the regular files ``spec`` names, sorted."""
    p = os.path.expanduser(spec)
    if _has_magic(p):
        found = glob.glob(p, recursive=True)
    elif os.path.isdir(p):
        found = [
            os.path.join(p, n)
            for n in os.listdir(p)
            if not n.startswith(".") and n.lower().endswith(FOLDER_SUFFIXES)
        ]
    elif os.path.exists(p):
        found = [p]
    else:
        raise TapError(f"path not found: {spec}")
    return sorted({os.path.abspath(f) for f in found if os.path.isfile(f)})


def iter_records(paths: list[str]) -> Iterator[dict[str, Any]]:
    """Records of the complete lines of ``paths``, in order (for discovery)."""
    for path in paths:
        with open(path, "rb") as fh:
            lineno = 0
            first = True
            for line in fh:
                if line[-1:] != b"\n":
                    break  # a partial last line
                lineno += 1
                if first:
                    first = False
                    if line.startswith(BOM):
                        line = line[3:]
                try:
                    rec = parse_line(line)
                except ValueError as exc:
                    if not line.strip():
                        continue
                    raise _line_error(path, lineno, line, exc) from None
                if type(rec) is not dict:
                    raise _line_error(path, lineno, line, None)
                yield rec


# --------------------------------------------------------------------------- discovery

_TYPE_ORDER = ("integer", "number", "boolean", "string", "object", "array")


class _Prop:
    __slots__ = ("datetime", "present", "saw_null", "types")

    def __init__(self) -> None:
        self.types: set[str] = set()
        self.present = 0
        self.saw_null = False
        self.datetime = True  # every string seen so far is an ISO-8601 timestamp

    def see(self, v: Any) -> None:
        self.present += 1
        t = type(v)
        if v is None:
            self.saw_null = True
        elif t is bool:
            self.types.add("boolean")
        elif t is int:
            self.types.add("integer")
        elif t is float:
            self.types.add("number")
        elif t is str:
            self.types.add("string")
            if self.datetime and not _DATETIME.fullmatch(v):
                self.datetime = False
        elif t is dict:
            self.types.add("object")
        else:
            self.types.add("array")

    def schema(self, total: int) -> dict[str, Any]:
        types = set(self.types)
        if "number" in types:
            types.discard("integer")
        names = [t for t in _TYPE_ORDER if t in types] or ["string"]
        out: dict[str, Any] = {}
        if self.saw_null or self.present < total or not self.types:
            out["type"] = ["null", *names]
        else:
            out["type"] = names
        if names == ["string"] and self.types and self.datetime:
            out["format"] = "date-time"
        if "array" in names:
            out["items"] = {}
        return out


def infer_schema(records: Iterator[dict[str, Any]], limit: int) -> tuple[dict[str, Any], int]:
    props: dict[str, _Prop] = {}
    total = 0
    for rec in records:
        total += 1
        for k, v in rec.items():
            p = props.get(k)
            if p is None:
                p = props[k] = _Prop()
            p.see(v)
        if total >= limit:
            break
    schema = {
        "type": "object",
        "properties": {k: p.schema(total) for k, p in props.items()},
    }
    return schema, total


def discover(cfg: dict[str, Any]) -> dict[str, Any]:
    files = match_files(cfg["path"])
    if not files:
        raise TapError(f"no files match {cfg['path']}: cannot infer a schema")
    limit = int(cfg["schema_sample_rows"])
    schema, total = infer_schema(iter_records(files), limit)
    if total == 0:
        raise TapError(f"no records in the files matching {cfg['path']}: cannot infer a schema")
    props = schema["properties"]
    if cfg["add_file_metadata"]:
        props[META_FILE] = {"type": ["string"]}
        props[META_LINE] = {"type": ["integer"]}
    keys: list[str] = list(cfg["primary_keys"])
    missing = [k for k in keys if k not in props]
    if missing:
        raise TapError(
            "primary_keys not found in the first "
            f"{total} record(s): {', '.join(missing)} (see schema_sample_rows)"
        )
    stream = cfg["stream_name"]
    metadata: list[dict[str, Any]] = [
        {
            "breadcrumb": [],
            "metadata": {
                "inclusion": "available",
                "selected-by-default": True,
                "table-key-properties": keys,
                "forced-replication-method": "INCREMENTAL",
            },
        }
    ]
    for name in props:
        metadata.append(
            {
                "breadcrumb": ["properties", name],
                "metadata": {
                    "inclusion": "automatic" if name in keys else "available",
                    "selected-by-default": True,
                },
            }
        )
    return {
        "streams": [
            {
                "tap_stream_id": stream,
                "stream": stream,
                "schema": schema,
                "key_properties": keys,
                "metadata": metadata,
            }
        ]
    }


# --------------------------------------------------------------------------- catalog


def _md_map(entry: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for item in entry.get("metadata") or []:
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
            out[tuple(item.get("breadcrumb") or ())] = item["metadata"]
    return out


def _selected(md: dict[str, Any], default: bool = True) -> bool:
    if md.get("inclusion") == "automatic":
        return True
    if md.get("inclusion") == "unsupported":
        return False
    if isinstance(md.get("selected"), bool):
        return bool(md["selected"])
    if isinstance(md.get("selected-by-default"), bool):
        return bool(md["selected-by-default"])
    return default


class Plan:
    """What to sync: the stream's schema and keys, and the properties to drop."""

    def __init__(self, schema: dict[str, Any], keys: list[str], drop: set[str]) -> None:
        props = dict(schema.get("properties") or {})
        self.drop = drop
        self.schema = {**schema, "properties": {k: v for k, v in props.items() if k not in drop}}
        self.keys = keys


def plan_from_catalog(catalog: Any, stream: str) -> Plan | None:
    """The plan for ``stream``, or None when the catalog does not select it."""
    if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
        raise TapError("catalog must be a JSON object with a 'streams' list")
    entry = next(
        (
            s
            for s in catalog["streams"]
            if isinstance(s, dict) and (s.get("tap_stream_id") or s.get("stream")) == stream
        ),
        None,
    )
    if entry is None:
        return None
    md = _md_map(entry)
    schema = entry.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        raise TapError(f"catalog: stream {stream!r} has no schema properties")
    top = md.get((), {})
    legacy = schema.get("selected")
    if not _selected(top, default=legacy if isinstance(legacy, bool) else False):
        return None
    keys = entry.get("key_properties")
    if not isinstance(keys, list):
        keys = top.get("table-key-properties") or []
    drop = {
        name
        for name in schema["properties"]
        if not _selected(md.get(("properties", name), {})) and name not in keys
    }
    return Plan(schema, list(keys), drop)


def plan_from_discovery(cfg: dict[str, Any]) -> Plan:
    entry = discover(cfg)["streams"][0]
    return Plan(entry["schema"], entry["key_properties"], set())


# --------------------------------------------------------------------------- sync


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
        for line in fh:
            n = len(line)
            if line[-1] != 10 or offset + n > size:
                break  # a partial line, or one written after the size was taken
            lineno += 1
            try:
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


# --------------------------------------------------------------------------- CLI


def about() -> dict[str, Any]:
    return {
        "name": NAME,
        "version": __version__,
        "description": "Incremental Singer tap for JSONL files (byte-offset bookmarks)",
        "capabilities": ["catalog", "discover", "properties", "state", "about"],
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


def _silence_stdout() -> None:
    """After a broken pipe, keep Python's shutdown flush from printing a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=NAME, description="Incremental Singer tap for JSONL")
    parser.add_argument("-c", "--config", help="config JSON file")
    parser.add_argument("-d", "--discover", action="store_true", help="print the catalog")
    parser.add_argument("--catalog", help="catalog JSON file (stream and property selection)")
    parser.add_argument("-p", "--properties", help="same as --catalog (older Singer taps)")
    parser.add_argument("-s", "--state", help="state JSON file from a previous run")
    parser.add_argument("--about", action="store_true", help="print settings as JSON")
    parser.add_argument("--format", choices=["json"], default="json", help="--about format")
    parser.add_argument("--version", action="version", version=f"{NAME} {__version__}")
    args = parser.parse_args(argv)

    if args.about:
        print(json.dumps(about(), indent=2))
        return 0
    if not args.config:
        _fail("--config CONFIG.json is required", 2)

    debug = os.environ.get("TAP_DEBUG", "") not in ("", "0")
    signal.signal(signal.SIGTERM, _on_sigterm)
    out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)  # noqa: SIM115
    try:
        cfg = load_config(args.config)
        if args.discover:
            out.write(json.dumps(discover(cfg), indent=2).encode() + b"\n")
            out.flush()
            return 0
        catalog_path = args.catalog or args.properties
        if catalog_path:
            plan = plan_from_catalog(load_json_file(catalog_path, "catalog"), cfg["stream_name"])
            if plan is None:
                info(f"stream {cfg['stream_name']} is not selected in the catalog; nothing to do")
                return 0
        else:
            plan = plan_from_discovery(cfg)
        state = load_json_file(args.state, "state") if args.state else {}
        paths = match_files(cfg["path"])
        if not paths:
            warn(f"no files match {cfg['path']}")
        Sync(cfg, plan, state, out, debug).run(paths)
        out.flush()
        return 0
    except BrokenPipeError:
        _silence_stdout()
        if debug:
            raise
        _fail("output closed (did the target stop?)")
    except KeyboardInterrupt:
        if debug:
            raise
        _fail("interrupted", 130)
    except TapError as exc:
        try:
            out.flush()
        except BrokenPipeError:
            _silence_stdout()
        if debug:
            raise
        _fail(str(exc))
    except Exception as exc:
        if debug:
            raise
        _fail(_one_line(exc))


if __name__ == "__main__":
    raise SystemExit(main())
