"""An extractor's source as stackform sees it: the catalog the last apply recorded, or one
discovered now, read-only (``stackform catalog``, ``plan --refresh-catalog``).

A catalog discovered at plan is kept in memory for the rest of that plan only (keyed by the
plan's :class:`~stackform.provider.Context`), so the plan's notes, checks and lineage all see
the source as it is now, and nothing outside state changes until apply records it.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackform.inspection import CatalogEntry, CatalogListing
from stackform.plugins.kit import PluginError, install, plugin_dir, plugin_environ
from stackform.provider import Context
from stackform.resource import Resource, ResourceState
from stackform_singer.catalog import Selection, apply_selection, selection_of
from stackform_singer.catalog.changes import source_changes
from stackform_singer.catalog.listing import list_catalog
from stackform_singer.catalog.schema import apply_schema
from stackform_singer.config import ExtractorConfig
from stackform_singer.discovery import discover
from stackform_singer.plugin import executable_name

REFRESH_CATALOG = "refresh_catalog"
"""The provider option (``--refresh-catalog``) asking for discovery at plan."""
REINSTALLS = ("pip_url", "python")
"""Attributes whose change replaces the extractor: apply discovers with the new install."""


@dataclass(frozen=True)
class Refreshed:
    """The catalog one plan discovered for one extractor, and what changed since apply."""

    catalog: dict[str, Any]
    lines: tuple[str, ...]


_plans: dict[int, tuple[weakref.ref[Context], dict[str, Refreshed]]] = {}
_lock = threading.Lock()


def _remember(ctx: Context, address: str, found: Refreshed) -> None:
    with _lock:
        for key in [k for k, (ref, _) in _plans.items() if ref() is None]:
            del _plans[key]  # plans that are over
        entry = _plans.get(id(ctx))
        if entry is None or entry[0]() is not ctx:
            entry = (weakref.ref(ctx), {})
            _plans[id(ctx)] = entry
        entry[1][address] = found


def refreshed(ctx: Context, address: str) -> Refreshed | None:
    """What this plan (``ctx``) discovered for ``address``, or ``None``."""
    with _lock:
        entry = _plans.get(id(ctx))
        if entry is None or entry[0]() is not ctx:
            return None
        return entry[1].get(address)


def recorded_catalog(ctx: Context, address: str, config: ExtractorConfig | None = None
                     ) -> dict[str, Any] | None:
    """The catalog the last apply discovered on this machine, or ``None``; with ``config``,
    shaped by the block's ``schema`` overrides as apply shapes it."""
    path = plugin_dir(ctx, address) / "catalog.discovered.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return data if config is None else apply_schema(data, config.schema_overrides)


def wants_refresh(ctx: Context, config: ExtractorConfig) -> bool:
    return bool(ctx.options.get(REFRESH_CATALOG) or config.refresh_catalog)


def discover_now(ctx: Context, resource: Resource, config: ExtractorConfig, why: str
                 ) -> dict[str, Any]:
    """Discovery with the block as declared (install from the shared cache), read-only, shaped
    by its ``schema`` overrides as apply shapes it."""
    try:
        venv = install(ctx, resource)
        exe = venv.executable(executable_name(config))
        found = discover(ctx, resource, str(exe), plugin_environ(venv, resource))
        return apply_schema(found, config.schema_overrides)
    except PluginError as exc:
        raise PluginError(
            f"{resource.address}: discovery for {why} failed: {exc.reason}",
            hint=(exc.hint + "; " if exc.hint else "")
            + "nothing was recorded: state and the recorded catalog are as they were") from exc


def changes_at_source(ctx: Context, prior: ResourceState, desired: Resource,
                      config: ExtractorConfig) -> str | None:
    """:meth:`~stackform.inspection.DiscoversSource.source_changes` of an extractor."""
    if not wants_refresh(ctx, config):
        return None
    after = desired.masked(ctx.fingerprint)
    if any(prior.attributes.get(k) != after.get(k) for k in REINSTALLS):
        return None  # replaced: apply installs the new tap and discovers with it
    catalog = discover_now(ctx, desired, config, "the plan (--refresh-catalog)")
    before = recorded_catalog(ctx, desired.address, config)
    if before is not None:
        lines = source_changes(before, catalog, config.select, config.metadata)
    else:
        # A machine without the last apply's catalog: compare what it selected.
        was = prior.outputs.get("selection")
        now = selection_of(apply_selection(catalog, config.select, config.metadata))
        same = isinstance(was, Mapping) and Selection.from_json(was) == now
        lines = [] if same else ["~ the selected streams and properties differ from the last "
                                 "apply's (no catalog recorded on this machine to compare)"]
    _remember(ctx, desired.address, Refreshed(catalog, tuple(lines)))
    return "the source's schema changed since the last apply" if lines else None


def catalog_listing(ctx: Context, resource: Resource, prior: ResourceState | None,
                    config: ExtractorConfig) -> CatalogListing:
    """:meth:`~stackform.inspection.ListsCatalog.catalog_listing` of an extractor."""
    catalog = recorded_catalog(ctx, resource.address, config) if prior is not None else None
    source, notes = "recorded", tuple[str, ...]()
    if catalog is None:
        catalog = discover_now(ctx, resource, config, "stackform catalog")
        source = "discovered"
        notes = ("no catalog recorded for this environment on this machine: discovered now, "
                 "read-only (nothing recorded; apply records it)",)
    entries = tuple(
        CatalogEntry(e.stream, e.prop, e.selected, e.why, e.type, e.replication_method,
                     e.replication_key, e.key_properties)
        for e in list_catalog(catalog, config.select, config.metadata))
    return CatalogListing(resource.address, entries, source, notes)
