"""What a loader's run really landed: the tables and columns of its target schema, read from the
warehouse's own catalog (``information_schema.columns`` of DuckDB or PostgreSQL) after a
successful run and kept in the loader's folder, so its lineage names what is there instead of
guessing the loader's normalisation (docs/lineage.md).

The catalog is read with the loader's own venv (it has the database driver the target uses), as
:mod:`stackform_singer.landing` counts rows: stackform needs no database library. The
connection settings, password included, reach that process on its standard input only.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackform.errors import StackformError
from stackform.plugins.kit import install, plugin_dir, write_private
from stackform.provider import Context, RunContext, RunStep
from stackform.resource import Resource
from stackform.supervise import popen
from stackform.textsafe import safe_text
from stackform_singer.landing import Columns, connection, serving_script

FILE = "warehouse.columns.json"
TIMEOUT = 60.0

def read_columns(python: str | Path, env: Mapping[str, str] | None, params: Mapping[str, Any]
                 ) -> Columns:
    """``{table: [[column, type], ...]}`` of the schema ``params`` name, read by ``python``
    (a venv with the database driver); :class:`StackformError` saying why when it cannot."""
    request = {**params, "since": None, "count": False, "columns": True}
    try:
        proc = popen([str(python), "-c", serving_script(request)], env=env,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
    except OSError as exc:
        raise StackformError(f"cannot start {python}: {exc.strerror or exc}") from exc
    try:
        out, err = proc.communicate(json.dumps(request) + "\n", timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise StackformError(f"the warehouse did not answer within {TIMEOUT:.0f} s") from None
    try:
        answer = json.loads(out)
    except ValueError:
        last = [line.strip() for line in err.splitlines() if line.strip()][-1:] or [
            f"exit code {proc.returncode}" if proc.returncode else "no answer"]
        said = safe_text(last[0], newlines=False)
        raise StackformError(f"the warehouse's catalog could not be read: {said}") from None
    if "error" in answer:
        said = safe_text(str(answer["error"]), newlines=False)
        raise StackformError(f"the warehouse's catalog could not be read: {said}")
    return {str(t): [[str(c), str(d)] for c, d in cols] for t, cols in answer["columns"].items()}


def keep(ctx: Context, resource: Resource, schema: str, tables: Columns, run_id: str) -> None:
    """Keep the loader's schema as run ``run_id`` read it, for the lineage."""
    write_private(plugin_dir(ctx, resource.address) / FILE,
                  {"schema": schema, "tables": tables, "run": run_id})


def confirm(run: RunContext, step: RunStep) -> None:
    """Read the loader's schema from the warehouse and keep it in the loader's folder (nothing
    for a loader into a database stackform cannot read, nor when the run's last count already
    read it: :func:`stackform_singer.pipe` asks for the columns with the rows landed)."""
    kept = confirmed(run.ctx, step.resource)
    if kept is not None and kept.get("run") == run.run_id:
        return
    params = connection(run.ctx, step)
    if params is None:
        return
    venv = install(run.ctx, step.resource)  # the run installed it: found in the cache
    keep(run.ctx, step.resource, params["schema"],
         read_columns(venv.python, venv.environ(), params), run.run_id)


def confirmed(ctx: Context, resource: Resource) -> dict[str, Any] | None:
    """What the last run's confirmation kept: ``{"schema", "tables"}``, or ``None``."""
    try:
        data = json.loads((plugin_dir(ctx, resource.address) / FILE).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("tables"), dict):
        return data
    return None


def token(ctx: Context, resource: Resource) -> str:
    """A digest of what the confirmation kept (``""`` when none); the same whichever run kept
    it, so a run that finds the same columns does not make the next plan work the lineage out
    again."""
    data = confirmed(ctx, resource)
    if data is None:
        return ""
    body = json.dumps({"schema": data.get("schema"), "tables": data["tables"]}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]
