"""The transformer's lineage: dbt's compiled manifest, read by :mod:`.sql_lineage`.

The compiled SQL comes from dbt itself (``dbt compile``, whose manifest carries each model's
``compiled_code``). Right after an apply the project is as applied: the manifest in the
environment's ``target/`` is used when it is compiled, else ``dbt compile`` writes it there
(once; the next plan reuses it). A plan of a project edited since its apply compiles the
edited project into a temporary folder, leaving the applied ``target/`` alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from stackform.errors import StackformError
from stackform.lineage.model import LineageFragment, LineageGraph
from stackform.plugins.kit import runtime_dir
from stackform.provider import Context
from stackform.resource import Resource
from stackform_dbt.project import changed_paths, project_files
from stackform_dbt.run import Invocation, prepare
from stackform_dbt.sql_lineage import SQL_NODES, manifest_lineage

RunDbt = Callable[[Context, Resource, Invocation, list[str], str], None]
"""How the provider runs a dbt command that must succeed (``TransformerProvider._dbt``)."""


def dbt_lineage(ctx: Context, resource: Resource, outputs: Mapping[str, Any],
                upstream: LineageGraph, run_dbt: RunDbt) -> LineageFragment:
    if not isinstance(outputs.get("files"), Mapping):
        return LineageFragment(warnings=("the dbt project is compiled at apply: its models' "
                                         "columns are not known yet",), complete=False)
    inv = prepare(ctx, resource)
    applied = not changed_paths(outputs["files"], project_files(inv.project_dir))
    if applied:
        manifest = _compiled(inv.target_path / "manifest.json")
        if manifest is None:
            run_dbt(ctx, resource, inv, ["compile"], "dbt compile (lineage)")
            manifest = _compiled(inv.target_path / "manifest.json")
        return _fragment(resource, manifest, upstream)
    with runtime_dir(ctx, "dbt-lineage") as tmp:
        edited = replace(inv, target_path=tmp / "target")
        run_dbt(ctx, resource, edited, ["compile"], "dbt compile (lineage of the edited project)")
        return _fragment(resource, _compiled(edited.target_path / "manifest.json"), upstream)


def _fragment(resource: Resource, manifest: Mapping[str, Any] | None, upstream: LineageGraph
              ) -> LineageFragment:
    if manifest is None:
        raise StackformError(f"{resource.address}: dbt compile left no compiled manifest")
    return manifest_lineage(resource.address, manifest, upstream)


def _compiled(path: Path) -> dict[str, Any] | None:
    """``manifest.json`` when every model and snapshot in it has its compiled SQL (``dbt
    parse`` leaves none, ``dbt build --select`` only some), else ``None``."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    nodes = (manifest.get("nodes") or {}).values()
    if all(n.get("compiled_code") for n in nodes if n.get("resource_type") in SQL_NODES):
        return manifest
    return None
