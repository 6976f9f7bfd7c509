"""Column-level lineage of a dbt project from its compiled manifest, with sqlglot.

dbt itself compiles the SQL (``compiled_code`` in ``manifest.json`` after ``dbt compile``); this
module never renders Jinja. Sources take their columns from the tables upstream of the
transformer that match their ``schema.identifier`` (what a loader landed), and from their
properties file; each model's columns are its compiled query's output columns, worked out by
sqlglot against the columns of the relations it reads, in dependency order, so ``select *``
expands. Each output column's lineage (``sqlglot.lineage.lineage``) gives the source or model
columns it is computed from. A data test on a column is a node downstream of that column.

A model sqlglot cannot read (or with no compiled SQL) is a warning naming it and makes the
fragment incomplete; its declared columns stay as nodes, without edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

from stackform.lineage.model import LineageFragment, LineageGraph, Node

DIALECTS = {"duckdb": "duckdb", "postgres": "postgres", "snowflake": "snowflake",
            "bigquery": "bigquery", "redshift": "redshift", "databricks": "databricks",
            "spark": "spark", "trino": "trino", "clickhouse": "clickhouse", "mysql": "mysql",
            "sqlite": "sqlite", "athena": "athena"}
"""dbt adapter type -> sqlglot dialect."""
SQL_NODES = ("model", "snapshot")
TABLE_NODES = ("model", "snapshot", "seed")


def _key(*parts: Any) -> tuple[str, ...]:
    return tuple(str(p).lower() for p in parts if p)


@dataclass
class _Relation:
    """One relation dbt builds or reads: its node for the table, and its column nodes."""

    table: Node
    columns: dict[str, Node] = field(default_factory=dict)


@dataclass
class _Builder:
    address: str
    dialect: str | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, node: Node, sources: Iterable[Node] = ()) -> Node:
        self.nodes[node.id] = node
        self.edges.extend((s.id, node.id) for s in sources)
        return node

    def fragment(self) -> LineageFragment:
        return LineageFragment(tuple(self.nodes.values()), tuple(self.edges),
                               tuple(self.warnings), complete=not self.warnings)


def manifest_lineage(address: str, manifest: Mapping[str, Any], upstream: LineageGraph
                     ) -> LineageFragment:
    """The fragment of the transformer ``address`` from its compiled ``manifest``."""
    dialect = DIALECTS.get(str((manifest.get("metadata") or {}).get("adapter_type") or ""))
    b = _Builder(address, dialect)
    nodes: dict[str, Mapping[str, Any]] = dict(manifest.get("nodes") or {})
    relations: dict[str, _Relation] = {}      # unique_id -> relation
    by_name: dict[tuple[str, ...], _Relation] = {}  # (database, schema, identifier) -> relation
    landed = _landed(upstream)
    for uid, source in sorted((manifest.get("sources") or {}).items()):
        rel = _source(b, source, landed)
        relations[uid] = rel
        _register(by_name, rel, source.get("database"), source.get("schema"),
                  source.get("identifier") or source.get("name"))
    order = _ordered({u: n for u, n in nodes.items() if n.get("resource_type") in TABLE_NODES})
    for uid in order:
        node = nodes[uid]
        rel = _model(b, uid, node, relations, by_name, dialect)
        relations[uid] = rel
        _register(by_name, rel, node.get("database"), node.get("schema"),
                  node.get("alias") or node.get("name"))
    for node in nodes.values():
        if node.get("resource_type") == "test":
            _test(b, node, relations)
    return b.fragment()


def _register(by_name: dict[tuple[str, ...], _Relation], rel: _Relation, database: Any,
              schema: Any, identifier: Any) -> None:
    # Compiled SQL may name a relation with or without its database.
    by_name[_key(database, schema, identifier)] = rel
    by_name[_key(schema, identifier)] = rel


def _landed(upstream: LineageGraph) -> dict[tuple[str, ...], tuple[Node, dict[str, Node]]]:
    """The tables upstream (``schema.table`` as a loader names them) and their columns."""
    tables: dict[tuple[str, ...], tuple[Node, dict[str, Node]]] = {}
    for node in upstream:
        if node.column is None and node.relation:
            columns = {c.column.lower(): c for c in upstream.downstream_of(node.id)
                       if c.column is not None and c.table == node.table}
            tables[_key(*node.relation.split("."))] = (node, columns)
    return tables


def _source(b: _Builder, source: Mapping[str, Any],
            landed: Mapping[tuple[str, ...], tuple[Node, dict[str, Node]]]) -> _Relation:
    name = f"{source.get('source_name')}.{source.get('name')}"
    where = _key(source.get("schema"), source.get("identifier") or source.get("name"))
    relation = ".".join(where)
    found = landed.get(where)
    upstream_table, upstream_columns = found if found else (None, {})
    rel = _Relation(b.add(Node(b.address, name, None, "source", relation),
                          [upstream_table] if upstream_table else []))
    declared = {str(c).lower(): d for c, d in (source.get("columns") or {}).items()}
    for column in sorted({*upstream_columns, *declared}):
        fed = upstream_columns.get(column)
        # What the warehouse (or the loader upstream) says first, then the properties file.
        said = (fed.data_type if fed else None) or (declared.get(column) or {}).get("data_type")
        rel.columns[column] = b.add(
            Node(b.address, name, column, "source", relation, sql_type(said, b.dialect)),
            [rel.table, *([fed] if fed else [])])
    return rel


def sql_type(text: Any, dialect: str | None) -> str | None:
    """A column type as sqlglot writes it in ``dialect`` (``numeric`` and ``NUMERIC`` are one
    type), or ``None`` when unknown or unreadable."""
    if not isinstance(text, str) or not text.strip():
        return None
    from sqlglot import exp

    try:
        built = exp.DataType.build(text, dialect=dialect)
    except Exception:  # sqlglot's errors have no one base: an unreadable type is unknown
        return None
    return None if built.this == exp.DataType.Type.UNKNOWN else built.sql(dialect)


def _ordered(nodes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    graph = {u: [d for d in (n.get("depends_on") or {}).get("nodes") or () if d in nodes]
             for u, n in nodes.items()}
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError:
        return sorted(nodes)  # dbt refuses a cycle at parse; never reached in practice


def _model(b: _Builder, uid: str, node: Mapping[str, Any], relations: Mapping[str, _Relation],
           by_name: Mapping[tuple[str, ...], _Relation], dialect: str | None) -> _Relation:
    kind = str(node.get("resource_type"))
    name = str(node.get("name") or uid)
    parents = [relations[d] for d in (node.get("depends_on") or {}).get("nodes") or ()
               if d in relations]
    relation = ".".join(_key(node.get("schema"), node.get("alias") or name)) or None
    rel = _Relation(b.add(Node(b.address, name, None, kind, relation),
                          [p.table for p in parents]))
    declared = {str(c).lower(): sql_type((d or {}).get("data_type"), dialect)
                for c, d in (node.get("columns") or {}).items()}
    if kind not in SQL_NODES:  # a seed: its columns are its file's, as declared
        for column, typed in declared.items():
            rel.columns[column] = b.add(Node(b.address, name, column, kind, relation, typed),
                                        [rel.table])
        return rel
    sql = node.get("compiled_code")
    if not isinstance(sql, str) or not sql.strip():
        b.warnings.append(f"{kind} {name}: no compiled SQL in dbt's manifest; its columns' "
                          "lineage is unknown")
        columns: dict[str, tuple[list[Node], str | None]] = {
            c: ([], t) for c, t in declared.items()}
    else:
        try:
            columns = _column_sources(sql, by_name, dialect)
        except Exception as exc:  # sqlglot's errors have no one base; any is a warning
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            b.warnings.append(f"{kind} {name}: sqlglot cannot read its compiled SQL "
                              f"({type(exc).__name__}{': ' + reason if reason else ''}); its "
                              "columns' lineage is unknown")
            columns = {c: ([], t) for c, t in declared.items()}
    for column, (sources, typed) in columns.items():
        # The compiled SQL's type (a cast) first; else what the properties file declares.
        rel.columns[column] = b.add(
            Node(b.address, name, column, kind, relation, typed or declared.get(column)),
            [rel.table, *sources])
    return rel


def _column_sources(sql: str, by_name: Mapping[tuple[str, ...], _Relation],
                    dialect: str | None) -> dict[str, tuple[list[Node], str | None]]:
    """Each output column of ``sql``: the upstream column nodes it is computed from, and its
    type as sqlglot infers it from the types upstream (``None`` when unknown)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope
    from sqlglot.schema import MappingSchema

    # A schema object, built once: given a dict, sqlglot would build one per call.
    schema = MappingSchema(_schema(by_name), dialect=dialect)
    parsed = sqlglot.parse_one(sql, dialect=dialect)
    qualified = qualify(parsed, schema=schema, dialect=dialect, validate_qualify_columns=False)
    if not isinstance(qualified, exp.Query):
        raise ValueError(f"not a query but {type(qualified).__name__}")
    # One scope for every column: sqlglot would otherwise qualify the query again per column.
    annotate_types(qualified, schema=schema, dialect=dialect)
    typed: dict[str, str] = {}
    for select in qualified.selects:
        kind = select.type
        if kind is not None and kind.this != exp.DataType.Type.UNKNOWN:
            typed.setdefault(select.alias_or_name.lower(), kind.sql(dialect))
    scope = build_scope(qualified)
    out: dict[str, tuple[list[Node], str | None]] = {}
    for column in dict.fromkeys(qualified.named_selects):
        found: list[Node] = []
        root = lineage(column, qualified, schema=schema, dialect=dialect, scope=scope,
                       copy=False)
        for leaf in root.walk():
            if leaf.downstream or not isinstance(leaf.expression, exp.Table):
                continue
            table = leaf.expression
            rel = by_name.get(_key(table.catalog, table.db, table.name)) or by_name.get(
                _key(table.db, table.name))
            name = leaf.name.rsplit(".", 1)[-1].strip('"').lower()
            if rel is not None and name in rel.columns:
                found.append(rel.columns[name])
        out[column.lower()] = (sorted(set(found)), typed.get(column.lower()))
    return out


def _schema(by_name: Mapping[tuple[str, ...], _Relation]) -> dict[str, Any]:
    """``{database: {schema: {table: {column: type}}}}`` of every relation with columns (a
    type not known is sqlglot's ``UNKNOWN``: what is computed from it is unknown too)."""
    schema: dict[str, Any] = {}
    for key, rel in by_name.items():
        if len(key) == 3 and rel.columns:
            database, db, table = key
            schema.setdefault(database, {}).setdefault(db, {})[table] = {
                c: n.data_type or "UNKNOWN" for c, n in rel.columns.items()}
    return schema


def _test(b: _Builder, node: Mapping[str, Any], relations: Mapping[str, _Relation]) -> None:
    """A data test, downstream of the column (or the relation) it tests."""
    attached = node.get("attached_node") or next(
        iter((node.get("depends_on") or {}).get("nodes") or ()), None)
    rel = relations.get(str(attached)) if attached else None
    if rel is None:
        return
    column = str(node.get("column_name") or "").lower()
    tested = rel.columns.get(column) if column else rel.table
    b.add(Node(b.address, str(node.get("name")), None, "test"), [tested or rel.table])
