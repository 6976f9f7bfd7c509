"""``stackform catalog``: the streams and properties a block offers, which are selected and
why, as a table or as JSON. The listing itself comes from the block's provider
(:class:`~stackform.inspection.ListsCatalog`); this module picks and renders."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stackform.connector_blocks import find_capable
from stackform.inspection import CatalogEntry, CatalogListing, ListsCatalog
from stackform.session import Session

FORMATS = ("text", "json")
SOURCES = {"recorded": "the catalog the last apply recorded",
           "discovered": "discovered now (nothing recorded yet)"}


def catalog_of(session: Session, name: str) -> CatalogListing:
    """The listing of block ``name`` in the session's environment."""
    found = find_capable(session, name, ListsCatalog, "catalog", "catalog")
    provider: ListsCatalog = found.provider
    return provider.catalog_listing(found.ctx, found.resource, found.prior)


def shown(listing: CatalogListing, everything: bool) -> list[CatalogEntry]:
    """The entries to show: all of them, or the selected streams' selected properties."""
    if everything:
        return list(listing.entries)
    on = {e.stream for e in listing.entries if e.property is None and e.selected}
    return [e for e in listing.entries if e.stream in on and e.selected]


def to_json(listing: CatalogListing, env: str, everything: bool) -> str:
    """``{"block", "env", "catalog", "all", "notes", "streams": [{..., "properties": [...]}]}``
    (docs/connectors.md)."""
    streams: dict[str, dict[str, Any]] = {}
    for entry in shown(listing, everything):
        if entry.property is None:
            streams[entry.stream] = {**entry.to_json(), "properties": []}
        elif entry.stream in streams:
            streams[entry.stream]["properties"].append(entry.to_json())
    for stream in streams.values():
        for prop in stream["properties"]:
            del prop["stream"]
        del stream["property"]
    return json.dumps({"block": listing.address, "env": env, "catalog": listing.source,
                       "all": everything, "notes": list(listing.notes),
                       "streams": list(streams.values())}, indent=2)


def _replication(entry: CatalogEntry) -> str:
    parts = []
    if entry.replication_method:
        parts.append(entry.replication_method
                     + (f" on {entry.replication_key}" if entry.replication_key else ""))
    if entry.key_properties:
        parts.append(f"key {', '.join(entry.key_properties)}")
    return "; ".join(parts)


def to_rows(listing: CatalogListing, everything: bool) -> list[Sequence[str]]:
    """Table rows: ``[selected, name, type or replication, why]``; properties indented
    under their stream."""
    rows: list[Sequence[str]] = []
    for entry in shown(listing, everything):
        mark = "yes" if entry.selected else "no"
        if entry.property is None:
            rows.append([mark, entry.stream, _replication(entry), entry.why])
        else:
            rows.append([mark, f"  {entry.stream}.{entry.property}", entry.type or "",
                         entry.why])
    return rows


def title(listing: CatalogListing, env: str, everything: bool) -> str:
    streams = [e for e in listing.entries if e.property is None]
    on = sum(e.selected for e in streams)
    scope = "every stream and property" if everything else "the selected ones (--all: all)"
    return (f"{listing.address} in {env}: {len(streams)} streams, {on} selected; "
            f"{SOURCES.get(listing.source, listing.source)}; showing {scope}")
