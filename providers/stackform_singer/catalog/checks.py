"""What a block's ``select`` and ``metadata`` do to a catalog that they should not do silently.

:func:`check_selection` compares the rules with a discovered catalog and returns a
:class:`Finding` per problem, at the key path (inside the block) where it is written:

* a ``select`` rule that names no stream, or no property of the streams it names (an exclusion
  that matches nothing is worded as what it is: whatever it was meant to keep out is extracted);
* a ``metadata`` stream or property pattern that matches nothing, and a key that is neither a
  Singer metadata key nor one the tap's catalog uses;
* a ``replication-key`` that is not a property of a selected stream it applies to (an error);
* a selection that selects no stream at all (see :func:`empty_selection`).

Pure functions: no file, no process. The provider turns findings into located diagnostics.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal

from stackform_singer.catalog.apply import _applied
from stackform_singer.catalog.metadata import (
    SINGER_METADATA_KEYS,
    MetadataRule,
    _metadata_rules,
)
from stackform_singer.catalog.rules import _Rule, validate_rules
from stackform_singer.catalog.streams import _dotted, _hits, _streams, _StreamView
from stackform_singer.catalog.summary import Selection, _selection_of_views

KeyPath = tuple[str | int, ...]

_GLOB = frozenset("*?[")
_LISTED = 8
"""How many names a hint lists before it says how many more there are."""


@dataclass(frozen=True)
class Finding:
    """One problem of a block's selection against a catalog."""

    path: KeyPath
    """Where it is written, inside the block: ``("select", 1)``, ``("metadata", "orders")``."""
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = "warning"
    at_key: bool = False
    """Located at the key (a metadata pattern) rather than at its value."""


def check_selection(catalog: Mapping[str, Any], select: Sequence[str],
                    metadata: Mapping[str, Mapping[str, Any]], *,
                    allow_empty: bool = False) -> list[Finding]:
    """Every finding for ``select`` and ``metadata`` over the discovered ``catalog``: the
    select rules in order, then the metadata, then an empty selection."""
    rules = _metadata_rules(metadata)
    # The views of the selected copy: same streams and properties as the catalog's, read once.
    _selected, views = _applied(catalog, select, metadata)
    chosen = _selection_of_views(views)
    found = unmatched_select(views, select)
    found += unmatched_metadata(views, rules)
    found += unknown_metadata_keys(_catalog_keys(catalog), rules)
    found += replication_keys(views, chosen, rules)
    empty = empty_selection(chosen, [v.id for v in views], select, allow_empty)
    if empty is not None:
        found.append(empty)
    return found


# --------------------------------------------------------------------------- select


def unmatched_rules(catalog: Mapping[str, Any], select: Sequence[str]) -> list[str]:
    """The ``select`` rules (as written, in order) that name no stream or property of
    ``catalog``."""
    views = [_StreamView(s, create=False) for s in _streams(catalog)]
    return [str(select[int(f.path[1])]) for f in unmatched_select(views, select)]


def unmatched_select(views: Sequence[_StreamView], select: Sequence[str]) -> list[Finding]:
    """A finding for each ``select`` rule that names no stream, or no property of the streams
    it names. Malformed rules are left to :func:`validate_rules` (validate reports them)."""
    found: list[Finding] = []
    ids = sorted(v.id for v in views)
    for index, raw in enumerate(select):
        if not isinstance(raw, str) or validate_rules([raw]):
            continue
        rule = _Rule(raw=raw, negated=raw.startswith("!"), body=raw.lstrip("!"))
        named: list[tuple[_StreamView, str | None]] = []
        for view in views:
            hit, prop_pattern = rule.target(view.id)
            if hit:
                named.append((view, prop_pattern))
        bang = "!" if rule.negated else ""
        what = f"exclusion '{raw}'" if rule.negated else f"'{raw}'"
        if not named:
            stream_part, dot, rest = rule.body.partition(".")
            meant = _closest(stream_part, ids)
            message = f"{what} matches no stream of the tap's catalog"
            suggestion = f"did you mean '{bang}{meant}{dot}{rest}'? " if meant else ""
            hint = f"{suggestion}streams: {_listed(ids)}"
        else:
            if any(prop is None or any(_hits([prop], p) for p in v.paths) for v, prop in named):
                continue
            prop = next(p for _v, p in named if p is not None)
            streams = [v.id for v, _p in named]
            paths = sorted({_dotted(p) for v, _p in named for p in v.paths})
            message = (f"{what} matches no property of stream"
                       f"{'s' if len(streams) > 1 else ''} {', '.join(streams[:_LISTED])}")
            meant = _closest(prop, paths)
            written_stream = rule.body[: len(rule.body) - len(prop) - 1]
            suggestion = (f"did you mean '{bang}{written_stream}.{meant}'? " if meant else "")
            hint = f"{suggestion}properties: {_listed(paths)}"
        if rule.negated:
            message += ": it keeps nothing out, so what it was meant to exclude is extracted"
            hint += (". An exclusion that matches nothing is how a column (PII included) "
                     "reaches the warehouse: fix it, or remove it if the column is really gone")
        else:
            message += ": it selects nothing"
        found.append(Finding(("select", index), message, hint))
    return found


# --------------------------------------------------------------------------- metadata


def unmatched_metadata(views: Sequence[_StreamView], rules: Sequence[MetadataRule]
                       ) -> list[Finding]:
    """A finding for each stream pattern of ``metadata`` that matches no stream (once, with
    all its keys), and each property pattern that matches no property of the streams its
    stream pattern matches."""
    found: list[Finding] = []
    ids = sorted(v.id for v in views)
    groups: dict[tuple[str, str | None], list[MetadataRule]] = {}
    for rule in rules:
        groups.setdefault((rule.stream, rule.prop), []).append(rule)
    missing: dict[str, list[MetadataRule]] = {}
    for (stream_pat, prop), group in groups.items():
        streams = [v for v in views if fnmatchcase(v.id, stream_pat)]
        if not streams:
            missing.setdefault(stream_pat, []).extend(group)
            continue
        if prop is None or any(fnmatchcase(_dotted(p), prop) for v in streams for p in v.paths):
            continue
        paths = sorted({_dotted(p) for v in streams for p in v.paths})
        meant = _closest(prop, paths)
        names = [v.id for v in streams]
        message = (f"property pattern '{prop}' matches no property of stream"
                   f"{'s' if len(names) > 1 else ''} {', '.join(names[:_LISTED])}: "
                   f"{_nothing(group)}")
        hint = (f"did you mean '{meant}'? " if meant else "") + f"properties: {_listed(paths)}"
        found.append(Finding(("metadata", *group[0].where[:-1]), message, hint, at_key=True))
    for stream_pat, group in missing.items():
        meant = _closest(stream_pat, ids)
        message = (f"stream pattern '{stream_pat}' matches no stream of the tap's catalog: "
                   f"{_nothing(group)}")
        hint = (f"did you mean '{meant}'? " if meant else "") + f"streams: {_listed(ids)}"
        found.append(Finding(("metadata", stream_pat), message, hint, at_key=True))
    return found


def unknown_metadata_keys(catalog_keys: set[str], rules: Sequence[MetadataRule]
                          ) -> list[Finding]:
    """A finding for each key that is neither a Singer metadata key nor in ``catalog_keys``
    (the keys the tap's catalog uses): the tap most likely ignores it. (Near misses of Singer
    keys, such as ``replication_key``, are errors already when the stack is validated.)"""
    used = SINGER_METADATA_KEYS | catalog_keys
    found: list[Finding] = []
    for rule in rules:
        if rule.key in used:
            continue
        meant = _closest(rule.key, sorted(used))
        found.append(Finding(
            ("metadata", *rule.where),
            f"'{rule.key}' is not a Singer metadata key, and the tap's catalog uses no such "
            "key: the tap most likely ignores it",
            f"did you mean '{meant}'?" if meant else
            "Singer metadata keys: " + ", ".join(sorted(SINGER_METADATA_KEYS)),
            at_key=True))
    return found


def replication_keys(views: Sequence[_StreamView], selection: Selection,
                     rules: Sequence[MetadataRule]) -> list[Finding]:
    """An error for each ``replication-key`` that is not a property of a selected stream it
    applies to. (Streams that are not selected are not extracted: a key set on them by a
    wide pattern does no harm.)"""
    chosen = set(selection.names)
    found: list[Finding] = []
    for rule in rules:
        if rule.key != "replication-key" or rule.prop is not None:
            continue
        if not isinstance(rule.value, str):
            continue  # not a property name: an error when the stack is validated
        lacking = [v for v in views if v.id in chosen and fnmatchcase(v.id, rule.stream)
                   and all(_dotted(p) != rule.value for p in v.paths)]
        if not lacking:
            continue
        names = [v.id for v in lacking]
        paths = sorted({_dotted(p) for v in lacking for p in v.paths})
        valid = sorted({str(k) for v in lacking
                        for k in _as_list(v.stream_md.get("valid-replication-keys"))})
        meant = _closest(rule.value, valid) or _closest(rule.value, paths)
        hint = (f"did you mean '{meant}'? " if meant else "") + (
            f"the tap's valid replication keys: {_listed(valid)}" if valid
            else f"properties: {_listed(paths)}")
        found.append(Finding(
            ("metadata", *rule.where),
            f"replication-key '{rule.value}' is not a property of stream"
            f"{'s' if len(names) > 1 else ''} {', '.join(names[:_LISTED])}"
            + (f" (and {len(names) - _LISTED} more)" if len(names) > _LISTED else ""),
            hint, severity="error"))
    return found


# --------------------------------------------------------------------------- no stream


def empty_selection(selection: Selection, ids: Sequence[str], select: Sequence[str],
                    allow_empty: bool = False) -> Finding | None:
    """A finding when ``selection`` (of a catalog of streams ``ids``) has no stream at all
    (None when it has one). ``stackform run`` refuses such an extractor unless
    ``allow_empty_selection`` is set."""
    if selection.streams:
        return None
    if not ids:
        what = "the tap's catalog has no stream at all"
    elif not select:
        what = ("selects no stream: select is empty, which keeps the tap's own defaults, and "
                "the tap selects no stream by default")
    else:
        what = "selects no stream of the tap's catalog"
    if allow_empty:
        return Finding(("select",), f"{what}; allow_empty_selection = true, so runs extract "
                       "nothing")
    if not ids:
        hint = "check the tap's config: what it connects to, which tables or files it lists"
    else:
        hint = (f'name the streams to extract (e.g. select = ["{ids[0]}.*"]; streams: '
                f"{_listed(sorted(ids))}), or set allow_empty_selection = true if extracting "
                "nothing is intended")
    return Finding(("select",), f"{what}: `stackform run` refuses to run this extractor", hint)


# --------------------------------------------------------------------------- helpers


def _catalog_keys(catalog: Mapping[str, Any]) -> set[str]:
    """Every metadata key the discovered catalog uses, at any breadcrumb."""
    keys: set[str] = set()
    for stream in _streams(catalog):
        entries = stream.get("metadata")
        for entry in entries if isinstance(entries, list) else ():
            md = entry.get("metadata") if isinstance(entry, dict) else None
            if isinstance(md, dict):
                keys.update(str(k) for k in md)
    return keys


def _nothing(rules: Sequence[MetadataRule]) -> str:
    keys = ", ".join(f"{'.'.join((r.prop, r.key)) if r.prop else r.key} = "
                     f"{json.dumps(r.value)}" for r in rules)
    if any(r.key == "selected" and r.value is False for r in rules):
        return f"{keys} keeps nothing out, so what it was meant to exclude is extracted"
    return f"{keys} is set on nothing"


def _closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` most likely misspells, ignoring case (``SSN`` for ``ssn``); None
    for a glob pattern or when nothing is close."""
    if _GLOB & set(word):
        return None
    by_lower: dict[str, str] = {}
    for choice in choices:
        by_lower.setdefault(choice.lower(), choice)
    if word.lower() in by_lower and by_lower[word.lower()] != word:
        return by_lower[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close and by_lower[close[0]] != word else None


def _listed(names: Sequence[str]) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(names[:_LISTED])
    return shown + (f" (and {len(names) - _LISTED} more)" if len(names) > _LISTED else "")


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]
