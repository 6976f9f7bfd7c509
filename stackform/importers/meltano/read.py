"""Reading a Meltano project: ``meltano.yml`` and the files its ``include_paths`` pull in.

YAML is read with PyYAML (already a dependency) into :class:`YMap`/:class:`YList`, which
remember the file and line each mapping or list came from, so every decision of the import
and every error names where its input was written. Comments are not part of PyYAML's data
model; :func:`comments_above` reads the ones that attach to an item (the ``#`` lines directly
above ``- name: ...`` and the end-of-line comment on it) from the file's text instead, which
is all the import carries over. ruamel.yaml would keep every comment, but it would be a new
dependency for that alone.

Two YAML 1.1 rules of PyYAML differ from what Meltano hands its plugins (checked with Meltano
4.4.1's ``meltano config print``): only ``true``/``false`` are booleans (``yes``, ``no``,
``on``, ``off`` stay strings), and an unquoted date stays the text written while an unquoted
date and time becomes ``YYYY-MM-DDTHH:MM:SS`` (Meltano drops the fraction and the time zone);
each such rewrite is recorded in :attr:`Project.timestamps` for the report.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stackform.errors import StackformError

MERGED_KEYS = ("plugins", "schedules", "environments", "jobs")
"""The top-level keys whose entries are named (and a name defined twice is an error)."""
PLUGIN_KINDS = ("extractors", "loaders", "mappers", "transformers", "utilities",
                "orchestrators", "files", "transforms")
_MAX_DEPTH = 200
_TIMESTAMP = re.compile(r"(\d{4}-\d{1,2}-\d{1,2})(?:[Tt]|[ \t]+)(\d{1,2}):(\d{2}):(\d{2})"
                        r"(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d{1,2}(?::?\d{2})?))?")


class MeltanoImportError(StackformError):
    """A Meltano project that cannot be read: located at ``file:line`` when it can be."""


class YMap(dict[str, Any]):
    """A YAML mapping that remembers where it was written."""

    file: str = ""
    line: int = 0
    key_lines: dict[str, int]
    key_files: dict[str, str] | None = None
    """The file of a key merged in from an included file (else the mapping's own)."""
    timestamps: list[tuple[str, str, str]]
    """On a file's top mapping: (where, as written, as Meltano hands it) of each unquoted date
    and time."""

    def at(self, key: str | None = None) -> str:
        """``file:line`` of the mapping, or of one of its keys."""
        line = self.key_lines.get(key, self.line) if key is not None else self.line
        file = (self.key_files or {}).get(key or "", self.file)
        return f"{file}:{line}"


class YList(list[Any]):
    """A YAML sequence that remembers where it was written."""

    file: str = ""
    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2's booleans and no timestamps (see the module docstring)."""

    timestamps: list[tuple[str, str, str]]


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                              re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def load_yaml(path: Path, shown: str) -> YMap:
    """The top-level mapping of one YAML file; a located error when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MeltanoImportError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})")\
            from None
    except OSError as exc:
        raise MeltanoImportError(f"{shown}: cannot be read: {exc.strerror}") from None
    loader = _Loader(text)
    loader.timestamps = []
    try:
        node = loader.get_single_node()
        data = _build(node, loader, shown, 0) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        raise MeltanoImportError(f"{where}: invalid YAML: {exc.problem or exc.context}",
                                 hint="fix the file (Meltano cannot read it either)") from None
    except yaml.YAMLError as exc:
        raise MeltanoImportError(f"{shown}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if isinstance(data, YMap):
        data.timestamps = loader.timestamps
    if not isinstance(data, YMap):
        kinds = {YList: "a list", str: "text", int: "a number", float: "a number",
                 bool: "a boolean"}
        what = "empty" if data is None else \
            f"{kinds.get(type(data), type(data).__name__)}, not a mapping"
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        raise MeltanoImportError(f"{shown}{line}: the top level is {what}",
                                 hint="a Meltano project file is a mapping of keys such as "
                                      "plugins, environments and jobs")
    return data


def _build(node: yaml.Node, loader: _Loader, shown: str, depth: int) -> Any:
    """Python data from a composed node, with locations on mappings and sequences."""
    if depth > _MAX_DEPTH:
        raise MeltanoImportError(f"{shown}:{node.start_mark.line + 1}: nested more than "
                                 f"{_MAX_DEPTH} deep (a recursive alias?)")
    if isinstance(node, yaml.MappingNode):
        merged = any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value)
        loader.flatten_mapping(node)
        out = YMap()
        out.file, out.line, out.key_lines = shown, node.start_mark.line + 1, {}
        for knode, vnode in node.value:
            key = _build(knode, loader, shown, depth + 1)
            key = "null" if key is None else str(key).lower() if isinstance(key, bool) \
                else str(key)
            if key in out and not merged:
                raise MeltanoImportError(
                    f"{shown}:{knode.start_mark.line + 1}: key '{key}' is given twice (first at "
                    f"line {out.key_lines[key]})", hint="keep one of them")
            out[key] = _build(vnode, loader, shown, depth + 1)
            out.key_lines[key] = knode.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = YList(_build(v, loader, shown, depth + 1) for v in node.value)
        seq.file, seq.line = shown, node.start_mark.line + 1
        seq.item_lines = [v.start_mark.line + 1 for v in node.value]
        return seq
    value = loader.construct_object(node, deep=True)
    if isinstance(value, str) and node.style is None and (m := _TIMESTAMP.fullmatch(value)):
        day = "-".join(part.zfill(2) for part in m.group(1).split("-"))
        read = f"{day}T{m.group(2).zfill(2)}:{m.group(3)}:{m.group(4)}"
        loader.timestamps.append((f"{shown}:{node.start_mark.line + 1}", value, read))
        return read
    return value


@dataclass
class Project:
    """A Meltano project with its included files merged in (Meltano's rules)."""

    root: Path
    top: YMap
    plugins: dict[str, list[YMap]] = field(default_factory=dict)
    environments: list[YMap] = field(default_factory=list)
    jobs: list[YMap] = field(default_factory=list)
    schedules: list[YMap] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    texts: dict[str, list[str]] = field(default_factory=dict)
    merged: list[tuple[str, str]] = field(default_factory=list)
    """(where, key) of the other top-level keys included files merged into the project."""
    timestamps: list[tuple[str, str, str]] = field(default_factory=list)
    """(where, as written, as read) of every unquoted date and time."""
    unmatched: list[str] = field(default_factory=list)
    """``include_paths`` patterns that matched no file."""
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(where, what) of entries that are not what Meltano expects (skipped)."""


def read_project(root: Path) -> Project:
    """Read ``root/meltano.yml`` and merge the files of its ``include_paths``.

    Duplicate names (a plugin of one kind, an environment, a job, a schedule) are an error
    naming both places, as in Meltano.
    """
    main = root / "meltano.yml"
    if not main.is_file():
        raise MeltanoImportError(f"no meltano.yml in {root}",
                                 hint="pass the folder of the Meltano project: "
                                      "stackform import meltano PATH")
    top = load_yaml(main, "meltano.yml")
    project = Project(root=root, top=top)
    _take(project, top, "meltano.yml", main)
    for rel in _included(project, root, main):
        data = load_yaml(root / rel, rel)
        for key in data:
            if key not in MERGED_KEYS and key != "include_paths":
                project.merged.append((data.at(key), key))
                _merge_into(top, key, data[key], data)
            elif key == "include_paths":
                project.problems.append((data.at(key), "include_paths in an included file: "
                                         "Meltano reads only meltano.yml's"))
        _take(project, data, rel, root / rel)
    return project


def _merge_into(base: YMap, key: str, value: Any, source: YMap) -> None:
    """Meltano's deep merge of an included file: mappings key by key, lists appended, anything
    else replaces the main file's value."""
    old = base.get(key)
    if isinstance(old, YMap) and isinstance(value, YMap):
        for k, v in value.items():
            _merge_into(old, k, v, value)
    elif isinstance(old, list) and isinstance(value, list):
        old.extend(value)
    else:
        base[key] = value
        base.key_lines[key] = source.key_lines.get(key, source.line)
        base.key_files = {**(base.key_files or {}), key: source.file}


def _included(project: Project, root: Path, main: Path) -> list[str]:
    patterns = project.top.get("include_paths") or []
    if not isinstance(patterns, list):
        project.problems.append((project.top.at("include_paths"),
                                 "include_paths is not a list of globs"))
        return []
    out: list[str] = []
    for pattern in patterns:
        pattern = str(pattern)
        base = pattern if Path(pattern).is_absolute() else str(root / pattern)
        hits = sorted(Path(p) for p in glob.glob(base, recursive=True) if Path(p).is_file())
        if not hits:
            project.unmatched.append(pattern)
        for hit in hits:
            try:
                rel = str(hit.resolve().relative_to(root.resolve()))
            except ValueError:
                rel = str(hit)
            if hit.resolve() != main.resolve() and rel not in out:
                out.append(rel)
    return out


def _take(project: Project, data: YMap, shown: str, path: Path) -> None:
    project.files.append(shown)
    project.timestamps.extend(getattr(data, "timestamps", []))
    project.texts[shown] = path.read_text(encoding="utf-8").splitlines()
    plugins = data.get("plugins") or {}
    if not isinstance(plugins, dict):
        project.problems.append((data.at("plugins"), "plugins is not a mapping"))
        plugins = {}
    for kind, items in plugins.items():
        if kind not in PLUGIN_KINDS:
            project.problems.append((plugins.at(kind) if isinstance(plugins, YMap) else shown,
                                     f"unknown plugin kind '{kind}'"))
            continue
        _add_named(project, project.plugins.setdefault(kind, []), items, f"plugins.{kind}")
    for key in ("environments", "jobs", "schedules"):
        _add_named(project, getattr(project, key), data.get(key), key)


def _add_named(project: Project, into: list[YMap], items: Any, section: str) -> None:
    if items is None:
        return
    if not isinstance(items, list):
        where = getattr(items, "file", "") or section
        project.problems.append((where, f"{section} is not a list"))
        return
    for i, item in enumerate(items):
        line = items.item_lines[i] if isinstance(items, YList) else 0
        if not isinstance(item, YMap) or not isinstance(item.get("name"), str | int):
            project.problems.append((f"{getattr(items, 'file', '')}:{line}",
                                     f"an entry of {section} without a name (skipped)"))
            continue
        item["name"] = str(item["name"])
        for existing in into:
            if existing["name"] == item["name"]:
                raise MeltanoImportError(
                    f"{item.at()}: {section} '{item['name']}' is defined twice: here and at "
                    f"{existing.at()}", hint="Meltano refuses a project with duplicate names "
                                             "too: keep one definition")
        into.append(item)


def comments_above(project: Project, item: YMap) -> list[str]:
    """The comments that attach to a list item: ``#`` lines directly above it, and the
    end-of-line comment of its first line."""
    lines = project.texts.get(item.file, [])
    index = item.line - 1
    if not (0 <= index < len(lines)):
        return []
    out: list[str] = []
    above = index - 1
    while above >= 0 and lines[above].strip().startswith("#"):
        out.insert(0, lines[above].strip()[1:].strip())
        above -= 1
    trailing = _trailing_comment(lines[index])
    if trailing:
        out.append(trailing)
    return [c for c in out if c]


def _trailing_comment(line: str) -> str | None:
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and i > 0 and line[i - 1] in " \t":
            return line[i + 1:].strip()
    return None
