"""The ``bi`` and ``dashboards`` providers: Superset dashboards planned, applied and checked
for drift per environment (docs/bi.md).

``[bi.NAME]`` owns the environment's database connections on one server: apply imports the
asset folder's databases it configures (pointed at this environment, passwords in the import's
``passwords`` field). ``[dashboards.NAME]`` owns one dashboard and the charts and datasets it
needs: apply imports the closure through the assets import (which overwrites by UUID), deletes
what left the bundle, exports it back and records each object normalised. Refresh exports it
again: any difference is drift, field by field; apply restores it.

A dashboard needs its bi block's password and database passwords at apply time, which must
never reach its attributes (state): resolving the stack computes the bi block's plain settings
into the dashboard's ``server`` attribute and keeps the secrets in this process only
(:class:`_Secrets`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from stackform.config.interpolate import secret_placeholder
from stackform.config.schema import env_identifier
from stackform.diagnostics import Diagnostic
from stackform.errors import StackformError
from stackform.provider import (
    BaseProvider,
    ChecksUnapplied,
    ComputesAttributes,
    Context,
    DeepValidator,
    Outputs,
    Unapplied,
    WatchesPaths,
)
from stackform.resource import Resource, ResourceState
from stackform.secrets import SecretStore
from stackform_dbt.profile import default_schema
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
from stackform_superset.config import BiConfig, DashboardConfig

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack

DRIFT_ATTRIBUTE = "drift"
"""Added by refresh when the server differs from what apply recorded: {object: [changes]}."""
DELETE_ORDER = ("dashboard", "chart", "dataset")


class _Secrets:
    """The passwords of each bi block, for this process only, by (stack folder, environment,
    address): filled when the stack is resolved, read by the dashboards' apply and refresh.

    ``destroy`` resolves the stack without secrets (placeholders), but deleting from Superset
    needs a login: a placeholder is looked up in the stack's secret store, and when it is not
    there either, the call that needs it says which secret is missing.
    """

    _lock = threading.Lock()
    _known: ClassVar[dict[tuple[str, str, str], tuple[str, dict[str, str]]]] = {}

    @classmethod
    def put(cls, stack: ResolvedStack, address: str, config: BiConfig) -> None:
        passwords = {k: _real(stack.name, d.password) for k, d in config.databases.items()
                     if d.password}
        with cls._lock:
            cls._known[(str(stack.dir.resolve()), stack.env, address)] = (
                _real(stack.name, config.password), passwords)

    @classmethod
    def known(cls, ctx: Context, address: str) -> bool:
        with cls._lock:
            return (str(ctx.stack_dir.resolve()), ctx.env, address) in cls._known

    @classmethod
    def get(cls, ctx: Context, address: str) -> tuple[str, dict[str, str]]:
        with cls._lock:
            found = cls._known.get((str(ctx.stack_dir.resolve()), ctx.env, address))
        if found is None:
            # The stack no longer has the bi block (both blocks removed at once, say).
            raise StackformError(
                f"{address} is no longer in the stack, and Superset needs its login to change "
                "anything", hint=f"keep {address} until the dashboards using it are "
                "destroyed, or forget them with `stackform state rm ADDRESS`")
        for value in (found[0], *found[1].values()):
            missing = _PLACEHOLDER.fullmatch(value)
            if missing:
                raise StackformError(
                    f"{address}: secret '{missing.group(1)}' is needed to log in to Superset "
                    "and is not available", hint=f"`stackform secret set {missing.group(1)}`")
        return found


_HEAD, _, _TAIL = secret_placeholder("\0").partition("\0")
_PLACEHOLDER = re.compile(re.escape(_HEAD) + r"(.+?)" + re.escape(_TAIL))
"""What resolving without secrets (destroy, validate) puts in place of ``${secret.NAME}``."""


def _real(stack_name: str, value: str) -> str:
    """The value, or for a secret's placeholder the secret itself when the store has it."""
    missing = _PLACEHOLDER.fullmatch(value)
    if missing is None:
        return value
    found = SecretStore(stack_name).lookup(missing.group(1))
    return found.value if found is not None else value


_CLIENTS: dict[tuple[str, str, str], SupersetClient] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(url: str, username: str, password: str) -> SupersetClient:
    """One logged-in client per server and account in this process: a login costs about
    200 ms, and a plan and its apply talk to the server several times."""
    key = (url, username, hashlib.sha256(password.encode()).hexdigest())
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = SupersetClient(url, username, password)
        return _CLIENTS[key]


def _database_assets(folder: Path, config: Mapping[str, Any], env: str | None
                     ) -> list[Asset]:
    """The asset folder's databases the bi block configures, rewritten for the environment
    (``env``: per-environment UUIDs and names)."""
    assets = read_assets(folder)
    by_name = {a.name: a for a in assets.values() if a.kind == "database"}
    missing = sorted(set(config) - set(by_name))
    if missing:
        raise BundleError(f"no database named {', '.join(map(repr, missing))} in {folder}",
                          hint="databases there: " + (", ".join(sorted(map(repr, by_name)))
                                                      or "none"))
    targets = {k: DatabaseTarget(v["sqlalchemy_uri"], v.get("schemas") or {})
               for k, v in config.items()}
    out = rewrite([by_name[k] for k in sorted(config)], targets)
    return per_environment(out, env) if env else out


def _passwords(objects: list[Asset], passwords: Mapping[str, str], env: str | None
               ) -> dict[str, str]:
    """The import's passwords by bundle file, for the databases ``passwords`` names (by their
    name in the folder: a per-environment name carries the suffix)."""
    suffix = f"_{env}" if env else ""
    return {a.bundle_path: passwords[a.name.removesuffix(suffix)] for a in objects
            if a.kind == "database" and a.name.removesuffix(suffix) in passwords}


def _env_suffix(ctx: Context, uuid_mode: Any) -> str | None:
    return env_identifier(ctx.env) if uuid_mode == "per_environment" else None


class BiProvider(BaseProvider[BiConfig], ComputesAttributes, DeepValidator, WatchesPaths):
    """``[bi.NAME]``: one Superset server and this environment's database connections."""

    kind: ClassVar[str] = "bi"
    Config: ClassVar[type[BaseModel]] = BiConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"url"})
    computed_fields: ClassVar[frozenset[str]] = frozenset()

    def computed_attributes(self, stack: ResolvedStack, resource: Resource) -> Mapping[str, Any]:
        # Nothing to add: only the passwords to keep, for refresh and delete (never in state).
        _Secrets.put(stack, resource.address, self.config_of(resource))
        return {}

    def watched_paths(self, stack: ResolvedStack, resource: Resource
                      ) -> list[tuple[str, Path]]:
        return [("Superset assets", Path(self.config_of(resource).assets))]

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        config = self.config_of(desired)
        api = _client(config.url, config.username, config.password)
        env = _env_suffix(ctx, config.uuid_mode)
        databases = _database_assets(ctx.resolve_path(config.assets),
                                     {k: v.model_dump() for k, v in config.databases.items()},
                                     env)
        passwords = {k: v.password for k, v in config.databases.items() if v.password}
        if databases:
            api.import_assets(to_zip(databases), _passwords(databases, passwords, env))
        else:
            api.login()
        ctx.log(f"{desired.address}: {len(databases)} database connection(s) on {config.url}")
        return {"url": config.url, "databases": {a.name: a.uuid for a in databases}}

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        recorded: Mapping[str, str] = prior.outputs.get("databases") or {}
        if "url" not in prior.outputs:
            return None
        if not recorded:
            return prior
        if not _Secrets.known(ctx, prior.address):
            ctx.log(f"{prior.address}: no longer in the stack: not refreshed")
            return prior
        api = self._api_of(ctx, prior)
        found = {name for name, uuid in recorded.items() if api.find("database", uuid)}
        if not found:
            return None
        if found == set(recorded):
            return prior
        gone = sorted(set(recorded) - found)
        return replace(prior, attributes={**prior.attributes, DRIFT_ATTRIBUTE: {
            f"database {name}": ["deleted in Superset"] for name in gone}})

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        recorded: Mapping[str, str] = prior.outputs.get("databases") or {}
        if not recorded:
            return
        api = self._api_of(ctx, prior)
        for name, uuid in sorted(recorded.items()):
            ident = api.find("database", uuid)
            if ident is None:
                continue
            answer = api.request("DELETE", f"/api/v1/database/{ident}", ok=(200, 404, 422))
            if answer.status_code == 422:  # datasets made outside the stack still use it
                ctx.log(f"{prior.address}: database {name} kept: {answer.text[:200]}")

    def _api_of(self, ctx: Context, prior: ResourceState) -> SupersetClient:
        password, _ = _Secrets.get(ctx, prior.address)
        attrs = prior.attributes
        return _client(str(attrs["url"]), str(attrs["username"]), password)

    def validate_deep(self, ctx: Context, resource: Resource) -> list[Diagnostic] | None:
        config = self.config_of(resource)
        found: list[Diagnostic] = []
        # validate resolves the stack without secrets: look them up as destroy does
        api = _client(config.url, config.username, _real(ctx.stack_name, config.password))
        try:
            api.login()
            for key, database in sorted(config.databases.items()):
                password = _real(ctx.stack_name, database.password) if database.password else None
                try:
                    api.test_connection(database.sqlalchemy_uri, password)
                except SupersetError as exc:
                    found.append(Diagnostic(exc.reason, path=f"{resource.address}.databases."
                                            f"{key}", hint=exc.hint))
        except SupersetError as exc:
            found.append(Diagnostic(exc.reason, path=f"{resource.address}.url", hint=exc.hint))
        try:
            problems = lint(read_assets(ctx.resolve_path(config.assets)))
        except BundleError as exc:
            problems = [exc.reason]
        found.extend(Diagnostic(p, path=f"{resource.address}.assets") for p in problems)
        return found


class DashboardProvider(BaseProvider[DashboardConfig], ComputesAttributes, ChecksUnapplied,
                        DeepValidator, WatchesPaths):
    """``[dashboards.NAME]``: one dashboard, its charts and datasets, from a bi block's assets."""

    kind: ClassVar[str] = "dashboards"
    Config: ClassVar[type[BaseModel]] = DashboardConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"bi"})
    computed_fields: ClassVar[frozenset[str]] = frozenset({"server"})

    # -- the bi block's settings ----------------------------------------------------------------

    def computed_attributes(self, stack: ResolvedStack, resource: Resource) -> Mapping[str, Any]:
        config = self.config_of(resource)
        bi = stack.resources.get(config.bi_address)
        if bi is None or bi.kind != "bi":
            known = sorted(a for a, r in stack.resources.items() if r.kind == "bi")
            raise StackformError(f"bi = {config.bi!r} names no bi block",
                                 hint=f"bi blocks: {', '.join(known)}" if known else
                                 "add a [bi.NAME] block for the Superset server")
        server = BiProvider.config_of(bi)
        _Secrets.put(stack, bi.address, server)
        return {"server": {
            "bi": bi.address, "url": server.url, "username": server.username,
            "assets": server.assets, "disallow_edits": server.disallow_edits,
            "uuid_mode": server.uuid_mode,
            "databases": {k: {"sqlalchemy_uri": d.sqlalchemy_uri, "schemas": dict(d.schemas),
                              "default_schema": _schema_from(stack, d.schema_from)}
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
        password, _ = _Secrets.get(ctx, str(server["bi"]))
        return _client(str(server["url"]), str(server["username"]), password)

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
        env = _env_suffix(ctx, server.get("uuid_mode"))
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
        _, db_passwords = _Secrets.get(ctx, str(server["bi"]))
        api = self._api(ctx, desired.attributes)
        dashboard = next(a for a in objects if a.kind == "dashboard")
        env = _env_suffix(ctx, server.get("uuid_mode"))
        api.import_assets(to_zip(objects), _passwords(objects, db_passwords, env))
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
        if not _Secrets.known(ctx, bi):
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


def _schema_from(stack: ResolvedStack, address: str | None) -> str | None:
    """The schema the dbt block ``address`` builds into in this environment."""
    if address is None:
        return None
    transformer = stack.resources.get(address)
    if transformer is None:
        known = sorted(a for a, r in stack.resources.items() if r.kind == "transformers")
        raise StackformError(f"schema_from = {address!r} names no block of the stack",
                             hint=f"transformer blocks: {', '.join(known)}" if known else
                             "add the [transformers.NAME] block the dashboards follow")
    target = transformer.attributes.get("target")
    schema = target.get("schema") if isinstance(target, Mapping) else None
    return str(schema) if schema else default_schema(stack.env)


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
