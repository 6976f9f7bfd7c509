"""The lineage of Singer blocks (docs/lineage.md).

* An extractor's nodes are its selected streams (type ``stream``, a node per stream and per
  selected property), worked out from the catalog its last apply discovered with the block's
  ``select`` and ``metadata`` as declared now: a deselected property is gone from it at plan.
* A loader's nodes are the tables the streams upstream of it (the extractors before it in a
  pipeline) land in, and their columns (type ``table``): ``<default_target_schema>.<table>``,
  named with the loader's own normalisation. stackform's DuckDB loader snake-cases stream and
  property names (``userId`` -> ``user_id``; a nested property lands in its top-level column)
  and adds the ``_sdc_*`` columns with ``add_record_metadata``; any other target is taken to
  keep the names as they are.

A table node has an edge to each of its columns, and upstream tables and columns have edges to
the tables and columns they feed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stackform.lineage.model import LineageFragment, LineageGraph, Node
from stackform.provider import Context
from stackform.resource import Resource
from stackform_singer.catalog import Selection, apply_selection, selection_of
from stackform_singer.config import ExtractorConfig, LoaderConfig

STREAM = "stream"
TABLE = "table"
OWN_DUCKDB = ("stackform:target-duckdb", "target-stackform-duckdb")
"""How a stack names stackform's DuckDB loader (the shipped name, or the package's)."""
META_COLUMNS = ("_sdc_extracted_at", "_sdc_received_at", "_sdc_deleted_at")
"""The columns stackform's DuckDB loader adds with ``add_record_metadata``."""


def extractor_lineage(ctx: Context, resource: Resource, config: ExtractorConfig,
                      outputs: Mapping[str, Any]) -> LineageFragment:
    """The selected streams and properties, from the recorded catalog (or the one this plan
    discovered, with ``--refresh-catalog``) and today's rules."""
    from stackform_singer.source import recorded_catalog, refreshed

    found = refreshed(ctx, resource.address)
    catalog = (found.catalog if found is not None
               else recorded_catalog(ctx, resource.address, config))
    types: dict[tuple[str, str], str] = {}
    if catalog is not None:
        selection = selection_of(apply_selection(catalog, config.select, config.metadata))
        types = property_types(catalog)
    elif isinstance(outputs.get("selection"), Mapping):
        selection = Selection.from_json(outputs["selection"])
    else:
        return LineageFragment(warnings=("the catalog is discovered at apply: its streams are "
                                         "not known yet",), complete=False)
    nodes: list[Node] = []
    edges: list[tuple[str, str]] = []
    for stream in selection.streams:
        table = Node(resource.address, stream.name, None, STREAM)
        nodes.append(table)
        for prop in stream.properties:
            node = Node(resource.address, stream.name, prop, STREAM,
                        data_type=types.get((stream.name, prop)))
            nodes.append(node)
            edges.append((table.id, node.id))
    return LineageFragment(tuple(nodes), tuple(edges))


def json_type(schema: Any) -> str | None:
    """A property's JSON schema type as lineage shows it: ``integer``, ``number|string``,
    ``string(date-time)``; ``null`` left out (nullability is no retype)."""
    if not isinstance(schema, Mapping):
        return None
    found: list[str] = []
    for option in [schema, *(schema.get("anyOf") or ()), *(schema.get("oneOf") or ())]:
        if not isinstance(option, Mapping):
            continue
        listed = option.get("type")
        for name in [listed] if isinstance(listed, str) else listed or ():
            if name != "null" and isinstance(name, str):
                fmt = option.get("format") if name == "string" else None
                found.append(f"{name}({fmt})" if fmt else name)
    return "|".join(sorted(set(found))) or None


def property_types(catalog: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """``(stream, dotted property) -> type`` for every property of the catalog."""
    out: dict[tuple[str, str], str] = {}

    def walk(stream: str, props: Any, prefix: str) -> None:
        for name, schema in (props or {}).items() if isinstance(props, Mapping) else ():
            typed = json_type(schema)
            if typed:
                out[(stream, prefix + name)] = typed
            if isinstance(schema, Mapping):
                walk(stream, schema.get("properties"), f"{prefix}{name}.")

    for entry in catalog.get("streams") or ():
        if isinstance(entry, Mapping):
            stream = str(entry.get("tap_stream_id") or entry.get("stream") or "")
            walk(stream, (entry.get("schema") or {}).get("properties"), "")
    return out


def snake(name: str) -> str:
    """stackform's DuckDB loader's names (``target_stackform_duckdb.sql.snake``, the same
    rule; the loader runs in its own venv, so it is not imported)."""
    import re

    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name))
    s = re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()
    if not s:
        s = "_"
    return "_" + s if s[0].isdigit() else s


def _requirements(pip_url: str | list[str]) -> list[str]:
    return pip_url.split() if isinstance(pip_url, str) else list(pip_url)


def loader_lineage(resource: Resource, config: LoaderConfig, upstream: LineageGraph,
                   landed: Mapping[str, Any] | None = None) -> LineageFragment:
    """The tables and columns the upstream streams land in: as the loader is guessed to name
    them, or, once a run confirmed them (``landed``, :mod:`.warehouse_columns`), as the
    warehouse's catalog names them, each guess it corrects a note."""
    own = any(r.split("==")[0] in OWN_DUCKDB for r in _requirements(config.pip_url))
    name = snake if own else (lambda n: n)
    schema = config.config.get("default_target_schema") or ("raw" if own else None)
    if landed is not None and schema not in (None, landed.get("schema")):
        landed = None  # read from another schema than the loader writes to now
    warehouse = _Warehouse(landed) if landed is not None else None
    schema = schema or (str(landed["schema"]) if landed is not None else None)
    meta = own and bool(config.config.get("add_record_metadata")) and warehouse is None
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []

    def add(node: Node, sources: Iterable[Node]) -> Node:
        nodes[node.id] = node
        edges.extend((s.id, node.id) for s in sources)
        return node

    streams = [n for n in upstream if n.type == STREAM and n.column is None]
    for stream in streams:
        guess = name(stream.table)
        found = warehouse.table(schema, guess) if warehouse else None
        table_name = f"{schema}.{found or guess}" if schema else found or guess
        relation = table_name.lower()
        table = add(Node(resource.address, table_name, None, TABLE, relation), [stream])
        columns: dict[str, list[Node]] = {}
        for prop in upstream.downstream_of(stream.id):
            if prop.type == STREAM and prop.column is not None:
                columns.setdefault(name(prop.column.split(".")[0]), []).append(prop)
        for column in META_COLUMNS if meta else ():
            columns.setdefault(column, [])
        types: dict[str, str | None] = {}
        if warehouse is not None and found is not None:
            columns, types = warehouse.columns(schema, found, columns)
        for column, sources in sorted(columns.items()):
            node = add(Node(resource.address, table_name, column, TABLE, relation,
                            data_type=types.get(column)), sources)
            edges.append((table.id, node.id))
    notes = tuple(warehouse.notes) if warehouse else ()
    return LineageFragment(tuple(nodes.values()), tuple(edges), notes)


def _fold(name: str) -> str:
    """A name as loaders' normalisations agree on it: letters and digits, lower-cased."""
    import re

    return re.sub(r"[^0-9a-z]", "", name.lower())


class _Warehouse:
    """The tables and columns a run confirmed, matched with the loader's guesses."""

    def __init__(self, landed: Mapping[str, Any]) -> None:
        self.tables: dict[str, list[tuple[str, str]]] = {
            str(t): [(str(c), str(d)) for c, d in cols]
            for t, cols in (landed.get("tables") or {}).items()}
        self.notes: list[str] = []

    def _match(self, guess: str, names: Iterable[str]) -> str | None:
        listed = list(names)
        if guess in listed:
            return guess
        return next((n for n in listed if _fold(n) == _fold(guess)), None)

    def table(self, schema: str | None, guess: str) -> str | None:
        # Singer stream names are often <schema>-<table> (tap_stream_id), and targets built on
        # the singer-sdk land them as <table>.
        found = self._match(guess, self.tables) or (
            self._match(guess.rsplit("-", 1)[-1], self.tables) if "-" in guess else None)
        where = f"{schema}.{guess}" if schema else guess
        if found is None:
            self.notes.append(f"{where}: not in the warehouse after the last run (named as "
                              "guessed)")
        elif found != guess:
            self.notes.append(f"{where}: the warehouse names the table {found!r}, not as "
                              "guessed")
        return found

    def columns(self, schema: str | None, table: str, guessed: Mapping[str, list[Node]]
                ) -> tuple[dict[str, list[Node]], dict[str, str | None]]:
        """The warehouse's columns of ``table``, each with the properties guessed to land
        in it, and their types."""
        real = dict(self.tables.get(table, ()))
        out: dict[str, list[Node]] = {c: [] for c in real}
        where = f"{schema}.{table}" if schema else table
        for guess, sources in guessed.items():
            found = self._match(guess, real)
            if found is None:
                self.notes.append(f"{where}.{guess}: not in the warehouse after the last run "
                                  "(named as guessed)")
                found = guess
            elif found != guess:
                self.notes.append(f"{where}.{guess}: the warehouse names the column "
                                  f"{found!r}, not as guessed")
            out.setdefault(found, []).extend(sources)
        return out, {c: real.get(c) for c in out}
