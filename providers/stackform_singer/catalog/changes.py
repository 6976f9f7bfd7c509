"""What changed at the source between two discovered catalogs (``plan --refresh-catalog``).

Plan lines, streams first then their columns, sorted:

* ``+ stream refunds (not selected)``, ``+ stream refunds (selected by refunds)``
* ``- stream legacy``
* ``+ column orders.coupon (selected by orders.*)``, ``+ column orders.ssn (not selected:
  excluded by "!orders.ssn")``
* ``- column orders.note``
* ``~ column orders.amount: integer -> number``

Whether something new is selected is worked out with the block's ``select`` and ``metadata``
as declared now (:func:`~stackform_singer.catalog.listing.list_catalog`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stackform_singer.catalog.listing import Listed, list_catalog, type_of
from stackform_singer.catalog.streams import _dotted, _schema_paths, _streams, stream_id_of


def _columns(stream: Mapping[str, Any]) -> dict[str, str | None]:
    schema = stream.get("schema")
    return {_dotted(path): type_of(schema, path)
            for path in dict.fromkeys(_schema_paths(schema))}


def _by_id(catalog: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {stream_id_of(s): s for s in _streams(catalog)}


def _mark(entry: Listed | None) -> str:
    if entry is None:
        return "not selected"
    if entry.selected:
        prefix = 'select rule "'
        if entry.why.startswith(prefix):
            return "selected by " + entry.why[len(prefix):].split('"')[0]
        return f"selected: {entry.why}"
    if entry.why.startswith("excluded by"):
        return f"not selected: {entry.why}"
    return "not selected"


def source_changes(before: Mapping[str, Any], after: Mapping[str, Any],
                   select: Sequence[str],
                   metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Plan lines for what differs between the catalog ``before`` and the one discovered
    ``after`` (empty when the source is unchanged)."""
    old, new = _by_id(before), _by_id(after)
    listed = {(e.stream, e.prop): e for e in list_catalog(after, select, metadata)}
    lines: list[str] = []
    for name in sorted(new.keys() - old.keys()):
        lines.append(f"+ stream {name} ({_mark(listed.get((name, None)))})")
    lines.extend(f"- stream {name}" for name in sorted(old.keys() - new.keys()))
    for name in sorted(old.keys() & new.keys()):
        was, now = _columns(old[name]), _columns(new[name])
        for column in sorted(was.keys() | now.keys()):
            if column not in was:
                lines.append(f"+ column {name}.{column} "
                             f"({_mark(listed.get((name, column)))})")
            elif column not in now:
                lines.append(f"- column {name}.{column}")
            elif was[column] != now[column]:
                lines.append(f"~ column {name}.{column}: {was[column] or '(untyped)'} -> "
                             f"{now[column] or '(untyped)'}")
    return lines
