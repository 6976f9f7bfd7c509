"""A Singer target for DuckDB.

Reads Singer messages (JSON lines) on stdin. Records are appended, as raw message lines, to one
newline-delimited JSON file per stream; a batch is loaded with a single
``INSERT ... SELECT ... FROM read_json(..., columns={explicit types})`` so DuckDB parses and
converts the rows itself and never guesses a type or a header. A STATE message flushes every
stream, commits, and only then writes the state value to stdout.

The command line and ``main`` (the console script ``target-stackform-duckdb`` and ``python -m
target_stackform_duckdb``) live here; the parts are in :mod:`.config` (settings, config file),
:mod:`.sql` (identifiers and type mapping), :mod:`.messages` (reading the Singer messages) and
:mod:`.loading` (tables, batches, transactions). Their names are re-exported here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from typing import Any, NoReturn

from target_stackform_duckdb import __version__
from target_stackform_duckdb.config import (
    LOAD_METHODS,
    NAME,
    SETTINGS,
    TargetError,
    info,
    load_config,
    warn,
)
from target_stackform_duckdb.loading import META_COLUMNS, Loader, Stream
from target_stackform_duckdb.messages import Target
from target_stackform_duckdb.sql import qi, ql, snake, sql_type

__all__ = [
    "LOAD_METHODS",
    "META_COLUMNS",
    "NAME",
    "SETTINGS",
    "Loader",
    "Stream",
    "Target",
    "TargetError",
    "about",
    "info",
    "load_config",
    "main",
    "qi",
    "ql",
    "snake",
    "sql_type",
    "warn",
]

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
