"""A loader's warehouse schema: which one it writes in an environment, dropping it when
``stackform test`` destroys a throwaway environment, and the stack's check queries run there
(see :mod:`stackform.provider_schemas`). DuckDB files and PostgreSQL databases only."""

from __future__ import annotations

from typing import Any

from stackform.plugins.kit import install
from stackform.provider import Context
from stackform.provider_schemas import QueryResult, WarehouseSchema
from stackform.resource import Resource
from stackform.trial import warehouse
from stackform_singer.plugin import full_config


def _database(ctx: Context, resource: Resource) -> tuple[dict[str, Any], str, str] | None:
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
        from stackform.errors import StackformError

        raise StackformError(f"{resource.address} writes to no DuckDB or PostgreSQL database "
                             "stackform can query")
    return warehouse.run_query(install(ctx, resource), found[0], found[1], sql)
