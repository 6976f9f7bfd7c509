"""``apply_selection``: a copy of a catalog with the ``select`` rules and ``metadata`` applied.

Selection (which streams and properties get ``selected``) is decided here; the metadata extra is
flattened and applied by :mod:`stackform_singer.catalog.metadata`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from stackform_singer.catalog.metadata import _apply_metadata, _metadata_rules
from stackform_singer.catalog.rules import _parse, _Rule
from stackform_singer.catalog.streams import Path, SelectionError, _hits, _streams, _StreamView

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


def apply_selection(
    catalog: Mapping[str, Any],
    select: Sequence[str],
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A copy of ``catalog`` with ``select`` and ``metadata`` applied.

    The rules and the metadata format are described in :mod:`stackform_singer.catalog`.

    Raises :class:`SelectionError` when a rule or the metadata is malformed.
    """
    return _applied(catalog, select, metadata)[0]


def _applied(
    catalog: Mapping[str, Any],
    select: Sequence[str],
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[_StreamView]]:
    """:func:`apply_selection`, with the view of each stream of the result (reading a large
    catalog's views costs as much as applying the rules: callers that need both reuse them)."""
    if isinstance(select, str):
        raise SelectionError(["select must be a list of rules, not a single string"])
    rules = _parse(select)
    meta_rules = _metadata_rules(metadata or {})
    result: dict[str, Any] = _copy_for_selection(catalog)
    views: list[_StreamView] = []
    for stream in _streams(result):
        view = _StreamView(stream, create=True)
        if rules:
            _select_stream(view, rules)
        _apply_metadata(view, meta_rules)
        views.append(view)
    return result, views


def _copy_for_selection(catalog: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``catalog`` that selection may change: each stream's ``metadata`` entries (the
    only part it writes: it adds entries and sets keys, never changes a value in place), the
    rest shared with the input. A deep copy of everything would double the cost of every plan
    over a large database's catalog, for nothing."""
    result = dict(catalog)
    streams = catalog.get("streams")
    if isinstance(streams, list):
        result["streams"] = [_copy_stream(s) if isinstance(s, dict) else s for s in streams]
    return result


def _copy_stream(stream: Mapping[str, Any]) -> dict[str, Any]:
    copied = dict(stream)
    entries = stream.get("metadata")
    if isinstance(entries, list):
        copied["metadata"] = [
            {**e, "metadata": dict(e["metadata"])}
            if isinstance(e, dict) and isinstance(e.get("metadata"), dict) else copy.deepcopy(e)
            for e in entries
        ]
    return copied
