"""The ``bi`` provider: one Superset server and this environment's database connections
(docs/bi.md).

Apply imports the asset folder's databases the block configures, pointed at this environment,
their passwords only in the import's ``passwords`` field; refresh finds them by UUID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from stackform.config.schema import env_identifier
from stackform.diagnostics import Diagnostic
from stackform.errors import StackformError
from stackform.provider import (
    BaseProvider,
    ComputesAttributes,
    Context,
    DeepValidator,
    DependsOnBlocks,
    Outputs,
    WatchesPaths,
)
from stackform.resource import Resource, ResourceState
from stackform_superset.bundle import (
    Asset,
    BundleError,
    DatabaseTarget,
    lint,
    per_environment,
    read_assets,
    rewrite,
    to_zip,
)
from stackform_superset.client import SupersetClient, SupersetError
from stackform_superset.config import BiConfig

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack
from stackform_superset.access import Secrets, logged_in_client, real_secret

DRIFT_ATTRIBUTE = "drift"
"""Added by refresh when the server differs from what apply recorded: {object: [changes]}."""


def database_assets(folder: Path, config: Mapping[str, Any], env: str | None
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


def import_passwords(objects: list[Asset], passwords: Mapping[str, str], env: str | None
               ) -> dict[str, str]:
    """The import's passwords by bundle file, for the databases ``passwords`` names (by their
    name in the folder: a per-environment name carries the suffix)."""
    suffix = f"_{env}" if env else ""
    return {a.bundle_path: passwords[a.name.removesuffix(suffix)] for a in objects
            if a.kind == "database" and a.name.removesuffix(suffix) in passwords}


def env_suffix(ctx: Context, uuid_mode: Any) -> str | None:
    return env_identifier(ctx.env) if uuid_mode == "per_environment" else None


class BiProvider(BaseProvider[BiConfig], ComputesAttributes, DeepValidator, WatchesPaths,
                 DependsOnBlocks):
    """``[bi.NAME]``: one Superset server and this environment's database connections."""

    kind: ClassVar[str] = "bi"
    Config: ClassVar[type[BaseModel]] = BiConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"url"})
    computed_fields: ClassVar[frozenset[str]] = frozenset()

    def computed_attributes(self, stack: ResolvedStack, resource: Resource) -> Mapping[str, Any]:
        # Nothing to add: only the passwords to keep, for refresh and delete (never in state).
        Secrets.put(stack, resource.address, self.config_of(resource))
        return {}

    def watched_paths(self, stack: ResolvedStack, resource: Resource
                      ) -> list[tuple[str, Path]]:
        return [("Superset assets", Path(self.config_of(resource).assets))]

    def block_dependencies(self, stack: ResolvedStack, resource: Resource) -> list[str]:
        return [a for a in schema_sources(stack, self.config_of(resource))
                if a != resource.address]

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        config = self.config_of(desired)
        api = logged_in_client(config.url, config.username, config.password)
        env = env_suffix(ctx, config.uuid_mode)
        databases = database_assets(ctx.resolve_path(config.assets),
                                     {k: v.model_dump() for k, v in config.databases.items()},
                                     env)
        passwords = {k: v.password for k, v in config.databases.items() if v.password}
        if databases:
            api.import_assets(to_zip(databases), import_passwords(databases, passwords, env))
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
        if not Secrets.known(ctx, prior.address):
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
        password, _ = Secrets.get(ctx, prior.address)
        attrs = prior.attributes
        return logged_in_client(str(attrs["url"]), str(attrs["username"]), password)

    def validate_deep(self, ctx: Context, resource: Resource) -> list[Diagnostic] | None:
        config = self.config_of(resource)
        found: list[Diagnostic] = []
        # validate resolves the stack without secrets: look them up as destroy does
        api = logged_in_client(config.url, config.username,
                               real_secret(ctx.stack_name, config.password))
        try:
            api.login()
            for key, database in sorted(config.databases.items()):
                password = (real_secret(ctx.stack_name, database.password)
                            if database.password else None)
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


def schema_from(stack: ResolvedStack, address: str | None) -> str | None:
    """The schema block ``address`` (a dbt transformer) exports in this environment."""
    if address is None:
        return None
    schema = stack.exports.get(address, {}).get("schema")
    if schema is None:
        exporting = sorted(a for a, values in stack.exports.items() if "schema" in values)
        what = "names no block of the stack" if address not in stack.resources else (
            "names a block that exports no schema")
        raise StackformError(f"schema_from = {address!r} {what}",
                             hint=f"blocks that export a schema: {', '.join(exporting)}"
                             if exporting else "add the [transformers.NAME] dbt block the "
                             "dashboards follow")
    return str(schema)


def schema_sources(stack: ResolvedStack, config: BiConfig) -> list[str]:
    """The blocks whose schema the bi block's databases follow (applied before it); one the
    stack does not have is reported by :func:`schema_from`, naming the setting."""
    return sorted({d.schema_from for d in config.databases.values()
                   if d.schema_from and d.schema_from in stack.resources})

