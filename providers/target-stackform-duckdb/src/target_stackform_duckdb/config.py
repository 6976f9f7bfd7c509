"""The target's settings and config file, and the error and log helpers every module reports with.

:data:`SETTINGS` is what ``--about`` prints; :func:`load_config` validates a config file against
it and fills in the defaults.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

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


class TargetError(Exception):
    """A failure reported to the user as one line."""


def warn(msg: str) -> None:
    sys.stderr.write(f"{NAME}: warning: {msg}\n")
    sys.stderr.flush()


def info(msg: str) -> None:
    sys.stderr.write(f"{NAME}: {msg}\n")
    sys.stderr.flush()


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
