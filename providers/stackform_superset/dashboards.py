"""The ``dashboards`` provider: one Superset dashboard planned, applied and checked for drift
per environment (docs/bi.md).

Apply imports the dashboard's closure (dashboard, charts, datasets, databases) from its bi
block's asset folder through the assets import (which overwrites by UUID), deletes what left
the bundle, exports it back and records each object normalised. Refresh exports it again: any
difference is drift, field by field; apply restores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from stackform.diagnostics import Diagnostic
from stackform.errors import StackformError
from stackform.lineage.model import LineageFragment, LineageGraph
from stackform.provider import (
    BaseProvider,
    ChecksUnapplied,
    ComputesAttributes,
    Context,
    DeepValidator,
    DependsOnBlocks,
    Outputs,
    Pulls,
    Unapplied,
    WatchesPaths,
)
from stackform.provider_lineage import ProvidesLineage
from stackform.resource import Resource, ResourceState
from stackform_superset.bundle import (
    Asset,
    BundleError,
    DatabaseTarget,
    closure,
    differences,
    digest,
    find_dashboard,
    lint,
    normalise,
    per_environment,
    read_assets,
    read_zip,
    rewrite,
    to_zip,
)
from stackform_superset.client import SupersetClient, SupersetError
from stackform_superset.config import DashboardConfig
from stackform_superset.pull import pull as pull_dashboard

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack
    from stackform.provider_schemas import FoundCheck
from stackform_superset.access import Secrets, logged_in_client
from stackform_superset.bi import (
    DRIFT_ATTRIBUTE,
    BiProvider,
    env_suffix,
    import_passwords,
    schema_from,
    schema_sources,
)

DELETE_ORDER = ("dashboard", "chart", "dataset")


class DashboardProvider(BaseProvider[DashboardConfig], ComputesAttributes, ChecksUnapplied,
                        DeepValidator, WatchesPaths, DependsOnBlocks, Pulls, ProvidesLineage):
    """``[dashboards.NAME]``: one dashboard, its charts and datasets, from a bi block's assets."""

    kind: ClassVar[str] = "dashboards"
    Config: ClassVar[type[BaseModel]] = DashboardConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"bi"})
    computed_fields: ClassVar[frozenset[str]] = frozenset({"server"})

    # -- the bi block's settings ----------------------------------------------------------------

    def block_dependencies(self, stack: ResolvedStack, resource: Resource) -> list[str]:
        """Its bi block, and the blocks whose schema that block's databases follow."""
        address = self.config_of(resource).bi_address
        bi = stack.resources.get(address)
        if bi is None or bi.kind != "bi":
            return []  # computed_attributes says which bi blocks there are
        return [a for a in (address, *schema_sources(stack, BiProvider.config_of(bi)))
                if a != resource.address]

    def computed_attributes(self, stack: ResolvedStack, resource: Resource) -> Mapping[str, Any]:
        config = self.config_of(resource)
        bi = stack.resources.get(config.bi_address)
        if bi is None or bi.kind != "bi":
            known = sorted(a for a, r in stack.resources.items() if r.kind == "bi")
            raise StackformError(f"bi = {config.bi!r} names no bi block",
                                 hint=f"bi blocks: {', '.join(known)}" if known else
                                 "add a [bi.NAME] block for the Superset server")
        server = BiProvider.config_of(bi)
        Secrets.put(stack, bi.address, server)
        return {"server": {
            "bi": bi.address, "url": server.url, "username": server.username,
            "assets": server.assets, "disallow_edits": server.disallow_edits,
            "uuid_mode": server.uuid_mode,
            "databases": {k: {"sqlalchemy_uri": d.sqlalchemy_uri, "schemas": dict(d.schemas),
                              "default_schema": schema_from(stack, d.schema_from)}
                          for k, d in sorted(server.databases.items())}}}

    def watched_paths(self, stack: ResolvedStack, resource: Resource
                      ) -> list[tuple[str, Path]]:
        server = resource.attributes.get("server")
        assets = server.get("assets") if isinstance(server, Mapping) else None
        return [("Superset assets", Path(str(assets)))] if assets else []

    def _server(self, attributes: Mapping[str, Any]) -> Mapping[str, Any]:
        server = attributes.get("server")
        if not isinstance(server, Mapping):
            raise StackformError("the dashboard's bi settings were not computed",
                                 hint="resolve the stack through stackform (a bug if you did)")
        return server

    def _api(self, ctx: Context, attributes: Mapping[str, Any]) -> SupersetClient:
        server = self._server(attributes)
        password, _ = Secrets.get(ctx, str(server["bi"]))
        return logged_in_client(str(server["url"]), str(server["username"]), password)

    def lineage(self, ctx: Context, resource: Resource, outputs: Mapping[str, Any],
                upstream: LineageGraph) -> LineageFragment:
        """The datasets' tables and columns, the columns each chart uses, the dashboard."""
        from stackform_superset.lineage import dashboard_lineage

        return dashboard_lineage(resource.address, self._bundle(ctx, resource.attributes),
                                 upstream)

    def pull(self, ctx: Context, resource: Resource) -> list[str]:
        """``stackform pull dashboards.NAME``: the dashboard as this environment's server
        holds it, written back into the asset folder (see :mod:`.pull`)."""
        server = self._server(resource.attributes)
        where = str(server["assets"])
        folder = ctx.resolve_path(where)
        dashboard = find_dashboard(read_assets(folder), uuid=resource.attributes.get("uuid"),
                                   slug=resource.attributes.get("slug"), where=where)
        targets = {k: DatabaseTarget(v["sqlalchemy_uri"], v.get("schemas") or {},
                                     v.get("default_schema"))
                   for k, v in (server.get("databases") or {}).items()}
        pulled = pull_dashboard(self._api(ctx, resource.attributes), dashboard.uuid, folder,
                                targets, env_suffix(ctx, server.get("uuid_mode")))
        return ([f"wrote {where}/{path}" for path in pulled.written]
                + [f"removed {where}/{path}" for path in pulled.removed])

    def _bundle(self, ctx: Context, attributes: Mapping[str, Any]) -> list[Asset]:
        """The dashboard's closure as this environment imports it; lint problems refuse it."""
        server = self._server(attributes)
        folder = ctx.resolve_path(str(server["assets"]))
        assets = read_assets(folder)
        dashboard = find_dashboard(assets, uuid=attributes.get("uuid"),
                                   slug=attributes.get("slug"), where=str(server["assets"]))
        objects = closure(assets, dashboard)
        problems = lint(assets, objects)
        if problems:
            raise BundleError(f"the bundle of dashboard {dashboard.name!r} cannot be imported: "
                              + "; ".join(problems[:3]),
                              hint="fix the asset files (or pull them again from Superset)")
        targets = {k: DatabaseTarget(v["sqlalchemy_uri"], v.get("schemas") or {},
                                     v.get("default_schema"))
                   for k, v in (server.get("databases") or {}).items()}
        out = rewrite(objects, targets)
        env = env_suffix(ctx, server.get("uuid_mode"))
        if env:
            _own_schemas(objects, out, dashboard.name)
            out = per_environment(out, env)
        if server.get("disallow_edits"):
            out = [replace(a, doc={**a.doc, "is_managed_externally": True}) for a in out]
        return out

    def validate_deep(self, ctx: Context, resource: Resource) -> list[Diagnostic] | None:
        """The bundle builds and lints (the bi block checks the login and connections)."""
        try:
            self._bundle(ctx, resource.attributes)
        except StackformError as exc:
            key = "uuid" if resource.attributes.get("uuid") else "slug"
            return [Diagnostic(exc.reason, path=f"{resource.address}.{key}", hint=exc.hint)]
        return []

    # -- lifecycle ------------------------------------------------------------------------------

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        return self._apply(ctx, desired, None)

    def update(self, ctx: Context, prior: ResourceState, desired: Resource) -> Outputs:
        return self._apply(ctx, desired, prior)

    def _apply(self, ctx: Context, desired: Resource, prior: ResourceState | None) -> Outputs:
        objects = self._bundle(ctx, desired.attributes)
        server = self._server(desired.attributes)
        _, db_passwords = Secrets.get(ctx, str(server["bi"]))
        api = self._api(ctx, desired.attributes)
        dashboard = next(a for a in objects if a.kind == "dashboard")
        env = env_suffix(ctx, server.get("uuid_mode"))
        api.import_assets(to_zip(objects), import_passwords(objects, db_passwords, env))
        ctx.log(f"{desired.address}: imported {len(objects)} objects into {server['url']}")
        wanted = {a.uuid for a in objects}
        before: Mapping[str, Any] = (prior.outputs.get("objects") or {}) if prior else {}
        self._delete_left(ctx, api, desired.address,
                          {u: o for u, o in before.items() if u not in wanted})
        exported = api.export_dashboard(dashboard.uuid)
        found = read_zip(exported) if exported is not None else {}
        missing = [a.label for a in objects if a.uuid not in found]
        if missing:
            raise SupersetError(
                f"{desired.address}: imported, but the export of dashboard {dashboard.name!r} "
                f"lacks {', '.join(missing)}: Superset matched them by name to objects with "
                "another uuid, and the dashboard on the server is not what the bundle says",
                hint="two environments on one server need different database names and "
                "schemas; delete the clashing objects in Superset and apply again")
        root = Path(str(server["assets"]))
        return {"dashboard": dashboard.uuid, "objects": {
            a.uuid: {"kind": a.kind, "name": a.name, "path": (root / a.path).as_posix(),
                     "source": digest(normalise(a)), "server": normalise(found[a.uuid])}
            for a in objects}}

    def _delete_left(self, ctx: Context, api: SupersetClient, address: str,
                     left: Mapping[str, Any]) -> None:
        """Delete objects that left the bundle: charts and datasets only when nothing else
        uses them; databases belong to the bi block."""
        for kind in DELETE_ORDER:
            for uuid, entry in sorted(left.items()):
                if entry.get("kind") != kind:
                    continue
                ident = api.find(kind, uuid)
                if ident is None:
                    continue
                if kind != "dashboard" and _used_elsewhere(api, kind, ident):
                    ctx.log(f"{address}: {kind} {entry.get('name')} kept: still used")
                    continue
                api.request("DELETE", f"/api/v1/{kind}/{ident}", ok=(200, 404))
                ctx.log(f"{address}: deleted {kind} {entry.get('name')}")

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        recorded: Mapping[str, Any] = prior.outputs.get("objects") or {}
        uuid = prior.outputs.get("dashboard")
        if not recorded or not uuid:
            return None
        bi = str(self._server(prior.attributes)["bi"])
        if not Secrets.known(ctx, bi):
            ctx.log(f"{prior.address}: {bi} is no longer in the stack: not refreshed")
            return prior
        exported = self._api(ctx, prior.attributes).export_dashboard(str(uuid))
        if exported is None:
            return None
        found = read_zip(exported)
        drift: dict[str, list[str]] = {}
        for ouuid, entry in sorted(recorded.items(), key=lambda i: (i[1]["kind"], i[1]["name"])):
            label = f"{entry['kind']} {entry['name']}"
            if ouuid not in found:
                drift[label] = ["deleted in Superset"]
                continue
            lines = differences(entry["server"], normalise(found[ouuid]))
            if lines:
                drift[label] = lines
        if not drift:
            return prior
        return replace(prior, attributes={**prior.attributes, DRIFT_ATTRIBUTE: drift})

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        recorded: Mapping[str, Any] = prior.outputs.get("objects") or {}
        if not recorded:
            return
        self._delete_left(ctx, self._api(ctx, prior.attributes), prior.address, recorded)

    def test_checks(self, ctx: Context, resource: Resource, state: ResourceState
                    ) -> list[FoundCheck]:
        """``stackform test``: each chart's query runs against the environment's warehouse."""
        from stackform_superset.checks import chart_checks

        return chart_checks(self._api(ctx, state.attributes), resource.address, state.outputs)

    # -- the plan -------------------------------------------------------------------------------

    def unapplied(self, ctx: Context, prior: ResourceState, desired: Resource
                  ) -> Unapplied | None:
        recorded: Mapping[str, Any] = prior.outputs.get("objects") or {}
        if not recorded:
            return None
        root = Path(str(self._server(desired.attributes)["assets"]))
        objects = {a.uuid: a for a in self._bundle(ctx, desired.attributes)}
        paths = {(root / a.path).as_posix() for u, a in objects.items()
                 if recorded.get(u, {}).get("source") != digest(normalise(a))}
        paths |= {str(e.get("path")) for u, e in recorded.items() if u not in objects}
        return Unapplied("Superset asset files", tuple(sorted(paths))) if paths else None

    def plan_notes(self, ctx: Context, prior: ResourceState | None,
                   desired: Resource | None) -> list[str]:
        recorded: Mapping[str, Any] = (prior.outputs.get("objects") or {}) if prior else {}
        if desired is None:
            return [f"- {e['kind']} {e['name']} (deleted from Superset unless another dashboard"
                    " uses it)" if e["kind"] != "dashboard" else f"- dashboard {e['name']}"
                    for e in _ordered(recorded.values()) if e["kind"] != "database"]
        notes = []
        objects = self._bundle(ctx, desired.attributes)
        for asset in objects:
            entry = recorded.get(asset.uuid)
            if entry is None:
                notes.append(f"+ {asset.label}")
            elif entry.get("source") != digest(normalise(asset)):
                changes = differences(entry["server"], normalise(asset), only_after_keys=True)
                notes.append(f"~ {asset.label}: {'; '.join(changes) or 'changed'}")
        wanted = {a.uuid for a in objects}
        for entry in _ordered(e for u, e in recorded.items() if u not in wanted):
            notes.append(f"- {entry['kind']} {entry['name']} (no longer in the bundle; deleted "
                         "from Superset)")
        drift = (prior.attributes.get(DRIFT_ATTRIBUTE) or {}) if prior else {}
        for label, lines in sorted(drift.items()):
            notes.append(f"~ {label}: {'; '.join(lines)} (edited in Superset; apply restores "
                         "it)")
        return notes


def _own_schemas(folder: list[Asset], rewritten: list[Asset], dashboard: str) -> None:
    """Per-environment UUIDs share a server between environments: refuse a dataset left in the
    folder's schema, which every environment would then share (Superset matches datasets by
    database, schema and table, and would hand one environment's dataset to another)."""
    before = {a.uuid: a.doc.get("schema") for a in folder if a.kind == "dataset"}
    shared = sorted(a.name for a in rewritten
                    if a.kind == "dataset" and a.doc.get("schema") == before.get(a.uuid))
    if shared:
        raise BundleError(
            f'uuid_mode = "per_environment": dataset(s) {", ".join(shared)} of dashboard '
            f"{dashboard!r} keep the folder's schema, so every environment would share them",
            hint="give each environment its own schema: `schemas` or `schema_from` on the bi "
            "block's database")



def _ordered(entries: Any) -> list[Mapping[str, Any]]:
    order = ("database", "dataset", "chart", "dashboard")
    return sorted(entries, key=lambda e: (order.index(e["kind"]), e["name"]))


def _used_elsewhere(api: SupersetClient, kind: str, ident: int) -> bool:
    """A chart on a dashboard, or a dataset behind a chart, still in use."""
    answer = api.request("GET", f"/api/v1/{kind}/{ident}/related_objects" if kind == "dataset"
                         else f"/api/v1/chart/{ident}", ok=(200, 404))
    if answer.status_code != 200:
        return False
    doc = answer.json()
    if kind == "dataset":
        return bool((doc.get("charts") or {}).get("count"))
    return bool((doc.get("result") or {}).get("dashboards"))

