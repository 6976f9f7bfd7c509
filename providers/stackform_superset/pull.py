"""Pull: a dashboard as a server holds it, written back into the asset folder.

The round trip a BI developer makes every day: build in the dev Superset, pull, review the
diff, commit. Each object of the dashboard's export is written to ``<kind>s/<uuid>.yaml``
(a file that held the same UUID under another name is replaced, so names become stable),
without what the server numbers locally (``params.datasource``, ``query_context``, the
layout's ``chartId``, the dataset's ``catalog``), and undoing the environment's rewrite: a
database keeps the folder's ``sqlalchemy_uri`` (the export's password is masked anyway), and a
dataset's schema maps back through the environment's ``schemas`` (a schema the folder does not
know is kept as exported). Objects of the dashboard's previous closure that the export no longer
holds, and that no other dashboard of the folder uses, are deleted.

``stackform pull dashboards.NAME`` calls it through the provider
(:class:`stackform.provider.Pulls`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackform.fileio import atomic_write
from stackform_superset.bundle import (
    Asset,
    BundleError,
    DatabaseTarget,
    closure,
    derive_uuid,
    lint,
    mask_uri,
    read_assets,
    read_zip,
    replace_strings,
)
from stackform_superset.client import SupersetClient

_LOCAL = {"chart": (("params", "datasource"), ("params", "slice_id"), ("params", "dashboards")),
          "dataset": (), "database": (), "dashboard": ()}


@dataclass(frozen=True)
class Pulled:
    written: tuple[str, ...]
    """Files written (relative to the folder), sorted."""
    removed: tuple[str, ...]
    """Files deleted: renamed to their stable name, or objects no longer in the dashboard."""


def pull(api: SupersetClient, dashboard_uuid: str, folder: Path,
         targets: Mapping[str, DatabaseTarget], env: str | None = None) -> Pulled:
    """Write the dashboard (its uuid in the folder) back into ``folder``; ``env`` is the
    environment's suffix under ``uuid_mode = "per_environment"``."""
    served = derive_uuid(dashboard_uuid, env) if env else dashboard_uuid
    exported = api.export_dashboard(served)
    if exported is None:
        raise BundleError(f"Superset at {api.url} has no dashboard {served}",
                          hint="apply the stack first, or check the dashboard's uuid")
    existing = read_assets(folder) if folder.exists() else {}
    cleaned = from_export(read_zip(exported), existing, dashboard_uuid, targets, env)
    problems = lint({a.uuid: a for a in cleaned})
    if problems:
        raise BundleError("the export cannot be used as it is: " + "; ".join(problems[:3]),
                          hint="fix the dashboard in Superset (every chart of its layout needs "
                          "its uuid) and pull again")
    written, removed = [], []
    for asset in cleaned:
        old = existing.get(asset.uuid)
        if old is not None and old.path != asset.bundle_path:
            (folder / old.path).unlink()
            removed.append(old.path)
        target = folder / asset.bundle_path
        target.parent.mkdir(parents=True, exist_ok=True)
        # files of the repository, committed: readable like the rest of it
        atomic_write(target, yaml.safe_dump(dict(asset.doc), sort_keys=False,
                                            allow_unicode=True).encode(), 0o644)
        written.append(asset.bundle_path)
    if dashboard_uuid in existing:
        removed += _orphans(existing, dashboard_uuid, {a.uuid for a in cleaned}, folder)
    return Pulled(tuple(sorted(written)), tuple(sorted(removed)))


def from_export(found: Mapping[str, Asset], existing: Mapping[str, Asset], dashboard_uuid: str,
                targets: Mapping[str, DatabaseTarget], env: str | None = None) -> list[Asset]:
    """The export's objects as the folder keeps them: the environment's UUIDs and suffixes
    (``per_environment``) and rewrite undone, server-local ids dropped, only the dashboard's
    closure (an export also carries charts linked to the dashboard but off its layout)."""
    if env:
        found = _unsuffixed(found, existing, env)
    cleaned = {a.uuid: _clean(a, existing.get(a.uuid), targets) for a in found.values()}
    if dashboard_uuid not in cleaned:
        return list(cleaned.values())
    return closure(cleaned, cleaned[dashboard_uuid])


def _unsuffixed(found: Mapping[str, Asset], existing: Mapping[str, Asset], env: str
                ) -> dict[str, Asset]:
    back = {derive_uuid(u, env): u for u in existing}
    out = {}
    for asset in found.values():
        doc = replace_strings(json.loads(json.dumps(asset.doc, default=str)), back)
        for key, suffix in (("database_name", f"_{env}"), ("dashboard_title", f" ({env})"),
                            ("slug", f"-{env}")):
            if isinstance(doc.get(key), str):
                doc[key] = doc[key].removesuffix(suffix)
        uuid = back.get(asset.uuid, asset.uuid)
        out[uuid] = Asset(asset.kind, uuid, asset.path, doc)
    return out


def _clean(asset: Asset, before: Asset | None, targets: Mapping[str, DatabaseTarget]
           ) -> Asset:
    doc: dict[str, Any] = json.loads(json.dumps(asset.doc, default=str))
    for path in _LOCAL[asset.kind]:
        node: Any = doc
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    if asset.kind == "chart":
        doc["query_context"] = None  # holds the server's ids; Superset rebuilds it
    if asset.kind == "dashboard":
        for node in (doc.get("position") or {}).values():
            if isinstance(node, dict) and isinstance(node.get("meta"), dict):
                node["meta"].pop("chartId", None)
    if asset.kind == "database":
        doc["sqlalchemy_uri"] = (before.doc.get("sqlalchemy_uri") if before is not None
                                 else mask_uri(str(doc.get("sqlalchemy_uri") or "")))
    if asset.kind == "dataset":
        doc["catalog"] = None
        back = {env: folder for t in targets.values() for folder, env in t.schemas.items()}
        schema = doc.get("schema")
        if schema in back:
            doc["schema"] = back[schema]
        elif before is not None and any(t.default_schema == schema for t in targets.values()):
            doc["schema"] = before.doc.get("schema")
    doc.pop("version", None)
    doc["version"] = "1.0.0"
    return Asset(asset.kind, asset.uuid, asset.bundle_path, doc)


def _orphans(existing: Mapping[str, Asset], dashboard_uuid: str, kept: set[str],
             folder: Path) -> list[str]:
    """Files of the dashboard's previous closure it no longer needs, when no other dashboard
    of the folder needs them either (databases are the bi block's: never removed)."""
    previous = {a.uuid for a in closure(existing, existing[dashboard_uuid])}
    others: set[str] = set()
    for asset in existing.values():
        if asset.kind == "dashboard" and asset.uuid != dashboard_uuid:
            others |= {a.uuid for a in closure(existing, asset)}
    removed = []
    for uuid in sorted(previous - kept - others):
        asset = existing[uuid]
        if asset.kind == "database":
            continue
        (folder / asset.path).unlink(missing_ok=True)
        removed.append(asset.path)
    return removed
