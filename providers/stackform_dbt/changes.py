"""What changed in a dbt project since the last apply, node by node, and the plan lines that
say so: compares what apply recorded (file digests, the manifest summary and properties
digests of :mod:`.project`) with the files as they are now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackform_dbt.project import NODE_TYPES, TOP_FILES, YAML_SUFFIXES, is_properties_file

AFFECTS_SHOWN = 12


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
    if suffix in YAML_SUFFIXES:
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
    and ``properties`` (:func:`~.project.properties_digest` by file), and for each changed or
    removed node the nodes downstream of it.

    A properties file whose change is to descriptions (or comments, or layout) only modifies
    no node, except a node whose changed description it persists (``persist_docs``): dbt's own
    ``state:modified`` rule. Every changed, new or removed file is named by some line."""
    comparison = _Comparison(summary, before, now, properties or {}, properties_now)
    for uid, node in comparison.nodes.items():
        comparison.node(uid, node)
    comparison.new_files(paths)
    comparison.changed_and_gone_files()
    return comparison.result()


class _Comparison:
    """One run of :func:`changes`: the files compared and the lines found so far, in the order
    they are found (the final sort keeps it among equals)."""

    def __init__(self, summary: Mapping[str, Any], before: Mapping[str, str],
                 now: Mapping[str, str], properties: Mapping[str, Any],
                 properties_now: PropertiesNow | None) -> None:
        self.nodes: Mapping[str, Mapping[str, Any]] = summary.get("nodes") or {}
        self.macro_files: Mapping[str, str] = summary.get("macros") or {}
        self.now = now
        self.changed = {f for f in before.keys() & now.keys() if before[f] != now[f]}
        self.gone = before.keys() - now.keys()
        self.added = now.keys() - before.keys()
        self.docs_only = {f: d for f in sorted(self.changed) if is_properties_file(f)
                          and (d := _docs_only(f, properties, properties_now)) is not None}
        self.explained: set[str] = set()
        """Files some line already names."""
        self.out: list[Change] = []
        self.yaml_defined: dict[str, list[str]] = {}
        """Changed properties files -> the tests and sources they define."""
        self.removed: dict[tuple[str, str], str] = {}
        """(type, name) -> uid of each node whose file is gone (it may have moved)."""

    def node(self, uid: str, node: Mapping[str, Any]) -> None:
        path, kind = str(node.get("path") or ""), str(node.get("type"))
        in_yaml = path.endswith(YAML_SUFFIXES)
        if path and path not in self.now:
            if not in_yaml or path in self.gone:
                self.out.append(Change("-", kind, node["label"], "removed", uid))
                self.removed[(kind, node["name"])] = uid
                self.explained.add(path)
            return
        if in_yaml:
            # Tests and sources: descriptions are never part of what they are.
            if path in self.changed and path not in self.docs_only:
                self.yaml_defined.setdefault(path, []).append(f"{kind} {node['label']}")
            return
        why, because_of = self._why_modified(node, path)
        if why is not None:
            self.out.append(Change("~", kind, node["label"], why, uid))
        if because_of is not None:
            self.explained.add(because_of)

    def _why_modified(self, node: Mapping[str, Any], path: str
                      ) -> tuple[str | None, str | None]:
        """Why a node of a SQL or CSV file is modified (``None``: it is not), and the file
        that says so when the line names it."""
        checksum = node.get("checksum")
        if checksum is not None and path in self.now:
            edited = self.now[path] != checksum
        else:
            edited = path in self.changed
        if edited:
            return "changed", path
        patch = node.get("patch")
        if patch and patch in self.docs_only:
            persisted = _persisted_change(node, self.docs_only[patch])
            if not persisted:
                return None, None
            which = " and ".join({"relation": "description",
                                  "columns": "column descriptions"}[k] for k in persisted)
            return f"{which} in {patch} changed; persisted by persist_docs", patch
        if patch and patch in self.changed:
            return f"properties in {patch} changed", patch
        macros = sorted({self.macro_files[m] for m in node.get("macros") or ()
                         if self.macro_files.get(m) in self.changed})
        if macros:
            return f"uses changed macros in {', '.join(macros)}", None
        return None, None

    def new_files(self, paths: Mapping[str, list[str]]) -> None:
        """A line for each new file: a new node (or one that moved), or the file itself."""
        for path in sorted(self.added):
            new_kind = _new_file_kind(path, paths)
            self.explained.add(path)
            if new_kind in ("model", "seed", "snapshot", "test"):
                kind = str(new_kind)
                moved = self.removed.pop((kind, Path(path).stem), None)
                if moved is not None:
                    self.out = [c for c in self.out if c.uid != moved]
                    self.out.append(Change(
                        "~", kind, self.nodes[moved]["label"],
                        f"moved from {self.nodes[moved]['path']} to {path}", moved))
                else:
                    self.out.append(Change("+", kind, _new_label(kind, path, paths), "new"))
            elif new_kind == "macros":
                self.out.append(Change("+", "macro file", path, "new"))
            elif new_kind == "properties":
                self.out.append(Change("+", "properties", path, "new file"))
            else:
                self.out.append(Change("+", "file", path, "new"))

    def changed_and_gone_files(self) -> None:
        """A line for each changed or removed file no node line names yet."""
        for path, defined in sorted(self.yaml_defined.items()):
            self.out.append(Change("~", "properties", path,
                                   "changed; defines " + ", ".join(sorted(defined))))
            self.explained.add(path)
        for path in sorted(self.changed):
            if path in TOP_FILES:
                why = {"packages.yml": "changed; dbt deps runs at apply",
                       "dependencies.yml": "changed; dbt deps runs at apply"}.get(
                    path, "changed; its configs may change any node")
                self.out.append(Change("~", "file", path, why))
            elif path in self.macro_files.values():
                self.out.append(Change("~", "macro file", path, "changed"))
            elif path in self.docs_only and path not in self.explained:
                self.out.append(Change("~", "properties", path, "only descriptions, comments "
                                       "or layout changed: no node is modified"))
            elif path not in self.explained:
                self.out.append(Change("~", "properties" if is_properties_file(path) else "file",
                                       path, "changed"))
        for path in sorted(self.gone - self.explained):
            self.out.append(Change("-", "file", path, "removed"))

    def result(self) -> tuple[list[Change], dict[str, list[str]]]:
        """The lines, added first, then changed, then removed, by node type and label; and
        what lies downstream of each changed or removed node."""
        order = {"+": 0, "~": 1, "-": 2}
        out = sorted(self.out, key=lambda c: (
            order[c.sign], NODE_TYPES.index(c.kind) if c.kind in NODE_TYPES else len(NODE_TYPES),
            c.label))
        touched = {c.uid for c in out if c.uid}
        affected = {c.uid: downstream(self.nodes, c.uid, exclude=touched) for c in out
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
