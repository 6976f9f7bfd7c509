"""JSONL files: which files ``path`` names, and strict decoding of their lines to records.

Also the JSON encoder/decoder the sync uses (NaN and Infinity are rejected) and the names of the
file metadata columns.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from typing import Any

from tap_stackform_jsonl.config import TapError

FOLDER_SUFFIXES = (".jsonl", ".ndjson", ".jsonlines", ".json")
META_FILE = "_sdc_source_file"
META_LINE = "_sdc_source_lineno"
BOM = b"\xef\xbb\xbf"


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
