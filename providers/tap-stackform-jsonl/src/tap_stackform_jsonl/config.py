"""The tap's settings and config file, and the error and log helpers every module reports with.

:data:`SETTINGS` is what ``--about`` prints; :func:`load_config` validates a config file against
it and fills in the defaults.
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

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


class TapError(Exception):
    """A failure reported to the user as one line."""


def warn(msg: str) -> None:
    sys.stderr.write(f"{NAME}: warning: {msg}\n")
    sys.stderr.flush()


def info(msg: str) -> None:
    sys.stderr.write(f"{NAME}: {msg}\n")
    sys.stderr.flush()


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
