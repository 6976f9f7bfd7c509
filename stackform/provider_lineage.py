"""Optional provider capabilities about lineage: the tables and columns a resource reads and
writes (:class:`ProvidesLineage`), and what a run confirms of them from the warehouse
(:class:`ConfirmsLineage`). Checked when a provider is loaded with
:data:`stackform.provider.CAPABILITIES` (:data:`LINEAGE_CAPABILITIES`; docs/providers.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from stackform.provider import Context, RunContext, RunStep
from stackform.resource import Resource

if TYPE_CHECKING:
    from stackform.lineage.model import LineageFragment, LineageGraph


@runtime_checkable
class ProvidesLineage(Protocol):
    """A provider that knows which tables and columns its resource reads and writes: core joins
    every resource's fragment into the environment's lineage graph, and the plan walks it to say
    what a change breaks downstream (docs/lineage.md; the contract: docs/providers.md)."""

    def lineage(self, ctx: Context, resource: Resource, outputs: Mapping[str, Any],
                upstream: LineageGraph) -> LineageFragment:
        """The resource's nodes and edges into them from ``upstream`` (the lineage of what it
        reads), as applied (``outputs``: its last apply's). What it cannot work out is a warning
        with ``complete=False``, never a silent omission; called when its upstream changed."""


@runtime_checkable
class ConfirmsLineage(Protocol):
    """Lineage a successful run confirms from the warehouse's catalog (docs/providers.md)."""

    def confirm_lineage(self, run: RunContext, step: RunStep) -> None:
        """After a successful run: keep what the warehouse says; raise StackformError if not.
        ``run`` is the run that succeeded: what its steps already read need not be read again."""

    def lineage_confirmed(self, ctx: Context, resource: Resource) -> str:
        """A digest of what was kept (``""``: nothing); cheap, called by every plan."""


LINEAGE_CAPABILITIES: tuple[type, ...] = (ProvidesLineage, ConfirmsLineage)
"""The capabilities of this module, checked with :data:`stackform.provider.CAPABILITIES`."""
