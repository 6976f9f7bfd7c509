"""What a catalog selects (:class:`Selection`, :func:`selection_of`) and plan lines for a change
(:func:`diff_selection`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackform_singer.catalog.streams import Path, _dotted, _streams, _StreamView

_NONE = "(none)"


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
    # create=False reads only
    return _selection_of_views([_StreamView(s, create=False) for s in _streams(catalog)])


def _selection_of_views(views: Iterable[_StreamView]) -> Selection:
    """:func:`selection_of` from the streams' views."""
    out: list[StreamSelection] = []
    for view in views:
        stream_md = view.entries.get((), [None])[0]
        if not _effective(stream_md, None):
            continue
        selected: dict[Path, bool] = {(): True}
        for path in view.paths:  # parents come before children
            found = view.entries.get(path)
            selected[path] = _effective(found[0] if found else None, selected.get(path[:-1]))
        method, key = replication_of(view)
        out.append(
            StreamSelection(
                name=view.id,
                properties=tuple(sorted(_dotted(p) for p, on in selected.items() if p and on)),
                replication_method=method,
                replication_key=key,
            )
        )
    return Selection(tuple(out))


def replication_of(view: _StreamView) -> tuple[str | None, str | None]:
    """A stream's replication method and key, as a tap reads them from its catalog."""
    md, stream = view.stream_md, view.stream
    method = (
        md.get("replication-method")
        or md.get("forced-replication-method")
        or stream.get("replication_method")
    )
    key = md.get("replication-key") or stream.get("replication_key")
    return _text(method), _text(key)


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
