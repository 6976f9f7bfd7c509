"""A Singer tap for JSONL files that is incremental by byte offset.

One stream reads every file matched by ``path`` (a file, a folder or a glob). The bookmark of each
file is the number of bytes of complete lines already emitted, with the size, mtime and inode the
file had when it was read. The next run seeks to that offset and emits only the lines appended
since; a file whose inode changed (replaced) or that shrank (truncated) is read again from the
start. Only complete lines (ending in a newline) are read: a line still being written is left for
the next run. A STATE message is written after each file and every ``state_every_rows`` records,
and always describes exactly the records emitted before it.

The command line and ``main`` (the console script ``tap-stackform-jsonl`` and ``python -m
tap_stackform_jsonl``) live here; the parts are in :mod:`.config` (settings, config file),
:mod:`.files` (matching files, decoding lines), :mod:`.discovery` (schema inference, catalog),
:mod:`.catalog` (reading a selected catalog) and :mod:`.sync` (bookmarks and messages). Their
names are re-exported here.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any, NoReturn

from tap_stackform_jsonl import __version__
from tap_stackform_jsonl.catalog import Plan, plan_from_catalog, plan_from_discovery
from tap_stackform_jsonl.config import (
    NAME,
    SETTINGS,
    TapError,
    info,
    load_config,
    load_json_file,
    warn,
)
from tap_stackform_jsonl.discovery import discover, infer_schema
from tap_stackform_jsonl.files import (
    BOM,
    FOLDER_SUFFIXES,
    META_FILE,
    META_LINE,
    iter_records,
    match_files,
    parse_line,
)
from tap_stackform_jsonl.sync import Sync

__all__ = [
    "BOM",
    "FOLDER_SUFFIXES",
    "META_FILE",
    "META_LINE",
    "NAME",
    "SETTINGS",
    "Plan",
    "Sync",
    "TapError",
    "about",
    "discover",
    "infer_schema",
    "info",
    "iter_records",
    "load_config",
    "load_json_file",
    "main",
    "match_files",
    "parse_line",
    "plan_from_catalog",
    "plan_from_discovery",
    "warn",
]

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=NAME, description="Incremental Singer tap for JSONL")
    parser.add_argument("-c", "--config", help="config JSON file")
    parser.add_argument("-d", "--discover", action="store_true", help="print the catalog")
    parser.add_argument("--catalog", help="catalog JSON file (stream and property selection)")
    parser.add_argument("-p", "--properties", help="same as --catalog (older Singer taps)")
    parser.add_argument("-s", "--state", help="state JSON file from a previous run")
    parser.add_argument("--about", action="store_true", help="print settings as JSON")
    parser.add_argument("--format", choices=["json"], default="json", help="--about format")
    parser.add_argument("--version", action="version", version=f"{NAME} {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

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
