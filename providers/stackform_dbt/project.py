"""The dbt project as files, and the summary of its manifest: what the data-aware plan compares.

Reading is cheap on purpose (``read`` runs on every plan): no dbt process, only
``dbt_project.yml`` and a sha256 of each file under the project's model, seed, test, macro and
snapshot paths. A file's digest is dbt's own checksum: the sha256 of its text with surrounding
blanks stripped, which is what ``manifest.json`` records for models, seeds and snapshots. Apply
records the digests and, from the manifest, each node's checksum, file, properties file, project
macros it uses, direct children and ``persist_docs``; for each properties file it records
:func:`properties_digest` (the file without descriptions, and each node's descriptions), so a
change of descriptions only modifies a node when it persists them, as dbt's ``state:modified``
has it. :mod:`.changes` compares the two to name new, changed and removed nodes and what they
touch downstream.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PATH_KEYS: dict[str, list[str]] = {
    "model-paths": ["models"],
    "seed-paths": ["seeds"],
    "test-paths": ["tests"],
    "macro-paths": ["macros"],
    "snapshot-paths": ["snapshots"],
}
"""The folders of a project that make nodes, with dbt's defaults."""
TOP_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "selectors.yml")
NODE_TYPES = ("model", "seed", "snapshot", "test", "source")
PERSISTED = ("relation", "columns")
"""The keys of dbt's ``persist_docs``: with one on, a change of the matching descriptions
modifies the node (dbt's ``same_persisted_description``); with none, descriptions never do."""
DESCRIBED = {"models": "model", "seeds": "seed", "snapshots": "snapshot", "sources": None,
             "analyses": None, "macros": None}
"""Sections of a properties file whose descriptions are only documentation, and the node type
of their entries that may persist them."""
YAML_SUFFIXES = (".yml", ".yaml")


# -- dbt_project.yml ----------------------------------------------------------------------------


def read_project_file(project_dir: Path) -> dict[str, Any]:
    """The top-level keys of ``dbt_project.yml`` (empty when there is none or it is not YAML:
    dbt's parse at apply says what is wrong with it)."""
    data = read_yaml(project_dir / "dbt_project.yml")
    return data if isinstance(data, dict) else {}


def read_yaml(path: Path) -> Any:
    """A YAML file's data; ``None`` when it is missing or does not parse."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError:
        return None


def project_paths(project: Mapping[str, Any]) -> dict[str, list[str]]:
    """``model-paths`` and friends, as the project sets them or dbt's defaults."""
    paths: dict[str, list[str]] = {}
    for key, default in PATH_KEYS.items():
        value = project.get(key)
        if isinstance(value, str):
            value = [value]
        paths[key] = [str(v).strip("/") for v in value] if isinstance(value, list) else default
    return paths


# -- files --------------------------------------------------------------------------------------


def file_digest(path: Path) -> str:
    """dbt's checksum of a file: sha256 of its text, surrounding blanks stripped."""
    data = path.read_bytes()
    try:
        return hashlib.sha256(data.decode("utf-8").strip().encode("utf-8")).hexdigest()
    except UnicodeDecodeError:
        return hashlib.sha256(data).hexdigest()


def project_files(project_dir: Path) -> dict[str, str]:
    """Every file that makes the project's nodes, by path relative to the project: its digest."""
    files: dict[str, str] = {}
    for name in TOP_FILES:
        if (project_dir / name).is_file():
            files[name] = file_digest(project_dir / name)
    for folders in project_paths(read_project_file(project_dir)).values():
        for folder in folders:
            root = project_dir / folder
            if not root.is_dir():
                continue
            for path in root.rglob("*"):
                rel = path.relative_to(project_dir)
                if path.is_file() and not any(p.startswith(".") for p in rel.parts):
                    files[rel.as_posix()] = file_digest(path)
    return dict(sorted(files.items()))


def changed_paths(before: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """The files changed, added or removed between two :func:`project_files`, sorted."""
    return sorted(f for f in before.keys() | now.keys() if before.get(f) != now.get(f))


def files_digest(files: Mapping[str, str]) -> str:
    canonical = json.dumps(sorted(files.items()), separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def is_properties_file(path: str) -> bool:
    """A YAML file under a node folder (``dbt_project.yml`` and friends are not)."""
    return path.endswith(YAML_SUFFIXES) and path not in TOP_FILES


def properties_digest(path: Path) -> dict[str, Any] | None:
    """A properties file in two parts: ``rest``, the digest of its data without the
    descriptions of models, seeds, snapshots, sources, analyses and macros (and their columns,
    tables and arguments), and ``docs``, for each model, seed and snapshot (``"model
    stg_orders"``), the digests of its own description and of its columns' descriptions.

    Two versions with the same ``rest`` differ only in descriptions, comments or layout.
    ``None`` when the file does not parse (any change to it then counts)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        return None
    rest = dict(data)
    docs: dict[str, dict[str, str]] = {}
    for section, node_type in DESCRIBED.items():
        entries = data.get(section)
        if not isinstance(entries, list):
            continue
        rest[section] = [_undescribed(e) for e in entries]
        for entry in entries:
            if node_type is None or not isinstance(entry, dict) or "name" not in entry:
                continue
            columns = entry.get("columns")
            if not isinstance(columns, list):
                columns = []
            docs[f"{node_type} {entry['name']}"] = {
                "relation": _digest(entry.get("description")),
                "columns": _digest({str(c.get("name")): c.get("description")
                                    for c in columns if isinstance(c, dict)}),
            }
    try:
        return {"rest": _digest(rest), "docs": docs}
    except (TypeError, ValueError):  # keys JSON cannot sort (mixed types): count any change
        return None


def _undescribed(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    out = {k: v for k, v in entry.items() if k != "description"}
    for key in ("columns", "tables", "arguments"):
        if isinstance(out.get(key), list):
            out[key] = [_undescribed(e) for e in out[key]]
    return out


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def project_properties(project_dir: Path, files: Iterable[str]) -> dict[str, Any]:
    """:func:`properties_digest` of every properties file among ``files``."""
    return {f: properties_digest(project_dir / f) for f in files if is_properties_file(f)}


# -- the manifest -------------------------------------------------------------------------------


def summarise_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What the plan needs from ``manifest.json``, for the root project's nodes only.

    ``{"project": name, "nodes": {unique_id: {type, name, label, path, checksum, patch,
    macros, children}}, "macros": {unique_id: path}}``: JSON-serialisable, a few hundred bytes
    per node.
    """
    project = str((manifest.get("metadata") or {}).get("project_name") or "")
    roots: dict[str, Mapping[str, Any]] = {}
    for uid, node in {**(manifest.get("nodes") or {}), **(manifest.get("sources") or {})}.items():
        if node.get("resource_type") in NODE_TYPES and (
                not project or node.get("package_name") == project):
            roots[uid] = node
    macros = {uid: str(m.get("original_file_path") or "")
              for uid, m in (manifest.get("macros") or {}).items()
              if project and m.get("package_name") == project}
    child_map = manifest.get("child_map") or {}
    nodes: dict[str, Any] = {}
    for uid, node in sorted(roots.items()):
        kind = str(node["resource_type"])
        checksum = node.get("checksum") or {}
        patch = str(node.get("patch_path") or "")
        nodes[uid] = {
            "type": kind,
            "name": str(node.get("name") or uid),
            "label": _label(kind, node),
            "path": str(node.get("original_file_path") or ""),
            "checksum": checksum.get("checksum") if checksum.get("name") == "sha256" else None,
            "patch": patch.split("://", 1)[1] if "://" in patch else (patch or None),
            "macros": sorted(m for m in (node.get("depends_on") or {}).get("macros") or ()
                             if m in macros),
            "children": sorted(c for c in child_map.get(uid) or () if c in roots),
        }
        persisted = ((node.get("config") or {}).get("persist_docs") or {})
        if isinstance(persisted, Mapping) and any(persisted.get(k) for k in PERSISTED):
            nodes[uid]["persist_docs"] = [k for k in PERSISTED if persisted.get(k)]
    return {"project": project, "nodes": nodes, "macros": macros}


def _label(kind: str, node: Mapping[str, Any]) -> str:
    if kind == "source":
        return f"{node.get('source_name')}.{node.get('name')}"
    fqn = [str(p) for p in node.get("fqn") or ()]
    if kind in ("model", "seed", "snapshot") and len(fqn) > 1:
        return ".".join(fqn[1:])
    return str(node.get("name"))
