"""Superset asset bundles: read a folder in Superset's own layout, close over a dashboard,
rewrite it for an environment, zip it for the import endpoint, normalise exports and lint.

Identity is the ``uuid`` inside each YAML file, never its file name nor a server's numeric id.
A dashboard's closure is its charts (the ``CHART`` nodes of its ``position``, by
``meta.uuid``), their datasets (``dataset_uuid``) and those datasets' databases
(``database_uuid``). Nothing here talks to a server or knows a password: passwords travel
beside the zip, in the import's ``passwords`` field (:mod:`.client`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import uuid as uuid_mod
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stackform.errors import StackformError

FOLDERS = {"databases": "database", "datasets": "dataset", "charts": "chart",
           "dashboards": "dashboard"}
"""Superset's asset folders and the kind of object each holds, in import order."""
KIND_ORDER = tuple(FOLDERS.values())
NAME_KEYS = {"database": "database_name", "dataset": "table_name", "chart": "slice_name",
             "dashboard": "dashboard_title"}
MASK = "XXXXXXXXXX"
"""What Superset writes in place of a password in an export."""
BUNDLE_ROOT = "stackform_bundle"
_URI_PASSWORD = re.compile(r"^(?P<head>[^:/?#]+://[^:@/]*:)(?P<password>[^@/]*)(?P<tail>@.*)$")
# Server-local or import-added values that never describe what the stack wants.
_DROP = {
    "chart": (("query_context",), ("params", "datasource"), ("params", "slice_id"),
              ("params", "dashboards"), ("version",), ("dataset_uuid_local",)),
    "dataset": (("version",), ("catalog",)),
    "database": (("version",),),
    "dashboard": (("version",), ("metadata", "positions"), ("metadata", "chart_configuration"),
                  ("metadata", "global_chart_configuration"), ("metadata", "map_label_colors"),
                  ("metadata", "shared_label_colors"), ("metadata", "color_scheme_domain")),
}


class BundleError(StackformError):
    """An asset folder or bundle that cannot be used as it is."""


@dataclass(frozen=True)
class Asset:
    kind: str
    uuid: str
    path: str
    """Where it was read from, relative to the asset folder (or the export's root)."""
    doc: Mapping[str, Any] = field(compare=False)

    @property
    def name(self) -> str:
        return str(self.doc.get(NAME_KEYS[self.kind]) or self.uuid)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def bundle_path(self) -> str:
        """Its path inside the zip stackform imports: stable, by UUID."""
        return f"{self.kind}s/{self.uuid}.yaml"

    def references(self) -> list[str]:
        """The UUIDs this object needs, in the order they appear."""
        if self.kind == "chart":
            return [str(self.doc["dataset_uuid"])] if self.doc.get("dataset_uuid") else []
        if self.kind == "dataset":
            return [str(self.doc["database_uuid"])] if self.doc.get("database_uuid") else []
        if self.kind == "dashboard":
            return [uuid for _, uuid in chart_nodes(self.doc) if uuid]
        return []


def chart_nodes(dashboard: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """``(node id, chart uuid or None)`` of each CHART node of a dashboard's layout."""
    position = dashboard.get("position") or {}
    found = []
    for key, node in position.items() if isinstance(position, Mapping) else ():
        if isinstance(node, Mapping) and node.get("type") == "CHART":
            meta = node.get("meta") or {}
            uuid = meta.get("uuid") if isinstance(meta, Mapping) else None
            found.append((str(key), str(uuid) if uuid else None))
    return found


# -- reading ------------------------------------------------------------------------------------


def read_assets(folder: Path) -> dict[str, Asset]:
    """Every object of an asset folder, by UUID."""
    if not folder.is_dir():
        raise BundleError(f"the asset folder {folder} does not exist",
                          hint="create it with `stackform bi pull`, or fix `assets`")
    found: dict[str, Asset] = {}
    for sub, kind in FOLDERS.items():
        for path in sorted((folder / sub).rglob("*.y*ml")):
            relative = path.relative_to(folder).as_posix()
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise BundleError(f"cannot read {relative} in {folder}: {_reason(exc)}",
                                  hint="fix the file, or export it again from Superset") from None
            _add(found, kind, relative, doc, str(folder))
    return found


def _reason(exc: Exception) -> str:
    """One line: a YAML error's problem and where (its text spans lines)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return " ".join(str(exc).split())


def _add(found: dict[str, Asset], kind: str, relative: str, doc: Any, where: str) -> None:
    if not isinstance(doc, dict) or not doc.get("uuid"):
        raise BundleError(f"{relative} in {where} has no uuid",
                          hint="every Superset asset file carries its object's uuid")
    uuid = str(doc["uuid"])
    if uuid in found:
        raise BundleError(f"{relative} and {found[uuid].path} in {where} have the same uuid "
                          f"{uuid}", hint="remove the copy: the uuid is the object's identity")
    found[uuid] = Asset(kind, uuid, relative, doc)


def find_dashboard(assets: Mapping[str, Asset], *, uuid: str | None = None,
                   slug: str | None = None, where: str = "the asset folder") -> Asset:
    dashboards = [a for a in assets.values() if a.kind == "dashboard"]
    match = [a for a in dashboards
             if (uuid is not None and a.uuid == uuid)
             or (slug is not None and a.doc.get("slug") == slug)]
    if len(match) == 1:
        return match[0]
    wanted = f"uuid {uuid}" if uuid else f"slug {slug!r}"
    known = ", ".join(sorted(f"{a.name!r} ({a.doc.get('slug') or a.uuid})" for a in dashboards))
    if not match:
        raise BundleError(f"no dashboard with {wanted} in {where}",
                          hint=f"dashboards there: {known}" if known else
                          "the folder holds no dashboard: build one in Superset and pull it")
    raise BundleError(f"{len(match)} dashboards with {wanted} in {where}",
                      hint="give each dashboard its own slug, or name it by uuid")


def closure(assets: Mapping[str, Asset], dashboard: Asset) -> list[Asset]:
    """The dashboard and everything it needs, databases first (the import order)."""
    seen: dict[str, Asset] = {}
    todo = [dashboard.uuid]
    while todo:
        uuid = todo.pop()
        if uuid in seen:
            continue
        asset = assets.get(uuid)
        if asset is None:
            continue  # lint reports it; the import would fail on it
        seen[uuid] = asset
        todo.extend(asset.references())
    return sorted(seen.values(), key=lambda a: (KIND_ORDER.index(a.kind), a.name, a.uuid))


def lint(assets: Mapping[str, Asset], only: Iterable[Asset] | None = None) -> list[str]:
    """Problems that would make an import fail or lie: references to missing objects, charts
    of a layout without their uuid, passwords in clear."""
    problems = []
    for asset in sorted(only if only is not None else assets.values(), key=lambda a: a.path):
        for uuid in asset.references():
            if uuid not in assets:
                problems.append(f"{asset.path} ({asset.label}) refers to {uuid}, which no file "
                                "of the folder holds")
        if asset.kind == "dashboard":
            for node, chart in chart_nodes(asset.doc):
                if not chart:
                    problems.append(f"{asset.path} ({asset.label}): layout node {node} has no "
                                    "meta.uuid (the chart it shows is unknown)")
        if asset.kind == "database":
            password = uri_password(str(asset.doc.get("sqlalchemy_uri") or ""))
            if password not in (None, "", MASK):
                problems.append(f"{asset.path} ({asset.label}): sqlalchemy_uri holds a password "
                                f"in clear (write {MASK}; stackform sends the password apart)")
    return problems


def uri_password(uri: str) -> str | None:
    """The password written in a SQLAlchemy URI, or None."""
    m = _URI_PASSWORD.match(uri)
    return m.group("password") if m else None


def mask_uri(uri: str) -> str:
    m = _URI_PASSWORD.match(uri)
    return f"{m.group('head')}{MASK}{m.group('tail')}" if m else uri


# -- one environment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseTarget:
    """Where one database of the bundle points in an environment."""

    sqlalchemy_uri: str
    schemas: Mapping[str, str] = field(default_factory=dict)
    default_schema: str | None = None
    """The schema of every dataset ``schemas`` does not map (a dbt transformer's)."""

    def schema_for(self, schema: str | None) -> str | None:
        if schema is not None and schema in self.schemas:
            return self.schemas[schema]
        return self.default_schema or schema


def rewrite(assets: Iterable[Asset], targets: Mapping[str, DatabaseTarget]) -> list[Asset]:
    """The objects as this environment imports them: each database named in ``targets`` (by
    ``database_name``) gets its URI, and its datasets their mapped schema."""
    items = list(assets)
    by_uuid = {a.uuid: a for a in items}
    out = []
    for asset in items:
        doc = json.loads(json.dumps(asset.doc))  # a deep copy, JSON-shaped
        if asset.kind == "database" and asset.name in targets:
            doc["sqlalchemy_uri"] = targets[asset.name].sqlalchemy_uri
        if asset.kind == "dataset":
            database = by_uuid.get(str(doc.get("database_uuid")))
            target = targets.get(database.name) if database else None
            if target is not None:
                doc["schema"] = target.schema_for(doc.get("schema"))
            doc.pop("catalog", None)  # the server derives it from the connection
        if asset.kind == "dashboard":
            _number_charts(doc)
        out.append(Asset(asset.kind, asset.uuid, asset.path, doc))
    return out


def derive_uuid(uuid: str, env: str) -> str:
    """The UUID an object of the folder has in environment ``env`` (``uuid_mode =
    "per_environment"``): stable, and different in each environment."""
    return str(uuid_mod.uuid5(uuid_mod.UUID(uuid), env))


def per_environment(assets: Iterable[Asset], env: str) -> list[Asset]:
    """The objects with UUIDs derived for ``env`` (every reference too), the databases' names
    and the dashboards' titles and slugs suffixed: several environments share one server.
    Superset matches databases by name, so without the suffix two environments would take
    over each other's connection."""
    items = list(assets)
    mapping = {a.uuid: derive_uuid(a.uuid, env) for a in items}
    out = []
    for asset in items:
        doc = replace_strings(json.loads(json.dumps(asset.doc, default=str)), mapping)
        if asset.kind == "database":
            doc["database_name"] = f"{doc.get('database_name')}_{env}"
        if asset.kind == "dashboard":
            doc["dashboard_title"] = f"{doc.get('dashboard_title')} ({env})"
            if doc.get("slug"):
                doc["slug"] = f"{doc['slug']}-{env}"
        out.append(Asset(asset.kind, mapping[asset.uuid], asset.path, doc))
    return out


def replace_strings(value: Any, mapping: Mapping[str, str]) -> Any:
    """Every string equal to a key of ``mapping`` replaced (UUIDs are referenced from many
    places: ``dataset_uuid``, the layout, native filters' targets...)."""
    if isinstance(value, dict):
        return {k: replace_strings(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_strings(v, mapping) for v in value]
    if isinstance(value, str):
        return mapping.get(value, value)
    return value


def _number_charts(dashboard: dict[str, Any]) -> None:
    """Give each layout chart a ``meta.chartId`` (the importer maps old ids to new ones by it
    and fails without one); ids an export wrote are kept, the metadata may refer to them."""
    nodes = [n for n in (dashboard.get("position") or {}).values()
             if isinstance(n, dict) and n.get("type") == "CHART"
             and isinstance(n.get("meta"), dict)]
    used = {n["meta"]["chartId"] for n in nodes if isinstance(n["meta"].get("chartId"), int)}
    fresh = (i for i in range(1, len(nodes) + len(used) + 2) if i not in used)
    for node in nodes:
        if not isinstance(node["meta"].get("chartId"), int):
            node["meta"]["chartId"] = next(fresh)


def to_zip(assets: Iterable[Asset]) -> bytes:
    """An ``assets`` bundle for ``POST /api/v1/assets/import/`` (files named by UUID)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{BUNDLE_ROOT}/metadata.yaml",
                    yaml.safe_dump({"version": "1.0.0", "type": "assets",
                                    "timestamp": "1970-01-01T00:00:00+00:00"}))
        for asset in assets:
            zf.writestr(f"{BUNDLE_ROOT}/{asset.bundle_path}",
                        yaml.safe_dump(dict(asset.doc), sort_keys=False, allow_unicode=True))
    return buffer.getvalue()


def read_zip(data: bytes) -> dict[str, Asset]:
    """The objects of an export zip, by UUID (paths relative to its root folder)."""
    found: dict[str, Asset] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in sorted(zf.namelist()):
                parts = name.split("/")
                if len(parts) < 3 or parts[1] not in FOLDERS or not name.endswith(".yaml"):
                    continue
                doc = yaml.safe_load(zf.read(name).decode("utf-8"))
                _add(found, FOLDERS[parts[1]], "/".join(parts[1:]), doc, "the export")
    except (zipfile.BadZipFile, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BundleError(f"Superset's export is not a readable zip of YAML: {exc}",
                          hint="check the server's version and log") from None
    return found


# -- comparing ----------------------------------------------------------------------------------


def normalise(asset: Asset) -> dict[str, Any]:
    """The object without what a server adds or numbers locally: what drift compares."""
    doc: dict[str, Any] = json.loads(json.dumps(asset.doc, default=str))
    for path in _DROP[asset.kind]:
        _pop(doc, path)
    if asset.kind == "database" and isinstance(doc.get("sqlalchemy_uri"), str):
        doc["sqlalchemy_uri"] = mask_uri(doc["sqlalchemy_uri"])
    if asset.kind == "chart" and isinstance(doc.get("params"), str):
        # an API-made chart may carry its params as a JSON string
        with contextlib.suppress(ValueError):
            doc["params"] = json.loads(doc["params"])
    if asset.kind == "dashboard" and isinstance(doc.get("position"), dict):
        for node in doc["position"].values():
            if isinstance(node, dict) and isinstance(node.get("meta"), dict):
                node["meta"].pop("chartId", None)
    if asset.kind == "dataset":
        for key in ("columns", "metrics"):
            if isinstance(doc.get(key), list):
                name = "column_name" if key == "columns" else "metric_name"
                doc[key] = sorted(doc[key], key=lambda c: str(c.get(name)))
    return doc


def _pop(doc: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = doc
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def digest(doc: Mapping[str, Any]) -> str:
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def differences(before: Any, after: Any, *, path: str = "", only_after_keys: bool = False,
                limit: int = 5) -> list[str]:
    """``params.row_limit: 100 -> 10`` lines, at most ``limit``. ``only_after_keys`` compares
    only what ``after`` sets (a bundle object against an export, whose extra keys are the
    server's defaults)."""
    found: list[str] = []
    _diff(before, after, path, only_after_keys, found)
    if len(found) > limit:
        return [*found[:limit], f"and {len(found) - limit} more"]
    return found


def _diff(before: Any, after: Any, path: str, only_after: bool, found: list[str]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(after) if only_after else sorted({*before, *after})
        for key in keys:
            sub = f"{path}.{key}" if path else str(key)
            if key not in before:
                found.append(f"{sub}: (unset) -> {_short(after[key])}")
            elif key not in after:
                found.append(f"{sub}: {_short(before[key])} -> (unset)")
            else:
                _diff(before[key], after[key], sub, only_after, found)
        return
    if before != after:
        found.append(f"{path or '(value)'}: {_short(before)} -> {_short(after)}")


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
