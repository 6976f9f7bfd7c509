"""The schemas dbt builds in an environment (the profile's schema, and every other schema the
last manifest put a node in, such as ``+schema`` ones), dropped when ``stackform test``
destroys a throwaway environment; and the stack's check queries run through dbt's adapter
driver (see :mod:`stackform.provider_schemas`). DuckDB and PostgreSQL targets only."""

from __future__ import annotations

import json

from stackform.plugins.kit import plugin_dir
from stackform.provider import Context
from stackform.provider_schemas import QueryResult, WarehouseSchema
from stackform.resource import Resource
from stackform.trial import warehouse
from stackform_dbt.profile import default_schema, default_target


def _database(ctx: Context, resource: Resource) -> warehouse.Found:
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
    return warehouse.drop_block(ctx, resource, _database(ctx, resource),
                                owned_schemas(ctx, resource))


def run_query(ctx: Context, resource: Resource, sql: str) -> QueryResult:
    return warehouse.query_block(ctx, resource, _database(ctx, resource), sql)
