"""The schemas dbt builds in an environment (the profile's schema, and every other schema the
last manifest put a node in, such as ``+schema`` ones), dropped when ``stackform test``
destroys a throwaway environment; and the stack's check queries run through dbt's adapter
driver (see :mod:`stackform.provider_schemas`). DuckDB and PostgreSQL targets only."""

from __future__ import annotations

import json
from typing import Any

from stackform.errors import StackformError
from stackform.plugins.kit import install, plugin_dir
from stackform.provider import Context
from stackform.provider_schemas import QueryResult, WarehouseSchema
from stackform.resource import Resource
from stackform.trial import warehouse
from stackform_dbt.profile import default_schema, default_target


def _database(ctx: Context, resource: Resource) -> tuple[dict[str, Any], str, str] | None:
    """(request db, identity, the profile's schema) of the transformer's target."""
    target = dict(resource.attributes.get("target") or default_target(ctx.env))
    schema = str(target.get("schema") or default_schema(ctx.env))
    if target.get("type") == "duckdb":
        path = target.get("path")
        if not path or path == ":memory:":
            return None
        db, identity = warehouse.duckdb_database(ctx.resolve_path(str(path)))
        return db, identity, schema
    if target.get("type") in ("postgres", "postgresql"):
        db, identity = warehouse.postgres_database(target)
        return db, identity, schema
    return None


def _manifest_schemas(ctx: Context, resource: Resource) -> set[str]:
    """Every schema the last manifest of this environment put a model, seed, snapshot or
    stored test failure in."""
    path = plugin_dir(ctx, resource.address) / "target" / "manifest.json"
    try:
        nodes = json.loads(path.read_text(encoding="utf-8")).get("nodes") or {}
    except (OSError, ValueError):
        return set()
    return {str(node["schema"]) for node in nodes.values()
            if isinstance(node, dict) and node.get("schema")
            and node.get("resource_type") in ("model", "seed", "snapshot", "test")}


def owned_schemas(ctx: Context, resource: Resource) -> list[WarehouseSchema]:
    found = _database(ctx, resource)
    if found is None:
        return []
    _db, identity, schema = found
    names = {schema} | {s for s in _manifest_schemas(ctx, resource)
                        if s == schema or s.startswith(schema + "_")}
    return [WarehouseSchema(identity, name) for name in sorted(names)
            if name not in ("main", "public")]


def drop_schemas(ctx: Context, resource: Resource) -> list[str]:
    found = _database(ctx, resource)
    owned = owned_schemas(ctx, resource)
    if found is None or not owned:
        return []
    db, identity, _schema = found
    dropped, empty = warehouse.drop_schemas(install(ctx, resource), db, identity,
                                            [s.schema for s in owned])
    if empty:
        warehouse.remove_duckdb_file(ctx.resolve_path(db["path"]))
    return dropped


def run_query(ctx: Context, resource: Resource, sql: str) -> QueryResult:
    found = _database(ctx, resource)
    if found is None:
        raise StackformError(f"{resource.address}: its target is no DuckDB file or PostgreSQL "
                             "database stackform can query")
    return warehouse.run_query(install(ctx, resource), found[0], found[1], sql)
