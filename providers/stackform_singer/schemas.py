"""A loader's warehouse schema: which one it writes in an environment, dropping it when
``stackform test`` destroys a throwaway environment, and the stack's check queries run there
(see :mod:`stackform.provider_schemas`). DuckDB files and PostgreSQL databases only."""

from __future__ import annotations

from stackform.provider import Context
from stackform.provider_schemas import QueryResult, WarehouseSchema
from stackform.resource import Resource
from stackform.trial import warehouse
from stackform_singer.plugin import full_config


def _database(ctx: Context, resource: Resource) -> warehouse.Found:
    """(request db, identity, schema) of the loader's warehouse, when stackform knows it."""
    cfg = full_config(resource)
    schema = cfg.get("default_target_schema") or cfg.get("schema")
    path = cfg.get("path") or cfg.get("filepath")
    if isinstance(path, str) and path.endswith((".duckdb", ".db")) and "host" not in cfg:
        db, identity = warehouse.duckdb_database(ctx.resolve_path(path))
        return db, identity, str(schema or "main")
    if cfg.get("host") and cfg.get("database"):
        db, identity = warehouse.postgres_database(cfg)
        return db, identity, str(schema or "public")
    return None


def owned_schemas(ctx: Context, resource: Resource) -> list[WarehouseSchema]:
    found = _database(ctx, resource)
    if found is None or found[2] in ("main", "public"):
        # The database's default schema is everyone's: never owned, never dropped.
        return []
    return [WarehouseSchema(found[1], found[2])]


def drop_schemas(ctx: Context, resource: Resource) -> list[str]:
    return warehouse.drop_block(ctx, resource, _database(ctx, resource),
                                owned_schemas(ctx, resource))


def run_query(ctx: Context, resource: Resource, sql: str) -> QueryResult:
    return warehouse.query_block(ctx, resource, _database(ctx, resource), sql)
