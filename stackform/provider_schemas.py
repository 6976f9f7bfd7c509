"""Optional provider capabilities about the warehouse a block writes to or reads from.

``stackform test`` builds a throwaway environment and must leave nothing behind: a provider
whose blocks create schemas (a loader, dbt) names them and drops them on request, and a
provider whose blocks reach a warehouse answers the stack's ``[tests.NAME]`` queries. Core
knows neither kind nor database: it compares the schemas' names across environments (two
environments writing one schema is refused) and asks for the drops and the queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from stackform.provider import Context
from stackform.resource import Resource, ResourceState


@dataclass(frozen=True, order=True)
class WarehouseSchema:
    """A schema in one database. ``warehouse`` says which database without any credential
    (``duckdb:/abs/path.duckdb``, ``postgresql://host:5432/db``): equal strings are one
    database."""

    warehouse: str
    schema: str

    def __str__(self) -> str:
        return f"{self.schema} in {self.warehouse}"


@dataclass(frozen=True)
class QueryResult:
    """What a query returned: how many rows (counted up to a cap), and the first few."""

    rows: int
    columns: tuple[str, ...] = ()
    first: tuple[tuple[str, ...], ...] = field(default_factory=tuple)


@runtime_checkable
class OwnsSchemas(Protocol):
    """A provider whose blocks create schemas in a warehouse, per environment."""

    def owned_schemas(self, ctx: Context, resource: Resource) -> Sequence[WarehouseSchema]:
        """The schemas this block writes in ``ctx.env`` (as far as is known before it runs:
        the configured ones; after a run, also those it made on its own)."""

    def drop_schemas(self, ctx: Context, resource: Resource) -> list[str]:
        """Drop every schema :meth:`owned_schemas` names (and what it knows it made since),
        with their tables; return what was dropped, as ``schema in warehouse`` lines.
        Called only for a throwaway environment, before its resources are destroyed."""


@runtime_checkable
class RunsQueries(Protocol):
    """A provider whose blocks reach a warehouse and can run a read-only query there."""

    def run_query(self, ctx: Context, resource: Resource, sql: str) -> QueryResult:
        """Run ``sql`` against the block's warehouse in ``ctx.env``; a failing query is a
        :class:`~stackform.errors.StackformError` with the database's message."""


@dataclass(frozen=True)
class FoundCheck:
    """One check a provider ran on its own block (a chart's query), by name."""

    name: str
    passed: bool
    seconds: float = 0.0
    message: str = ""


@runtime_checkable
class ProvidesChecks(Protocol):
    """A provider that can check its applied blocks work in the environment (``stackform
    test``): a dashboard whose charts must query the environment's warehouse without error."""

    def test_checks(self, ctx: Context, resource: Resource, state: ResourceState
                    ) -> list[FoundCheck]:
        """Run the checks; a failure is a :class:`FoundCheck` with ``passed=False`` and the
        reason, never an exception (one chart's failure does not hide the others')."""
