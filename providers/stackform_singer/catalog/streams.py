"""Reading a Singer catalog: streams, stream ids, breadcrumbs and a per-stream metadata view.

Shared by the rule matching, selection, metadata and summary modules of
:mod:`stackform_singer.catalog`; also holds :class:`SelectionError`, the one error they raise.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

Path = tuple[str, ...]
"""A property's path from the stream's schema root: ``("address", "city")``."""


class SelectionError(ValueError):
    """``select`` or ``metadata`` is malformed; ``errors`` holds one message per problem."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


# --------------------------------------------------------------------------- catalog access


def _streams(catalog: Mapping[str, Any]) -> list[dict[str, Any]]:
    streams = catalog.get("streams", [])
    if not isinstance(streams, list):
        raise SelectionError(["catalog: 'streams' must be a list"])
    return [s for s in streams if isinstance(s, dict)]


def stream_id_of(stream: Mapping[str, Any]) -> str:
    """A stream's name for rules and summaries: ``tap_stream_id``, else ``stream``."""
    return str(stream.get("tap_stream_id") or stream.get("stream") or "")


def _path_of(breadcrumb: Any) -> Path | None:
    """``["properties", "a", "properties", "b"]`` -> ``("a", "b")``; ``[]`` -> ``()``."""
    if not isinstance(breadcrumb, list | tuple) or len(breadcrumb) % 2:
        return None
    if any(breadcrumb[i] != "properties" for i in range(0, len(breadcrumb), 2)):
        return None
    names = tuple(breadcrumb[1::2])
    return names if all(isinstance(n, str) for n in names) else None


def _breadcrumb(path: Path) -> list[str]:
    crumb: list[str] = []
    for name in path:
        crumb += ["properties", name]
    return crumb


def _schema_paths(schema: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every property path in a JSON schema, parents before children (``anyOf``/``oneOf`` too)."""
    if not isinstance(schema, Mapping):
        return
    props = schema.get("properties")
    if isinstance(props, Mapping):
        for name, sub in props.items():
            path = (*prefix, str(name))
            yield path
            yield from _schema_paths(sub, path)
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list):
            for option in options:
                yield from _schema_paths(option, prefix)


class _StreamView:
    """One stream's metadata entries indexed by property path.

    With ``create=False`` it only reads; with ``create=True`` it adds the missing entries to
    the stream it is given, so callers pass a copy.
    """

    def __init__(self, stream: dict[str, Any], *, create: bool) -> None:
        self.stream = stream
        self.id = stream_id_of(stream)
        entries = stream.get("metadata")
        if not isinstance(entries, list):
            entries = []
            if create:
                stream["metadata"] = entries
        self.entries: dict[Path, list[dict[str, Any]]] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            path = _path_of(entry.get("breadcrumb"))
            if path is None:
                continue
            if not isinstance(entry.get("metadata"), dict):
                if not create:
                    continue
                entry["metadata"] = {}
            self.entries.setdefault(path, []).append(entry["metadata"])
        schema_paths = list(dict.fromkeys(_schema_paths(stream.get("schema"))))
        known = set(schema_paths)
        extra = sorted((p for p in self.entries if p and p not in known), key=lambda p: (len(p), p))
        self.paths: list[Path] = schema_paths + extra
        """Every property path, each after its parent: schema order, then metadata-only paths."""
        if create:
            self._create_missing(entries)

    def _create_missing(self, entries: list[Any]) -> None:
        if () not in self.entries:
            md: dict[str, Any] = {"inclusion": "available"}
            entries.insert(0, {"breadcrumb": [], "metadata": md})
            self.entries[()] = [md]
        keys = self._key_names()
        for path in self.paths:
            if path not in self.entries:
                inclusion = "automatic" if len(path) == 1 and path[0] in keys else "available"
                md = {"inclusion": inclusion}
                entries.append({"breadcrumb": _breadcrumb(path), "metadata": md})
                self.entries[path] = [md]

    def _key_names(self) -> set[str]:
        names: set[str] = set()
        stream_md = self.stream_md
        for value in (
            stream_md.get("table-key-properties"),
            self.stream.get("key_properties"),
            stream_md.get("replication-key"),
            self.stream.get("replication_key"),
        ):
            if isinstance(value, str):
                names.add(value)
            elif isinstance(value, list):
                names.update(v for v in value if isinstance(v, str))
        return names

    @property
    def stream_md(self) -> dict[str, Any]:
        found = self.entries.get(())
        return found[0] if found else {}

    def md(self, path: Path) -> dict[str, Any]:
        found = self.entries.get(path)
        return found[0] if found else {}

    def set(self, path: Path, key: str, value: Any) -> None:
        for md in self.entries.get(path, []):
            md[key] = copy.deepcopy(value)

    def inclusion(self, path: Path) -> str:
        return str(self.md(path).get("inclusion", "available"))


def _dotted(path: Path) -> str:
    return ".".join(path)


def _hits(patterns: Iterable[str], path: Path) -> bool:
    """Whether a pattern matches ``path`` or one of its ancestors (a match covers a subtree)."""
    pats = list(patterns)
    return any(fnmatchcase(_dotted(path[:i]), p) for i in range(1, len(path) + 1) for p in pats)

