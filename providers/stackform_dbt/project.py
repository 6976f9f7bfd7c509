"""The dbt project as files, and the summary of its manifest: what the data-aware plan compares.

Reading is cheap on purpose (``read`` runs on every plan): no dbt process, only
``dbt_project.yml`` and a sha256 of each file under the project's model, seed, test, macro and
snapshot paths. A file's digest is dbt's own checksum: the sha256 of its text with surrounding
blanks stripped, which is what ``manifest.json`` records for models, seeds and snapshots. Apply
records the digests and, from the manifest, each node's checksum, file, properties file, project
macros it uses, direct children and ``persist_docs``; for each properties file it records
:func:`properties_digest` (the file without descriptions, and each node's descriptions), so a
change of descriptions only modifies a node when it persists them, as dbt's ``state:modified``
has it. :func:`changes` compares the two to name new, changed and removed nodes and what they
touch downstream.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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
_YAML_SUFFIXES = (".yml", ".yaml")
AFFECTS_SHOWN = 12


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
    return path.endswith(_YAML_SUFFIXES) and path not in TOP_FILES


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


# -- what changed -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    sign: str  # "+", "~", "-"
    kind: str
    label: str
    why: str
    uid: str | None = None


def _new_file_kind(path: str, paths: Mapping[str, list[str]]) -> str | None:
    def under(key: str) -> bool:
        return any(path == f or path.startswith(f + "/") for f in paths.get(key, ()))

    suffix = Path(path).suffix
    if suffix in _YAML_SUFFIXES:
        return "properties" if "/" in path else None
    if under("model-paths") and suffix in (".sql", ".py"):
        return "model"
    if under("seed-paths") and suffix == ".csv":
        return "seed"
    if under("snapshot-paths") and suffix == ".sql":
        return "snapshot"
    if under("test-paths") and suffix == ".sql":
        return "test"
    if under("macro-paths") and suffix == ".sql":
        return "macros"
    return None


PropertiesNow = Callable[[str], "dict[str, Any] | None"]
"""The :func:`properties_digest` of a properties file as it is now, by its project path."""
Docs = tuple[Mapping[str, Any], Mapping[str, Any]]
"""The ``docs`` of a properties file's :func:`properties_digest` at the last apply, and now."""


def _docs_only(path: str, recorded: Mapping[str, Any],
               read_now: PropertiesNow | None) -> Docs | None:
    """The recorded and current docs of a changed properties file whose change is only to
    descriptions, comments or layout; ``None`` when anything else changed (or cannot tell)."""
    was = recorded.get(path)
    if read_now is None or not isinstance(was, Mapping):
        return None
    now = read_now(path)
    if now is None or now.get("rest") != was.get("rest"):
        return None
    return was.get("docs") or {}, now.get("docs") or {}


def _persisted_change(node: Mapping[str, Any], docs: Docs) -> list[str]:
    """Which of a node's persisted descriptions (``relation``, ``columns``) changed."""
    key = f"{node.get('type')} {node.get('name')}"
    was, now = docs[0].get(key) or {}, docs[1].get(key) or {}
    return [k for k in node.get("persist_docs") or () if was.get(k) != now.get(k)]


def changes(summary: Mapping[str, Any], before: Mapping[str, str], now: Mapping[str, str],
            paths: Mapping[str, list[str]], properties: Mapping[str, Any] | None = None,
            properties_now: PropertiesNow | None = None
            ) -> tuple[list[Change], dict[str, list[str]]]:
    """The node changes since the apply that recorded ``summary``, ``before`` (file digests)
    and ``properties`` (:func:`properties_digest` by file), and for each changed or removed node
    the nodes downstream of it.

    A properties file whose change is to descriptions (or comments, or layout) only modifies
    no node, except a node whose changed description it persists (``persist_docs``): dbt's own
    ``state:modified`` rule. Every changed, new or removed file is named by some line."""
    nodes: Mapping[str, Mapping[str, Any]] = summary.get("nodes") or {}
    macro_files: Mapping[str, str] = summary.get("macros") or {}
    changed_files = {f for f in before.keys() & now.keys() if before[f] != now[f]}
    gone_files = before.keys() - now.keys()
    new_files = now.keys() - before.keys()
    docs_only = {f: d for f in sorted(changed_files) if is_properties_file(f)
                 and (d := _docs_only(f, properties or {}, properties_now)) is not None}
    explained: set[str] = set()
    out: list[Change] = []
    yaml_defined: dict[str, list[str]] = {}
    removed: dict[tuple[str, str], str] = {}
    for uid, node in nodes.items():
        path, kind = str(node.get("path") or ""), str(node.get("type"))
        in_yaml = path.endswith(_YAML_SUFFIXES)
        if path and path not in now:
            if not in_yaml or path in gone_files:
                out.append(Change("-", kind, node["label"], "removed", uid))
                removed[(kind, node["name"])] = uid
                explained.add(path)
            continue
        if in_yaml:
            # Tests and sources: descriptions are never part of what they are.
            if path in changed_files and path not in docs_only:
                yaml_defined.setdefault(path, []).append(f"{kind} {node['label']}")
            continue
        checksum = node.get("checksum")
        if checksum is not None and path in now:
            edited = now[path] != checksum
        else:
            edited = path in changed_files
        if edited:
            out.append(Change("~", kind, node["label"], "changed", uid))
            explained.add(path)
            continue
        patch = node.get("patch")
        if patch and patch in docs_only:
            persisted = _persisted_change(node, docs_only[patch])
            if persisted:
                which = " and ".join({"relation": "description",
                                      "columns": "column descriptions"}[k] for k in persisted)
                out.append(Change("~", kind, node["label"],
                                  f"{which} in {patch} changed; persisted by persist_docs", uid))
                explained.add(patch)
            continue
        if patch and patch in changed_files:
            out.append(Change("~", kind, node["label"], f"properties in {patch} changed", uid))
            explained.add(patch)
            continue
        macros = sorted({macro_files[m] for m in node.get("macros") or ()
                         if macro_files.get(m) in changed_files})
        if macros:
            out.append(Change("~", kind, node["label"],
                              f"uses changed macros in {', '.join(macros)}", uid))
    for path in sorted(new_files):
        new_kind = _new_file_kind(path, paths)
        explained.add(path)
        if new_kind in ("model", "seed", "snapshot", "test"):
            kind = str(new_kind)
            name = Path(path).stem
            moved = removed.pop((kind, name), None)
            if moved is not None:
                out = [c for c in out if c.uid != moved]
                out.append(Change("~", kind, nodes[moved]["label"],
                                  f"moved from {nodes[moved]['path']} to {path}", moved))
            else:
                out.append(Change("+", kind, _new_label(kind, path, paths), "new"))
        elif new_kind == "macros":
            out.append(Change("+", "macro file", path, "new"))
        elif new_kind == "properties":
            out.append(Change("+", "properties", path, "new file"))
        else:
            out.append(Change("+", "file", path, "new"))
    for path, defined in sorted(yaml_defined.items()):
        out.append(Change("~", "properties", path,
                          "changed; defines " + ", ".join(sorted(defined))))
        explained.add(path)
    for path in sorted(changed_files):
        if path in TOP_FILES:
            why = {"packages.yml": "changed; dbt deps runs at apply",
                   "dependencies.yml": "changed; dbt deps runs at apply"}.get(
                path, "changed; its configs may change any node")
            out.append(Change("~", "file", path, why))
        elif path in macro_files.values():
            out.append(Change("~", "macro file", path, "changed"))
        elif path in docs_only and path not in explained:
            out.append(Change("~", "properties", path, "only descriptions, comments or layout "
                              "changed: no node is modified"))
        elif path not in explained:
            out.append(Change("~", "properties" if is_properties_file(path) else "file", path,
                              "changed"))
    for path in sorted(gone_files - explained):
        out.append(Change("-", "file", path, "removed"))
    order = {"+": 0, "~": 1, "-": 2}
    out.sort(key=lambda c: (order[c.sign], NODE_TYPES.index(c.kind) if c.kind in NODE_TYPES
                            else len(NODE_TYPES), c.label))
    touched = {c.uid for c in out if c.uid}
    affected = {c.uid: downstream(nodes, c.uid, exclude=touched) for c in out
                if c.uid and c.sign in ("~", "-")}
    return out, {k: v for k, v in affected.items() if k and v}


def _new_label(kind: str, path: str, paths: Mapping[str, list[str]]) -> str:
    """A new file's node as dbt will name it: ``staging.stg_orders`` for
    ``models/staging/stg_orders.sql`` (the folder path under its model-path, then the name)."""
    key = {"model": "model-paths", "seed": "seed-paths", "snapshot": "snapshot-paths"}.get(kind)
    p = Path(path)
    if key is None:
        return p.stem
    for folder in paths.get(key, ()):
        if path.startswith(folder + "/"):
            parts = Path(path[len(folder) + 1:]).with_suffix("").parts
            return ".".join(parts)
    return p.stem


def downstream(nodes: Mapping[str, Mapping[str, Any]], uid: str,
               exclude: Iterable[str | None] = ()) -> list[str]:
    """Every node below ``uid`` in the recorded child map (``model marts.customers``), models
    first."""
    seen: set[str] = set()
    todo = list(nodes.get(uid, {}).get("children") or ())
    while todo:
        child = todo.pop()
        if child in seen or child not in nodes:
            continue
        seen.add(child)
        todo.extend(nodes[child].get("children") or ())
    skip = set(exclude)
    found = [nodes[c] for c in seen if c not in skip]
    found.sort(key=lambda n: (NODE_TYPES.index(n["type"]) if n["type"] in NODE_TYPES else 9,
                              n["label"]))
    return [f"{n['type']} {n['label']}" for n in found]


def plan_lines(summary: Mapping[str, Any], before: Mapping[str, str], now: Mapping[str, str],
               paths: Mapping[str, list[str]], properties: Mapping[str, Any] | None = None,
               properties_now: PropertiesNow | None = None) -> list[str]:
    """``~ model staging.stg_orders (changed)`` and ``  affects: model marts.customers, ...``
    lines for the plan: every node named the same way (type, then dbt's dotted label)."""
    found, affected = changes(summary, before, now, paths, properties, properties_now)
    lines: list[str] = []
    for change in found:
        lines.append(f"{change.sign} {change.kind} {change.label} ({change.why})")
        below = affected.get(change.uid or "")
        if below:
            more = len(below) - AFFECTS_SHOWN
            shown = ", ".join(below[:AFFECTS_SHOWN]) + (f" and {more} more" if more > 0 else "")
            lines.append(f"  affects: {shown}")
    return lines


def new_project_lines(now: Mapping[str, str], paths: Mapping[str, list[str]]) -> list[str]:
    """For a first apply: what the project holds, by kind of node file."""
    counts: dict[str, int] = {}
    for path in now:
        kind = _new_file_kind(path, paths)
        if kind in ("model", "seed", "snapshot", "test"):
            counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return ["dbt project: no model, seed, snapshot or test files found"]
    listed = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(counts.items()))
    return [f"dbt project: {listed} (parsed at apply)"]
