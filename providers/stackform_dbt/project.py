"""The dbt project as files, and the summary of its manifest: what the data-aware plan compares.

Reading is cheap on purpose (``read`` runs on every plan): no dbt process, only
``dbt_project.yml`` and a sha256 of each file under the project's model, seed, test, macro and
snapshot paths. A file's digest is dbt's own checksum: the sha256 of its text with surrounding
blanks stripped, which is what ``manifest.json`` records for models, seeds and snapshots. Apply
records the digests and, from the manifest, each node's checksum, file, properties file, project
macros it uses, and direct children; :func:`changes` compares the two to name new, changed and
removed nodes and what they touch downstream.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
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
_YAML_SUFFIXES = (".yml", ".yaml")
AFFECTS_SHOWN = 12


# -- dbt_project.yml ----------------------------------------------------------------------------


def read_project_file(project_dir: Path) -> dict[str, Any]:
    """The top-level keys of ``dbt_project.yml`` (empty when there is none).

    PyYAML is used when stackform's environment has it; otherwise a small reader understands
    what the keys stackform needs are written as: scalars, ``[a, "b"]`` and ``- item`` lists.
    """
    path = project_dir / "dbt_project.yml"
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    try:
        import yaml
    except ImportError:
        return _top_level_yaml(text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return _top_level_yaml(text)
    return data if isinstance(data, dict) else {}


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return re.sub(r"\s+#.*$", "", text)


def _top_level_yaml(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and not line.startswith("-"):
            key = None
            found = re.match(r"^([A-Za-z0-9_-]+)\s*:\s*(.*)$", line)
            if not found:
                continue
            name, value = found.group(1), re.sub(r"\s+#.*$", "", found.group(2)).strip()
            if value.startswith("[") and value.endswith("]"):
                out[name] = [_scalar(v) for v in value[1:-1].split(",") if v.strip()]
            elif value:
                out[name] = _scalar(value)
            else:
                key = name
            continue
        item = re.match(r"^\s*-\s+(.*)$", line)
        if key is not None and item:
            values = out.setdefault(key, [])
            if isinstance(values, list):
                values.append(_scalar(item.group(1)))
        elif key is not None and key not in out:
            key = None  # a nested mapping: not something stackform reads
    return out


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


def files_digest(files: Mapping[str, str]) -> str:
    canonical = json.dumps(sorted(files.items()), separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


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


def changes(summary: Mapping[str, Any], before: Mapping[str, str], now: Mapping[str, str],
            paths: Mapping[str, list[str]]) -> tuple[list[Change], dict[str, list[str]]]:
    """The node changes since the apply that recorded ``summary`` and ``before``, and for each
    changed or removed node the nodes downstream of it."""
    nodes: Mapping[str, Mapping[str, Any]] = summary.get("nodes") or {}
    macro_files: Mapping[str, str] = summary.get("macros") or {}
    changed_files = {f for f in before.keys() & now.keys() if before[f] != now[f]}
    gone_files = before.keys() - now.keys()
    new_files = now.keys() - before.keys()
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
            continue
        if in_yaml:
            if path in changed_files:
                yaml_defined.setdefault(path, []).append(f"{kind} {node['label']}")
            continue
        checksum = node.get("checksum")
        if checksum is not None and path in now:
            edited = now[path] != checksum
        else:
            edited = path in changed_files
        if edited:
            out.append(Change("~", kind, node["label"], "changed", uid))
            continue
        patch = node.get("patch")
        if patch and patch in changed_files:
            out.append(Change("~", kind, node["label"], f"properties in {patch} changed", uid))
            continue
        macros = sorted({macro_files[m] for m in node.get("macros") or ()
                         if macro_files.get(m) in changed_files})
        if macros:
            out.append(Change("~", kind, node["label"],
                              f"uses changed macros in {', '.join(macros)}", uid))
    for path in sorted(new_files):
        new_kind = _new_file_kind(path, paths)
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
    for path, defined in sorted(yaml_defined.items()):
        out.append(Change("~", "properties", path,
                          "changed; defines " + ", ".join(sorted(defined))))
    for path in sorted(changed_files):
        if path in TOP_FILES:
            why = {"packages.yml": "changed; dbt deps runs at apply",
                   "dependencies.yml": "changed; dbt deps runs at apply"}.get(
                path, "changed; its configs may change any node")
            out.append(Change("~", "file", path, why))
        elif path in macro_files.values():
            out.append(Change("~", "macro file", path, "changed"))
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
    """Every node below ``uid`` in the recorded child map (``type.name``), models first."""
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
                              n["name"]))
    return [f"{n['type']}.{n['name']}" for n in found]


def plan_lines(summary: Mapping[str, Any], before: Mapping[str, str], now: Mapping[str, str],
               paths: Mapping[str, list[str]]) -> list[str]:
    """``~ model staging.stg_orders (changed)`` and ``  affects: ...`` lines for the plan."""
    found, affected = changes(summary, before, now, paths)
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
