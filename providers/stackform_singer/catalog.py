"""Singer catalogs: apply a stack's ``select`` rules and ``metadata``, summarise, diff, digest.

Pure functions over catalogs that a tap printed with ``--discover``; nothing here runs a process
or touches a file. Inputs are never mutated: :func:`apply_selection` returns a new catalog.

Catalog shape
    ``{"streams": [{"tap_stream_id", "stream", "schema", "metadata": [...]}, ...]}``. Each
    ``metadata`` entry is ``{"breadcrumb": [...], "metadata": {...}}``: the breadcrumb ``[]`` is
    the stream itself, ``["properties", "address"]`` a top-level property and
    ``["properties", "address", "properties", "city"]`` a nested one. Streams are named by
    ``tap_stream_id`` (``stream`` when a tap leaves it out) and properties by dotted paths
    (``address.city``). Streams with no ``metadata`` list, no stream-level entry or no entry for
    a property in their schema get one (``inclusion: available``, or ``automatic`` for a
    top-level property named as a key in the stream's ``table-key-properties``/``key_properties``
    or as its replication key), so every selection is written down. Breadcrumbs of other shapes
    (into ``items``, say) are kept as they are and take no part in selection.

Selection rules (Meltano's ``select`` semantics, with the choices below made explicit)
    * ``stream.property``: both halves are ``fnmatch`` patterns, matched case-sensitively;
      ``*`` also matches dots, so ``orders.*`` covers nested properties. The rule is split at
      the first dot, except that a rule that is exactly a stream's id, or starts with the id and
      a dot, is split after the id (so stream ids containing dots can be named).
    * ``stream`` alone, ``stream.*`` (any all-``*`` property pattern) select the stream and
      all of its properties.
    * Matching a property matches its whole subtree (``orders.address`` selects
      ``address.city``); selecting a nested property also selects its ancestors so the tap
      emits it, but not their other children.
    * ``!rule`` excludes and exclusions always win over inclusions, whatever their order.
      ``!stream`` / ``!stream.*`` exclude the stream; ``!stream.prop`` only that subtree.
    * ``inclusion: automatic`` properties (primary keys, replication keys) are selected whenever
      their stream is, even if a rule excludes them: the tap emits them regardless, so the
      catalog says so. ``inclusion: unsupported`` properties are never selected.
    * A stream is selected when a rule selects it as a whole or selects (directly, not just as
      an automatic property) one of its properties, and no rule excludes it. An unselected
      stream has every property deselected.
    * Non-empty ``select``: every stream and property gets an explicit ``selected`` (Meltano
      starts from "nothing selected" too). **Empty ``select`` means the tap's defaults**: no
      ``selected`` value is written or changed, so ``selected-by-default`` and whatever
      selection discovery produced stay in force.

``metadata`` (Meltano's ``metadata`` extra)
    ``{stream_pattern: {key: value, property_pattern: {key: value, ...}, ...}}``. In a stream's
    mapping a non-mapping value is a stream-level key (``replication-method``,
    ``replication-key``, ``table-key-properties``: lists are values); a mapping value is a
    property, whose own mapping values are sub-properties. Property names may be dotted
    (``"address.city": {...}``) and may be patterns; the Singer-style explicit form
    ``{"properties": {"updated_at": {...}}}`` is accepted too. Metadata is applied after
    selection and overrides it (a ``selected`` key set here wins). It only touches streams
    and properties that exist.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

__all__ = [
    "Selection",
    "SelectionError",
    "StreamSelection",
    "apply_selection",
    "catalog_digest",
    "diff_selection",
    "selection_of",
    "stream_id_of",
    "unmatched_rules",
    "validate_rules",
]

Path = tuple[str, ...]
"""A property's path from the stream's schema root: ``("address", "city")``."""

_NONE = "(none)"


class SelectionError(ValueError):
    """``select`` or ``metadata`` is malformed; ``errors`` holds one message per problem."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class _Rule:
    raw: str
    negated: bool
    body: str

    def target(self, stream_id: str) -> tuple[bool, str | None]:
        """Whether the rule names ``stream_id``, and its property pattern (None: whole stream)."""
        if self.body == stream_id:
            return True, None
        if self.body.startswith(stream_id + "."):
            stream_pat, prop = stream_id, self.body[len(stream_id) + 1 :]
        else:
            stream_pat, dot, prop = self.body.partition(".")
            if not dot:
                return fnmatchcase(stream_id, stream_pat), None
            if not fnmatchcase(stream_id, stream_pat):
                return False, None
        return True, (None if _is_whole(prop) else prop)


def _is_whole(prop: str) -> bool:
    return bool(prop) and set(prop) == {"*"}


def _glob_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable fnmatch pattern, or None (fnmatch itself never says)."""
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "[":
            j = i + 1
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            close = pattern.find("]", j)
            if close < 0:
                return "has an unclosed '[' (write '[[]' for a literal '[')"
            i = close + 1
        else:
            i += 1
    return None


def validate_rules(select: Sequence[str]) -> list[str]:
    """One message per malformed rule, in the order given; empty when all are usable."""
    errors: list[str] = []
    for index, rule in enumerate(select):
        where = f"select[{index}]"
        if not isinstance(rule, str):
            errors.append(f"{where}: a rule is a string, not {type(rule).__name__}")
            continue
        shown = json.dumps(rule)
        if rule != rule.strip():
            errors.append(f"{where} {shown}: remove the surrounding whitespace")
            continue
        body = rule[1:] if rule.startswith("!") else rule
        if not rule:
            errors.append(f"{where}: a rule cannot be empty")
        elif not body:
            errors.append(f"{where} {shown}: '!' needs a rule to exclude, e.g. \"!orders.note\"")
        elif body.startswith("!"):
            errors.append(f"{where} {shown}: use a single '!'")
        elif set(body) == {"."}:
            errors.append(f"{where} {shown}: expected 'stream' or 'stream.property'")
        elif body.startswith("."):
            errors.append(f"{where} {shown}: the stream name before '.' is missing")
        elif body.endswith("."):
            errors.append(f"{where} {shown}: the property after '.' is missing (use 'stream.*')")
        elif ".." in body:
            errors.append(f"{where} {shown}: empty property name between dots")
        elif (problem := _glob_error(body)) is not None:
            errors.append(f"{where} {shown}: {problem}")
    return errors


def _parse(select: Sequence[str]) -> list[_Rule]:
    errors = validate_rules(select)
    if errors:
        raise SelectionError(errors)
    return [
        _Rule(raw=r, negated=r.startswith("!"), body=r[1:] if r.startswith("!") else r)
        for r in select
    ]


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


# --------------------------------------------------------------------------- apply


def _select_stream(view: _StreamView, rules: Sequence[_Rule]) -> None:
    include_props: list[str] = []
    exclude_props: list[str] = []
    whole_include = whole_exclude = False
    for rule in rules:
        named, prop = rule.target(view.id)
        if not named:
            continue
        if prop is None:
            if rule.negated:
                whole_exclude = True
            else:
                whole_include = True
        else:
            (exclude_props if rule.negated else include_props).append(prop)

    def excluded(path: Path) -> bool:
        return whole_exclude or _hits(exclude_props, path)

    def wanted(path: Path) -> bool:
        return not excluded(path) and (whole_include or _hits(include_props, path))

    chosen: set[Path] = set()
    stream_selected = False
    for path in view.paths:
        inclusion = view.inclusion(path)
        if inclusion == "unsupported" or not wanted(path):
            continue
        stream_selected = True
        if inclusion == "automatic":
            continue
        ancestors = [path[:i] for i in range(1, len(path))]
        if any(view.inclusion(a) == "unsupported" for a in ancestors):
            continue
        chosen.add(path)
        chosen.update(ancestors)
    stream_selected = not whole_exclude and (whole_include or stream_selected)

    view.set((), "selected", stream_selected)
    for path in view.paths:
        inclusion = view.inclusion(path)
        if not stream_selected or inclusion == "unsupported":
            value = False
        elif inclusion == "automatic":
            value = True
        else:
            value = path in chosen
        view.set(path, "selected", value)


def _metadata_rules(
    metadata: Mapping[str, Mapping[str, Any]],
) -> list[tuple[str, str | None, str, Any]]:
    """Flatten the ``metadata`` extra to ``(stream_pattern, property_pattern, key, value)``."""
    out: list[tuple[str, str | None, str, Any]] = []
    errors: list[str] = []

    def walk(stream_pat: str, prop: str | None, body: Mapping[str, Any]) -> None:
        for key, value in body.items():
            key = str(key)
            if key == "properties" and isinstance(value, Mapping):
                for name, sub in value.items():
                    if not isinstance(sub, Mapping):
                        errors.append(
                            f"metadata.{stream_pat}: properties.{name} must be a table of keys"
                        )
                        continue
                    walk(stream_pat, f"{prop}.{name}" if prop else str(name), sub)
            elif isinstance(value, Mapping):
                walk(stream_pat, f"{prop}.{key}" if prop else key, value)
            else:
                out.append((stream_pat, prop, key, value))

    for stream_pat, body in metadata.items():
        if not isinstance(body, Mapping):
            errors.append(f"metadata.{stream_pat}: expected a table of metadata keys")
            continue
        walk(str(stream_pat), None, body)
    if errors:
        raise SelectionError(errors)
    return out


def apply_selection(
    catalog: Mapping[str, Any],
    select: Sequence[str],
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A copy of ``catalog`` with ``select`` and ``metadata`` applied (see the module doc).

    Raises :class:`SelectionError` when a rule or the metadata is malformed.
    """
    if isinstance(select, str):
        raise SelectionError(["select must be a list of rules, not a single string"])
    rules = _parse(select)
    meta_rules = _metadata_rules(metadata or {})
    result: dict[str, Any] = copy.deepcopy(dict(catalog))
    for stream in _streams(result):
        view = _StreamView(stream, create=True)
        if rules:
            _select_stream(view, rules)
        for stream_pat, prop_pat, key, value in meta_rules:
            if not fnmatchcase(view.id, stream_pat):
                continue
            if prop_pat is None:
                view.set((), key, value)
                continue
            for path in view.paths:
                if fnmatchcase(_dotted(path), prop_pat):
                    view.set(path, key, value)
    return result


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class StreamSelection:
    """One selected stream: its selected properties (dotted, sorted) and how it replicates."""

    name: str
    properties: tuple[str, ...] = ()
    replication_method: str | None = None
    replication_key: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", tuple(sorted(self.properties)))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "properties": list(self.properties),
            "replication_method": self.replication_method,
            "replication_key": self.replication_key,
        }


@dataclass(frozen=True)
class Selection:
    """What a catalog selects: small, frozen and JSON-ready, for a resource's state output."""

    streams: tuple[StreamSelection, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "streams", tuple(sorted(self.streams, key=lambda s: s.name)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.streams)

    def stream(self, name: str) -> StreamSelection | None:
        return next((s for s in self.streams if s.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {"streams": [s.to_json() for s in self.streams]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Selection:
        return cls(
            tuple(
                StreamSelection(
                    name=str(s["name"]),
                    properties=tuple(sorted(s.get("properties", ()))),
                    replication_method=s.get("replication_method"),
                    replication_key=s.get("replication_key"),
                )
                for s in data.get("streams", ())
            )
        )


def _effective(md: Mapping[str, Any] | None, parent: bool | None) -> bool:
    """Whether a tap treats a node as selected (the singer-sdk reading of the metadata)."""
    if parent is False:
        return False
    if md is None:
        return bool(parent)
    inclusion = md.get("inclusion")
    if inclusion == "unsupported":
        return False
    if inclusion == "automatic":
        return True
    if isinstance(md.get("selected"), bool):
        return bool(md["selected"])
    if isinstance(md.get("selected-by-default"), bool):
        return bool(md["selected-by-default"])
    return bool(parent)


def _text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return json.dumps(value, sort_keys=True)


def selection_of(catalog: Mapping[str, Any]) -> Selection:
    """The streams and properties ``catalog`` selects, as a tap would read its metadata."""
    out: list[StreamSelection] = []
    for stream in _streams(catalog):
        view = _StreamView(stream, create=False)  # create=False reads only
        stream_md = view.entries.get((), [None])[0]
        if not _effective(stream_md, None):
            continue
        selected: dict[Path, bool] = {(): True}
        for path in view.paths:  # parents come before children
            found = view.entries.get(path)
            selected[path] = _effective(found[0] if found else None, selected.get(path[:-1]))
        md = view.stream_md
        method = (
            md.get("replication-method")
            or md.get("forced-replication-method")
            or stream.get("replication_method")
        )
        key = md.get("replication-key") or stream.get("replication_key")
        out.append(
            StreamSelection(
                name=view.id,
                properties=tuple(sorted(_dotted(p) for p, on in selected.items() if p and on)),
                replication_method=_text(method),
                replication_key=_text(key),
            )
        )
    return Selection(tuple(out))


def diff_selection(before: Selection | None, after: Selection) -> list[str]:
    """Plan lines for a selection change, grouped by stream name, stable order.

    ``+ stream s`` / ``- stream s`` for streams that start or stop being selected (their
    properties are not listed); for streams selected on both sides, ``~ s replication-method
    A -> B`` and ``~ s replication-key A -> B``, then ``- property s.p`` / ``+ property s.p``
    sorted by property. ``(none)`` stands for an unset value.
    """
    old = {s.name: s for s in (before.streams if before else ())}
    new = {s.name: s for s in after.streams}
    lines: list[str] = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a is None:
            lines.append(f"+ stream {name}")
            continue
        if b is None:
            lines.append(f"- stream {name}")
            continue
        for label, x, y in (
            ("replication-method", a.replication_method, b.replication_method),
            ("replication-key", a.replication_key, b.replication_key),
        ):
            if x != y:
                lines.append(f"~ {name} {label} {x or _NONE} -> {y or _NONE}")
        gone, added = set(a.properties) - set(b.properties), set(b.properties) - set(a.properties)
        for prop in sorted(gone | added):
            lines.append(f"{'-' if prop in gone else '+'} property {name}.{prop}")
    return lines


# --------------------------------------------------------------------------- digest, warnings


def _canonical(node: Any) -> Any:
    """Metadata lists sorted by breadcrumb (their order means nothing); everything else kept."""
    if isinstance(node, Mapping):
        out = {str(k): _canonical(v) for k, v in node.items()}
        md = out.get("metadata")
        if isinstance(md, list) and all(isinstance(e, dict) and "breadcrumb" in e for e in md):
            out["metadata"] = sorted(md, key=lambda e: json.dumps(e["breadcrumb"]))
        return out
    if isinstance(node, list | tuple):
        return [_canonical(v) for v in node]
    return node


def catalog_digest(catalog: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the catalog's canonical JSON: independent of key order and of the
    order of ``metadata`` entries; stream order and every value count."""
    text = json.dumps(
        _canonical(catalog),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def unmatched_rules(catalog: Mapping[str, Any], select: Sequence[str]) -> list[str]:
    """Rules (as written, in order) that name no stream or property of ``catalog``.

    A typo otherwise selects (or excludes) nothing without a word. Malformed rules are left to
    :func:`validate_rules` and are not reported here.
    """
    views = [_StreamView(s, create=False) for s in _streams(catalog)]
    out: list[str] = []
    for raw in select:
        if not isinstance(raw, str) or validate_rules([raw]):
            continue
        rule = _Rule(raw=raw, negated=raw.startswith("!"), body=raw.lstrip("!"))
        hit = False
        for view in views:
            named, prop = rule.target(view.id)
            if named and (prop is None or any(_hits([prop], p) for p in view.paths)):
                hit = True
                break
        if not hit:
            out.append(raw)
    return out
